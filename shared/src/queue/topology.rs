//! Exchange and queue names and their idempotent declaration.
//!
//! Both binaries declare the whole topology on every connection, so either can
//! start first. Every name carries the configured prefix (empty in production)
//! so parallel tests and side-by-side stacks share a broker without colliding.

use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, Connection, ExchangeKind};

use crate::telemetry::ErrorChain;

/// How many deliveries of one message the events queue allows before
/// RabbitMQ itself dead-letters it: a message that keeps crashing the
/// reconciler must not loop forever.
pub const DELIVERY_LIMIT: i64 = 20;

/// The dead queue's delivery limit: returns only happen when the archiver's
/// channel is lost (it never requeues), so this is never reached, and it is
/// a value both RabbitMQ 3.x and 4.x accept with the same meaning.
pub const DEAD_DELIVERY_LIMIT: i64 = i32::MAX as i64;

/// How many order events `pse.orders.unrouted.v2` keeps. It is a diagnostic
/// copy of what no merchant queue took; beyond this the oldest are dropped
/// (`drop-head`), so it can never fill the broker's memory or disk.
pub const UNROUTED_MAX_LENGTH: i64 = 10_000;

#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    retry_delays: Vec<Duration>,
    unrouted_max_length: i64,
}

fn long(s: impl Into<String>) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.into()))
}

fn table(entries: Vec<(&str, AMQPValue)>) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in entries {
        t.insert(ShortString::from(k), v);
    }
    t
}

impl Topology {
    pub fn new(prefix: impl Into<String>, retry_delays: Vec<Duration>) -> Self {
        Self {
            prefix: prefix.into(),
            retry_delays,
            unrouted_max_length: UNROUTED_MAX_LENGTH,
        }
    }

    /// A smaller cap for `pse.orders.unrouted.v2` (tests prove the cap with a few messages).
    pub fn with_unrouted_max_length(mut self, max: i64) -> Self {
        self.unrouted_max_length = max;
        self
    }

    fn name(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }

    /// Durable topic exchange for webhook events, routing key `<provider>.<event>`.
    pub fn events_exchange(&self) -> String {
        self.name("pse.events")
    }

    /// Durable topic exchange for order state changes, routing key `order.<state>`.
    pub fn orders_exchange(&self) -> String {
        self.name("pse.orders")
    }

    /// The alternate exchange of `pse.orders`: where order events go while no
    /// merchant queue is bound, so the latest ones are kept rather than dropped.
    pub fn orders_unrouted(&self) -> String {
        self.name("pse.orders.unrouted")
    }

    /// The bounded queue behind [`Topology::orders_unrouted`]. `.v2` because
    /// the first queue (named like the exchange) had no bound, and RabbitMQ
    /// refuses to redeclare an existing queue with new arguments; see
    /// [`Topology::retire_unbounded`].
    pub fn orders_unrouted_queue(&self) -> String {
        self.name("pse.orders.unrouted.v2")
    }

    /// The unbounded queue earlier versions declared: unbound, and deleted once empty.
    pub fn legacy_unrouted_queue(&self) -> String {
        self.name("pse.orders.unrouted")
    }

    /// Quorum queue the reconciler consumes.
    pub fn events_queue(&self) -> String {
        self.name("reconciler.events")
    }

    /// Messages that exhausted their attempts or can never succeed.
    pub fn dead_queue(&self) -> String {
        self.name("reconciler.dead")
    }

    /// Every queue the product declares (the depth gauge polls these).
    pub fn queues(&self) -> Vec<String> {
        let mut queues = vec![
            self.events_queue(),
            self.dead_queue(),
            self.orders_unrouted_queue(),
        ];
        queues.extend((0..self.retry_delays.len()).filter_map(|i| self.retry_queue(i)));
        queues
    }

    pub fn retry_delays(&self) -> &[Duration] {
        &self.retry_delays
    }

    /// The delay queue for attempt `index` (0-based): `reconciler.retry.5s`.
    /// Its TTL dead-letters messages back to the events queue. One queue per
    /// delay keeps every message in a queue ordered by expiry, so none waits
    /// behind a longer one.
    pub fn retry_queue(&self, index: usize) -> Option<String> {
        self.retry_delays
            .get(index)
            .map(|d| self.name(&format!("reconciler.retry.{}s", d.as_secs())))
    }

    /// Declares everything (idempotent), then retires what earlier versions
    /// declared differently. Each step that the broker may refuse gets its own
    /// channel, since a refusal closes the channel it came on.
    pub async fn declare(&self, conn: &Connection) -> Result<(), lapin::Error> {
        let ch = conn.create_channel().await?;
        self.declare_on(&ch).await?;
        let _ = ch.close(200, "topology declared".into()).await;
        self.declare_dead(conn).await?;
        self.retire_unbounded(conn).await
    }

    /// The dead queue must never drop a letter. RabbitMQ 4 gives quorum
    /// queues a default delivery limit of 20 and drops a message past it when
    /// no dead-letter target is set, so the queue sets its own limit,
    /// [`DEAD_DELIVERY_LIMIT`]. Not `-1`: RabbitMQ 4 reads that as "no limit"
    /// but 3.x accepts it as a limit below one and drops a letter on its
    /// first return (`a_dead_letter_survives_…` in `shared/tests/queue.rs`).
    /// A queue created before that keeps the arguments it has: then the
    /// operator policy in docs/ARCHITECTURE.md sets the limit, and the
    /// archiver never requeues (it holds a letter it cannot store yet).
    async fn declare_dead(&self, conn: &Connection) -> Result<(), lapin::Error> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let ch = conn.create_channel().await?;
        let explicit = ch
            .queue_declare(
                self.dead_queue().into(),
                durable,
                table(vec![
                    ("x-queue-type", long("quorum")),
                    (
                        "x-delivery-limit",
                        AMQPValue::LongLongInt(DEAD_DELIVERY_LIMIT),
                    ),
                ]),
            )
            .await;
        let Err(refused) = explicit else {
            let _ = ch.close(200, "dead queue declared".into()).await;
            return Ok(());
        };
        let ch = conn.create_channel().await?;
        ch.queue_declare(
            self.dead_queue().into(),
            durable,
            table(vec![("x-queue-type", long("quorum"))]),
        )
        .await?;
        let _ = ch.close(200, "dead queue declared".into()).await;
        tracing::warn!(queue = %self.dead_queue(), refused = %ErrorChain(&refused),
            "the dead-letter queue keeps its original arguments (no explicit delivery limit); on RabbitMQ 4 apply the policy in docs/ARCHITECTURE.md");
        Ok(())
    }

    /// Earlier versions bound an unbounded queue named like the alternate
    /// exchange. It is unbound (so it stops growing) and deleted once empty;
    /// while it still holds messages it is left for an operator to read or
    /// purge, and retried at every connection.
    async fn retire_unbounded(&self, conn: &Connection) -> Result<(), lapin::Error> {
        let legacy = self.legacy_unrouted_queue();
        let ch = conn.create_channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        // Refused (NOT_FOUND) when there is nothing to retire: the usual case.
        let Ok(queue) = ch
            .queue_declare(legacy.as_str().into(), passive, FieldTable::default())
            .await
        else {
            return Ok(());
        };
        ch.queue_unbind(
            legacy.as_str().into(),
            self.orders_unrouted().into(),
            "".into(),
            FieldTable::default(),
        )
        .await?;
        let waiting = queue.message_count();
        if waiting == 0 {
            let if_empty = QueueDeleteOptions {
                if_empty: true,
                ..QueueDeleteOptions::default()
            };
            ch.queue_delete(legacy.as_str().into(), if_empty).await?;
            tracing::info!(queue = %legacy, "retired the unbounded unrouted queue");
        } else {
            tracing::warn!(queue = %legacy, waiting, replacement = %self.orders_unrouted_queue(),
                "the old unrouted queue is no longer fed; read or purge it and it is deleted at the next start");
        }
        let _ = ch.close(200, "retired".into()).await;
        Ok(())
    }

    /// Everything except the dead queue, on one channel.
    async fn declare_on(&self, ch: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        ch.exchange_declare(
            self.events_exchange().into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            self.orders_unrouted().into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await?;
        ch.exchange_declare(
            self.orders_exchange().into(),
            ExchangeKind::Topic,
            durable,
            table(vec![("alternate-exchange", long(self.orders_unrouted()))]),
        )
        .await?;

        let durable_queue = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        ch.queue_declare(
            self.orders_unrouted_queue().into(),
            durable_queue,
            table(vec![
                (
                    "x-max-length",
                    AMQPValue::LongLongInt(self.unrouted_max_length),
                ),
                ("x-overflow", long("drop-head")),
            ]),
        )
        .await?;
        ch.queue_bind(
            self.orders_unrouted_queue().into(),
            self.orders_unrouted().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

        ch.queue_declare(
            self.events_queue().into(),
            durable_queue,
            table(vec![
                ("x-queue-type", long("quorum")),
                ("x-delivery-limit", AMQPValue::LongLongInt(DELIVERY_LIMIT)),
                ("x-dead-letter-exchange", long("")),
                ("x-dead-letter-routing-key", long(self.dead_queue())),
            ]),
        )
        .await?;
        ch.queue_bind(
            self.events_queue().into(),
            self.events_exchange().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        for (i, delay) in self.retry_delays.iter().enumerate() {
            let Some(name) = self.retry_queue(i) else {
                continue;
            };
            ch.queue_declare(
                name.into(),
                durable_queue,
                table(vec![
                    (
                        "x-message-ttl",
                        AMQPValue::LongLongInt(delay.as_millis() as i64),
                    ),
                    ("x-dead-letter-exchange", long("")),
                    ("x-dead-letter-routing-key", long(self.events_queue())),
                ]),
            )
            .await?;
        }
        Ok(())
    }

    /// Removes everything [`Topology::declare`] created (tests and demos clean up with it).
    pub async fn delete(&self, ch: &Channel) -> Result<(), lapin::Error> {
        for q in self.queues() {
            ch.queue_delete(q.into(), QueueDeleteOptions::default())
                .await?;
        }
        for x in [
            self.events_exchange(),
            self.orders_exchange(),
            self.orders_unrouted(),
        ] {
            ch.exchange_delete(x.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix() {
        let t = Topology::new(
            "t1.",
            vec![Duration::from_secs(5), Duration::from_secs(120)],
        );
        assert_eq!(t.events_exchange(), "t1.pse.events");
        assert_eq!(t.events_queue(), "t1.reconciler.events");
        assert_eq!(t.dead_queue(), "t1.reconciler.dead");
        assert_eq!(
            t.retry_queue(1).as_deref(),
            Some("t1.reconciler.retry.120s")
        );
        assert_eq!(t.retry_queue(2), None);
        assert_eq!(Topology::new("", vec![]).orders_exchange(), "pse.orders");
    }
}
