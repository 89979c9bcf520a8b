//! Provider failures: retries, dead letters, replay, token refresh.

use std::time::Duration;

use sandbox::Fault;

use crate::harness::*;

#[tokio::test]
async fn a_provider_500_twice_then_200_ends_paid() {
    let stack = stack().await;
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &id, "account_credited").await;
    stack
        .admin
        .fault(&Fault {
            provider: "mono".into(),
            kind: "status".into(),
            status: Some(500),
            count: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    stack.check("mono", "collection_intent", &id).await;
    stack.wait_state(&reference, "paid").await;
    assert_eq!(
        stack.checks_of(&reference),
        3,
        "two failed calls and one success, all recorded"
    );
    assert_eq!(
        stack.count("SELECT count(*) FROM provider_checks WHERE status_code = 500"),
        2
    );
    let metrics = stack.ctx().metrics.render();
    assert!(
        metrics.contains(r#"reconciler_retries_total{provider="mono"} 2"#),
        "{metrics}"
    );
    // Each of the three checks took its lease through the pickers and stored
    // what it found through the group commit, both observed on /metrics.
    let sample = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {metrics}"))
    };
    assert!(sample(r#"reconciler_batch_size_sum{stage="lease"}"#) >= 3.0);
    assert!(sample(r#"reconciler_batch_size_count{stage="commit"}"#) >= 1.0);
}

#[tokio::test]
async fn a_404_ends_in_the_dead_letter_queue_with_a_provider_error_and_replay_recovers_it() {
    let stack = stack().await;
    let (reference, id) = stack.payment_with_order("belvo", 10_000_000).await;
    stack.set_status("belvo", &id, "SUCCEEDED").await;
    stack
        .admin
        .fault(&Fault {
            provider: "belvo".into(),
            kind: "status".into(),
            status: Some(404),
            count: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    stack.check("belvo", "payment_intent", &id).await;
    let errors = wait_for(Duration::from_secs(15), || {
        std::future::ready(Some(stack.exceptions("provider_error")).filter(|e| !e.is_empty()))
    })
    .await
    .expect("provider_error opened");
    assert_eq!(errors[0].0.as_deref(), Some(reference.as_str()));
    assert!(errors[0].1.contains("HTTP 404"), "{}", errors[0].1);
    assert_eq!(
        stack.count("SELECT count(*) FROM dead_letters WHERE reason = 'final_error'"),
        1
    );
    assert_eq!(
        stack.checks_of(&reference),
        1,
        "a final error is not retried"
    );
    assert_eq!(stack.find(&reference).state, "pending");

    // The provider has recovered (the fault was one call); replaying the dead letter pays the order.
    let outcome = stack
        .ctx()
        .db
        .run(|conn| {
            shared::db::dead_letters::replay(conn, shared::db::dead_letters::Selection::AllPending)
        })
        .await
        .unwrap();
    assert_eq!(outcome.replayed.len(), 1);
    // As the CLI and the admin endpoint do: publish what the replay wrote.
    stack.ctx().relay.publish_now(outcome.messages.clone());
    let o = stack.wait_state(&reference, "paid").await;
    assert!(o.history.last().unwrap().cause.starts_with("replay:"));
    // Replaying twice does nothing more.
    let again = stack
        .ctx()
        .db
        .run(|conn| {
            shared::db::dead_letters::replay(conn, shared::db::dead_letters::Selection::AllPending)
        })
        .await
        .unwrap();
    assert!(again.replayed.is_empty());
}

#[tokio::test]
async fn retries_exhausted_end_in_the_dead_letter_queue() {
    let stack = stack_with(Options {
        retry_delays: vec![Duration::from_secs(1)],
        ..Default::default()
    })
    .await;
    let (_, id) = stack.payment_with_order("tpaga", 2_000_000).await;
    stack
        .admin
        .fault(&Fault {
            provider: "tpaga".into(),
            kind: "status".into(),
            status: Some(503),
            count: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    stack.check("tpaga", "charge", &id).await;
    wait_for(Duration::from_secs(15), || {
        std::future::ready(
            (stack.count("SELECT count(*) FROM dead_letters WHERE reason = 'retries_exhausted'")
                == 1)
                .then_some(()),
        )
    })
    .await
    .expect("dead-lettered after the last retry");
    assert_eq!(
        stack.count(
            "SELECT count(*) FROM provider_checks WHERE path LIKE '/api/pse/v1/public/charge/%'"
        ),
        2,
        "the first attempt and one retry"
    );
    assert_eq!(stack.exceptions("provider_error").len(), 1);
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let stack = stack_with(Options {
        extra: &[("PROVIDER_TIMEOUT_MS", "300")],
        ..Default::default()
    })
    .await;
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &id, "failed").await;
    stack
        .admin
        .fault(&Fault {
            provider: "mono".into(),
            kind: "delay".into(),
            delay_ms: Some(1_000),
            count: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    stack.check("mono", "collection_intent", &id).await;
    stack.wait_state(&reference, "failed").await;
    assert_eq!(
        stack.count("SELECT count(*) FROM provider_checks WHERE error = 'timed out'"),
        1
    );
}

#[tokio::test]
async fn a_poison_message_goes_straight_to_the_dead_letter_queue() {
    let stack = stack().await;
    stack
        .publish_raw(b"{not a check", "poison-1", "mono.garbage")
        .await;
    wait_for(Duration::from_secs(10), || {
        std::future::ready(
            (stack.count("SELECT count(*) FROM dead_letters WHERE reason = 'unparseable'") == 1)
                .then_some(()),
        )
    })
    .await
    .expect("poison archived");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stack.count("SELECT count(*) FROM dead_letters"),
        1,
        "never loops"
    );
    // It cannot be replayed, and says so.
    let outcome = stack
        .ctx()
        .db
        .run(|conn| {
            shared::db::dead_letters::replay(conn, shared::db::dead_letters::Selection::AllPending)
        })
        .await
        .unwrap();
    assert_eq!(outcome.unreplayable.len(), 1);
}

#[tokio::test]
async fn the_tpaga_token_is_fetched_once_for_many_checks_and_refreshed_after_a_401() {
    let stack = stack().await;
    let mut orders = Vec::new();
    for _ in 0..12 {
        let (reference, id) = stack.payment_with_order("tpaga", 1_500_000).await;
        stack.set_status("tpaga", &id, "settled").await;
        orders.push((reference, id));
    }
    for (_, id) in &orders {
        stack.check("tpaga", "charge", id).await;
    }
    for (reference, _) in &orders {
        stack.wait_state(reference, "paid").await;
    }
    assert_eq!(
        stack.admin.stats().await.unwrap().tpaga_tokens_issued,
        1,
        "one token for twelve concurrent checks"
    );

    stack.admin.revoke_tpaga_tokens().await.unwrap();
    let (reference, id) = stack.payment_with_order("tpaga", 1_500_000).await;
    stack.set_status("tpaga", &id, "rejected").await;
    stack.check("tpaga", "charge", &id).await;
    stack.wait_state(&reference, "failed").await;
    assert_eq!(
        stack.admin.stats().await.unwrap().tpaga_tokens_issued,
        2,
        "refreshed once after the 401"
    );
    // The token response is never stored: it carries the credential.
    assert_eq!(stack.count("SELECT count(*) FROM provider_checks WHERE path = '/o/token/' AND response_body NOT LIKE '[redacted%'"), 0);
}

#[tokio::test]
async fn the_worker_reconnects_when_the_broker_connection_drops() {
    let proxy = shared::testing::ToggleProxy::start("127.0.0.1:5672", true).await;
    let url = proxy.amqp_url();
    let stack = stack_with(Options {
        extra: &[("AMQP_URL", &url)],
        ..Default::default()
    })
    .await;
    let (first, id) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &id, "account_credited").await;
    stack.check("mono", "collection_intent", &id).await;
    stack.wait_state(&first, "paid").await;

    // The connection drops; a check is queued meanwhile (the broker itself is fine).
    proxy.set_up(false);
    let (second, id2) = stack.payment_with_order("tpaga", 2_000_000).await;
    stack.set_status("tpaga", &id2, "rejected").await;
    stack.check("tpaga", "charge", &id2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        stack.find(&second).state,
        "pending",
        "nothing can be consumed while disconnected"
    );
    proxy.set_up(true);
    stack.wait_state(&second, "failed").await;
}
