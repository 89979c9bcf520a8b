//! `pse-bench`: the benchmark harness of issue 7. Each phase subcommand
//! prints one JSON line on stdout (progress goes to stderr); `bench/run.sh`
//! runs them in order and `render` turns the lines into BENCHMARKS.md and a
//! JSON document.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod args;
mod broker;
mod cost;
mod cpu;
mod db;
mod echo;
mod hist;
mod http;
mod loadgen;
mod pgbench;
mod phases;
mod procs;
mod render;
mod scrape;
mod stack;
mod webhooks;

use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser as _;
use serde_json::{Value, json};

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn machine() -> Value {
    let cpu_model = command_output("lscpu", &[])
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("Model name:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| procs::parse_status_kb(&t, "MemTotal:"))
        .unwrap_or(0);
    let psql = |sql: &str| {
        command_output(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-Atc",
                sql,
            ],
        )
        .unwrap_or_else(|| "unknown".to_owned())
    };
    let settings = psql(
        "SELECT string_agg(name || '=' || setting || COALESCE(unit, ''), ', ' ORDER BY name) FROM pg_settings \
         WHERE name IN ('synchronous_commit','fsync','shared_buffers','max_connections','wal_sync_method','commit_delay')",
    );
    let rabbit = command_output("timeout", &["20", "rabbitmqctl", "version"])
        .and_then(|t| t.lines().last().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    json!({
        "phase": "machine",
        "date_utc": chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        "nproc": cpu::cores(),
        "cpu_model": cpu_model,
        "mem_total_gb": cpu::round1(mem_kb as f64 / 1024.0 / 1024.0),
        "kernel": command_output("uname", &["-sr"]).unwrap_or_default(),
        "postgres": psql("SHOW server_version"),
        "postgres_settings": settings,
        "rabbitmq": rabbit,
        "loadavg_before": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "rustc": command_output("rustc", &["--version"]).unwrap_or_default(),
    })
}

fn read_json(path: &str) -> Result<Value, String> {
    serde_json::from_str(
        &std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
    )
    .map_err(|e| format!("{path}: {e}"))
}

fn render(
    results: &str,
    machine_path: &str,
    md_path: &str,
    json_path: &str,
    mode: &str,
    baseline: Option<&str>,
) -> Result<Value, String> {
    let results = phases::read_results(results)?;
    let baseline = baseline.map(read_json).transpose()?;
    let machine = read_json(machine_path)?;
    std::fs::write(
        md_path,
        render::markdown(&machine, &results, mode, baseline.as_ref()),
    )
    .map_err(|e| format!("cannot write {md_path}: {e}"))?;
    let doc = serde_json::to_string_pretty(&render::document(
        &machine,
        &results,
        mode,
        baseline.as_ref(),
    ))
    .map_err(|e| e.to_string())?;
    std::fs::write(json_path, doc + "\n").map_err(|e| format!("cannot write {json_path}: {e}"))?;
    eprintln!("{}", render::table(&render::rows(&results)));
    Ok(json!({"phase": "render", "md": md_path, "json": json_path}))
}

async fn dispatch(command: Command) -> Result<Option<Value>, String> {
    Ok(Some(match command {
        Command::Machine => machine(),
        Command::EchoServer { addr } => {
            echo::serve(&addr).await?;
            return Ok(None);
        }
        Command::Pgbench { concurrency, secs } => phases::pgbench_phase(&concurrency, secs).await?,
        Command::Ceiling {
            concurrency,
            warmup,
            secs,
        } => phases::ceiling(&concurrency, warmup, secs).await?,
        Command::Ingress {
            concurrency,
            warmup,
            secs,
            event_type,
        } => phases::ingress(&concurrency, warmup, secs, &event_type).await?,
        Command::Latency {
            rate,
            results,
            fraction,
            secs,
        } => {
            let rate = match (rate, results) {
                (Some(rate), _) => rate,
                (None, Some(path)) => phases::rate_from_results(&path, fraction)?,
                (None, None) => return Err("give --rate R or --results FILE".to_owned()),
            };
            phases::latency(rate, secs).await?
        }
        Command::Reconciler {
            events,
            concurrency,
            latency_ms,
            curve,
            curve_events,
        } => phases::reconciler(events, concurrency, latency_ms, &curve, curve_events).await?,
        Command::ScaleOut {
            concurrency,
            warmup,
            secs,
            events,
            rec_concurrency,
            latency_ms,
        } => {
            phases::scale_out(
                concurrency,
                warmup,
                secs,
                events,
                rec_concurrency,
                latency_ms,
            )
            .await?
        }
        Command::E2e {
            rate,
            secs,
            latency_ms,
            baseline_rate,
            baseline_secs,
            concurrency,
        } => {
            phases::e2e(
                rate,
                secs,
                latency_ms,
                baseline_rate,
                baseline_secs,
                concurrency,
            )
            .await?
        }
        Command::Report { rows, small_rows } => phases::report(rows, small_rows).await?,
        Command::Rss { pid } => json!({
            "phase": "rss", "pid": pid,
            "peak_rss_kb": procs::status_kb(pid, "VmHWM:"), "rss_kb": procs::status_kb(pid, "VmRSS:"),
        }),
        Command::Render {
            results,
            machine,
            md,
            json,
            mode,
            baseline,
        } => render(&results, &machine, &md, &json, &mode, baseline.as_deref())?,
        Command::Baseline { from, out, label } => {
            let doc = render::baseline_from_document(&read_json(&from)?, &label, &from)?;
            let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
            std::fs::write(&out, text + "\n").map_err(|e| format!("cannot write {out}: {e}"))?;
            json!({"phase": "baseline", "out": out, "figures": doc["figures"]})
        }
        Command::Cleanup => {
            broker::delete_topology().await?;
            db::drop_db().await?;
            json!({"phase": "cleanup"})
        }
    }))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help is an "error" that prints to stdout and exits 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let name = std::env::args().nth(1).unwrap_or_default();
    // Two workers: the generator shares the machine's cores with everything it measures.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpu::cores().min(2))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pse-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(Some(record)) => {
            println!("{record}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pse-bench {name}: {e}");
            ExitCode::FAILURE
        }
    }
}
