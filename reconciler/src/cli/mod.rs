//! `reconciler [run]`, `reconciler dead-letters list|replay`, `reconciler report`,
//! `reconciler evidence`,
//! `reconciler healthcheck`; `--help` on each.

mod dead_letters;
mod evidence;
mod report;
mod run;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use shared::Config;

use evidence::EvidenceArgs;
use report::ReportArgs;

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
    /// Write an order's dispute evidence (sealed JSON, as the API's) to a file or stdout
    Evidence(EvidenceArgs),
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

pub(super) fn load_config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("reconciler: configuration error: {e}\nFix that variable and start again; README.md lists every variable.");
        ExitCode::from(2)
    })
}

/// A spinner on stderr for a human watching; hidden (draws nothing) when stderr is not a terminal.
pub(super) fn spinner() -> ProgressBar {
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
        None | Some(Command::Run) => run::run().await,
        Some(Command::DeadLetters(DeadLetters::List { all, limit })) => {
            dead_letters::list(all, limit).await
        }
        Some(Command::DeadLetters(DeadLetters::Replay { all, id })) => {
            dead_letters::replay(all, id).await
        }
        Some(Command::Report(args)) => report::report(args).await,
        Some(Command::Evidence(args)) => evidence::evidence(args).await,
        Some(Command::Healthcheck) => healthcheck().await,
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
    use shared::domain::Provider;
    use shared::report::output::Format;

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
        for cmd in ["run", "dead-letters", "report", "evidence", "healthcheck"] {
            assert!(help.contains(cmd), "{cmd}: {help}");
        }
    }
}
