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

#[test]
fn a_delivery_racing_the_release_of_its_waiting_key_is_stored_as_new() {
    use shared::db::inbox::{Delivery, Stored, failpoint, mark_picked, store};
    use shared::providers::tpaga::webhook::parse;
    use std::sync::atomic::{AtomicBool, Ordering};
    let db = TestDb::create();
    let delivery = Delivery {
        provider: Provider::Tpaga,
        event: parse(br#"{"charge_token": "pse-race-only-this-test"}"#).unwrap(),
        body: b"{}".to_vec(),
        headers: serde_json::json!({}),
        auth_result: "test".into(),
    };
    let mut conn = db.connect();
    let Stored::New { inbox_id, .. } = store(&mut conn, &delivery).unwrap().stored else {
        panic!("first is new")
    };

    // A second delivery finds the key taken; right then, the reconciler picks
    // the waiting check up and releases the key (on its own connection).
    let url = db.url.clone();
    let fired = std::sync::Arc::new(AtomicBool::new(false));
    let fired_in_hook = fired.clone();
    *failpoint::AFTER_CONFLICT.lock().unwrap() = Some(Box::new(move |key: &str| {
        if key == "waiting:pse-race-only-this-test" && !fired_in_hook.swap(true, Ordering::SeqCst) {
            let mut reconciler = diesel::PgConnection::establish(&url).unwrap();
            mark_picked(&mut reconciler, inbox_id).unwrap();
        }
    }));
    let second = store(&mut conn, &delivery).map(|saved| saved.stored);
    *failpoint::AFTER_CONFLICT.lock().unwrap() = None;
    assert!(fired.load(Ordering::SeqCst), "the race was staged");
    match second {
        Ok(Stored::New {
            inbox_id: second_id,
            queued: true,
        }) => assert_ne!(second_id, inbox_id),
        other => panic!("the racing delivery must queue a new check, got {other:?}"),
    }
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
