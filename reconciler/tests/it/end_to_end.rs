//! The whole flow: the sandbox sends real webhooks to webhook-api, which
//! stores and relays them; the reconciler re-queries the sandbox's API.

use std::time::Duration;

use sandbox::{StatusChange, WebhookRequest};

use crate::harness::*;

async fn e2e() -> Stack {
    stack_with(Options {
        ingress: true,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_webhook_claiming_success_while_the_api_says_pending_changes_nothing() {
    let stack = e2e().await;
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    // A genuine-looking (validly signed) body that lies: a replayed or stale event.
    let delivered = stack
        .admin
        .deliver_webhook(
            "mono",
            &id,
            &WebhookRequest {
                claimed_status: Some("account_credited".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(delivered.responses, [200]);
    stack.wait_checked(&reference, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = stack.find(&reference);
    assert_eq!(
        o.state, "pending",
        "the API says pending; the body is not trusted"
    );
    assert!(o.exceptions.is_empty());
    // A forged signature never gets in at all.
    let forged = stack
        .admin
        .deliver_webhook(
            "mono",
            &id,
            &WebhookRequest {
                claimed_status: Some("account_credited".into()),
                signed: Some(false),
                count: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(forged.responses, [401]);
    assert_eq!(stack.count("SELECT count(*) FROM webhook_events"), 1);
}

#[tokio::test]
async fn duplicate_deliveries_move_the_order_once() {
    let stack = e2e().await;
    let (reference, id) = stack.payment_with_order("belvo", 10_000_000).await;
    let changed = stack
        .admin
        .set_status(
            "belvo",
            &id,
            &StatusChange {
                status: "SUCCEEDED".into(),
                webhooks: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        changed.webhook_responses.iter().all(|c| *c == 200),
        "{:?}",
        changed.webhook_responses
    );
    stack.wait_state(&reference, "paid").await;
    // Both events are processed: the payment intent's status and its transaction (the settlement).
    wait_for(Duration::from_secs(10), || {
        std::future::ready(
            (stack.count("SELECT count(*) FROM webhook_events WHERE processed_at IS NOT NULL")
                == 2)
                .then_some(()),
        )
    })
    .await
    .expect("both events processed");
    assert_eq!(stack.find(&reference).history.len(), 2, "moved once");
    // Belvo keys are not released before the check, so the pick time is
    // written with the outcome; it is still the time the check started.
    assert_eq!(
        stack.count(
            "SELECT count(*) FROM webhook_events \
             WHERE picked_at IS NOT NULL AND picked_at < processed_at AND picked_at > received_at"
        ),
        2
    );
    // Two distinct events delivered five times each.
    assert_eq!(stack.count("SELECT count(*) FROM webhook_events"), 2);
    assert_eq!(
        stack.count("SELECT sum(delivery_count) FROM webhook_events"),
        10
    );
    assert_eq!(stack.count("SELECT count(*) FROM settlements"), 1);
    // The report's webhook_received_at: the latest of the order's webhooks
    // (here the intent's status event or its transaction's, whichever came last).
    assert_eq!(
        stack.count("SELECT count(*) FROM orders WHERE last_webhook_at = (SELECT max(received_at) FROM webhook_events)"),
        1
    );
}

#[tokio::test]
async fn out_of_order_deliveries_end_in_the_right_state() {
    let stack = e2e().await;
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    // Credited is delivered first; the earlier "confirmed" event arrives after it.
    stack
        .admin
        .set_status(
            "mono",
            &id,
            &StatusChange {
                status: "account_credited".into(),
                webhooks: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    stack.wait_state(&reference, "paid").await;
    let late = stack
        .admin
        .deliver_webhook(
            "mono",
            &id,
            &WebhookRequest {
                claimed_status: Some("approved_in_provider".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(late.responses, [200]);
    stack.wait_checked(&reference, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let o = stack.find(&reference);
    assert_eq!(o.state, "paid");
    assert_eq!(o.history.len(), 2);
    assert!(o.exceptions.is_empty());
}

#[tokio::test]
async fn tpaga_authorized_then_settled_is_paid_once() {
    let stack = e2e().await;
    let (reference, id) = stack.payment_with_order("tpaga", 5_000_000).await;
    stack
        .admin
        .set_status(
            "tpaga",
            &id,
            &StatusChange {
                status: "authorized".into(),
                webhooks: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    stack.wait_state(&reference, "paid").await;
    stack
        .admin
        .set_status(
            "tpaga",
            &id,
            &StatusChange {
                status: "settled".into(),
                webhooks: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    wait_for(Duration::from_secs(10), || {
        std::future::ready(
            (stack.find(&reference).provider_status.as_deref() == Some("settled")).then_some(()),
        )
    })
    .await
    .expect("the settled delivery was checked too");
    let o = stack.find(&reference);
    assert_eq!(o.state, "paid");
    assert_eq!(o.history.len(), 2);
    assert!(o.pse_cus.is_some());
}
