//! P4: end to end, webhook 200 to the order's `paid` commit, with the reconciler behind
//! webhook-api and the sandbox as the provider.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::reconcile::{AMOUNT, credited_intents};
use super::{POLL_UNDER_LOAD, fresh, progress, usage_json};
use crate::cpu::{self, round1, round2};
use crate::hist::Latencies;
use crate::loadgen::{self, Requests};
use crate::stack::{STOP_GRACE, Stack};
use crate::{cost, db, webhooks};

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
    let (mut rec, _) = stack.reconciler(&sandbox_url, concurrency).await?;
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
    // The window runs until the last order is paid, so every accepted webhook was
    // carried all the way through inside it.
    let cost = cost::per_event(&cpu_report, main.result.ok);
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
        "cost": cost,
    }))
}
