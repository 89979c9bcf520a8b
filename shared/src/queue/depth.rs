//! The depth of every queue the product declares, as the `queue_depth` gauge.
//!
//! Polled on an interval by one process (the reconciler), never per scrape:
//! a scrape must not open AMQP channels, and many scrapers must not multiply
//! the broker's work.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tokio::sync::watch;

use super::Broker;
use super::metrics::QueueMetrics;
use crate::telemetry::ErrorChain;

/// How often the depths are sampled.
pub const INTERVAL: Duration = Duration::from_secs(15);

/// Samples every queue once: a passive declare answers with the number of
/// messages ready. A queue that is missing (deleted by hand) is skipped; the
/// refusal closes the channel, so the next queue gets a new one.
pub async fn sample(broker: &Broker, metrics: &QueueMetrics) -> Result<(), super::BrokerError> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut channel = broker.channel().await?;
    for queue in broker.topology().queues() {
        if !channel.status().connected() {
            channel = broker.channel().await?;
        }
        match channel
            .queue_declare(queue.as_str().into(), passive, FieldTable::default())
            .await
        {
            Ok(q) => metrics
                .depth
                .with_label_values(&[&queue])
                .set(i64::from(q.message_count())),
            Err(e) => tracing::debug!(%queue, error = %ErrorChain(&e), "queue depth unavailable"),
        }
    }
    let _ = channel.close(200, "depths sampled".into()).await;
    Ok(())
}

/// Samples every [`INTERVAL`] while connected, until shutdown.
pub async fn poll(
    broker: Broker,
    metrics: std::sync::Arc<QueueMetrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { return },
        }
        if broker.is_connected()
            && let Err(e) = sample(&broker, &metrics).await
        {
            tracing::debug!(error = %ErrorChain(&e), "queue depths not sampled");
        }
    }
}
