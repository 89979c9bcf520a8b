//! `reconciler [run]`, `reconciler dead-letters list|replay`, `reconciler healthcheck`.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use shared::db::dead_letters::{self, Selection};
use shared::{Config, telemetry};

use crate::worker::{self, Worker};

pub const USAGE: &str = "usage:
  reconciler [run]                                  run the worker (consumer, sweeper, relay)
  reconciler dead-letters list [--all] [--limit N]  list dead letters (not yet replayed, unless --all)
  reconciler dead-letters replay --all              queue every dead letter not yet replayed again
  reconciler dead-letters replay --id N [--id M]    queue the given dead letters again
  reconciler report [--date YYYY-MM-DD] [--format csv|json|html] [--provider P] [--output FILE|-]
                                                    write the daily reconciliation report (default:
                                                    yesterday in Bogota, csv, reconciliation-<date>.<ext>)
  reconciler healthcheck                            exit 0 if the local worker is ready
Configuration comes from the environment (see README.md).";

fn usage_error(message: &str) -> ExitCode {
    eprintln!("reconciler: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("reconciler: configuration error: {e}\nFix that variable and start again; README.md lists every variable.");
        ExitCode::from(2)
    })
}

pub async fn main(args: Vec<String>) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["run"] => run().await,
        ["dead-letters", "list", rest @ ..] => list(rest).await,
        ["dead-letters", "replay", rest @ ..] => replay(rest).await,
        ["report", rest @ ..] => report(rest).await,
        ["healthcheck"] => healthcheck().await,
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => usage_error(&format!("unknown command {:?}", args.join(" "))),
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
            tracing::error!(error = %e, "reconciler failed to start");
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

/// Options of the form `--flag` and `--name value` (repeatable).
fn options<'a>(
    rest: &[&'a str],
    flags: &[&str],
    valued: &[&str],
) -> Result<Vec<(&'a str, Option<&'a str>)>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let arg = rest[i];
        if flags.contains(&arg) {
            out.push((arg, None));
            i += 1;
        } else if valued.contains(&arg) {
            let value = rest
                .get(i + 1)
                .ok_or_else(|| format!("{arg} needs a value"))?;
            out.push((arg, Some(*value)));
            i += 2;
        } else {
            return Err(format!("unknown option {arg:?}"));
        }
    }
    Ok(out)
}

async fn list(rest: &[&str]) -> ExitCode {
    let opts = match options(rest, &["--all"], &["--limit"]) {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    let all = opts.iter().any(|(k, _)| *k == "--all");
    let limit = match opts
        .iter()
        .find(|(k, _)| *k == "--limit")
        .and_then(|(_, v)| *v)
    {
        None => 100,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => n,
            _ => return usage_error("--limit takes a positive number"),
        },
    };
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

async fn replay(rest: &[&str]) -> ExitCode {
    let opts = match options(rest, &["--all"], &["--id"]) {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    let all = opts.iter().any(|(k, _)| *k == "--all");
    let mut ids = Vec::new();
    for (_, v) in opts.iter().filter(|(k, _)| *k == "--id") {
        match v.and_then(|v| v.parse::<i64>().ok()) {
            Some(id) => ids.push(id),
            None => {
                return usage_error(
                    "--id takes a dead letter id (see `reconciler dead-letters list`)",
                );
            }
        }
    }
    if all != ids.is_empty() {
        return usage_error("give either --all or one or more --id N");
    }
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

async fn report(rest: &[&str]) -> ExitCode {
    use shared::report::output::{Format, write_report};
    use shared::report::{Scope, default_date};
    use std::io::Write as _;

    let opts = match options(rest, &[], &["--date", "--format", "--provider", "--output"]) {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    let get = |name: &str| opts.iter().find(|(k, _)| *k == name).and_then(|(_, v)| *v);
    let date = match get("--date") {
        None => default_date(),
        Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => return usage_error("--date takes a date like 2026-11-20"),
        },
    };
    let format: Format = match get("--format").unwrap_or("csv").parse() {
        Ok(f) => f,
        Err(e) => return usage_error(&e),
    };
    let provider = match get("--provider").map(str::parse::<shared::domain::Provider>) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return usage_error(&e.to_string()),
    };
    let output = get("--output").map(str::to_owned).unwrap_or_else(|| {
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
        let mut last_progress = Instant::now();
        let mut emit = |chunk: Vec<u8>| {
            written += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            if let Err(e) = out.write_all(&chunk) {
                failed = Some(e.to_string());
                return false;
            }
            if !to_stdout && last_progress.elapsed() > Duration::from_millis(250) {
                eprint!(
                    "\rwriting the {} report for {}… {} lines",
                    format.extension(),
                    date,
                    written
                );
                last_progress = Instant::now();
            }
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
    match result {
        Ok(Ok(rows)) => {
            if !to_stdout {
                eprintln!(
                    "\rwrote the {} report for {} ({} rows) to {} in {:.2}s",
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
            eprintln!("\nreconciler: report failed: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("\nreconciler: report failed: {e}");
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
