//! Ingestion keeps its own database capacity, and reports are capped: slow
//! API requests or a burst of downloads never make a provider's webhook wait.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use serde_json::Value;
use shared::testing::FINANCE_KEY;

use crate::helpers::*;

/// Waits until `n` sessions of the test database wait on a lock.
async fn wait_for_blocked(app: &TestApp, n: i64) {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.connect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let w: Waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut conn)
        .unwrap();
        if w.n >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only {} sessions blocked", w.n);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_webhook_is_stored_while_slow_requests_hold_every_api_connection() {
    let app = spawn_app_with(&[("DATABASE_POOL_SIZE", "2"), ("DB_LOCK_TIMEOUT_MS", "20000")]).await;
    // Exceptions listings hang on a lock, each holding an API connection.
    let mut holder = app.db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE reconciliation_exceptions IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut slow = Vec::new();
    for _ in 0..3 {
        let (client, url) = (app.client.clone(), app.url("/v1/exceptions"));
        slow.push(tokio::spawn(async move {
            client.get(url).bearer_auth(FINANCE_KEY).send().await
        }));
    }
    wait_for_blocked(&app, 2).await;

    let started = Instant::now();
    let body = mono_body(
        "collection_intent_credited",
        "cint_pool0000000000000000001",
        "account_credited",
        "2026-11-21T10:00:00Z",
    );
    let r = app.post_mono(body, MONO_SECRET, now()).await;
    let took = started.elapsed();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert!(took < Duration::from_secs(1), "answered in {took:?}");
    assert_eq!(app.inbox_counts().0, 1);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "webhooks can still be stored");

    holder.batch_execute("ROLLBACK").unwrap();
    for request in slow {
        let _ = request.await;
    }
}

#[tokio::test]
async fn a_report_beyond_the_cap_is_refused_with_retry_after() {
    let app = spawn_app_with(&[("REPORT_CONCURRENCY", "1"), ("DB_LOCK_TIMEOUT_MS", "20000")]).await;
    let path = "/v1/reports/reconciliation?date=2026-11-20&format=csv";
    let mut holder = app.db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let (client, url) = (app.client.clone(), app.url(path));
    let first = tokio::spawn(async move { client.get(url).bearer_auth(FINANCE_KEY).send().await });
    wait_for_blocked(&app, 1).await;

    let second = app.get_as(FINANCE_KEY, path).await;
    assert_eq!(second.status(), 503);
    assert_eq!(
        second
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("30")
    );
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"]["code"], "reports_busy", "{body}");
    assert!(app.metrics().await.contains("reports_refused_total 1"));

    holder.batch_execute("ROLLBACK").unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    first.bytes().await.unwrap();
    // The slot is free again once the first report's task has finished
    // (a moment after its last byte).
    let mut status = 0;
    for _ in 0..40 {
        status = app.get_as(FINANCE_KEY, path).await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
}
