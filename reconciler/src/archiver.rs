//! Drains `reconciler.dead` into the `dead_letters` table, opening a
//! `provider_error` exception on the order in the same transaction. Whatever
//! reaches the queue (our own dead-lettering, or RabbitMQ's delivery limit)
//! is archived the same way; operators list and replay from the table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use sha2::{Digest, Sha256};
use shared::db::dead_letters::{self, NewDeadLetter};
use shared::db::exceptions::{self, NewException};
use shared::db::orders;
use shared::db::{DbError, flights, inbox};
use shared::domain::ExceptionKind;
use shared::queue::amqp::AmqpTransport;
use shared::queue::message::CheckMessage;
use shared::queue::{Acker, Consumer, Delivery, Message, QueueError, Transport};
use shared::telemetry::ErrorChain;
use tokio::sync::watch;

use crate::consumer::{
    ATTEMPT_HEADER, DEAD_ERROR_HEADER, DEAD_REASON_HEADER, Ended, ROUTING_KEY_HEADER, pause,
    until_connected,
};
use crate::context::Ctx;

/// Longest wait between two tries of one archive while the database is down.
const MAX_HOLD_BACKOFF: Duration = Duration::from_secs(30);

pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let transport = AmqpTransport::new(ctx.broker.clone());
    let mut backoff = Duration::from_secs(1);
    loop {
        if !until_connected(&ctx, &mut shutdown).await {
            return;
        }
        let started = Instant::now();
        match drain(&ctx, &transport, &mut shutdown).await {
            Ok(Ended::Shutdown) => return,
            Ok(Ended::Disconnected) => {}
            Err(e) => {
                tracing::warn!(error = %ErrorChain(&e), "dead-letter archiver failed; reconnecting")
            }
        }
        if started.elapsed() >= Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        if !pause(&mut shutdown, backoff).await {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Archives `reconciler.dead` one letter at a time until shutdown or until
/// the channel dies.
pub async fn drain<T: Transport>(
    ctx: &Ctx,
    transport: &T,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Ended, QueueError> {
    let tag = format!("dead-archiver-{}", std::process::id());
    let queue = ctx.broker.topology().dead_queue();
    let mut consumer = transport.consume(&queue, 16, &tag).await?;
    loop {
        tokio::select! {
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() {
                consumer.cancel().await;
                return Ok(Ended::Shutdown);
            },
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    if !archive_delivery(ctx, delivery, shutdown).await {
                        consumer.cancel().await;
                        return Ok(Ended::Shutdown);
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(Ended::Disconnected),
            },
        }
    }
}

/// The row a dead letter becomes. Ours carry the reason in headers; RabbitMQ's
/// own dead-lettering (the events queue's delivery limit) says `x-first-death-reason`.
fn letter_of(message: &Message) -> NewDeadLetter {
    let parsed: Option<CheckMessage> = serde_json::from_slice(&message.body).ok();
    let message_id = message
        .message_id
        .clone()
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(&message.body))));
    let reason = message
        .header_str(DEAD_REASON_HEADER)
        .map(str::to_owned)
        .or_else(|| {
            message
                .header_str("x-first-death-reason")
                .map(|r| format!("broker_{r}"))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    NewDeadLetter {
        message_id,
        routing_key: message
            .header_str(ROUTING_KEY_HEADER)
            .map(str::to_owned)
            .or_else(|| Some(message.routing_key.clone())),
        body: message.body.clone(),
        provider: parsed
            .as_ref()
            .map(|m| m.target.provider.as_str().to_owned()),
        object_type: parsed.as_ref().map(|m| m.target.object_type.clone()),
        object_id: parsed.as_ref().map(|m| m.target.object_id.clone()),
        reason,
        error: message.header_str(DEAD_ERROR_HEADER).map(str::to_owned),
        attempts: message
            .header_i64(ATTEMPT_HEADER)
            .or_else(|| message.header_i64("x-delivery-count"))
            .unwrap_or(0) as i32,
    }
}

/// Archives one letter, holding the delivery while the database is down and
/// trying again with backoff. It is never requeued for that: on RabbitMQ 4
/// every requeue counts against a quorum queue's delivery limit, and a
/// letter past it would be dropped. `false` if shutdown came while waiting
/// (the letter is then handed back to the queue).
async fn archive_delivery<A: Acker>(
    ctx: &Ctx,
    delivery: Delivery<A>,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let Delivery { message, acker } = delivery;
    let letter = Arc::new(letter_of(&message));
    let parsed: Arc<Option<CheckMessage>> = Arc::new(serde_json::from_slice(&message.body).ok());
    let mut wait = Duration::from_millis(500);
    let mut failures = 0u32;
    loop {
        let (letter, parsed) = (letter.clone(), parsed.clone());
        match ctx
            .db
            .run(move |conn| archive(conn, &letter, parsed.as_ref().as_ref()))
            .await
        {
            Ok(_) => {
                if let Err(e) = acker.ack().await {
                    tracing::warn!(error = %ErrorChain(&e), "ack of an archived dead letter failed; it is archived again harmlessly");
                }
                return true;
            }
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(error = %ErrorChain(&e), failures, retry_in_ms = wait.as_millis() as u64,
                        "cannot archive a dead letter yet; holding it");
                }
                if !pause(shutdown, wait).await {
                    let _ = acker.requeue().await;
                    return false;
                }
                wait = (wait * 2).min(MAX_HOLD_BACKOFF);
            }
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
