//! The `bench.`-prefixed RabbitMQ topology: declared, purged, deleted, and
//! check messages published straight to it (for the reconciler phase).

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueuePurgeOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Confirmation, Connection, ConnectionProperties};
use shared::domain::Provider;
use shared::providers::webhook::CheckTarget;
use shared::queue::Topology;
use shared::queue::message::{Cause, CheckMessage};

use crate::stack::{RETRY_DELAYS, amqp_url, prefix};

pub fn topology() -> Topology {
    Topology::new(
        prefix(),
        RETRY_DELAYS
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect(),
    )
}

async fn connect() -> Result<Connection, String> {
    Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .map_err(|e| format!("cannot reach RabbitMQ at BENCH_AMQP_URL: {e}"))
}

/// Deletes every `bench.` queue and exchange (missing ones are fine).
pub async fn delete_topology() -> Result<(), String> {
    let conn = connect().await?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    let _ = topology().delete(&ch).await;
    let _ = conn.close(200, "bench".into()).await;
    Ok(())
}

pub async fn declare_topology() -> Result<(), String> {
    let conn = connect().await?;
    topology()
        .declare(&conn)
        .await
        .map_err(|e| format!("declare topology: {e}"))?;
    let _ = conn.close(200, "bench".into()).await;
    Ok(())
}

/// Empties the events queue (between throughput steps nobody consumes it).
pub async fn purge_events() -> Result<u32, String> {
    let conn = connect().await?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    let n = ch
        .queue_purge(
            topology().events_queue().into(),
            QueuePurgeOptions::default(),
        )
        .await
        .unwrap_or(0);
    let _ = conn.close(200, "bench".into()).await;
    Ok(n)
}

/// Publishes one check message per (intent id, inbox id), the way the relay
/// does (persistent, mandatory, confirmed, message id and inbox id header).
pub async fn publish_checks(items: &[(String, i64)]) -> Result<(), String> {
    let conn = connect().await?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let exchange = topology().events_exchange();
    for chunk in items.chunks(1000) {
        let mut confirms = Vec::with_capacity(chunk.len());
        for (intent, inbox_id) in chunk {
            let message = CheckMessage {
                target: CheckTarget {
                    provider: Provider::Mono,
                    object_type: "collection_intent".to_owned(),
                    object_id: intent.clone(),
                },
                event_type: "collection_intent_credited".to_owned(),
                cause: Cause::Webhook {
                    inbox_id: *inbox_id,
                },
                // Published straight to the broker: no single-flight ticket.
                ticket: None,
            };
            let body = serde_json::to_vec(&message).map_err(|e| e.to_string())?;
            let mut headers = FieldTable::default();
            headers.insert(
                ShortString::from("inbox_id"),
                AMQPValue::LongLongInt(*inbox_id),
            );
            let props = BasicProperties::default()
                .with_message_id(ShortString::from(format!("inbox-{inbox_id}")))
                .with_content_type(ShortString::from("application/json"))
                .with_delivery_mode(2)
                .with_headers(headers);
            let confirm = ch
                .basic_publish(
                    ShortString::from(exchange.clone()),
                    ShortString::from("mono.collection_intent_credited"),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &body,
                    props,
                )
                .await
                .map_err(|e| format!("publish: {e}"))?;
            confirms.push(confirm);
        }
        for c in confirms {
            match c.await.map_err(|e| format!("confirm: {e}"))? {
                Confirmation::Ack(None) => {}
                other => return Err(format!("the broker did not accept a message: {other:?}")),
            }
        }
    }
    let _ = conn.close(200, "bench".into()).await;
    Ok(())
}
