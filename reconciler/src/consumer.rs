//! Consumes `reconciler.events`: prefetch = `RECONCILER_CONCURRENCY`, one task
//! per delivery, ack only after the database commit. Retryable failures go to
//! a delay queue, hopeless ones to `reconciler.dead`. On shutdown it cancels
//! the subscription and finishes what is in flight; when the connection drops
//! it reconnects with backoff (unacked messages are redelivered, and
//! processing is idempotent).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::context::Ctx;
use crate::handle::{self, Disposition};

pub const ATTEMPT_HEADER: &str = "x-attempt";
pub const DEAD_REASON_HEADER: &str = "x-dead-reason";
pub const DEAD_ERROR_HEADER: &str = "x-dead-error";
pub const ROUTING_KEY_HEADER: &str = "x-original-routing-key";

pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if !until_connected(&ctx, &mut shutdown).await {
            return;
        }
        match session(&ctx, &mut shutdown).await {
            Ok(Ended::Shutdown) => return,
            Ok(Ended::Disconnected) => {}
            Err(e) => tracing::warn!(error = %e, "consumer failed; reconnecting"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Waits for the broker connection; `false` if shutdown came first.
pub async fn until_connected(ctx: &Ctx, shutdown: &mut watch::Receiver<bool>) -> bool {
    while !ctx.broker.is_connected() && !*shutdown.borrow() {
        tokio::select! {
            _ = ctx.broker.connected(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => {}
        }
    }
    !*shutdown.borrow()
}

enum Ended {
    Shutdown,
    Disconnected,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Broker(#[from] shared::queue::BrokerError),
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
    #[error("the broker did not confirm the message ({0})")]
    NotConfirmed(&'static str),
}

async fn session(
    ctx: &Arc<Ctx>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Ended, ConsumerError> {
    let topology = ctx.broker.topology();
    let ch = ctx.broker.channel().await?;
    let concurrency = ctx.config.reconciler_concurrency;
    ch.basic_qos(concurrency, BasicQosOptions::default())
        .await?;
    let publisher = ctx.broker.channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let tag = format!("reconciler-{}", std::process::id());
    let mut consumer = ch
        .basic_consume(
            topology.events_queue().into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %topology.events_queue(), concurrency, "consuming");
    let mut tasks = JoinSet::new();
    let ended = loop {
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    let _ = ch.basic_cancel(tag.as_str().into(), Default::default()).await;
                    break Ended::Shutdown;
                }
            }
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let ctx = ctx.clone();
                    let publisher = publisher.clone();
                    tasks.spawn(async move { handle_delivery(&ctx, &publisher, delivery).await });
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer stream failed");
                    break Ended::Disconnected;
                }
                None => break Ended::Disconnected,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    };
    let in_flight = tasks.len();
    if in_flight > 0 {
        tracing::info!(in_flight, "finishing messages in flight");
    }
    while tasks.join_next().await.is_some() {}
    let _ = publisher.close(200, "bye".into()).await;
    let _ = ch.close(200, "bye".into()).await;
    Ok(ended)
}

pub fn header_i64(props: &BasicProperties, name: &str) -> Option<i64> {
    let headers = props.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        AMQPValue::LongUInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortInt(v) => Some(i64::from(*v)),
        AMQPValue::ShortShortInt(v) => Some(i64::from(*v)),
        _ => None,
    }
}

pub fn header_str(props: &BasicProperties, name: &str) -> Option<String> {
    let headers = props.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn outcome_class(outcome: &str) -> &str {
    outcome.split(':').next().unwrap_or(outcome)
}

async fn handle_delivery(ctx: &Ctx, publisher: &Channel, delivery: Delivery) {
    let attempt = header_i64(&delivery.properties, ATTEMPT_HEADER)
        .unwrap_or(0)
        .max(0) as usize;
    let (message, disposition) = handle::process_attempt(ctx, &delivery.data, attempt).await;
    let provider = message
        .as_ref()
        .map(|m| m.target.provider.as_str())
        .unwrap_or("unknown");
    let delays = ctx.broker.topology().retry_delays();
    let forwarded = match &disposition {
        Disposition::Done { outcome } => {
            ctx.metrics
                .events_processed
                .with_label_values(&[provider, outcome_class(outcome)])
                .inc();
            Ok(())
        }
        Disposition::Retry { reason, tier } => {
            let index = (*tier).min(delays.len().saturating_sub(1));
            tracing::warn!(provider, attempt = attempt + 1, delay_secs = delays.get(index).map(Duration::as_secs).unwrap_or(0), %reason, "provider check failed; will retry");
            ctx.metrics.retries.with_label_values(&[provider]).inc();
            ctx.metrics
                .events_processed
                .with_label_values(&[provider, "retried"])
                .inc();
            let queue = ctx.broker.topology().retry_queue(index).unwrap_or_default();
            forward(publisher, &queue, &delivery, attempt + 1, None).await
        }
        Disposition::Deferred => {
            // Same attempt count: waiting behind another process's check is not a failure.
            tracing::debug!(provider, "object is being checked elsewhere; deferred");
            ctx.metrics
                .checks_deferred
                .with_label_values(&[provider])
                .inc();
            let queue = ctx.broker.topology().retry_queue(0).unwrap_or_default();
            forward(publisher, &queue, &delivery, attempt, None).await
        }
        Disposition::Dead { reason, error } => {
            tracing::error!(provider, reason, %error, "check dead-lettered");
            ctx.metrics
                .dead_letters
                .with_label_values(&[provider, reason])
                .inc();
            ctx.metrics
                .events_processed
                .with_label_values(&[provider, "dead"])
                .inc();
            let queue = ctx.broker.topology().dead_queue();
            forward(publisher, &queue, &delivery, attempt, Some((reason, error))).await
        }
    };
    match forwarded {
        Ok(()) => {
            if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                tracing::warn!(error = %e, "ack failed; the message will be redelivered and re-processed harmlessly");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not forward the message; returning it to the queue");
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await;
        }
    }
}

/// The delay queue for a retry: the attempt's own tier, or a later one long
/// enough to honour the provider's `Retry-After`.
pub fn retry_tier(delays: &[Duration], attempt: usize, retry_after: Option<Duration>) -> usize {
    let last = delays.len().saturating_sub(1);
    let base = attempt.min(last);
    match retry_after {
        Some(wait) => (base..delays.len())
            .find(|&i| delays[i] >= wait)
            .unwrap_or(last),
        None => base,
    }
}

/// Publishes the delivery to `queue` (through the default exchange) with
/// confirms; the original is acked only once this is confirmed.
async fn forward(
    publisher: &Channel,
    queue: &str,
    delivery: &Delivery,
    attempt: usize,
    dead: Option<(&str, &str)>,
) -> Result<(), ConsumerError> {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(
        ShortString::from(ATTEMPT_HEADER),
        AMQPValue::LongLongInt(attempt as i64),
    );
    if header_str(&delivery.properties, ROUTING_KEY_HEADER).is_none() {
        headers.insert(
            ShortString::from(ROUTING_KEY_HEADER),
            AMQPValue::LongString(LongString::from(delivery.routing_key.as_str())),
        );
    }
    if let Some((reason, error)) = dead {
        headers.insert(
            ShortString::from(DEAD_REASON_HEADER),
            AMQPValue::LongString(LongString::from(reason)),
        );
        let error: String = error.chars().take(500).collect();
        headers.insert(
            ShortString::from(DEAD_ERROR_HEADER),
            AMQPValue::LongString(LongString::from(error)),
        );
    }
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_headers(headers);
    if let Some(id) = delivery.properties.message_id() {
        props = props.with_message_id(id.clone());
    }
    let confirm = publisher
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            &delivery.data,
            props,
        )
        .await?
        .await?;
    match confirm {
        lapin::Confirmation::Ack(None) => Ok(()),
        lapin::Confirmation::Ack(Some(_)) => Err(ConsumerError::NotConfirmed("unroutable")),
        lapin::Confirmation::Nack(_) => Err(ConsumerError::NotConfirmed("nacked")),
        lapin::Confirmation::NotRequested => Err(ConsumerError::NotConfirmed("confirms off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_tiers_grow_and_honour_retry_after() {
        let d: Vec<Duration> = [5, 30, 120, 600]
            .into_iter()
            .map(Duration::from_secs)
            .collect();
        assert_eq!(retry_tier(&d, 0, None), 0);
        assert_eq!(retry_tier(&d, 2, None), 2);
        assert_eq!(retry_tier(&d, 9, None), 3);
        assert_eq!(retry_tier(&d, 0, Some(Duration::from_secs(60))), 2);
        assert_eq!(retry_tier(&d, 0, Some(Duration::from_secs(30))), 1);
        assert_eq!(retry_tier(&d, 1, Some(Duration::from_secs(1))), 1);
        assert_eq!(retry_tier(&d, 0, Some(Duration::from_secs(9999))), 3);
    }
}
