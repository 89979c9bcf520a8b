//! P3 (the reconciler against a slow provider), its curve over more in-flight checks,
//! and the one-or-several-reconcilers run P7 reuses; the sandbox set-up P4 shares.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{POLL_UNDER_LOAD, fresh, mb, progress, usage_json};
use crate::cpu::{self, round1, round2};
use crate::stack::STOP_GRACE;
use crate::{broker, cost, db, scrape};

/// Creates `n` Mono intents in the sandbox, already `account_credited`
/// (delivering no webhook), and returns their ids.
pub(super) async fn credited_intents(
    sandbox_url: &str,
    n: usize,
    amount_minor: i64,
) -> Result<Vec<String>, String> {
    let admin = sandbox::AdminClient::new(sandbox_url);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (admin, next) = (admin.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                let created = admin
                    .create_payment("mono", amount_minor)
                    .await
                    .map_err(|e| e.to_string())?;
                let change = sandbox::StatusChange {
                    status: "account_credited".to_owned(),
                    reported_amount_minor: None,
                    webhooks: Some(0),
                };
                admin
                    .set_status("mono", &created.provider_payment_id, &change)
                    .await
                    .map_err(|e| e.to_string())?;
                ids.push(created.provider_payment_id);
            }
            Ok::<_, String>(ids)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok(all)
}

pub(super) const AMOUNT: i64 = 10_000_000;

// ---------------------------------------------------------------- P3 reconciler

/// One reconciler measurement: `processes` reconcilers (competing consumers on the
/// same queue), each with `concurrency` checks in flight, drain `events` check
/// messages published before they start. With `idle_rss`, a reconciler is first
/// started with nothing to do, for the idle memory baseline (P6).
pub(super) async fn reconciler_run(
    events: usize,
    concurrency: usize,
    latency_ms: u64,
    processes: usize,
    idle_rss: bool,
) -> Result<Value, String> {
    let processes = processes.max(1);
    let stack = fresh().await?;
    let (sandbox_proc, sandbox_url) = stack.sandbox().await?;
    progress(format!("creating {events} credited intents in the sandbox"));
    let ids = credited_intents(&sandbox_url, events, AMOUNT).await?;
    sandbox::AdminClient::new(&sandbox_url)
        .set_latency(latency_ms)
        .await
        .map_err(|e| e.to_string())?;
    db::insert_orders(&stack.db_url, ids.clone(), AMOUNT).await?;
    let inbox = db::insert_inbox_rows(&stack.db_url, ids).await?;

    // Idle baseline: the reconciler with nothing to do.
    let mut idle_rss_kb = 0;
    if idle_rss {
        let (idle, _) = stack.reconciler(&sandbox_url, concurrency).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        idle_rss_kb = idle.rss_kb();
        let _ = idle.stop(STOP_GRACE).await;
    }

    progress(format!(
        "publishing {events} check messages to {}",
        broker::topology().events_exchange()
    ));
    broker::declare_topology().await?;
    broker::publish_checks(&inbox).await?;

    let named_base = vec![("pse-sandbox".to_owned(), sandbox_proc.pid)];
    let before = cpu::snapshot(&named_base);
    let wall = Instant::now();
    let mut recs = Vec::with_capacity(processes);
    let mut ops = Vec::with_capacity(processes);
    let mut named = named_base.clone();
    for k in 1..=processes {
        let (rec, url) = stack.reconciler(&sandbox_url, concurrency).await?;
        named.push((instance_name("reconciler", k, processes), rec.pid));
        recs.push(rec);
        ops.push(url);
    }
    let ready_secs = wall.elapsed().as_secs_f64();
    let in_flight = concurrency * processes;
    let bound = in_flight as f64 / (latency_ms as f64 / 1000.0);
    let timeout = Duration::from_secs_f64(events as f64 / (bound * 0.2) + 60.0);
    let mut done = 0i64;
    let mut last_report = Instant::now();
    while wall.elapsed() < timeout {
        for rec in &mut recs {
            rec.alive()?;
        }
        done = db::scalar(
            &stack.db_url,
            "SELECT count(*) AS n FROM webhook_events WHERE processed_at IS NOT NULL",
        )
        .await?;
        if done as usize >= events {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            progress(format!("{done}/{events} processed"));
            last_report = Instant::now();
        }
        // The rate comes from the rows' own timestamps, so polling slowly costs
        // no precision; polling fast would steal PostgreSQL CPU from the
        // reconciler (a new connection and a scan of the inbox each time).
        tokio::time::sleep(POLL_UNDER_LOAD).await;
    }
    let wall_secs = wall.elapsed().as_secs_f64();
    // CPU is attributed before the reconciler's own start time is excluded from it.
    let cpu_report = cpu::between(&before, &cpu::snapshot(&named));
    let mut texts = Vec::with_capacity(ops.len());
    for url in &ops {
        texts.extend(scrape::metrics_text(url).await);
    }
    let batches = scrape::batch_sizes(&texts);
    let mut usages = Vec::with_capacity(processes);
    for rec in recs {
        usages.push(rec.stop(STOP_GRACE).await);
    }
    let _ = sandbox_proc.stop(STOP_GRACE).await;
    let span_us = db::scalar(
        &stack.db_url,
        "SELECT COALESCE((extract(epoch FROM max(processed_at) - min(picked_at)) * 1000000)::bigint, 0) AS n FROM webhook_events",
    )
    .await?;
    let paid = db::scalar(
        &stack.db_url,
        "SELECT count(*) AS n FROM orders WHERE state = 'paid'",
    )
    .await?;
    let dead = db::scalar(&stack.db_url, "SELECT count(*) AS n FROM dead_letters")
        .await
        .unwrap_or(0);
    let span = span_us as f64 / 1e6;
    let rate = if span > 0.0 { done as f64 / span } else { 0.0 };
    let peak_kb = usages.iter().map(|u| u.peak_rss_kb).max().unwrap_or(0);
    let cost = cost::per_event(&cpu_report, u64::try_from(done).unwrap_or(0));
    progress(format!(
        "{processes} reconciler(s) × {concurrency} in flight: {done}/{events} in {span:.2} s = {rate:.0} events/s; bound {bound:.0}/s; ratio {:.0} %; peak RSS {} MB",
        100.0 * rate / bound,
        mb(peak_kb)
    ));
    Ok(json!({
        "events": events, "processed": done, "paid": paid, "dead_letters": dead,
        "concurrency": concurrency, "processes": processes, "in_flight": in_flight,
        "provider_latency_ms": latency_ms,
        "rate": round1(rate), "bound": round1(bound), "ratio_to_bound": round2(rate / bound),
        "processing_secs": round2(span),
        "wall_secs_including_startup": round2(wall_secs), "startup_secs": round2(ready_secs),
        "rate_including_startup": round1(done as f64 / wall_secs.max(1e-6)),
        "reconciler": usages.first().map(usage_json).unwrap_or(Value::Null),
        "reconcilers": usages.iter().map(usage_json).collect::<Vec<_>>(),
        "reconciler_idle_rss_mb": mb(idle_rss_kb),
        "cpu": cpu_report,
        "cost": cost,
        "batches": batches,
    }))
}

/// `reconciler` when it runs alone, `reconciler#k` when it is one of several
/// (the CPU table sums the instances back; see `cost::canonical`).
pub(super) fn instance_name(process: &str, k: usize, of: usize) -> String {
    if of <= 1 {
        process.to_owned()
    } else {
        format!("{process}#{k}")
    }
}

/// P3 at `concurrency`, then the same phase at each level of `curve` (with
/// `curve_events` each) to show where more in-flight checks stop paying.
pub async fn reconciler(
    events: usize,
    concurrency: usize,
    latency_ms: u64,
    curve: &[usize],
    curve_events: usize,
) -> Result<Value, String> {
    let mut main = reconciler_run(events, concurrency, latency_ms, 1, true).await?;
    let mut points = vec![curve_point(&main)];
    for &c in curve.iter().filter(|c| **c != concurrency) {
        let p = reconciler_run(curve_events, c, latency_ms, 1, false).await?;
        points.push(curve_point(&p));
    }
    if let Some(m) = main.as_object_mut() {
        m.insert("phase".to_owned(), json!("reconciler"));
        m.insert("curve".to_owned(), Value::Array(points));
    }
    Ok(main)
}

/// The fields of a run the curve table shows.
fn curve_point(run: &Value) -> Value {
    json!({
        "concurrency": run["in_flight"], "events": run["processed"], "rate": run["rate"],
        "bound": run["bound"], "ratio_to_bound": run["ratio_to_bound"],
        "cpu": run["cpu"], "cost": run["cost"], "batches": run["batches"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_numbered_only_when_there_are_several() {
        assert_eq!(instance_name("reconciler", 1, 1), "reconciler");
        assert_eq!(instance_name("reconciler", 2, 2), "reconciler#2");
        assert_eq!(
            crate::cost::canonical(&instance_name("webhook-api", 1, 2)),
            "webhook-api"
        );
    }

    #[test]
    fn a_curve_point_keeps_what_the_table_shows() {
        let run = json!({"in_flight": 128, "processed": 500, "rate": 700.0, "bound": 2560.0,
                         "ratio_to_bound": 0.27, "cpu": {"machine_busy_pct": 99.0}, "cost": {"events": 500}});
        let p = curve_point(&run);
        assert_eq!(p["concurrency"], 128);
        assert_eq!(p["events"], 500);
        assert_eq!(p["cpu"]["machine_busy_pct"], 99.0);
        assert_eq!(p["cost"]["events"], 500);
    }
}
