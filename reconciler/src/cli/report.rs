//! `reconciler report`: the daily reconciliation report to a file or stdout.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::ProgressBar;
use shared::domain::Provider;
use shared::report::output::{Format, write_report};
use shared::report::{Scope, default_date};
use shared::telemetry::ErrorChain;

use super::{load_config, spinner};

#[derive(Debug, Args)]
pub(super) struct ReportArgs {
    /// The Bogota business day (default: yesterday)
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub(super) date: Option<chrono::NaiveDate>,
    /// csv, json or html
    #[arg(long, default_value = "csv")]
    pub(super) format: Format,
    /// Only this provider's orders
    #[arg(long, value_name = "PROVIDER", help = format!("Only this provider's orders: {}", Provider::names()))]
    pub(super) provider: Option<Provider>,
    /// The file to write, or - for stdout (default: reconciliation-<date>.<ext>)
    #[arg(long, value_name = "FILE")]
    pub(super) output: Option<String>,
}

fn parse_date(raw: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| "takes a date like 2026-11-20".to_owned())
}

pub(super) async fn report(args: ReportArgs) -> ExitCode {
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
    let url = config.report_database_url().expose().to_owned();
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
        let rows = write_report(&mut conn, &scope, format, &mut emit)
            .map_err(|e| ErrorChain(&e).to_string())?;
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
