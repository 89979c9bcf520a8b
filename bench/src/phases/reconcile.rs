//! P3 (the reconciler against a slow provider) and P4 (end to end, webhook to paid order),
//! with the sandbox set-up they share.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{POLL_UNDER_LOAD, fresh, mb, progress, usage_json};
use crate::cpu::{self, round1, round2};
use crate::hist::Latencies;
use crate::loadgen::{self, Requests};
use crate::stack::{STOP_GRACE, Stack};
use crate::{broker, db, webhooks};

/// Creates `n` Mono intents in the sandbox, already `account_credited`
/// (delivering no webhook), and returns their ids.
async fn credited_intents(
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

const AMOUNT: i64 = 10_000_000;

// ---------------------------------------------------------------- P3 reconciler

pub async fn reconciler(
    events: usize,
    concurrency: usize,
    latency_ms: u64,
) -> Result<Value, String> {
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
    let idle = stack.reconciler(&sandbox_url, concurrency).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_kb = idle.rss_kb();
    let _ = idle.stop(STOP_GRACE).await;

    progress(format!(
        "publishing {events} check messages to {}",
        broker::topology().events_exchange()
    ));
    broker::declare_topology().await?;
    broker::publish_checks(&inbox).await?;

    let named_base = vec![("pse-sandbox".to_owned(), sandbox_proc.pid)];
    let before = cpu::snapshot(&named_base);
    let wall = Instant::now();
    let mut rec = stack.reconciler(&sandbox_url, concurrency).await?;
    let ready_secs = wall.elapsed().as_secs_f64();
    let named = vec![
        ("pse-sandbox".to_owned(), sandbox_proc.pid),
        ("reconciler".to_owned(), rec.pid),
    ];
    let bound = concurrency as f64 / (latency_ms as f64 / 1000.0);
    let timeout = Duration::from_secs_f64(events as f64 / (bound * 0.2) + 60.0);
    let mut done = 0i64;
    let mut last_report = Instant::now();
    while wall.elapsed() < timeout {
        rec.alive()?;
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
    let usage = rec.stop(STOP_GRACE).await;
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
    progress(format!(
        "reconciler: {done}/{events} in {span:.2} s = {rate:.0} events/s; bound {bound:.0}/s; ratio {:.0} %; peak RSS {} MB",
        100.0 * rate / bound,
        mb(usage.peak_rss_kb)
    ));
    Ok(json!({
        "phase": "reconciler",
        "events": events, "processed": done, "paid": paid, "dead_letters": dead,
        "concurrency": concurrency, "provider_latency_ms": latency_ms,
        "rate": round1(rate), "bound": round1(bound), "ratio_to_bound": round2(rate / bound),
        "processing_secs": round2(span),
        "wall_secs_including_startup": round2(wall_secs), "startup_secs": round2(ready_secs),
        "rate_including_startup": round1(done as f64 / wall_secs.max(1e-6)),
        "reconciler": usage_json(&usage),
        "reconciler_idle_rss_mb": mb(idle_rss_kb),
        "cpu": cpu_report,
    }))
}

// ---------------------------------------------------------------- P4 end to end

struct E2e {
    result: loadgen::OpenResult,
    e2e: crate::hist::Summary,
    raw: crate::hist::Summary,
    missing: usize,
    negative: usize,
}

async fn e2e_run(
    stack: &Stack,
    addr: SocketAddr,
    ids: &[String],
    first_seq: u64,
    rate: f64,
    latency_ms: u64,
    expect_paid_total: usize,
) -> Result<E2e, String> {
    let secret = shared::Secret::new(webhooks::MONO_SECRET);
    let now = chrono::Utc::now().timestamp();
    let host = addr.to_string();
    let requests: Requests = Arc::new(
        ids.iter()
            .enumerate()
            .map(|(k, id)| {
                let body = webhooks::credited_body(id, AMOUNT, first_seq + k as u64);
                webhooks::signed_request(&host, &secret, now, &body)
            })
            .collect(),
    );
    let schedule =
        loadgen::constant_schedule(rate, Duration::from_secs_f64(ids.len() as f64 / rate));
    let r = loadgen::open_loop(
        addr,
        requests,
        Arc::new(schedule),
        loadgen::open_loop_connections(rate),
        true,
    )
    .await;
    // Wait for the reconciler to finish what was accepted.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let paid = db::scalar(
            &stack.db_url,
            "SELECT count(*) AS n FROM order_events WHERE to_state = 'paid'",
        )
        .await?;
        if paid as usize >= expect_paid_total || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL_UNDER_LOAD).await;
    }
    let rows = db::text_int_rows(
        &stack.db_url,
        "SELECT o.provider_payment_id AS t, (extract(epoch FROM e.at) * 1000000)::bigint AS n \
         FROM order_events e JOIN orders o ON o.id = e.order_id WHERE e.to_state = 'paid'",
    )
    .await?;
    let paid_at: HashMap<String, i64> = rows.into_iter().collect();
    let mut e2e = Latencies::new();
    let mut raw = Latencies::new();
    let (mut missing, mut negative) = (0, 0);
    for (i, done_us) in &r.done_at {
        let Some(at) = ids.get(*i).and_then(|id| paid_at.get(id)) else {
            missing += 1;
            continue;
        };
        let raw_us = at - done_us;
        let net = raw_us - latency_ms as i64 * 1000;
        if net < 0 {
            negative += 1;
        }
        raw.record_us(raw_us.max(0) as u64);
        e2e.record_us(net.max(0) as u64);
    }
    Ok(E2e {
        result: r,
        e2e: e2e.summary(),
        raw: raw.summary(),
        missing,
        negative,
    })
}

fn e2e_json(e: &E2e) -> Value {
    json!({
        "target_rate": round1(e.result.target_rate),
        "achieved_rate": round1(e.result.achieved_rate),
        "sent": e.result.scheduled, "accepted": e.result.ok,
        "statuses": e.result.statuses, "errors": e.result.errors,
        "ingress_latency": e.result.latency,
        "e2e": e.e2e, "e2e_raw_including_provider": e.raw,
        "not_paid_in_time": e.missing, "faster_than_provider_latency": e.negative,
    })
}

pub async fn e2e(
    rate: f64,
    secs: f64,
    latency_ms: u64,
    base_rate: f64,
    base_secs: f64,
    concurrency: usize,
) -> Result<Value, String> {
    let stack = fresh().await?;
    let (sandbox_proc, sandbox_url) = stack.sandbox().await?;
    let base_n = (base_rate * base_secs).round().max(1.0) as usize;
    let main_n = (rate * secs).round().max(1.0) as usize;
    progress(format!(
        "creating {} credited intents in the sandbox",
        base_n + main_n
    ));
    let ids = credited_intents(&sandbox_url, base_n + main_n, AMOUNT).await?;
    sandbox::AdminClient::new(&sandbox_url)
        .set_latency(latency_ms)
        .await
        .map_err(|e| e.to_string())?;
    db::insert_orders(&stack.db_url, ids.clone(), AMOUNT).await?;
    let mut rec = stack.reconciler(&sandbox_url, concurrency).await?;
    let (mut api, addr) = stack.webhook_api(Some(&sandbox_url)).await?;

    progress(format!(
        "unloaded baseline: {base_n} webhooks at {base_rate}/s"
    ));
    let base = e2e_run(
        &stack,
        addr,
        &ids[..base_n],
        0,
        base_rate,
        latency_ms,
        base_n,
    )
    .await?;
    progress(format!(
        "unloaded: e2e p50 {:.1} / p99 {:.1} ms",
        base.e2e.p50_ms, base.e2e.p99_ms
    ));

    progress(format!("loaded: {main_n} webhooks at {rate}/s"));
    let named = vec![
        ("webhook-api".to_owned(), api.pid),
        ("reconciler".to_owned(), rec.pid),
        ("pse-sandbox".to_owned(), sandbox_proc.pid),
    ];
    let before = cpu::snapshot(&named);
    let main = e2e_run(
        &stack,
        addr,
        &ids[base_n..],
        base_n as u64,
        rate,
        latency_ms,
        base_n + main_n,
    )
    .await?;
    let cpu_report = cpu::between(&before, &cpu::snapshot(&named));
    api.alive()?;
    rec.alive()?;
    let api_usage = api.stop(STOP_GRACE).await;
    let rec_usage = rec.stop(STOP_GRACE).await;
    let _ = sandbox_proc.stop(STOP_GRACE).await;
    progress(format!(
        "loaded at {:.0}/s: e2e p50 {:.1} / p99 {:.1} ms (provider {latency_ms} ms subtracted); {} not paid in time",
        main.result.achieved_rate, main.e2e.p50_ms, main.e2e.p99_ms, main.missing
    ));
    Ok(json!({
        "phase": "e2e",
        "provider_latency_ms": latency_ms,
        "reconciler_concurrency": concurrency,
        "loaded": e2e_json(&main),
        "unloaded": e2e_json(&base),
        "ratio_p99_to_unloaded": round2(if base.e2e.p99_ms > 0.0 { main.e2e.p99_ms / base.e2e.p99_ms } else { 0.0 }),
        "webhook_api": usage_json(&api_usage),
        "reconciler": usage_json(&rec_usage),
        "cpu": cpu_report,
    }))
}
