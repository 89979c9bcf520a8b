//! Discrepancies finance must see.

use sandbox::StatusChange;

use crate::harness::*;

#[tokio::test]
async fn amount_mismatch_for_each_provider_amount_shape() {
    let stack = stack().await;
    // Tpaga: the charge says "9999.99" pesos; the order expects 1,000,000 centavos.
    let (tpaga, tpaga_id) = stack.payment_with_order("tpaga", 1_000_000).await;
    stack
        .admin
        .set_status(
            "tpaga",
            &tpaga_id,
            &StatusChange {
                status: "authorized".into(),
                reported_amount_minor: Some(999_999),
                webhooks: Some(0),
            },
        )
        .await
        .unwrap();
    // Mono: integer centavos, one short.
    let (mono, mono_id) = stack.payment_with_order("mono", 10_000_000).await;
    stack
        .admin
        .set_status(
            "mono",
            &mono_id,
            &StatusChange {
                status: "account_credited".into(),
                reported_amount_minor: Some(9_999_999),
                webhooks: Some(0),
            },
        )
        .await
        .unwrap();
    // Belvo: whole pesos; the transaction carries one peso more.
    let (belvo, belvo_id) = stack.payment_with_order("belvo", 10_000_000).await;
    stack
        .admin
        .set_status(
            "belvo",
            &belvo_id,
            &StatusChange {
                status: "SUCCEEDED".into(),
                reported_amount_minor: Some(10_000_100),
                webhooks: Some(0),
            },
        )
        .await
        .unwrap();
    stack.check("tpaga", "charge", &tpaga_id).await;
    stack.check("mono", "collection_intent", &mono_id).await;
    stack.check("belvo", "payment_intent", &belvo_id).await;
    for reference in [&tpaga, &mono, &belvo] {
        let o = stack.wait_state(reference, "needs_review").await;
        assert_eq!(o.exceptions.len(), 1, "{reference}");
        assert_eq!(o.exceptions[0].kind, "amount_mismatch");
    }
    // The announcement on `pse.orders` is the order as the API shows it,
    // exceptions included: the one raised in the same transaction too.
    assert_eq!(
        stack.count(
            "SELECT count(*) FROM outbox WHERE exchange = 'orders' \
             AND routing_key = 'order.needs_review' \
             AND payload->'exceptions'->0->>'kind' = 'amount_mismatch'"
        ),
        3
    );
    let tpaga_detail = &stack.find(&tpaga).exceptions[0].detail;
    assert!(
        tpaga_detail.contains("$ 10.000;") && tpaga_detail.contains("$ 9.999,99"),
        "{tpaga_detail}"
    );
}

#[tokio::test]
async fn money_for_no_registered_order_is_an_unknown_payment() {
    let stack = stack().await;
    let created = stack.admin.create_payment("mono", 5_000_000).await.unwrap();
    stack
        .set_status("mono", &created.provider_payment_id, "account_credited")
        .await;
    stack
        .check("mono", "collection_intent", &created.provider_payment_id)
        .await;
    let found = wait_for(std::time::Duration::from_secs(15), || {
        std::future::ready(Some(stack.exceptions("unknown_payment")).filter(|e| !e.is_empty()))
    })
    .await
    .expect("unknown_payment opened");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, None, "no order to attach it to");
    assert!(found[0].1.contains(&created.provider_payment_id));
    // Checking again does not open it twice.
    stack
        .check("mono", "collection_intent", &created.provider_payment_id)
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(stack.exceptions("unknown_payment").len(), 1);
}

#[tokio::test]
async fn a_second_belvo_transaction_is_a_duplicate_payment() {
    let stack = stack().await;
    let (reference, pi) = stack.payment_with_order("belvo", 10_000_000).await;
    let changed = stack
        .admin
        .set_status(
            "belvo",
            &pi,
            &StatusChange {
                status: "SUCCEEDED".into(),
                webhooks: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let first_tx = changed
        .transaction_id
        .expect("SUCCEEDED creates a transaction");
    stack.check("belvo", "transaction", &first_tx).await;
    stack.wait_state(&reference, "paid").await;
    let second = stack
        .admin
        .add_belvo_transaction(&pi, 10_000_000)
        .await
        .unwrap();
    stack
        .check("belvo", "transaction", &second.transaction_id)
        .await;
    let found = wait_for(std::time::Duration::from_secs(15), || {
        std::future::ready(Some(stack.exceptions("duplicate_payment")).filter(|e| !e.is_empty()))
    })
    .await
    .expect("duplicate_payment opened");
    assert_eq!(found[0].0.as_deref(), Some(reference.as_str()));
    // The order itself was paid correctly; it stays paid, with the exception attached.
    assert_eq!(stack.find(&reference).state, "paid");
}

#[tokio::test]
async fn a_final_status_contradicted_goes_to_review() {
    let stack = stack().await;
    let (reference, id) = stack.payment_with_order("tpaga", 2_000_000).await;
    stack.set_status("tpaga", &id, "authorized").await;
    stack.check("tpaga", "charge", &id).await;
    stack.wait_state(&reference, "paid").await;
    stack.set_status("tpaga", &id, "charge-rejected").await;
    stack.check("tpaga", "charge", &id).await;
    let o = stack.wait_state(&reference, "needs_review").await;
    assert_eq!(o.exceptions.len(), 1);
    assert_eq!(o.exceptions[0].kind, "status_conflict");
    let moves: Vec<_> = stack
        .transitions(&reference)
        .into_iter()
        .map(|(f, t, _)| (f, t))
        .collect();
    assert_eq!(
        moves,
        [
            (None, "pending".into()),
            (Some("pending".into()), "paid".into()),
            (Some("paid".into()), "needs_review".into())
        ]
    );
}

#[tokio::test]
async fn an_unknown_belvo_payment_is_one_exception_whichever_event_reports_it() {
    let stack = stack().await;
    let created = stack
        .admin
        .create_payment("belvo", 15_000_000)
        .await
        .unwrap();
    let changed = stack
        .admin
        .set_status(
            "belvo",
            &created.provider_payment_id,
            &StatusChange {
                status: "SUCCEEDED".into(),
                webhooks: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Belvo sends two events for one payment: the intent's status and its transaction.
    stack
        .check("belvo", "payment_intent", &created.provider_payment_id)
        .await;
    stack
        .check("belvo", "transaction", &changed.transaction_id.unwrap())
        .await;
    wait_for(std::time::Duration::from_secs(15), || {
        std::future::ready((stack.count("SELECT count(*) FROM provider_checks WHERE path LIKE '/payments/transactions/%'") == 1
            && stack.count("SELECT count(*) FROM provider_checks WHERE path LIKE '/payments/payment-intents/%'") == 2)
            .then_some(()))
    })
    .await
    .expect("both checks done");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let found = stack.exceptions("unknown_payment");
    assert_eq!(found.len(), 1, "finance sees the money once: {found:?}");
}
