//! Drains `reconciler.dead` into the `dead_letters` table, opening a
//! `provider_error` exception on the order in the same transaction. Whatever
//! reaches the queue (our own dead-lettering, or RabbitMQ's delivery limit)
//! is archived the same way; operators list and replay from the table.

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use sha2::{Digest, Sha256};
use shared::db::dead_letters::{self, NewDeadLetter};
use shared::db::exceptions::{self, NewException};
use shared::db::orders;
use shared::db::{DbError, flights, inbox};
use shared::domain::ExceptionKind;
use shared::queue::message::CheckMessage;
use tokio::sync::watch;

use crate::consumer::{
    ATTEMPT_HEADER, DEAD_ERROR_HEADER, DEAD_REASON_HEADER, ROUTING_KEY_HEADER, header_i64,
    header_str, until_connected,
};
use crate::context::Ctx;

pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if !until_connected(&ctx, &mut shutdown).await {
            return;
        }
        if let Err(e) = session(&ctx, &mut shutdown).await {
            tracing::warn!(error = %e, "dead-letter archiver failed; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn session(
    ctx: &Ctx,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), crate::consumer::ConsumerError> {
    let ch = ctx.broker.channel().await?;
    ch.basic_qos(16, BasicQosOptions::default()).await?;
    let tag = format!("dead-archiver-{}", std::process::id());
    let mut consumer = ch
        .basic_consume(
            ctx.broker.topology().dead_queue().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    loop {
        tokio::select! {
            _ = shutdown.changed() => if *shutdown.borrow() {
                let _ = ch.basic_cancel(tag.as_str().into(), Default::default()).await;
                return Ok(());
            },
            next = consumer.next() => match next {
                Some(Ok(delivery)) => archive_delivery(ctx, delivery).await,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
        }
    }
}

async fn archive_delivery(ctx: &Ctx, delivery: Delivery) {
    let props = &delivery.properties;
    let parsed: Option<CheckMessage> = serde_json::from_slice(&delivery.data).ok();
    let message_id = props
        .message_id()
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&delivery.data))));
    // Ours, or RabbitMQ's own dead-lettering (delivery limit).
    let reason = header_str(props, DEAD_REASON_HEADER)
        .or_else(|| header_str(props, "x-first-death-reason").map(|r| format!("broker_{r}")))
        .unwrap_or_else(|| "unknown".to_owned());
    let letter = NewDeadLetter {
        message_id,
        routing_key: header_str(props, ROUTING_KEY_HEADER)
            .or_else(|| Some(delivery.routing_key.as_str().to_owned())),
        body: delivery.data.clone(),
        provider: parsed
            .as_ref()
            .map(|m| m.target.provider.as_str().to_owned()),
        object_type: parsed.as_ref().map(|m| m.target.object_type.clone()),
        object_id: parsed.as_ref().map(|m| m.target.object_id.clone()),
        reason,
        error: header_str(props, DEAD_ERROR_HEADER),
        attempts: header_i64(props, ATTEMPT_HEADER)
            .or_else(|| header_i64(props, "x-delivery-count"))
            .unwrap_or(0) as i32,
    };
    let result = ctx
        .db
        .run(move |conn| archive(conn, &letter, parsed.as_ref()))
        .await;
    match result {
        Ok(_) => {
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot archive a dead letter yet; it stays in the queue");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await;
        }
    }
}

/// Archives the letter and, the first time, opens the `provider_error`
/// exception (on the order that expects the object, when there is one). A
/// check that died while it was its object's queued check (never picked:
/// the provider disabled, RabbitMQ's delivery limit) gives its queued slot
/// up, so the next webhook, sweep or replay for the object queues a check
/// instead of coalescing into one that will never run.
pub fn archive(
    conn: &mut PgConnection,
    letter: &NewDeadLetter,
    message: Option<&CheckMessage>,
) -> Result<Option<i64>, DbError> {
    conn.transaction(|conn| {
        let archived = dead_letters::archive(conn, letter)?;
        let Some(message) = message else {
            return Ok(archived);
        };
        let Some(id) = archived else {
            release(conn, message)?;
            return Ok(None);
        };
        let target = &message.target;
        let order_id = orders::id_by_payment(conn, target.provider, &target.object_id)?;
        exceptions::open(
            conn,
            &NewException {
                order_id,
                provider: target.provider,
                provider_payment_id: Some(target.object_id.clone()),
                kind: ExceptionKind::ProviderError,
                detail: format!(
                    "{} {} {} could not be checked ({}{}, after {} retries); dead letter #{id}",
                    target.provider,
                    target.object_type,
                    target.object_id,
                    letter.reason,
                    letter
                        .error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default(),
                    letter.attempts
                ),
                dedup_key: format!("provider_error:{}", letter.message_id),
                expected_amount_minor: None,
                provider_amount_minor: None,
                currency: None,
            },
        )?;
        if let Some(inbox_id) = message.cause.inbox_id() {
            inbox::mark_processed(conn, inbox_id, "dead_lettered", None)?;
        }
        release(conn, message)?;
        Ok(Some(id))
    })
}

/// Last in the transaction: flight rows are locked after order and inbox rows.
fn release(conn: &mut PgConnection, message: &CheckMessage) -> Result<(), DbError> {
    if let Some(ticket) = message.ticket {
        flights::release_queued(conn, &message.target, ticket)?;
    }
    Ok(())
}
