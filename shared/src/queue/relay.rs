//! Publishes outbox rows to RabbitMQ with publisher confirms and marks them
//! published only after the broker's ack.
//!
//! Handlers [`Relay::nudge`] it right after their commit for low latency; a
//! background pass on a fixed interval (`OUTBOX_RELAY_INTERVAL_MS`) and every
//! broker reconnection also wake it, so nothing written while RabbitMQ was
//! away, released after a failure or left by a writer that died stays
//! behind, however steady the traffic. A row whose publish failed waits out a
//! growing backoff (`next_attempt_at`) before it is leased again. Rows are leased with
//! `FOR UPDATE SKIP LOCKED` and a lease time: several processes can relay at
//! once without publishing a row twice concurrently, and no database
//! connection is held while waiting for the broker. (A crash between the
//! broker's ack and marking the row can publish it again later; consumers are
//! idempotent.) For the same reason its claims and marks are soft state: they
//! commit on a pool that does not wait for the disk (`Db::soft_state`).

use std::sync::Arc;
use std::time::Duration;

use diesel::Connection as _;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation};
use tokio::sync::{Notify, mpsc};
use tokio::time::MissedTickBehavior;

use crate::db::outbox::{self, PendingMessage};
use crate::db::{Db, DbError};
use crate::metrics::Metrics;
use crate::queue::{Broker, Topology};

/// Rows claimed per transaction.
pub const BATCH: i64 = 256;

/// Committed batches waiting in memory for the relay ([`Relay::publish_now`]):
/// each one writer's commit, at most `INGRESS_BATCH_MAX` rows, or a single
/// announcement. Past this the rows are not queued here but handed back to the
/// background pass through the outbox, where they are already stored, so a
/// broker slower than the writers costs latency, never memory.
pub const DIRECT_BACKLOG: usize = 64;

/// How often the background pass runs and how failed rows back off.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub interval: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Pace {
    pub fn from_config(ops: &crate::config::OpsConfig) -> Self {
        Self {
            interval: ops.relay_interval,
            retry_base: ops.relay_retry_base,
            retry_max: ops.relay_retry_max,
        }
    }
}

#[derive(Clone)]
pub struct Relay {
    nudge: Arc<Notify>,
    direct: mpsc::Sender<Vec<PendingMessage>>,
    db: Db,
}

impl Relay {
    pub fn start(db: Db, broker: Broker, metrics: Arc<Metrics>, pace: Pace) -> Self {
        let nudge = Arc::new(Notify::new());
        let (direct, queue) = mpsc::channel(DIRECT_BACKLOG);
        tokio::spawn(run(db.clone(), broker, metrics, pace, nudge.clone(), queue));
        Self { nudge, direct, db }
    }

    /// Batches handed over and not yet taken by the relay (at most [`DIRECT_BACKLOG`]).
    pub fn backlog(&self) -> usize {
        self.direct.max_capacity() - self.direct.capacity()
    }

    /// Asks for a publish pass now (after committing new outbox rows).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Publishes rows the caller has just committed (inserted leased to it by
    /// [`outbox::insert`]): no database round trip to find them, and the
    /// background pass leaves them alone unless this fails.
    ///
    /// When [`DIRECT_BACKLOG`] batches are already waiting, the rows' writer
    /// lease is cleared instead and the background pass is woken to publish
    /// them from the outbox. A stopped relay leaves them leased; the lease
    /// expires and any relay's background pass takes them then.
    pub fn publish_now(&self, messages: Vec<PendingMessage>) {
        if messages.is_empty() {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(rows)) = self.direct.try_send(messages) {
            tracing::debug!(
                rows = rows.len(),
                "relay backlog full; the background pass publishes these"
            );
            let (db, nudge) = (self.db.clone(), self.nudge.clone());
            tokio::spawn(async move {
                release(&db, rows).await;
                nudge.notify_one();
            });
        }
    }
}

async fn run(
    db: Db,
    broker: Broker,
    metrics: Arc<Metrics>,
    pace: Pace,
    nudge: Arc<Notify>,
    mut direct: mpsc::Receiver<Vec<PendingMessage>>,
) {
    let mut state = broker.subscribe();
    let mut channel: Option<Channel> = None;
    // One interval for the life of the relay: its deadline does not move when
    // another branch wins, so the background pass runs on time even while
    // fresh rows arrive more often than the interval. `Delay` because a pass
    // that overran has just done the catching up; a burst of ticks would only
    // run empty passes.
    let mut tick = tokio::time::interval(pace.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let relay = Publisher {
        db: &db,
        topology: broker.topology(),
        metrics: &metrics,
        pace,
    };
    loop {
        let mut fresh = Vec::new();
        tokio::select! {
            Some(batch) = direct.recv() => {
                fresh = batch;
                // Everything committed meanwhile goes out together.
                while let Ok(more) = direct.try_recv() {
                    fresh.extend(more);
                }
            }
            _ = nudge.notified() => {}
            _ = tick.tick() => {}
            changed = state.changed() => if changed.is_err() { return },
        }
        if !broker.is_connected() {
            channel = None;
            release(&db, fresh).await;
            continue;
        }
        let ch = match channel.take().filter(|c| c.status().connected()) {
            Some(c) => c,
            None => match open_channel(&broker).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot open a publishing channel; will retry");
                    release(&db, fresh).await;
                    continue;
                }
            },
        };
        if !fresh.is_empty() {
            match relay.publish_and_mark(&ch, &fresh).await {
                Ok(false) => channel = Some(ch),
                Ok(true) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not record published messages; the background pass will redo them");
                    channel = Some(ch);
                }
            }
            // Fresh rows only; leased rows wait for the tick or a nudge.
            continue;
        }
        loop {
            match relay.publish_batch(&ch).await {
                Ok(Pass {
                    claimed,
                    broken: false,
                }) if claimed as i64 == BATCH => continue,
                Ok(Pass { broken: false, .. }) => {
                    channel = Some(ch);
                    break;
                }
                Ok(Pass { broken: true, .. }) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox relay pass failed; will retry");
                    channel = Some(ch);
                    break;
                }
            }
        }
    }
}

async fn open_channel(broker: &Broker) -> Result<Channel, crate::queue::BrokerError> {
    let ch = broker.channel().await?;
    ch.confirm_select(ConfirmSelectOptions::default()).await?;
    Ok(ch)
}

struct Pass {
    claimed: usize,
    /// The channel failed mid-pass and must be replaced.
    broken: bool,
}

/// How long a relay owns the rows it leased; publishing gives up well before.
const LEASE_SECS: i32 = 60;
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(20);

/// Gives rows that were never offered to the broker back to the background
/// pass at once (lease cleared, no attempt counted).
async fn release(db: &Db, rows: Vec<PendingMessage>) {
    if rows.is_empty() {
        return;
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    if let Err(e) = db.run(move |conn| outbox::release(conn, &ids)).await {
        tracing::warn!(error = %e, "could not release outbox rows; their lease expires on its own");
    }
}

/// What a publishing pass needs.
struct Publisher<'a> {
    db: &'a Db,
    topology: &'a Topology,
    metrics: &'a Metrics,
    pace: Pace,
}

impl Publisher<'_> {
    async fn publish_batch(&self, ch: &Channel) -> Result<Pass, DbError> {
        let rows = self
            .db
            .run(|conn| outbox::lease(conn, BATCH, LEASE_SECS))
            .await?;
        if rows.is_empty() {
            return Ok(Pass {
                claimed: 0,
                broken: false,
            });
        }
        let broken = self.publish_and_mark(ch, &rows).await?;
        Ok(Pass {
            claimed: rows.len(),
            broken,
        })
    }

    /// Publishes `rows` (already leased to us) and records the outcome;
    /// returns whether the channel broke.
    async fn publish_and_mark(
        &self,
        ch: &Channel,
        rows: &[PendingMessage],
    ) -> Result<bool, DbError> {
        let outcome = match tokio::time::timeout(
            PUBLISH_TIMEOUT,
            publish_rows(ch, self.topology, rows),
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(_) => Outcome {
                acked: Vec::new(),
                failed: rows.iter().map(|r| r.id).collect(),
                error: "timed out waiting for publisher confirms".to_owned(),
                broken: true,
            },
        };
        for row in rows {
            if outcome.acked.contains(&row.id) {
                let prefix = row.routing_key.split('.').next().unwrap_or("");
                self.metrics
                    .published
                    .with_label_values(&[row.exchange.as_str(), prefix])
                    .inc();
            } else {
                self.metrics
                    .publish_failures
                    .with_label_values(&[row.exchange.as_str()])
                    .inc();
            }
        }
        let broken = outcome.broken;
        let Pace {
            retry_base,
            retry_max,
            ..
        } = self.pace;
        self.db
            .run(move |conn| {
                conn.transaction(|conn| {
                    outbox::mark_published(conn, &outcome.acked)?;
                    outbox::mark_failed(
                        conn,
                        &outcome.failed,
                        &outcome.error,
                        retry_base,
                        retry_max,
                    )
                })
            })
            .await?;
        Ok(broken)
    }
}

struct Outcome {
    acked: Vec<i64>,
    failed: Vec<i64>,
    error: String,
    broken: bool,
}

fn properties(row: &PendingMessage) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        ShortString::from("outbox_id"),
        AMQPValue::LongLongInt(row.id),
    );
    if let Some(inbox_id) = row
        .headers
        .get("inbox_id")
        .and_then(serde_json::Value::as_i64)
    {
        headers.insert(
            ShortString::from("inbox_id"),
            AMQPValue::LongLongInt(inbox_id),
        );
    }
    BasicProperties::default()
        .with_message_id(ShortString::from(row.message_id.clone()))
        .with_content_type(ShortString::from("application/json"))
        .with_delivery_mode(2)
        .with_timestamp(row.created_at.timestamp().max(0) as u64)
        .with_headers(headers)
}

/// Publishes every row first, then waits for each confirm, so a batch costs
/// one round trip rather than one per message.
async fn publish_rows(ch: &Channel, topology: &Topology, rows: &[PendingMessage]) -> Outcome {
    let mut out = Outcome {
        acked: Vec::with_capacity(rows.len()),
        failed: Vec::new(),
        error: String::new(),
        broken: false,
    };
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        let exchange = match row.exchange.as_str() {
            "orders" => topology.orders_exchange(),
            _ => topology.events_exchange(),
        };
        let body = serde_json::to_vec(&row.payload).unwrap_or_default();
        let publish = ch
            .basic_publish(
                ShortString::from(exchange),
                ShortString::from(row.routing_key.clone()),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &body,
                properties(row),
            )
            .await;
        match publish {
            Ok(confirm) => pending.push((row.id, confirm)),
            Err(e) => {
                out.failed.push(row.id);
                out.error = e.to_string();
                out.broken = true;
            }
        }
    }
    for (id, confirm) in pending {
        match confirm.await {
            Ok(Confirmation::Ack(None)) => out.acked.push(id),
            Ok(Confirmation::Ack(Some(returned))) => {
                out.failed.push(id);
                out.error = format!("unroutable: {}", returned.reply_text.as_str());
            }
            Ok(Confirmation::Nack(_)) => {
                out.failed.push(id);
                out.error = "nacked by the broker".to_owned();
            }
            Ok(Confirmation::NotRequested) => {
                out.failed.push(id);
                out.error = "publisher confirms are off on this channel".to_owned();
                out.broken = true;
            }
            Err(e) => {
                out.failed.push(id);
                out.error = e.to_string();
                out.broken = true;
            }
        }
    }
    if !out.failed.is_empty() {
        tracing::warn!(failed = out.failed.len(), error = %out.error, "some outbox messages were not confirmed; will retry");
    }
    out
}
