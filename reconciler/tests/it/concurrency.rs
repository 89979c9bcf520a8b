//! One transition per change, however messages arrive.

use std::time::Duration;

use crate::harness::*;

#[tokio::test]
async fn two_events_for_one_order_processed_concurrently_make_one_transition() {
    let stack = stack().await;
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &id, "account_credited").await;
    // Several checks of the same intent at once (a webhook and its retries, a sweep…).
    futures_util::future::join_all((0..6).map(|_| stack.check("mono", "collection_intent", &id)))
        .await;
    stack.wait_checked(&reference, 6).await;
    stack.wait_state(&reference, "paid").await;
    assert_eq!(
        stack.transitions(&reference).len(),
        2,
        "created, then exactly one move to paid"
    );
    assert_eq!(
        stack.count("SELECT count(*) FROM outbox WHERE exchange = 'orders'"),
        1
    );
}

#[tokio::test]
async fn an_event_processed_twice_after_a_crash_before_ack_makes_one_transition() {
    let stack = stack().await;
    let (reference, id) = stack.payment_with_order("belvo", 25_000_000).await;
    stack.set_status("belvo", &id, "SUCCEEDED").await;
    let message = check_message("belvo", "payment_intent", &id);
    let body = serde_json::to_vec(&message).unwrap();
    // A worker processes the message and commits, then dies before its ack…
    let (_, first) = reconciler::handle::process(stack.ctx(), &body).await;
    assert!(
        matches!(first, reconciler::handle::Disposition::Done { ref outcome } if outcome == "moved:pending->paid"),
        "{first:?}"
    );
    // …so RabbitMQ delivers it again, to whichever worker is alive.
    stack
        .publish_raw(
            &body,
            "redelivered-1",
            "belvo.payment_intents.status_update",
        )
        .await;
    stack.wait_checked(&reference, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stack.transitions(&reference).len(), 2);
    assert_eq!(stack.find(&reference).state, "paid");
    assert_eq!(
        stack.count("SELECT count(*) FROM outbox WHERE exchange = 'orders'"),
        1
    );
}

#[tokio::test]
async fn shutdown_finishes_the_messages_in_flight() {
    let stack = stack().await;
    stack.admin.set_latency(700).await.unwrap();
    let mut orders = Vec::new();
    for _ in 0..5 {
        let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
        stack.set_status("mono", &id, "failed").await;
        stack.check("mono", "collection_intent", &id).await;
        orders.push(reference);
    }
    // Let the worker take them (its prefetch covers all five), then stop it mid-call.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stack = stack.stop().await;
    for reference in &orders {
        assert_eq!(
            stack.find(reference).state,
            "failed",
            "{reference} finished before shutdown"
        );
    }
    let conn = stack.broker.connect().await;
    let left = shared::testing::drain(
        &conn,
        &stack.broker.topology.events_queue(),
        0,
        Duration::ZERO,
        Duration::from_millis(300),
    )
    .await;
    assert!(left.is_empty(), "nothing left unacked or requeued");
}
