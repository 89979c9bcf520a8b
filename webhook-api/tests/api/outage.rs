//! Webhooks are accepted while RabbitMQ is unreachable and published exactly
//! once when it returns; several instances never publish a row twice.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use shared::testing::{ToggleProxy, drain};

use crate::helpers::*;

fn mono(i: usize) -> Vec<u8> {
    mono_body(
        "collection_intent_credited",
        &format!("cint_{i:0>22}"),
        "account_credited",
        "2026-11-21T10:00:00Z",
    )
}

async fn send_batch(app: &TestApp, from: usize, to: usize) {
    for i in from..to {
        let r = match i % 3 {
            0 => app.post_mono(mono(i), MONO_SECRET, now()).await,
            1 => {
                let body = json!({"webhook_id": format!("wh-{i}"), "webhook_type": "TRANSACTIONS",
                    "webhook_code": "OBJECT_CREATED", "object_id": format!("tx-{i}"), "data": {}});
                app.post_belvo(body.to_string().into_bytes(), BELVO_AUTH)
                    .await
            }
            _ => app.post_tpaga(&format!("pse-{i:0>32}")).await,
        };
        assert_eq!(
            r.status(),
            200,
            "delivery {i} accepted while the broker is away"
        );
    }
}

fn unpublished(app: &TestApp) -> i64 {
    use diesel::RunQueryDsl;
    let mut conn = app.db.connect();
    diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM outbox WHERE published_at IS NULL)",
    ))
    .get_result(&mut conn)
    .unwrap()
}

fn assert_exactly_once(got: &[(Option<String>, serde_json::Value)], expected: usize) {
    let ids: HashSet<&str> = got.iter().filter_map(|(id, _)| id.as_deref()).collect();
    assert_eq!(got.len(), expected, "message count");
    assert_eq!(ids.len(), expected, "every message id distinct");
}

#[tokio::test]
async fn accepted_while_the_broker_is_down_and_published_exactly_once_when_it_returns() {
    let proxy = ToggleProxy::start("127.0.0.1:5672", false).await;
    let app = spawn_with_providers(&[("AMQP_URL", &proxy.amqp_url())]).await;
    send_batch(&app, 0, 30).await;
    assert_eq!(app.inbox_counts(), (30, 30));
    let conn = app.broker.connect().await;
    let queue = app.broker.topology.events_queue();
    let none = drain(
        &conn,
        &queue,
        0,
        Duration::ZERO,
        Duration::from_millis(1500),
    )
    .await;
    assert!(
        none.is_empty(),
        "nothing can be published while the broker is away"
    );
    assert_eq!(unpublished(&app), 30);
    // Still ready: the load balancer keeps sending webhooks; the detail shows the backlog.
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["broker"], "unavailable", "{body}");
    assert_eq!(body["detail"]["outbox"]["unpublished"], 30, "{body}");
    assert_eq!(body["detail"]["outbox"]["max_failed_attempts"], 0, "{body}");

    proxy.set_up(true);
    let got = drain(
        &conn,
        &queue,
        30,
        Duration::from_secs(40),
        Duration::from_secs(2),
    )
    .await;
    assert_exactly_once(&got, 30);
    assert_eq!(unpublished(&app), 0);
}

#[tokio::test]
async fn a_connection_cut_mid_stream_loses_and_duplicates_nothing() {
    let proxy = ToggleProxy::start("127.0.0.1:5672", true).await;
    let app = spawn_with_providers(&[("AMQP_URL", &proxy.amqp_url())]).await;
    let conn = app.broker.connect().await;
    let queue = app.broker.topology.events_queue();
    send_batch(&app, 0, 10).await;
    let first = drain(
        &conn,
        &queue,
        10,
        Duration::from_secs(20),
        Duration::from_millis(500),
    )
    .await;
    assert_exactly_once(&first, 10);

    proxy.set_up(false);
    send_batch(&app, 10, 25).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.set_up(true);
    let second = drain(
        &conn,
        &queue,
        15,
        Duration::from_secs(40),
        Duration::from_secs(2),
    )
    .await;
    assert_exactly_once(&second, 15);
}

#[tokio::test]
async fn two_instances_never_publish_a_row_twice() {
    let mut app = spawn_with_providers(&[]).await;
    let instances = [app.address.clone(), start_another(&app).await];
    assert_ne!(instances[0], instances[1]);
    // Alternate deliveries between the two instances; both relays run.
    for i in 0..40 {
        app.address = instances[i % 2].clone();
        let r = app.post_mono(mono(i), MONO_SECRET, now()).await;
        assert_eq!(r.status(), 200);
    }
    for address in &instances {
        app.address = address.clone();
        assert!(
            app.metrics()
                .await
                .contains(r#"webhooks_stored_total{provider="mono"} 20"#)
        );
    }
    let conn = app.broker.connect().await;
    let got = drain(
        &conn,
        &app.broker.topology.events_queue(),
        40,
        Duration::from_secs(20),
        Duration::from_secs(2),
    )
    .await;
    assert_exactly_once(&got, 40);
}
