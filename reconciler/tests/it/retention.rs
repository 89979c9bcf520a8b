//! The retention job, time-compressed: periods of a second instead of days.

use std::time::Duration;

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use reconciler::retention;
use shared::config::RetentionConfig;
use shared::metrics::Metrics;
use shared::testing::TestDb;

#[derive(QueryableByName, Debug, PartialEq)]
struct Counts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    outbox: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    checks: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    events: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    redacted: i64,
}

fn counts(db: &TestDb) -> Counts {
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM outbox) AS outbox, \
                (SELECT count(*) FROM provider_checks) AS checks, \
                (SELECT count(*) FROM webhook_events) AS events, \
                (SELECT count(*) FROM webhook_events WHERE redacted_at IS NOT NULL \
                   AND body = '\\x'::bytea AND headers = '{}'::jsonb) AS redacted",
    )
    .get_result(&mut db.connect())
    .unwrap()
}

/// `n` of each kind of row, tagged `tag` so the generations stay distinct.
fn insert(db: &TestDb, tag: &str, n: usize) {
    let mut conn = db.connect();
    for i in 0..n {
        conn.batch_execute(&format!(
            "INSERT INTO outbox (exchange, routing_key, message_id, payload, published_at) \
                 VALUES ('events', 'mono.x', '{tag}-pub-{i}', '{{}}', now()); \
             INSERT INTO outbox (exchange, routing_key, message_id, payload) \
                 VALUES ('events', 'mono.x', '{tag}-unpub-{i}', '{{}}'); \
             INSERT INTO provider_checks (provider, object_id, method, path, response_body, latency_ms) \
                 VALUES ('mono', '{tag}-{i}', 'GET', '/x', '{{\"email\":\"a@b.co\"}}', 5); \
             INSERT INTO webhook_events (provider, dedup_key, event_type, body, headers, auth_result, actionable, processed_at) \
                 VALUES ('mono', '{tag}-done-{i}', 't', 'pii', '{{\"h\":1}}', 'ok', true, now()), \
                        ('mono', '{tag}-ignored-{i}', 't', 'pii', '{{\"h\":1}}', 'ok', false, NULL), \
                        ('mono', '{tag}-waiting-{i}', 't', 'pii', '{{\"h\":1}}', 'ok', true, NULL);"
        ))
        .unwrap();
    }
}

#[tokio::test]
async fn old_rows_go_in_small_batches_and_rows_still_needed_stay() {
    let db = TestDb::create();
    let config = RetentionConfig {
        interval: Duration::from_secs(1),
        outbox_published: Duration::from_secs(1),
        evidence: Duration::from_secs(1),
        // Smaller than what is due: the job must go round several times.
        batch: 2,
    };
    let metrics = Metrics::new();
    insert(&db, "old", 5);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    insert(&db, "new", 3);
    let done = retention::run_once(&db.db(), &metrics, &config)
        .await
        .unwrap();
    assert_eq!(
        done,
        [
            ("outbox", 5),
            ("provider_checks", 5),
            ("webhook_events", 10)
        ]
    );
    assert_eq!(
        counts(&db),
        Counts {
            // 3 new published + all 8 unpublished.
            outbox: 11,
            checks: 3,
            // Redacted, never deleted; the 5 old events still waiting for
            // their check keep their body.
            events: 24,
            redacted: 10,
        }
    );
    let waiting: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM webhook_events WHERE dedup_key LIKE 'old-waiting-%' AND body = 'pii'",
    )
    .get_result::<N>(&mut db.connect())
    .unwrap()
    .n;
    assert_eq!(waiting, 5);
    let text = metrics.render();
    for line in [
        r#"retention_deleted_total{table="outbox"} 5"#,
        r#"retention_deleted_total{table="provider_checks"} 5"#,
        r#"retention_redacted_total{table="webhook_events"} 10"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    // Nothing more is due: a second run removes nothing.
    let again = retention::run_once(&db.db(), &metrics, &config)
        .await
        .unwrap();
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
