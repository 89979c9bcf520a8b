//! The broker topology against a real RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use shared::testing::TestBroker;

async fn get_one(ch: &lapin::Channel, queue: &str, within: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(m) = ch
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            return Some(m.delivery.data.clone());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn declaring_twice_is_harmless_and_events_route_to_the_reconciler_queue() {
    let broker = TestBroker::new(vec![Duration::from_secs(1)]);
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    broker.topology.declare(&ch).await.unwrap();
    broker.topology.declare(&ch).await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = ch
        .basic_publish(
            broker.topology.events_exchange().into(),
            "mono.collection_intent_credited".into(),
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            b"hello",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
    assert!(confirm.take_message().is_none(), "routed, not returned");
    let got = get_one(&ch, &broker.topology.events_queue(), Duration::from_secs(2)).await;
    assert_eq!(got.as_deref(), Some(&b"hello"[..]));
}

#[tokio::test]
async fn a_retry_queue_returns_messages_to_the_events_queue_after_its_delay() {
    let broker = TestBroker::new(vec![Duration::from_secs(1)]);
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    broker.topology.declare(&ch).await.unwrap();
    let retry = broker.topology.retry_queue(0).unwrap();
    let sent = Instant::now();
    ch.basic_publish(
        "".into(),
        retry.as_str().into(),
        BasicPublishOptions::default(),
        b"later",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let got = get_one(&ch, &broker.topology.events_queue(), Duration::from_secs(5)).await;
    assert_eq!(got.as_deref(), Some(&b"later"[..]));
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "came back after the delay, not before"
    );
}

#[tokio::test]
async fn order_events_are_kept_when_nobody_is_bound() {
    let broker = TestBroker::new(vec![]);
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    broker.topology.declare(&ch).await.unwrap();
    ch.basic_publish(
        broker.topology.orders_exchange().into(),
        "order.paid".into(),
        BasicPublishOptions::default(),
        b"{}",
        BasicProperties::default(),
    )
    .await
    .unwrap();
    let got = get_one(
        &ch,
        &broker.topology.orders_unrouted(),
        Duration::from_secs(2),
    )
    .await;
    assert!(got.is_some());
}
