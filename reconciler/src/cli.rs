//! `reconciler [run]`, `reconciler dead-letters list|replay`, `reconciler report`,
//! `reconciler healthcheck`; `--help` on each.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use shared::db::dead_letters::{self, Selection};
use shared::domain::Provider;
use shared::report::output::Format;
use shared::{Config, telemetry};

use crate::worker::{self, Worker};

/// The reconciler: consumes check messages, sweeps stale orders, relays the outbox, and
/// the operator's commands around it.
#[derive(Debug, Parser)]
#[command(
    name = "reconciler",
    after_help = "Configuration comes from the environment (see README.md)."
)]
pub struct Cli {
    /// `run` when omitted, so the container's default command stays the bare binary.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the worker (consumer, sweeper, relay); the default
    Run,
    /// List dead letters or queue them again
    #[command(subcommand)]
    DeadLetters(DeadLetters),
    /// Write the daily reconciliation report (default: yesterday in Bogota, csv,
    /// reconciliation-<date>.<ext>)
    Report(ReportArgs),
    /// Exit 0 if the local worker is ready
    Healthcheck,
}

#[derive(Debug, Subcommand)]
enum DeadLetters {
    /// List dead letters (not yet replayed, unless --all)
    List {
        /// Include the ones already replayed
        #[arg(long)]
        all: bool,
        /// At most this many, newest first
        #[arg(long, value_name = "N", default_value_t = 100,
              value_parser = clap::value_parser!(i64).range(1..))]
        limit: i64,
    },
    /// Queue dead letters again: every one not yet replayed (--all) or the given ids
    #[command(group(clap::ArgGroup::new("which").required(true).args(["all", "id"])))]
    Replay {
        /// Every dead letter not yet replayed
        #[arg(long)]
        all: bool,
        /// A dead letter id from `reconciler dead-letters list` (repeatable)
        #[arg(long, value_name = "N")]
        id: Vec<i64>,
    },
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The Bogota business day (default: yesterday)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    date: Option<chrono::NaiveDate>,
    /// csv, json or html
    #[arg(long, default_value = "csv")]
    format: Format,
    /// Only this provider's orders
    #[arg(long, value_name = "PROVIDER", help = format!("Only this provider's orders: {}", Provider::names()))]
    provider: Option<Provider>,
    /// The file to write, or - for stdout (default: reconciliation-<date>.<ext>)
    #[arg(long, value_name = "FILE")]
    output: Option<String>,
}

fn parse_date(raw: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| "takes a date like 2026-11-20".to_owned())
}

fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("reconciler: configuration error: {e}\nFix that variable and start again; README.md lists every variable.");
        ExitCode::from(2)
    })
}

/// A spinner on stderr for a human watching; hidden (draws nothing) when stderr is not a terminal.
fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Exit codes: 0 success, 1 failure, 2 usage or configuration error.
pub async fn main(args: Vec<String>) -> ExitCode {
    let cli = match Cli::try_parse_from(std::iter::once("reconciler".to_owned()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are "errors" that print to stdout and exit 0.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match cli.command {
        None | Some(Command::Run) => run().await,
        Some(Command::DeadLetters(DeadLetters::List { all, limit })) => list(all, limit).await,
        Some(Command::DeadLetters(DeadLetters::Replay { all, id })) => replay(all, id).await,
        Some(Command::Report(args)) => report(args).await,
        Some(Command::Healthcheck) => healthcheck().await,
    }
}

async fn run() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(&config.log_filter, config.log_format);
    config.log_providers();
    let worker = match Worker::start(config).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %telemetry::ErrorChain(&e), "reconciler failed to start");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    tracing::info!("stopping: finishing messages in flight");
    worker.stop().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn list(all: bool, limit: i64) -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let db = shared::db::Db::new(config.database_url.expose(), 2, Duration::from_secs(5));
    match db
        .run(move |conn| dead_letters::list(conn, !all, limit))
        .await
    {
        Ok(rows) if rows.is_empty() => {
            println!(
                "no dead letters{}",
                if all { "" } else { " waiting for replay" }
            );
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            println!(
                "{:>6}  {:<20}  {:<7}  {:<36}  {:<18}  {:>8}  ERROR",
                "ID", "DEAD AT (UTC)", "PROVIDER", "OBJECT", "REASON", "REPLAYED"
            );
            for r in rows {
                println!(
                    "{:>6}  {:<20}  {:<7}  {:<36}  {:<18}  {:>8}  {}",
                    r.id,
                    r.dead_at.format("%Y-%m-%d %H:%M:%S"),
                    r.provider.as_deref().unwrap_or("-"),
                    r.object_id.as_deref().unwrap_or("-"),
                    r.reason,
                    r.replay_count,
                    r.error.as_deref().unwrap_or("")
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "reconciler: cannot read dead letters: {e}\nIs DATABASE_URL right and PostgreSQL running?"
            );
            ExitCode::FAILURE
        }
    }
}

async fn replay(all: bool, ids: Vec<i64>) -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init("warn", config.log_format);
    let ctx = match worker::context(config, "reconciler-cli").await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("reconciler: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = ctx
        .db
        .run(move |conn| {
            dead_letters::replay(
                conn,
                if all {
                    Selection::AllPending
                } else {
                    Selection::Ids(&ids)
                },
            )
        })
        .await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            eprintln!("reconciler: replay failed, nothing was queued: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("queued again: {:?}", outcome.replayed);
    if !outcome.coalesced.is_empty() {
        println!(
            "of which covered by a check already queued for their object: {:?}",
            outcome.coalesced
        );
    }
    if !outcome.skipped.is_empty() {
        println!(
            "skipped (no such dead letter, or already replayed): {:?}",
            outcome.skipped
        );
    }
    if !outcome.unreplayable.is_empty() {
        println!(
            "not replayable (not a check message): {:?}",
            outcome.unreplayable
        );
    }
    // The rows are in the outbox; publish them now rather than waiting for a running service.
    if !outcome.replayed.is_empty() {
        publish_now(&ctx, outcome.messages).await;
    }
    ctx.broker.close().await;
    ExitCode::SUCCESS
}

async fn publish_now(ctx: &crate::context::Ctx, messages: Vec<shared::db::outbox::PendingMessage>) {
    if !ctx.broker.connected(Duration::from_secs(10)).await {
        println!(
            "RabbitMQ is unreachable: the replays stay in the outbox and a running webhook-api or reconciler publishes them when it returns"
        );
        return;
    }
    ctx.relay.publish_now(messages);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        ctx.relay.nudge();
        tokio::time::sleep(Duration::from_millis(200)).await;
        match ctx.db.run(|conn| shared::db::outbox::backlog(conn)).await {
            Ok(0) => {
                println!("published");
                return;
            }
            Ok(n) => eprint!("\rpublishing… {n} waiting"),
            Err(_) => break,
        }
    }
    println!("\nnot everything was published yet; a running service will finish it");
}

async fn report(args: ReportArgs) -> ExitCode {
    use shared::report::output::write_report;
    use shared::report::{Scope, default_date};
    use std::io::Write as _;

    let ReportArgs {
        date,
        format,
        provider,
        output,
    } = args;
    let date = date.unwrap_or_else(default_date);
    let output = output.unwrap_or_else(|| {
        format!(
            "reconciliation-{}.{}",
            date.format("%Y-%m-%d"),
            format.extension()
        )
    });
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let scope = Scope { date, provider };
    let url = config.database_url.expose().to_owned();
    let started = Instant::now();
    let to_stdout = output == "-";
    let shown = output.clone();
    // Progress only when the report goes to a file: on stdout it would mix with the report.
    let progress = if to_stdout {
        ProgressBar::hidden()
    } else {
        spinner()
    };
    let bar = progress.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        use diesel::Connection as _;
        let mut conn = diesel::PgConnection::establish(&url).map_err(|e| {
            format!(
                "cannot connect to the database: {e}; is DATABASE_URL right and PostgreSQL running?"
            )
        })?;
        // Write beside the target and rename at the end: a failed run leaves no half file.
        let tmp = format!("{output}.partial");
        let mut out: Box<dyn std::io::Write> = if to_stdout {
            Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
        } else {
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(&tmp).map_err(|e| format!("cannot write {tmp}: {e}"))?,
            ))
        };
        let mut written = 0u64;
        let mut failed = None;
        let mut emit = |chunk: Vec<u8>| {
            written += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            if let Err(e) = out.write_all(&chunk) {
                failed = Some(e.to_string());
                return false;
            }
            progress.set_message(format!(
                "writing the {} report for {}… {} lines",
                format.extension(),
                date,
                written
            ));
            true
        };
        let rows = write_report(&mut conn, &scope, format, &mut emit).map_err(|e| e.to_string())?;
        if let Some(e) = failed {
            return Err(format!("writing failed: {e}"));
        }
        out.flush().map_err(|e| e.to_string())?;
        drop(out);
        if !to_stdout {
            std::fs::rename(&tmp, &output)
                .map_err(|e| format!("cannot rename {tmp} to {output}: {e}"))?;
        }
        Ok(rows)
    })
    .await;
    bar.finish_and_clear();
    match result {
        Ok(Ok(rows)) => {
            if !to_stdout {
                eprintln!(
                    "wrote the {} report for {} ({} rows) to {} in {:.2}s",
                    format.extension(),
                    date,
                    rows,
                    shown,
                    started.elapsed().as_secs_f64()
                );
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("reconciler: report failed: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("reconciler: report failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck() -> ExitCode {
    let port = Config::from_env()
        .map(|c| c.reconciler_http_addr.port())
        .unwrap_or(9100);
    shared::http::probe_ready(port).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("reconciler").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_runs_the_worker() {
        assert!(parse(&[]).unwrap().command.is_none());
        assert!(matches!(
            parse(&["run"]).unwrap().command,
            Some(Command::Run)
        ));
    }

    #[test]
    fn dead_letter_options() {
        match parse(&["dead-letters", "list"]).unwrap().command {
            Some(Command::DeadLetters(DeadLetters::List { all, limit })) => {
                assert_eq!((all, limit), (false, 100));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["dead-letters", "list", "--all", "--limit", "5"])
            .unwrap()
            .command
        {
            Some(Command::DeadLetters(DeadLetters::List { all, limit })) => {
                assert_eq!((all, limit), (true, 5));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["dead-letters", "list", "--limit", "0"]).is_err());
        match parse(&["dead-letters", "replay", "--id", "12", "--id", "13"])
            .unwrap()
            .command
        {
            Some(Command::DeadLetters(DeadLetters::Replay { all, id })) => {
                assert_eq!((all, id), (false, vec![12, 13]));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["dead-letters", "replay", "--all"]).is_ok());
        // Either --all or ids, never both, never neither.
        assert!(parse(&["dead-letters", "replay"]).is_err());
        assert!(parse(&["dead-letters", "replay", "--all", "--id", "1"]).is_err());
        assert!(parse(&["dead-letters", "replay", "--id", "x"]).is_err());
    }

    #[test]
    fn report_options() {
        let Some(Command::Report(r)) = parse(&[
            "report",
            "--date",
            "2026-11-20",
            "--format",
            "html",
            "--provider",
            "belvo",
            "--output",
            "-",
        ])
        .unwrap()
        .command
        else {
            panic!("not a report")
        };
        assert_eq!(r.date, chrono::NaiveDate::from_ymd_opt(2026, 11, 20));
        assert_eq!(r.format, Format::Html);
        assert_eq!(r.provider, Some(Provider::Belvo));
        assert_eq!(r.output.as_deref(), Some("-"));
        let Some(Command::Report(r)) = parse(&["report"]).unwrap().command else {
            panic!("not a report")
        };
        assert_eq!(
            (r.date, r.format, r.provider, r.output),
            (None, Format::Csv, None, None)
        );
        let bad = parse(&["report", "--format", "pdf"]).unwrap_err();
        assert_eq!(bad.exit_code(), 2);
        assert!(bad.to_string().contains("csv, json or html"), "{bad}");
        assert!(parse(&["report", "--date", "20/11/2026"]).is_err());
        assert!(parse(&["report", "--provider", "stripe"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
    }

    #[test]
    fn help_names_every_command() {
        let help = Cli::command().render_long_help().to_string();
        for cmd in ["run", "dead-letters", "report", "healthcheck"] {
            assert!(help.contains(cmd), "{cmd}: {help}");
        }
    }
}
