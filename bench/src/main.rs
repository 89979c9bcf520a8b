//! `pse-bench`: the benchmark harness of issue 7. Each phase subcommand
//! prints one JSON line on stdout (progress goes to stderr); `bench/run.sh`
//! runs them in order and `render` turns the lines into BENCHMARKS.md and a
//! JSON document.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod args;
mod broker;
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
mod stack;
mod webhooks;

use std::process::ExitCode;

use args::Args;
use serde_json::{Value, json};

const USAGE: &str = "\
usage: pse-bench <command> [options]   (every phase prints one JSON line)
  machine                                     describe this machine
  echo-server --addr HOST:PORT                the bare actix 200 server (HTTP ceiling)
  pgbench     [--concurrency 4,8,16] [--secs 5]
  ceiling     [--concurrency 4,8,16,32,64] [--warmup 1] [--secs 5]
  ingress     [--concurrency 4,8,16,32,64] [--warmup 1] [--secs 8] [--event-type collection_intent_credited]
                                                                             (P1, pgbench interleaved)
  latency     (--rate R | --results FILE [--fraction 0.5]) [--secs 10]      (P2)
  reconciler  [--events 20000] [--concurrency 64] [--latency-ms 50]         (P3, P6)
  e2e         [--rate 1000] [--secs 20] [--latency-ms 50] [--baseline-rate 50] [--baseline-secs 5] [--concurrency 64]  (P4)
  report      [--rows 1000000] [--small-rows 100000]                        (P5)
  rss         --pid N                                 VmHWM / VmRSS of a process
  render      --results FILE --machine FILE --md OUT --json OUT [--mode full|quick]
  cleanup                                     drop the bench database and broker names
Environment: BENCH_ADMIN_DATABASE_URL, BENCH_DATABASE (pse_bench), BENCH_AMQP_URL, AMQP_NAME_PREFIX (bench.),
BENCH_BIN_DIR (this binary's directory), BENCH_LOG_DIR, BENCH_WORK_DIR, BENCH_PID_DIR, BENCH_PRODUCT_LOG (info).";

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

fn render(a: &Args) -> Result<Value, String> {
    let results = phases::read_results(a.str("results").ok_or("--results FILE is required")?)?;
    let machine_path = a.str("machine").ok_or("--machine FILE is required")?;
    let machine: Value = serde_json::from_str(
        &std::fs::read_to_string(machine_path)
            .map_err(|e| format!("cannot read {machine_path}: {e}"))?,
    )
    .map_err(|e| format!("{machine_path}: {e}"))?;
    let mode = a.str_or("mode", "full");
    let md_path = a.str("md").ok_or("--md OUT is required")?;
    let json_path = a.str("json").ok_or("--json OUT is required")?;
    std::fs::write(md_path, render::markdown(&machine, &results, &mode))
        .map_err(|e| format!("cannot write {md_path}: {e}"))?;
    let doc = serde_json::to_string_pretty(&render::document(&machine, &results, &mode))
        .map_err(|e| e.to_string())?;
    std::fs::write(json_path, doc + "\n").map_err(|e| format!("cannot write {json_path}: {e}"))?;
    eprintln!("{}", render::table(&render::rows(&results)));
    Ok(json!({"phase": "render", "md": md_path, "json": json_path}))
}

async fn dispatch(command: &str, rest: &[String]) -> Result<Option<Value>, String> {
    let a = Args::parse(rest, &[])?;
    let levels = |default: &[usize]| a.list("concurrency", default);
    Ok(Some(match command {
        "machine" => machine(),
        "echo-server" => {
            echo::serve(&a.str_or("addr", "127.0.0.1:8089")).await?;
            return Ok(None);
        }
        "pgbench" => phases::pgbench_phase(&levels(&[4, 8, 16])?, a.get("secs", 5)?).await?,
        "ceiling" => {
            phases::ceiling(
                &levels(&[4, 8, 16, 32, 64])?,
                a.get("warmup", 1)?,
                a.get("secs", 5)?,
            )
            .await?
        }
        "ingress" => {
            phases::ingress(
                &levels(&[4, 8, 16, 32, 64])?,
                a.get("warmup", 1)?,
                a.get("secs", 8)?,
                &a.str_or("event-type", "collection_intent_credited"),
            )
            .await?
        }
        "latency" => {
            let rate = match (a.str("rate"), a.str("results")) {
                (Some(_), _) => a.get("rate", 0.0)?,
                (None, Some(path)) => phases::rate_from_results(path, a.get("fraction", 0.5)?)?,
                (None, None) => return Err("give --rate R or --results FILE".to_owned()),
            };
            phases::latency(rate, a.get("secs", 10)?).await?
        }
        "reconciler" => {
            phases::reconciler(
                a.get("events", 20_000)?,
                a.get("concurrency", 64)?,
                a.get("latency-ms", 50)?,
            )
            .await?
        }
        "e2e" => {
            phases::e2e(
                a.get("rate", 1000.0)?,
                a.get("secs", 20.0)?,
                a.get("latency-ms", 50)?,
                a.get("baseline-rate", 50.0)?,
                a.get("baseline-secs", 5.0)?,
                a.get("concurrency", 64)?,
            )
            .await?
        }
        "report" => {
            phases::report(a.get("rows", 1_000_000)?, a.get("small-rows", 100_000)?).await?
        }
        "rss" => {
            let pid: u32 = a.get("pid", 0)?;
            json!({
                "phase": "rss", "pid": pid,
                "peak_rss_kb": procs::status_kb(pid, "VmHWM:"), "rss_kb": procs::status_kb(pid, "VmRSS:"),
            })
        }
        "render" => render(&a)?,
        "cleanup" => {
            broker::delete_topology().await?;
            db::drop_db().await?;
            json!({"phase": "cleanup"})
        }
        other => return Err(format!("unknown command {other:?}")),
    }))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = argv.first().cloned() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if matches!(command.as_str(), "help" | "-h" | "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
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
    match runtime.block_on(dispatch(&command, &argv[1..])) {
        Ok(Some(record)) => {
            println!("{record}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pse-bench {command}: {e}");
            ExitCode::FAILURE
        }
    }
}
