//! Operational behaviour against the real services: the relay's background
//! pass and backoff, and the session limits every pooled connection carries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use shared::config::SessionLimits;
use shared::db::Db;
use shared::db::outbox::{self, NewMessage, PendingMessage};
use shared::metrics::Metrics;
use shared::queue::Broker;
use shared::queue::message::Exchange;
use shared::queue::relay::{Pace, Relay};
use shared::secret::Secret;
use shared::testing::{TestBroker, TestDb};

struct Rig {
    db: TestDb,
    pool: Db,
    broker: TestBroker,
    relay: Relay,
}

async fn rig(pace: Pace) -> Rig {
    let db = TestDb::create();
    let broker = TestBroker::new(vec![Duration::from_secs(1)]);
    broker.declare().await;
    let pool = db.db();
    let live = Broker::start(
        Secret::new(broker.url.clone()),
        broker.topology.clone(),
        "ops-test",
    );
    assert!(live.connected(Duration::from_secs(10)).await);
    let relay = Relay::start(pool.clone(), live, Arc::new(Metrics::new()), pace);
    Rig {
        db,
        pool,
        broker,
        relay,
    }
}

/// A background pass every 300 ms and short backoffs: what a test can wait out.
const QUICK: Pace = Pace {
    interval: Duration::from_millis(300),
    retry_base: Duration::from_millis(100),
    retry_max: Duration::from_secs(1),
};

fn message(i: usize, routing_key: &str) -> NewMessage {
    NewMessage {
        exchange: Exchange::Events,
        routing_key: routing_key.to_owned(),
        message_id: format!("ops-test-{i}"),
        payload: serde_json::json!({"n": i}),
        inbox_id: None,
    }
}

/// Inserts rows as a handler does (leased to their writer), and returns them.
async fn insert(pool: &Db, from: usize, to: usize, routing_key: &str) -> Vec<PendingMessage> {
    let key = routing_key.to_owned();
    pool.run(move |conn| {
        let mut rows = Vec::new();
        for i in from..to {
            rows.push(outbox::insert(conn, &message(i, &key))?.expect("new row"));
        }
        Ok(rows)
    })
    .await
    .unwrap()
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    attempts: i64,
    #[diesel(sql_type = Bool)]
    published: bool,
}

fn row(db: &TestDb, id: i64) -> Row {
    diesel::sql_query(
        "SELECT attempts::int8 AS attempts, published_at IS NOT NULL AS published FROM outbox WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(&mut db.connect())
    .unwrap()
}

#[tokio::test]
async fn steady_traffic_does_not_starve_the_background_pass() {
    let rig = rig(QUICK).await;
    // A row its writer gave back (as after a broken channel): only the
    // background pass can publish it.
    let orphan = insert(&rig.pool, 0, 1, "mono.orphan").await[0].id;
    let ids = [orphan];
    rig.pool
        .run(move |conn| outbox::release(conn, &ids))
        .await
        .unwrap();
    // Fresh rows every 100 ms, each published straight after its "commit".
    let started = Instant::now();
    let mut published_after = None;
    for i in 1..=25 {
        let fresh = insert(&rig.pool, i, i + 1, "mono.fresh").await;
        rig.relay.publish_now(fresh);
        tokio::time::sleep(Duration::from_millis(100)).await;
        if published_after.is_none() && row(&rig.db, orphan).published {
            published_after = Some(started.elapsed());
        }
    }
    let after = published_after.expect("the released row is published while traffic continues");
    assert!(
        after < Duration::from_millis(1_500),
        "published {after:?} after release; the pass runs every 300 ms"
    );
}

/// Committed rows handed to the relay queue in memory only up to
/// `DIRECT_BACKLOG` batches; the rest go back to the outbox (lease released)
/// and the background pass publishes them: bounded memory, nothing lost, and
/// well before their 60 s writer lease would have expired.
#[tokio::test]
async fn a_relay_that_falls_behind_keeps_a_bounded_backlog_and_loses_nothing() {
    use shared::queue::relay::DIRECT_BACKLOG;
    let rig = rig(QUICK).await;
    let total = DIRECT_BACKLOG * 3;
    let rows = insert(&rig.pool, 0, total, "mono.burst").await;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    // One batch per row, all handed over without yielding (this test's runtime
    // has one thread): the relay cannot take any meanwhile.
    for row in rows {
        rig.relay.publish_now(vec![row]);
        assert!(rig.relay.backlog() <= DIRECT_BACKLOG);
    }
    assert_eq!(rig.relay.backlog(), DIRECT_BACKLOG);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let published = ids.iter().filter(|&&id| row(&rig.db, id).published).count();
        if published == total {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{published} of {total} published after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each offered to the broker once: handing a row back counts no attempt.
    assert!(ids.iter().all(|&id| row(&rig.db, id).attempts <= 1));
    assert_eq!(rig.relay.backlog(), 0);
}

#[tokio::test]
async fn rows_the_broker_keeps_refusing_back_off_instead_of_looping() {
    let rig = rig(Pace {
        interval: Duration::from_millis(100),
        retry_base: Duration::from_millis(200),
        retry_max: Duration::from_secs(30),
    })
    .await;
    // Nothing bound to the events exchange: every publish comes back unroutable.
    let conn = rig.broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.queue_unbind(
        rig.broker.topology.events_queue().into(),
        rig.broker.topology.events_exchange().into(),
        "#".into(),
        lapin::types::FieldTable::default(),
    )
    .await
    .unwrap();
    // More than one lease batch (256): a full batch used to be re-leased at once.
    let rows = insert(&rig.pool, 0, 300, "mono.nobody").await;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    rig.pool
        .run(move |conn| outbox::release(conn, &ids))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = rig.pool.run(|conn| outbox::stats(conn)).await.unwrap();
    assert_eq!(stats.unpublished, 300);
    assert_eq!(stats.retrying, 300, "every row was tried: {stats:?}");
    // Delays of 0.2, 0.4, 0.8, 1.6 s: at most 5 attempts in 3 s. A fixed
    // delay would allow 15 and a tight loop thousands.
    assert!(
        (2..=5).contains(&stats.max_attempts),
        "attempts grow slower and slower: {stats:?}"
    );
    assert!(row(&rig.db, rows[0].id).attempts >= 2, "retried at all");
    let error: Option<String> = diesel::sql_query("SELECT last_error FROM outbox LIMIT 1")
        .get_result::<LastError>(&mut rig.db.connect())
        .unwrap()
        .last_error;
    assert!(error.unwrap_or_default().contains("unroutable"));
}

#[derive(QueryableByName)]
struct LastError {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last_error: Option<String>,
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    setting: String,
}

/// The soft-state pool (flight leases, the relay's claims and marks) commits
/// without waiting for the WAL flush; every other pool keeps the server's
/// `synchronous_commit`, which may be stronger than `on`.
#[tokio::test]
async fn only_the_soft_state_pool_commits_without_waiting_for_the_disk() {
    let db = TestDb::create();
    let limits = SessionLimits {
        statement_timeout: Duration::from_secs(5),
        lock_timeout: Duration::from_secs(1),
        idle_in_transaction_timeout: Duration::from_secs(5),
    };
    let setting = |pool: Db| async move {
        pool.run(|conn| {
            let s: Setting =
                diesel::sql_query("SELECT current_setting('synchronous_commit') AS setting")
                    .get_result(conn)?;
            Ok(s.setting)
        })
        .await
        .unwrap()
    };
    let soft = Db::soft_state(&db.url, limits);
    let durable = Db::with_limits(&db.url, 1, Duration::from_secs(5), limits);
    let server: Setting =
        diesel::sql_query("SELECT current_setting('synchronous_commit') AS setting")
            .get_result(&mut db.connect())
            .unwrap();
    assert_eq!(setting(soft).await, "off");
    assert_eq!(setting(durable).await, server.setting);
    assert_ne!(server.setting, "off", "the test server must commit durably");
}

#[tokio::test]
async fn every_pooled_connection_carries_the_session_limits() {
    let db = TestDb::create();
    let pool = Db::with_limits(
        &db.url,
        2,
        Duration::from_secs(5),
        SessionLimits {
            statement_timeout: Duration::from_millis(700),
            lock_timeout: Duration::from_millis(300),
            idle_in_transaction_timeout: Duration::from_secs(9),
        },
    );
    let settings = pool
        .run(|conn| {
            let mut out = Vec::new();
            for name in [
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
            ] {
                let s: Setting =
                    diesel::sql_query(format!("SELECT current_setting('{name}') AS setting"))
                        .get_result(conn)?;
                out.push(s.setting);
            }
            Ok(out)
        })
        .await
        .unwrap();
    assert_eq!(settings, ["700ms", "300ms", "9s"]);
    // A statement over the limit is cut short, and reads as "retry later".
    let slow = pool
        .run(|conn| {
            diesel::sql_query("SELECT pg_sleep(2)").execute(conn)?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(slow.is_unavailable(), "{slow}");
    // So is a lock wait.
    let mut holder = db.connect();
    holder
        .batch_execute("BEGIN; LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = Instant::now();
    let blocked = pool
        .run(|conn| outbox::backlog(conn).map(|_| ()))
        .await
        .unwrap_err();
    assert!(blocked.is_unavailable(), "{blocked}");
    assert!(started.elapsed() < Duration::from_secs(2));
    holder.batch_execute("ROLLBACK").unwrap();
}

/// `insert_many` answers each message as one `insert` after another would:
/// a row for a new message id, `None` for one already stored or repeated
/// earlier in the same call; the rows are leased to the writer.
#[test]
fn many_messages_in_one_statement_are_stored_as_one_by_one_inserts_would_be() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let earlier = outbox::insert(&mut conn, &message(1, "many")).unwrap();
    assert!(earlier.is_some());
    let batch = [
        message(2, "many"),
        message(1, "many"),
        message(3, "many"),
        message(2, "many"),
    ];
    let answers = outbox::insert_many(&mut conn, &batch).unwrap();
    let ids: Vec<Option<&str>> = answers
        .iter()
        .map(|a| a.as_ref().map(|m| m.message_id.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![
            Some(batch[0].message_id.as_str()),
            None,
            Some(batch[2].message_id.as_str()),
            None
        ]
    );
    let written = answers[0].as_ref().unwrap();
    assert_eq!(written.payload, batch[0].payload);
    assert_eq!(written.headers, outbox::headers_for(&batch[0]));
    #[derive(QueryableByName)]
    struct Stored {
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = BigInt)]
        leased: i64,
    }
    let stored: Stored = diesel::sql_query(
        "SELECT count(*) AS n, count(*) FILTER (WHERE lease_until > now()) AS leased FROM outbox",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!((stored.n, stored.leased), (3, 3));
}
