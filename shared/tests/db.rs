//! The schema against a real PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

use diesel::prelude::*;
use shared::db::models::{ExceptionRow, OrderEventRow, OrderRow};
use shared::db::schema::{
    order_events, orders, outbox, provider_checks, reconciliation_exceptions, webhook_events,
};
use shared::db::{orders as order_queries, run_migrations};
use shared::domain::{Money, NewOrder, Provider, Reference};
use shared::testing::TestDb;

fn new_order(reference: &str) -> NewOrder {
    NewOrder {
        reference: Reference::parse(reference).unwrap(),
        provider: Provider::Tpaga,
        provider_payment_id: format!("pse-{reference}"),
        amount: Money::cop(1_000_000).unwrap(),
        description: None,
        payer: None,
    }
}

#[test]
fn migrations_are_safe_when_processes_start_together() {
    let db = TestDb::create_empty();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || run_migrations(&url))
        })
        .collect();
    let applied: Vec<usize> = handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap()
                .expect("every process migrates without error")
                .len()
        })
        .collect();
    // Exactly one process applied the migrations; the others found nothing to do.
    assert_eq!(applied.iter().filter(|n| **n > 0).count(), 1, "{applied:?}");
    assert!(run_migrations(&db.url).unwrap().is_empty());
}

#[test]
fn schema_matches_migrations() {
    let db = TestDb::create();
    let mut conn = db.connect();
    order_queries::create(&mut conn, &new_order("ORD-S1"), chrono::Utc::now()).unwrap();
    // Loading every column of every table fails if schema.rs and the SQL disagree.
    let o: Vec<OrderRow> = orders::table
        .select(OrderRow::as_select())
        .load(&mut conn)
        .unwrap();
    assert_eq!(o.len(), 1);
    let e: Vec<OrderEventRow> = order_events::table
        .select(OrderEventRow::as_select())
        .load(&mut conn)
        .unwrap();
    assert_eq!(e.len(), 1);
    let _: Vec<ExceptionRow> = reconciliation_exceptions::table
        .select(ExceptionRow::as_select())
        .load(&mut conn)
        .unwrap();
    let _: Vec<(
        i64,
        String,
        String,
        Option<String>,
        Vec<u8>,
        serde_json::Value,
        bool,
        i32,
    )> = webhook_events::table
        .select((
            webhook_events::id,
            webhook_events::provider,
            webhook_events::dedup_key,
            webhook_events::object_id,
            webhook_events::body,
            webhook_events::headers,
            webhook_events::actionable,
            webhook_events::delivery_count,
        ))
        .load(&mut conn)
        .unwrap();
    let _: Vec<(
        i64,
        String,
        serde_json::Value,
        Option<chrono::DateTime<chrono::Utc>>,
    )> = outbox::table
        .select((
            outbox::id,
            outbox::routing_key,
            outbox::payload,
            outbox::published_at,
        ))
        .load(&mut conn)
        .unwrap();
    let _: Vec<(i64, Option<uuid::Uuid>, Option<i32>, i32)> = provider_checks::table
        .select((
            provider_checks::id,
            provider_checks::order_id,
            provider_checks::status_code,
            provider_checks::latency_ms,
        ))
        .load(&mut conn)
        .unwrap();
}

#[test]
fn constraints_refuse_what_the_application_would() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let bad = [
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash) VALUES ('A', 'mono', 'x', -1, 'COP', 'h')",
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash, state) VALUES ('A', 'mono', 'x', 1, 'COP', 'h', 'bogus')",
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash) VALUES ('A B', 'mono', 'x', 1, 'COP', 'h')",
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash) VALUES ('A', 'mono', 'x', 1, 'cop', 'h')",
        "INSERT INTO reconciliation_exceptions (provider, kind, detail, dedup_key) VALUES ('mono', 'oops', 'd', 'k')",
    ];
    for sql in bad {
        assert!(diesel::sql_query(sql).execute(&mut conn).is_err(), "{sql}");
    }
    let ok = "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash) VALUES ('A', 'mono', 'x', 1, 'COP', 'h')";
    diesel::sql_query(ok).execute(&mut conn).unwrap();
    let dup = "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash) VALUES ('B', 'mono', 'x', 1, 'COP', 'h')";
    let err = diesel::sql_query(dup).execute(&mut conn).unwrap_err();
    assert!(shared::db::is_unique_violation(&err));
}

#[test]
fn order_history_is_append_only() {
    let db = TestDb::create();
    let mut conn = db.connect();
    order_queries::create(&mut conn, &new_order("ORD-S2"), chrono::Utc::now()).unwrap();
    assert!(
        diesel::sql_query("UPDATE order_events SET cause = 'rewritten'")
            .execute(&mut conn)
            .is_err()
    );
    assert!(
        diesel::sql_query("DELETE FROM order_events")
            .execute(&mut conn)
            .is_err()
    );
    let n: i64 = order_events::table.count().get_result(&mut conn).unwrap();
    assert_eq!(n, 1);
}

fn target(provider: Provider, id: &str) -> shared::providers::webhook::CheckTarget {
    shared::providers::webhook::CheckTarget {
        provider,
        object_type: "charge".to_owned(),
        object_id: id.to_owned(),
    }
}

#[test]
fn the_flight_gate_queues_one_check_per_object_and_coalesces_the_rest() {
    use shared::db::flights::{Picked, Requested, pick, request};
    use std::time::Duration;
    let db = TestDb::create();
    let mut conn = db.connect();
    let (a, b) = (
        target(Provider::Tpaga, "pse-a"),
        target(Provider::Tpaga, "pse-b"),
    );
    let answers = request(&mut conn, &[&b, &a, &a]).unwrap();
    let Requested::Queue { ticket: tb } = answers[0] else {
        panic!("{answers:?}")
    };
    let Requested::Queue { ticket: ta } = answers[1] else {
        panic!("{answers:?}")
    };
    assert_ne!(ta, tb);
    assert_eq!(
        answers[2],
        Requested::Coalesced { ticket: ta },
        "a repeat in one batch"
    );
    assert_eq!(
        request(&mut conn, &[&a]).unwrap(),
        vec![Requested::Coalesced { ticket: ta }]
    );

    // Picking the queued check frees the slot: a request during the call queues one more.
    let lease = Duration::from_secs(60);
    let Picked::Run { token } = pick(&mut conn, &a, Some(ta), lease).unwrap() else {
        panic!("free")
    };
    let [Requested::Queue { ticket: ta2 }] = request(&mut conn, &[&a]).unwrap()[..] else {
        panic!("queues again")
    };
    assert!(ta2 > ta);
    assert_eq!(
        request(&mut conn, &[&a]).unwrap(),
        vec![Requested::Coalesced { ticket: ta2 }]
    );
    // Another process picking the one behind finds the lease: busy, nothing changes.
    let mut other = db.connect();
    assert_eq!(
        pick(&mut other, &a, Some(ta2), lease).unwrap(),
        Picked::Busy
    );
    assert_eq!(
        request(&mut other, &[&a]).unwrap(),
        vec![Requested::Coalesced { ticket: ta2 }]
    );
    // Once the first finishes, the queued one runs.
    shared::db::flights::finish(&mut conn, &a, token, shared::db::flights::Finish::Released)
        .unwrap();
    assert!(matches!(
        pick(&mut other, &a, Some(ta2), lease).unwrap(),
        Picked::Run { .. }
    ));
    let (requests, coalesced, checks) = flight_counts(&mut conn, "pse-a");
    assert_eq!((requests, coalesced, checks), (6, 4, 1));
}

/// `pick_many` answers each request as `pick` would have, one after the
/// other: the reconciler's pickers rely on it to take several checks' leases
/// in one statement.
#[test]
fn many_leases_in_one_statement_are_taken_as_one_by_one_picks_would_be() {
    use shared::db::flights::{Picked, Requested, pick, pick_many, request};
    use std::time::Duration;
    let db = TestDb::create();
    let mut conn = db.connect();
    let lease = Duration::from_secs(60);
    let [a, b, c, d] =
        ["many-a", "many-b", "many-c", "many-d"].map(|id| target(Provider::Tpaga, id));
    let queued = request(&mut conn, &[&a, &b]).unwrap();
    let (ta, tb) = (queued[0].ticket(), queued[1].ticket());
    // Another process is checking d.
    let Picked::Run { .. } = pick(&mut db.connect(), &d, None, lease).unwrap() else {
        panic!("d is free")
    };

    let picked = pick_many(
        &mut conn,
        &[
            (b.clone(), Some(tb + 1_000)), // not the queued check: b stays queued
            (a.clone(), Some(ta)),         // the queued check: a's slot is freed
            (d.clone(), None),             // leased elsewhere
            (a.clone(), Some(ta)),         // the same object again in one call
            (c.clone(), None),             // no row yet
        ],
        lease,
    )
    .unwrap();
    let tokens: Vec<_> = picked
        .iter()
        .map(|p| match p {
            Picked::Run { token } => Some(*token),
            Picked::Busy => None,
        })
        .collect();
    assert!(
        tokens[0].is_some() && tokens[1].is_some() && tokens[4].is_some(),
        "{picked:?}"
    );
    assert_eq!(
        (picked[2], picked[3]),
        (Picked::Busy, Picked::Busy),
        "{picked:?}"
    );
    let distinct: std::collections::HashSet<_> = tokens.iter().flatten().collect();
    assert_eq!(distinct.len(), 3, "a token per lease taken");

    // The leases hold against a later pick, as `pick`'s do.
    let mut other = db.connect();
    for t in [&a, &b, &c] {
        assert_eq!(pick(&mut other, t, None, lease).unwrap(), Picked::Busy);
    }
    // a's queued check was this one: a new request queues another; b's is still queued.
    assert!(matches!(
        request(&mut other, &[&a]).unwrap()[..],
        [Requested::Queue { ticket }] if ticket > ta
    ));
    assert_eq!(
        request(&mut other, &[&b]).unwrap(),
        vec![Requested::Coalesced { ticket: tb }]
    );

    // A lease that has run out is taken again, by the batch as by `pick`.
    let [e, f] = ["many-e", "many-f"].map(|id| target(Provider::Tpaga, id));
    let both = [(e.clone(), None), (f.clone(), None)];
    let first = pick_many(&mut conn, &both, Duration::ZERO).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let again = pick_many(&mut conn, &both, lease).unwrap();
    for p in first.iter().chain(&again) {
        assert!(matches!(p, Picked::Run { .. }), "{first:?} {again:?}");
    }
    assert_ne!(first, again, "new tokens");
}

fn flight_counts(conn: &mut PgConnection, id: &str) -> (i64, i64, i64) {
    use shared::db::schema::check_flights as f;
    f::table
        .filter(f::object_id.eq(id))
        .select((f::requests, f::coalesced, f::checks))
        .first(conn)
        .unwrap()
}

#[test]
fn a_retry_holds_the_queued_slot_unless_a_newer_check_was_queued() {
    use shared::db::flights::{Finish, Finished, Picked, Requested, finish, pick, request};
    use std::time::Duration;
    let db = TestDb::create();
    let mut conn = db.connect();
    let a = target(Provider::Mono, "cint_a");
    let lease = Duration::from_secs(60);
    let hold = Duration::from_secs(300);
    let [Requested::Queue { ticket }] = request(&mut conn, &[&a]).unwrap()[..] else {
        panic!()
    };
    let Picked::Run { token } = pick(&mut conn, &a, Some(ticket), lease).unwrap() else {
        panic!()
    };
    let retry = Finish::Retry {
        ticket: Some(ticket),
        hold,
    };
    assert_eq!(
        finish(&mut conn, &a, token, retry).unwrap(),
        Finished::RetryQueued
    );
    // The retry message is the queued check: requests coalesce into it.
    assert_eq!(
        request(&mut conn, &[&a]).unwrap(),
        vec![Requested::Coalesced { ticket }]
    );
    let Picked::Run { token } = pick(&mut conn, &a, Some(ticket), lease).unwrap() else {
        panic!()
    };
    let [Requested::Queue { ticket: newer }] = request(&mut conn, &[&a]).unwrap()[..] else {
        panic!()
    };
    assert_eq!(
        finish(&mut conn, &a, token, retry).unwrap(),
        Finished::RetrySuperseded { by: newer },
        "the check queued during the call re-queries anyway"
    );
    assert_eq!(
        request(&mut conn, &[&a]).unwrap(),
        vec![Requested::Coalesced { ticket: newer }]
    );
}

#[test]
fn lost_checks_and_dead_leases_stop_blocking_the_object() {
    use shared::db::flights::{Finish, Picked, Requested, finish, pick, release_queued, request};
    use std::time::Duration;
    let db = TestDb::create();
    let mut conn = db.connect();
    let a = target(Provider::Belvo, "pi-a");
    let lease = Duration::from_secs(60);
    let [Requested::Queue { ticket: lost }] = request(&mut conn, &[&a]).unwrap()[..] else {
        panic!()
    };
    // Its message vanished: past its grace the slot is free again.
    diesel::sql_query("UPDATE check_flights SET queued_until = now() - interval '1 second'")
        .execute(&mut conn)
        .unwrap();
    let [Requested::Queue { ticket: dead }] = request(&mut conn, &[&a]).unwrap()[..] else {
        panic!("queues again")
    };
    // Dead-lettered before it was picked: the archiver frees the slot, but only its own.
    assert!(!release_queued(&mut conn, &a, lost).unwrap());
    assert_eq!(
        request(&mut conn, &[&a]).unwrap(),
        vec![Requested::Coalesced { ticket: dead }]
    );
    assert!(release_queued(&mut conn, &a, dead).unwrap());
    assert!(matches!(
        request(&mut conn, &[&a]).unwrap()[..],
        [Requested::Queue { .. }]
    ));

    // A crashed process's lease ends by itself; its late finish leaves the new owner's lease alone.
    let Picked::Run { token: crashed } = pick(&mut conn, &a, None, lease).unwrap() else {
        panic!()
    };
    assert_eq!(pick(&mut conn, &a, None, lease).unwrap(), Picked::Busy);
    diesel::sql_query("UPDATE check_flights SET running_until = now() - interval '1 second'")
        .execute(&mut conn)
        .unwrap();
    let Picked::Run { .. } = pick(&mut conn, &a, None, lease).unwrap() else {
        panic!("taken over")
    };
    finish(&mut conn, &a, crashed, Finish::Released).unwrap();
    assert_eq!(
        pick(&mut conn, &a, None, lease).unwrap(),
        Picked::Busy,
        "still leased"
    );
}

#[test]
fn tpaga_deliveries_are_each_stored_and_coalesce_into_the_queued_check() {
    use shared::db::inbox::{Delivery, Stored, store, store_batch};
    use shared::providers::tpaga::webhook::parse;
    let db = TestDb::create();
    let mut conn = db.connect();
    let delivery = Delivery {
        provider: Provider::Tpaga,
        event: parse(br#"{"charge_token": "pse-flood"}"#).unwrap(),
        body: br#"{"charge_token": "pse-flood"}"#.to_vec(),
        headers: serde_json::json!({}),
        auth_result: "test".into(),
    };
    let first = store(&mut conn, &delivery).unwrap();
    assert!(matches!(first.stored, Stored::New { queued: true, .. }));
    assert!(first.message.is_some() && !first.coalesced);
    let ticket = first.message.unwrap().payload["ticket"].as_i64().unwrap();
    let second = store(&mut conn, &delivery).unwrap();
    let Stored::New {
        inbox_id,
        queued: true,
    } = second.stored
    else {
        panic!("{second:?}")
    };
    assert!(second.message.is_none() && second.coalesced);
    let batch: Vec<Delivery> = (0..5).map(|_| delivery.clone()).collect();
    let saved = store_batch(&mut conn, &batch).unwrap();
    assert!(
        saved
            .iter()
            .all(|s| matches!(s, Ok(s) if s.coalesced && s.message.is_none()))
    );
    let (rows, messages): (i64, i64) = (
        webhook_events::table.count().get_result(&mut conn).unwrap(),
        outbox::table.count().get_result(&mut conn).unwrap(),
    );
    assert_eq!((rows, messages), (7, 1), "every delivery stored, one check");
    let outcome: Option<String> = webhook_events::table
        .find(inbox_id)
        .select(webhook_events::outcome)
        .first(&mut conn)
        .unwrap();
    assert_eq!(outcome, Some(format!("coalesced:{ticket}")));
}

#[test]
fn a_batch_goes_in_bulk_with_duplicates_inside_it_and_from_before() {
    use shared::db::inbox::{Delivery, Stored, store, store_bulk};
    use shared::providers::mono::webhook::parse;
    let db = TestDb::create();
    let mut conn = db.connect();
    let delivery = |n: u32| {
        let body = format!(
            r#"{{"event": {{"type": "collection_intent_credited", "data": {{"id": "cint_{n:0>22}", "state": "account_credited", "updated_at": "T"}}}}}}"#
        );
        Delivery {
            provider: Provider::Mono,
            event: parse(body.as_bytes()).unwrap(),
            body: body.into_bytes(),
            headers: serde_json::json!({"content-type": "application/json"}),
            auth_result: "test".into(),
        }
    };
    let earlier = store(&mut conn, &delivery(3)).unwrap();
    let Stored::New {
        inbox_id: earlier_id,
        ..
    } = earlier.stored
    else {
        panic!("new")
    };

    let batch = [
        delivery(1),
        delivery(2),
        delivery(1),
        delivery(3),
        delivery(3),
    ];
    let saved = diesel::Connection::transaction(&mut conn, |c| store_bulk(c, &batch)).unwrap();
    let ids: Vec<Stored> = saved.iter().map(|s| s.stored).collect();
    let Stored::New {
        inbox_id: one,
        queued: true,
    } = ids[0]
    else {
        panic!("{ids:?}")
    };
    let Stored::New {
        inbox_id: two,
        queued: true,
    } = ids[1]
    else {
        panic!("{ids:?}")
    };
    assert_eq!(ids[2], Stored::Duplicate { inbox_id: one });
    assert_eq!(
        ids[3],
        Stored::Duplicate {
            inbox_id: earlier_id
        }
    );
    assert_eq!(
        ids[4],
        Stored::Duplicate {
            inbox_id: earlier_id
        }
    );
    assert_ne!(one, two);
    // One check message per new event, leased to us, with the inbox id in its headers.
    let messages: Vec<_> = saved.iter().filter_map(|s| s.message.clone()).collect();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].message_id, format!("inbox-{one}"));
    assert_eq!(messages[0].headers, serde_json::json!({"inbox_id": one}));
    assert_eq!(
        messages[0].payload["cause"],
        serde_json::json!({"kind": "webhook", "inbox_id": one})
    );
    // Delivery counts: 2 for the first, 3 for the earlier one; three outbox rows, all leased to their writer.
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |sql: &str, conn: &mut diesel::PgConnection| {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
    };
    assert_eq!(
        count(
            &format!("SELECT delivery_count::bigint AS n FROM webhook_events WHERE id = {one}"),
            &mut conn
        ),
        2
    );
    assert_eq!(
        count(
            &format!(
                "SELECT delivery_count::bigint AS n FROM webhook_events WHERE id = {earlier_id}"
            ),
            &mut conn
        ),
        3
    );
    assert_eq!(
        count(
            "SELECT count(*) AS n FROM outbox WHERE lease_until IS NOT NULL",
            &mut conn
        ),
        3
    );
}

/// The pool pings a connection at check-out (docs/ARCHITECTURE.md, "Reconciler:
/// group commit", says why it stayed): a session the server closed is replaced
/// there and never reaches a caller.
#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_at_check_out() {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let test_db = TestDb::create();
    // One connection, so the next check-out would be the same session if it were kept.
    let db = shared::db::Db::new(&test_db.url, 1, std::time::Duration::from_secs(5));
    let pid = |conn: &mut shared::db::PgConn| -> Result<i32, shared::db::DbError> {
        Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result::<Pid>(conn)?
            .pid)
    };
    let first = db.run(pid).await.unwrap();
    let mut admin = test_db.connect();
    diesel::sql_query(format!("SELECT pg_terminate_backend({first})"))
        .execute(&mut admin)
        .unwrap();
    // The server needs a moment to end the session.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The check-out ping finds the closed session and the pool opens a new one:
    // the call that comes next never sees the dead session (a batch of events
    // would otherwise fail on it together).
    let second = db.run(pid).await.expect("a fresh session, not an error");
    assert_ne!(second, first);
    assert!(db.run(pid).await.is_ok());
}

/// `shared::db::prepared`: what it wraps is prepared once per connection,
/// through both the load path and its own `execute`; diesel's plain raw SQL
/// is not (which is why the wrapper exists). A diesel upgrade that changes
/// either fails here instead of quietly costing PostgreSQL the CPU again.
#[test]
fn a_prepared_statement_is_parsed_once_per_connection() {
    use diesel::sql_types::{BigInt, Integer, Text};
    use shared::db::prepared::prepared;

    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let db = TestDb::create();
    let mut conn = db.connect();
    diesel::sql_query("CREATE TABLE scratch (i int PRIMARY KEY, v text)")
        .execute(&mut conn)
        .unwrap();
    let kept = |conn: &mut PgConnection, like: &str| -> i64 {
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE $1",
        )
        .bind::<Text, _>(like)
        .get_result::<N>(conn)
        .unwrap()
        .n
    };
    for i in 0..3 {
        let n = prepared("SELECT $1::int8 + 1 AS n", |q| q.bind::<BigInt, _>(i))
            .get_result::<N>(&mut conn)
            .unwrap()
            .n;
        assert_eq!(n, i + 1);
        prepared("INSERT INTO scratch (i, v) VALUES ($1, $2)", |q| {
            q.bind::<Integer, _>(i32::try_from(i).unwrap())
                .bind::<Text, _>("x")
        })
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query("UPDATE scratch SET v = $1 WHERE i = $2")
            .bind::<Text, _>("y")
            .bind::<Integer, _>(i32::try_from(i).unwrap())
            .execute(&mut conn)
            .unwrap();
    }
    assert_eq!(kept(&mut conn, "SELECT $1::int8 + 1%"), 1);
    assert_eq!(kept(&mut conn, "INSERT INTO scratch%"), 1);
    assert_eq!(
        kept(&mut conn, "UPDATE scratch%"),
        0,
        "plain raw SQL is never kept"
    );
    let updated = diesel::sql_query("SELECT count(*) AS n FROM scratch WHERE v = 'y'")
        .get_result::<N>(&mut conn)
        .unwrap()
        .n;
    assert_eq!(updated, 3);
}

/// Callers beyond the pool's size wait for a connection as tasks, not as
/// parked blocking threads, and the wait is bounded by the check-out timeout:
/// a caller that never gets one is told the database is unavailable.
#[tokio::test]
async fn a_caller_waits_for_a_free_connection_no_longer_than_the_check_out_timeout() {
    let test_db = TestDb::create();
    let db = shared::db::Db::new(&test_db.url, 1, std::time::Duration::from_millis(300));
    let holder = {
        let db = db.clone();
        tokio::spawn(async move {
            db.run(|conn| {
                diesel::sql_query("SELECT pg_sleep(1.5)").execute(conn)?;
                Ok(())
            })
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let waited = db.run(|conn| shared::db::ping(conn)).await;
    let e = waited.expect_err("the only connection stays busy past the timeout");
    assert!(e.is_unavailable(), "{e:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(1200),
        "gave up at the timeout, not when the holder finished: {:?}",
        started.elapsed()
    );
    holder.await.unwrap().unwrap();
    // Once it is free, the next caller gets it.
    db.run(|conn| shared::db::ping(conn)).await.unwrap();
}

/// A sign-out is kept only while its session could still be presented: the
/// next sign-out deletes the ones whose token has expired, so the table stays
/// as small as one session lifetime's sign-outs. Signing out twice is one row.
#[test]
fn console_sign_outs_are_kept_until_their_session_expires() {
    use shared::db::console_signouts::{is_signed_out, record};
    let db = TestDb::create();
    let mut conn = db.connect();
    let now = chrono::Utc::now();
    let (old, live) = ("a".repeat(32), "b".repeat(32));
    record(&mut conn, &old, now - chrono::Duration::minutes(1)).unwrap();
    assert!(is_signed_out(&mut conn, &old).unwrap());
    record(&mut conn, &live, now + chrono::Duration::hours(8)).unwrap();
    record(&mut conn, &live, now + chrono::Duration::hours(8)).unwrap();
    assert!(
        !is_signed_out(&mut conn, &old).unwrap(),
        "purged once expired"
    );
    assert!(is_signed_out(&mut conn, &live).unwrap());
    assert!(!is_signed_out(&mut conn, &"c".repeat(32)).unwrap());
    let rows: i64 =
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT count(*) FROM console_signouts")
            .get_result(&mut conn)
            .unwrap();
    assert_eq!(rows, 1);
}
