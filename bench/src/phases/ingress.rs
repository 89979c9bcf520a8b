//! pgbench (the database baseline), the closed-loop sweeps (P1 ceiling) and the ingress phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{TRUNCATE_INBOX, fresh, mb, progress, usage_json, work_dir};
use crate::cpu::{self, round1, round2};
use crate::loadgen::{self, Requests};
use crate::stack::{STOP_GRACE, Stack};
use crate::{broker, cost, db, pgbench, webhooks};

pub async fn pgbench_phase(levels: &[usize], secs: u64) -> Result<Value, String> {
    let stack = fresh().await?;
    let mut steps = Vec::new();
    for &c in levels {
        db::exec(&stack.db_url, TRUNCATE_INBOX).await?;
        let r = run_pgbench(c, secs).await?;
        progress(format!("pgbench c={c}: {:.0} tx/s", r.tps));
        steps.push(r);
    }
    Ok(json!({"phase": "pgbench", "steps": steps}))
}

async fn run_pgbench(clients: usize, secs: u64) -> Result<pgbench::PgbenchResult, String> {
    let dir = work_dir()?;
    pgbench::run(
        &dir,
        "127.0.0.1",
        5432,
        "postgres",
        &db::db_name(),
        clients,
        Duration::from_secs(secs),
    )
    .await
}

// ---------------------------------------------------------------- closed-loop sweeps

/// Requests for a closed-loop step sized from the rate we expect.
pub(super) fn pool_for(
    event_type: &str,
    expected_rate: f64,
    window: Duration,
    host: &str,
    run: &str,
    first: u64,
) -> Requests {
    let n = ((expected_rate * window.as_secs_f64() * 1.5) as usize).clamp(2_000, 400_000);
    Arc::new(webhooks::unique_requests_of(
        event_type, host, run, first, n,
    ))
}

fn saturated(rates: &[f64]) -> bool {
    // The last two levels both gained under 3 % on the best before them (two,
    // so one noisy step on a shared machine does not end the sweep).
    if rates.len() < 4 {
        return false;
    }
    let n = rates.len();
    let best = rates[..n - 2].iter().copied().fold(0.0, f64::max);
    rates[n - 2] < best * 1.03 && rates[n - 1] < best * 1.03
}

pub async fn ceiling(levels: &[usize], warmup: u64, secs: u64) -> Result<Value, String> {
    let stack = Stack::new(db::bench_url())?;
    let (echo, addr) = stack.echo().await?;
    let host = addr.to_string();
    let run = webhooks::run_tag();
    let mut first = 0u64;
    let mut steps = Vec::new();
    let mut rates = Vec::new();
    let mut expected = 20_000.0;
    for &c in levels {
        let window = Duration::from_secs(warmup + secs);
        let pool = pool_for(webhooks::CREDITED, expected, window, &host, &run, first);
        first += pool.len() as u64;
        let named = vec![("echo-server".to_owned(), echo.pid)];
        let before = cpu::snapshot(&named);
        let r = loadgen::closed_loop(
            addr,
            pool,
            c,
            Duration::from_secs(warmup),
            Duration::from_secs(secs),
        )
        .await;
        let cpu_report = cpu::between(&before, &cpu::snapshot(&named));
        progress(format!(
            "ceiling c={c}: {:.0} req/s, p99 {:.2} ms",
            r.rate, r.latency.p99_ms
        ));
        expected = r.rate.max(1000.0) * 1.3;
        rates.push(r.rate);
        steps.push(json!({"concurrency": c, "result": r, "cpu": cpu_report}));
        if saturated(&rates) {
            break;
        }
    }
    let usage = echo.stop(STOP_GRACE).await;
    let best = best_step(&steps);
    Ok(json!({
        "phase": "ceiling",
        "workers": cpu::cores(),
        "peak_rate": best.0, "peak_concurrency": best.1,
        "server": usage_json(&usage),
        "steps": steps,
    }))
}

fn best_step(steps: &[Value]) -> (f64, u64) {
    steps
        .iter()
        .map(|s| {
            (
                s["result"]["rate"].as_f64().unwrap_or(0.0),
                s["concurrency"].as_u64().unwrap_or(0),
            )
        })
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a })
}

async fn outbox_backlog(url: &str) -> i64 {
    db::scalar(
        url,
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
    )
    .await
    .unwrap_or(-1)
}

/// Waits (bounded) for the relay to publish what a step left behind.
pub(super) async fn drain_outbox(url: &str, within: Duration) -> (i64, f64) {
    let started = Instant::now();
    loop {
        let left = outbox_backlog(url).await;
        if left <= 0 || started.elapsed() >= within {
            return (left, round2(started.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// CPU-ms per stored webhook over a step: the window reaches past the load to the
/// end of the outbox drain, so relaying each webhook to RabbitMQ is charged too;
/// every stored row counts (warm-up included, as its CPU is in the window). The
/// inbox is truncated before each step, so the row count is the step's.
pub(super) async fn step_cost(url: &str, before: &cpu::Snapshot, named: &[(String, u32)]) -> Value {
    let report = cpu::between(before, &cpu::snapshot(named));
    let stored = db::scalar(url, "SELECT count(*) AS n FROM webhook_events")
        .await
        .unwrap_or(0);
    cost::per_event(&report, u64::try_from(stored).unwrap_or(0))
}

/// P1: pgbench and webhook-api at each concurrency, interleaved so both see
/// the same machine conditions.
pub async fn ingress(
    levels: &[usize],
    warmup: u64,
    secs: u64,
    event_type: &str,
) -> Result<Value, String> {
    let stack = fresh().await?;
    let (mut api, addr) = stack.webhook_api(None).await?;
    let idle_rss_kb = api.rss_kb();
    let host = addr.to_string();
    let run = webhooks::run_tag();
    let mut first = 0u64;
    let mut steps = Vec::new();
    let mut rates = Vec::new();
    for &c in levels {
        db::exec(&stack.db_url, TRUNCATE_INBOX).await?;
        let pg = run_pgbench(c, secs).await?;
        db::exec(&stack.db_url, TRUNCATE_INBOX).await?;
        broker::purge_events().await?;
        let expected = rates.iter().copied().fold(pg.tps * 2.0, f64::max) * 1.5;
        let pool = pool_for(
            event_type,
            expected,
            Duration::from_secs(warmup + secs),
            &host,
            &run,
            first,
        );
        first += pool.len() as u64;
        api.alive()?;
        let named = vec![("webhook-api".to_owned(), api.pid)];
        let before = cpu::snapshot(&named);
        let r = loadgen::closed_loop(
            addr,
            pool,
            c,
            Duration::from_secs(warmup),
            Duration::from_secs(secs),
        )
        .await;
        let cpu_report = cpu::between(&before, &cpu::snapshot(&named));
        let backlog_at_end = outbox_backlog(&stack.db_url).await;
        let (left, drain_secs) = drain_outbox(&stack.db_url, Duration::from_secs(30)).await;
        let cost = step_cost(&stack.db_url, &before, &named).await;
        let ratio = if pg.tps > 0.0 { r.rate / pg.tps } else { 0.0 };
        progress(format!(
            "ingress c={c}: {:.0} webhooks/s vs pgbench {:.0} tx/s = {:.2}x; p99 {:.1} ms; non-200 {}; errors {}",
            r.rate,
            pg.tps,
            ratio,
            r.latency.p99_ms,
            r.statuses
                .iter()
                .filter(|(s, _)| **s != 200)
                .map(|(_, n)| n)
                .sum::<u64>(),
            r.errors
        ));
        rates.push(r.rate);
        steps.push(json!({
            "concurrency": c, "result": r, "pgbench": pg, "ratio": round2(ratio),
            "outbox_backlog_at_end": backlog_at_end, "outbox_drain_secs": drain_secs, "outbox_left": left,
            "cpu": cpu_report, "cost": cost,
        }));
        if saturated(&rates) {
            break;
        }
    }
    api.alive()?;
    let usage = api.stop(STOP_GRACE).await;
    let (peak, peak_c) = best_step(&steps);
    let at_peak = steps
        .iter()
        .find(|s| s["concurrency"].as_u64() == Some(peak_c))
        .cloned()
        .unwrap_or(Value::Null);
    let pg_at_peak = at_peak["pgbench"]["tps"].as_f64().unwrap_or(0.0);
    let pg_best = steps
        .iter()
        .filter_map(|s| s["pgbench"]["tps"].as_f64())
        .fold(0.0, f64::max);
    Ok(json!({
        "phase": "ingress",
        "event_type": if event_type == webhooks::CREDITED {
            format!("{event_type} (stored, outbox row written, relayed to RabbitMQ)")
        } else {
            format!("{event_type} (not acted on by the product: inbox row only; NOT comparable to the pgbench script)")
        },
        "peak_rate": round1(peak), "peak_concurrency": peak_c,
        "pgbench_at_peak_concurrency": round1(pg_at_peak),
        "pgbench_best": round1(pg_best),
        "ratio_to_pgbench": round2(if pg_at_peak > 0.0 { peak / pg_at_peak } else { 0.0 }),
        "webhook_api": usage_json(&usage),
        "webhook_api_idle_rss_mb": mb(idle_rss_kb),
        "cost_at_peak": at_peak["cost"].clone(),
        "steps": steps,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_needs_three_levels_and_no_gain() {
        assert!(!saturated(&[100.0, 100.0, 100.0]));
        assert!(!saturated(&[100.0, 200.0, 300.0, 400.0]));
        assert!(!saturated(&[100.0, 200.0, 150.0, 250.0]));
        assert!(saturated(&[100.0, 200.0, 202.0, 199.0]));
        assert!(saturated(&[100.0, 200.0, 150.0, 160.0]));
    }
}
