//! P2: ingress latency at a fixed open-loop rate, a fraction of P1's peak.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{TRUNCATE_INBOX, fresh, progress, usage_json};
use crate::cpu::{self, round1, round2};
use crate::loadgen;
use crate::stack::STOP_GRACE;
use crate::{db, webhooks};

fn latest(results: &[Value], phase: &str) -> Option<Value> {
    results.iter().rev().find(|r| r["phase"] == phase).cloned()
}

pub fn read_results(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(|v| v.is_object())
        .collect())
}

pub fn rate_from_results(path: &str, fraction: f64) -> Result<f64, String> {
    let results = read_results(path)?;
    let ingress =
        latest(&results, "ingress").ok_or("no ingress result yet; run `ingress` first")?;
    let peak = ingress["peak_rate"]
        .as_f64()
        .ok_or("the ingress result has no peak_rate")?;
    Ok((peak * fraction).max(1.0))
}

async fn open_run(
    addr: SocketAddr,
    rate: f64,
    secs: f64,
    run: &str,
    first: u64,
) -> loadgen::OpenResult {
    let schedule = loadgen::constant_schedule(rate, Duration::from_secs_f64(secs));
    let requests = Arc::new(webhooks::unique_requests(
        &addr.to_string(),
        run,
        first,
        schedule.len(),
    ));
    loadgen::open_loop(
        addr,
        requests,
        Arc::new(schedule),
        loadgen::open_loop_connections(rate),
        false,
    )
    .await
}

pub async fn latency(rate: f64, secs: u64) -> Result<Value, String> {
    let stack = fresh().await?;
    let run = webhooks::run_tag();
    // Baseline: the bare actix server at the same rate, same generator.
    let (echo, echo_addr) = stack.echo().await?;
    let _ = open_run(echo_addr, rate, 1.0, &run, 10_000_000).await;
    let echo_r = open_run(echo_addr, rate, secs as f64, &run, 20_000_000).await;
    let _ = echo.stop(STOP_GRACE).await;
    progress(format!(
        "echo at {rate:.0}/s: p99 {:.2} ms",
        echo_r.latency.p99_ms
    ));

    let (mut api, addr) = stack.webhook_api(None).await?;
    let _ = open_run(addr, rate, 1.0, &run, 30_000_000).await;
    db::exec(&stack.db_url, TRUNCATE_INBOX).await?;
    let named = vec![("webhook-api".to_owned(), api.pid)];
    let before = cpu::snapshot(&named);
    let r = open_run(addr, rate, secs as f64, &run, 40_000_000).await;
    let cpu_report = cpu::between(&before, &cpu::snapshot(&named));
    api.alive()?;
    let usage = api.stop(STOP_GRACE).await;
    progress(format!(
        "webhook-api at {rate:.0}/s: p50 {:.2} / p99 {:.2} / p99.9 {:.2} ms (service time p99 {:.2} ms)",
        r.latency.p50_ms, r.latency.p99_ms, r.latency.p999_ms, r.service_time.p99_ms
    ));
    Ok(json!({
        "phase": "latency",
        "rate": round1(rate),
        "result": r,
        "echo_baseline": echo_r,
        "ratio_p99_to_echo": round2(if echo_r.latency.p99_ms > 0.0 { r.latency.p99_ms / echo_r.latency.p99_ms } else { 0.0 }),
        "webhook_api": usage_json(&usage),
        "cpu": cpu_report,
    }))
}
