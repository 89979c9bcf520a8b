//! Every row of the status mapping table (docs/ARCHITECTURE.md, "Status mapping"), against each provider's API.

use futures_util::future::join_all;

use crate::harness::*;

const ROWS: [(&str, &str, &str); 16] = [
    ("mono", "created", "pending"),
    ("mono", "in_progress", "pending"),
    ("mono", "approved_in_provider", "processing"),
    ("mono", "account_credited", "paid"),
    ("mono", "failed", "failed"),
    ("belvo", "REQUIRES_PAYMENT_METHOD", "pending"),
    ("belvo", "REQUIRES_ACTION", "pending"),
    ("belvo", "PROCESSING", "processing"),
    ("belvo", "SUCCEEDED", "paid"),
    ("belvo", "FAILED", "failed"),
    ("tpaga", "pending", "pending"),
    ("tpaga", "authorized", "paid"),
    ("tpaga", "settled", "paid"),
    ("tpaga", "rejected", "failed"),
    ("tpaga", "failed", "failed"),
    ("tpaga", "charge-rejected", "failed"),
];

#[tokio::test]
async fn every_provider_status_maps_to_its_order_state() {
    let stack = stack().await;
    let orders = join_all(ROWS.iter().map(|(provider, status, _)| {
        let stack = &stack;
        async move {
            let (reference, id) = stack.payment_with_order(provider, 10_000_000).await;
            // Created payments start in their initial status; move them (no webhook).
            let initial = ["created", "REQUIRES_PAYMENT_METHOD", "pending"];
            if !initial.contains(status) {
                stack.set_status(provider, &id, status).await;
            }
            stack.check(provider, payment_type(provider), &id).await;
            reference
        }
    }))
    .await;
    for ((provider, status, expected), reference) in ROWS.iter().zip(&orders) {
        stack.wait_checked(reference, 1).await;
        let o = stack.wait_state(reference, expected).await;
        assert_eq!(
            o.provider_status.as_deref(),
            Some(*status),
            "{provider} {status}"
        );
        assert!(o.last_checked_at.is_some());
        assert!(
            o.exceptions.is_empty(),
            "{provider} {status}: {:?}",
            o.exceptions
        );
    }
    // Mono's PSE transaction id and Tpaga's traceability code are kept as the CUS.
    let mono_paid = stack.find(&orders[3]);
    assert!(
        mono_paid.pse_cus.is_some(),
        "Mono payment.transaction_id kept"
    );
    let tpaga_paid = stack.find(&orders[11]);
    assert!(
        tpaga_paid.pse_cus.is_some() && tpaga_paid.bank_code.is_some(),
        "Tpaga traceability code and bank kept"
    );
}

#[tokio::test]
async fn a_state_change_is_announced_on_pse_orders() {
    use lapin::options::{QueueBindOptions, QueueDeclareOptions};
    let stack = stack().await;
    let conn = stack.broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let queue = format!("{}merchant.orders", stack.broker.prefix);
    ch.queue_declare(
        queue.as_str().into(),
        QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        },
        Default::default(),
    )
    .await
    .unwrap();
    ch.queue_bind(
        queue.as_str().into(),
        stack.broker.topology.orders_exchange().as_str().into(),
        "order.*".into(),
        QueueBindOptions::default(),
        Default::default(),
    )
    .await
    .unwrap();
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &id, "account_credited").await;
    stack.check("mono", "collection_intent", &id).await;
    stack.wait_state(&reference, "paid").await;
    let got = shared::testing::drain(
        &conn,
        &queue,
        1,
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(500),
    )
    .await;
    assert_eq!(got.len(), 1, "one state change, one announcement");
    let (message_id, body) = &got[0];
    assert!(message_id.as_deref().unwrap().starts_with("order-"));
    assert_eq!(body["reference"], reference.as_str());
    assert_eq!(body["state"], "paid");
    assert_eq!(body["history"].as_array().unwrap().len(), 2);
}
