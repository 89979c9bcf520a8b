//! The broker topology against a real RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueBindOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection};
use shared::metrics::Metrics;
use shared::queue::metrics::QueueMetrics;
use shared::queue::{Broker, depth};
use shared::secret::Secret;
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
    broker.topology.declare(&conn).await.unwrap();
    broker.topology.declare(&conn).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
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
    broker.topology.declare(&conn).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
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
    broker.topology.declare(&conn).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
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
        &broker.topology.orders_unrouted_queue(),
        Duration::from_secs(2),
    )
    .await;
    assert!(got.is_some());
}

/// Messages ready in `queue`, or `None` when it does not exist.
async fn depth_of(conn: &Connection, queue: &str) -> Option<u32> {
    let ch = conn.create_channel().await.unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let q = ch
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .ok()?;
    let _ = ch.close(200, "".into()).await;
    Some(q.message_count())
}

async fn publish_confirmed(ch: &Channel, exchange: &str, key: &str, body: &[u8]) {
    let confirm = ch
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack());
}

#[tokio::test]
async fn the_unrouted_copy_is_capped_and_keeps_the_newest() {
    let mut broker = TestBroker::new(vec![]);
    broker.topology = broker.topology.clone().with_unrouted_max_length(5);
    let conn = broker.connect().await;
    broker.topology.declare(&conn).await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    for i in 0..12 {
        let body = format!("{i}");
        publish_confirmed(
            &ch,
            &broker.topology.orders_exchange(),
            "order.paid",
            body.as_bytes(),
        )
        .await;
    }
    let queue = broker.topology.orders_unrouted_queue();
    assert_eq!(depth_of(&conn, &queue).await, Some(5));
    let oldest = get_one(&ch, &queue, Duration::from_secs(2)).await;
    assert_eq!(
        oldest.as_deref(),
        Some(&b"7"[..]),
        "the oldest were dropped"
    );
}

#[tokio::test]
async fn the_old_unbounded_queue_stops_growing_and_goes_once_empty() {
    let broker = TestBroker::new(vec![]);
    let conn = broker.connect().await;
    broker.topology.declare(&conn).await.unwrap();
    // What earlier versions declared: same name as the exchange, no arguments.
    let legacy = broker.topology.legacy_unrouted_queue();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(legacy.as_str().into(), durable, FieldTable::default())
        .await
        .unwrap();
    ch.queue_bind(
        legacy.as_str().into(),
        broker.topology.orders_unrouted().into(),
        "".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let orders = broker.topology.orders_exchange();
    publish_confirmed(&ch, &orders, "order.paid", b"before").await;
    assert_eq!(depth_of(&conn, &legacy).await, Some(1));

    broker.topology.declare(&conn).await.unwrap();
    publish_confirmed(&ch, &orders, "order.paid", b"after").await;
    assert_eq!(
        depth_of(&conn, &legacy).await,
        Some(1),
        "no longer fed, not yet deleted"
    );
    let fresh = broker.topology.orders_unrouted_queue();
    assert_eq!(depth_of(&conn, &fresh).await, Some(2));

    ch.queue_purge(legacy.as_str().into(), QueuePurgeOptions::default())
        .await
        .unwrap();
    broker.topology.declare(&conn).await.unwrap();
    assert_eq!(depth_of(&conn, &legacy).await, None, "deleted once empty");
}

#[tokio::test]
async fn a_dead_letter_survives_more_returns_than_any_default_delivery_limit() {
    let broker = TestBroker::new(vec![]);
    let conn = broker.connect().await;
    broker.topology.declare(&conn).await.unwrap();
    let dead = broker.topology.dead_queue();
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    publish_confirmed(&ch, "", &dead, b"letter").await;
    // RabbitMQ 4 drops a quorum queue's message after 20 returns by default.
    for _ in 0..25 {
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(m) = ch
                    .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
                    .await
                    .unwrap()
                {
                    return m;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the letter is still there");
        got.delivery
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await
            .unwrap();
    }
    let last = ch
        .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
        .await
        .unwrap();
    let last = match last {
        Some(m) => m,
        None => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            ch.basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
                .await
                .unwrap()
                .expect("not dropped")
        }
    };
    assert_eq!(last.delivery.data, b"letter");
    last.delivery.ack(BasicAckOptions::default()).await.unwrap();
}

#[tokio::test]
async fn a_dead_queue_declared_by_an_earlier_version_is_kept_as_it_is() {
    let broker = TestBroker::new(vec![]);
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let mut quorum = FieldTable::default();
    quorum.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(broker.topology.dead_queue().into(), durable, quorum)
        .await
        .unwrap();
    broker.topology.declare(&conn).await.unwrap();
    broker.topology.declare(&conn).await.unwrap();
}

#[tokio::test]
async fn queue_depths_are_exported_for_every_declared_queue() {
    let broker = TestBroker::new(vec![Duration::from_secs(60)]);
    let supervised = Broker::start(
        Secret::new(broker.url.clone()),
        broker.topology.clone(),
        "depth-test",
    );
    assert!(supervised.connected(Duration::from_secs(10)).await);
    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let retry = broker.topology.retry_queue(0).unwrap();
    for _ in 0..3 {
        publish_confirmed(&ch, "", &retry, b"later").await;
    }
    let metrics = Metrics::new();
    let queue_metrics = QueueMetrics::register(metrics.registry());
    depth::sample(&supervised, &queue_metrics).await.unwrap();
    assert_eq!(queue_metrics.depth.with_label_values(&[&retry]).get(), 3);
    let rendered = metrics.render();
    for queue in broker.topology.queues() {
        assert!(
            rendered.contains(&format!("queue_depth{{queue=\"{queue}\"}}")),
            "{queue} has a depth"
        );
    }
    supervised.close().await;
}
