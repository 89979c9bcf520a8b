//! P7 scale-out: two webhook-api processes (the generator splits its connections
//! over both) and two reconcilers (competing consumers on the same queue), on one
//! database and broker, against one of each measured in the same run.

use std::time::Duration;

use serde_json::{Value, json};

use super::ingress::{drain_outbox, pool_for, step_cost};
use super::reconcile::reconciler_run;
use super::{TRUNCATE_INBOX, fresh, progress};
use crate::cpu::{self, round1, round2};
use crate::loadgen::{self, ClosedResult};
use crate::stack::STOP_GRACE;
use crate::{broker, db, webhooks};

/// The rate each webhook-api is expected to reach, to size the request pools
/// (the pools only need to last; running out early still gives the right rate).
const EXPECTED_PER_PROCESS: f64 = 10_000.0;

/// Two results measured over the same window, added up.
fn combined_rate(results: &[ClosedResult]) -> f64 {
    results.iter().map(|r| r.rate).sum()
}

/// two ÷ one, 0 when the single process did nothing (a failed run must not read as a gain).
pub fn scale_ratio(one: f64, two: f64) -> f64 {
    if one > 0.0 { two / one } else { 0.0 }
}

fn closed_json(r: &ClosedResult) -> Value {
    json!({
        "rate": round1(r.rate), "connections": r.connections, "ok": r.ok,
        "errors": r.errors, "statuses": r.statuses, "p99_ms": r.latency.p99_ms,
    })
}

async fn ingress_scale(connections: usize, warmup: u64, secs: u64) -> Result<Value, String> {
    let stack = fresh().await?;
    let (mut a, addr_a) = stack.webhook_api(None).await?;
    let (mut b, addr_b) = stack.webhook_api(None).await?;
    let named = vec![
        ("webhook-api#1".to_owned(), a.pid),
        ("webhook-api#2".to_owned(), b.pid),
    ];
    let run = webhooks::run_tag();
    let window = Duration::from_secs(warmup + secs);
    let (warmup, secs) = (Duration::from_secs(warmup), Duration::from_secs(secs));
    let mut first = 0u64;
    let mut pool = |addr: std::net::SocketAddr, rate: f64| {
        let p = pool_for(
            webhooks::CREDITED,
            rate,
            window,
            &addr.to_string(),
            &run,
            first,
        );
        first += p.len() as u64;
        p
    };

    // One process takes every connection (the second one is up but idle).
    db::exec(&stack.db_url, TRUNCATE_INBOX).await?;
    broker::purge_events().await?;
    let p = pool(addr_a, EXPECTED_PER_PROCESS * 1.3);
    let before = cpu::snapshot(&named);
    let one = loadgen::closed_loop(addr_a, p, connections, warmup, secs).await;
    let one_cpu = cpu::between(&before, &cpu::snapshot(&named));
    let _ = drain_outbox(&stack.db_url, Duration::from_secs(30)).await;
    let one_cost = step_cost(&stack.db_url, &before, &named).await;
    progress(format!(
        "one webhook-api, {connections} connections: {:.0} webhooks/s",
        one.rate
    ));

    // Two processes, the connections split evenly.
    db::exec(&stack.db_url, TRUNCATE_INBOX).await?;
    broker::purge_events().await?;
    let half = (connections / 2).max(1);
    let (pa, pb) = (
        pool(addr_a, EXPECTED_PER_PROCESS),
        pool(addr_b, EXPECTED_PER_PROCESS),
    );
    let before = cpu::snapshot(&named);
    let (ra, rb) = tokio::join!(
        loadgen::closed_loop(addr_a, pa, half, warmup, secs),
        loadgen::closed_loop(addr_b, pb, half, warmup, secs),
    );
    let two_cpu = cpu::between(&before, &cpu::snapshot(&named));
    let _ = drain_outbox(&stack.db_url, Duration::from_secs(30)).await;
    let two_cost = step_cost(&stack.db_url, &before, &named).await;
    a.alive()?;
    b.alive()?;
    let _ = a.stop(STOP_GRACE).await;
    let _ = b.stop(STOP_GRACE).await;
    let two = [ra, rb];
    let two_rate = combined_rate(&two);
    progress(format!(
        "two webhook-apis, {half} connections each: {two_rate:.0} webhooks/s ({:.2}×)",
        scale_ratio(one.rate, two_rate)
    ));
    Ok(json!({
        "connections": connections,
        "one": {"rate": round1(one.rate), "result": closed_json(&one), "cpu": one_cpu, "cost": one_cost},
        "two": {"rate": round1(two_rate), "results": two.iter().map(closed_json).collect::<Vec<_>>(),
                "cpu": two_cpu, "cost": two_cost},
        "ratio": round2(scale_ratio(one.rate, two_rate)),
    }))
}

/// The fields of a reconciler run P7 shows.
fn rec_summary(run: &Value) -> Value {
    json!({
        "processes": run["processes"], "concurrency": run["concurrency"], "in_flight": run["in_flight"],
        "events": run["processed"], "rate": run["rate"], "bound": run["bound"],
        "ratio_to_bound": run["ratio_to_bound"], "cpu": run["cpu"], "cost": run["cost"],
    })
}

pub async fn scale_out(
    connections: usize,
    warmup: u64,
    secs: u64,
    events: usize,
    concurrency: usize,
    latency_ms: u64,
) -> Result<Value, String> {
    let ingress = ingress_scale(connections, warmup, secs).await?;
    let one = reconciler_run(events, concurrency, latency_ms, 1, false).await?;
    let two = reconciler_run(events, concurrency, latency_ms, 2, false).await?;
    let ratio = scale_ratio(
        one["rate"].as_f64().unwrap_or(0.0),
        two["rate"].as_f64().unwrap_or(0.0),
    );
    progress(format!("reconcilers: two ÷ one = {ratio:.2}×"));
    Ok(json!({
        "phase": "scaleout",
        "goal_ratio": 1.6,
        "cores": cpu::cores(),
        "ingress": ingress,
        "reconciler": {
            "one": rec_summary(&one), "two": rec_summary(&two), "ratio": round2(ratio),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_of_a_failed_single_run_is_not_a_gain() {
        assert_eq!(scale_ratio(0.0, 500.0), 0.0);
        assert_eq!(scale_ratio(400.0, 600.0), 1.5);
    }

    #[test]
    fn reconciler_summary_keeps_the_process_count() {
        let run = json!({"processes": 2, "concurrency": 64, "in_flight": 128, "processed": 10,
                         "rate": 5.0, "bound": 2560.0, "ratio_to_bound": 0.0, "cpu": {}, "cost": {}});
        let s = rec_summary(&run);
        assert_eq!(s["processes"], 2);
        assert_eq!(s["in_flight"], 128);
        assert_eq!(s["events"], 10);
    }
}
