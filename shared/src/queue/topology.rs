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
use lapin::{Channel, ExchangeKind};

/// How many deliveries of one message the events queue allows before
/// RabbitMQ itself dead-letters it: a message that keeps crashing the
/// reconciler must not loop forever.
pub const DELIVERY_LIMIT: i64 = 20;

#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    retry_delays: Vec<Duration>,
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
        }
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

    /// Where order events go while no consumer queue is bound to `pse.orders`,
    /// so they are kept rather than dropped.
    pub fn orders_unrouted(&self) -> String {
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

    pub async fn declare(&self, ch: &Channel) -> Result<(), lapin::Error> {
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
            self.orders_unrouted().into(),
            durable_queue,
            FieldTable::default(),
        )
        .await?;
        ch.queue_bind(
            self.orders_unrouted().into(),
            self.orders_unrouted().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

        ch.queue_declare(
            self.dead_queue().into(),
            durable_queue,
            table(vec![("x-queue-type", long("quorum"))]),
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
        let mut queues = vec![
            self.events_queue(),
            self.dead_queue(),
            self.orders_unrouted(),
        ];
        queues.extend((0..self.retry_delays.len()).filter_map(|i| self.retry_queue(i)));
        for q in queues {
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
