//! Group commit for the inbox. Handlers hand their delivery to a small pool
//! of writers; each writer takes whatever has queued up (up to
//! `INGRESS_BATCH_MAX`) and commits it in one transaction, then answers every
//! request in the batch and hands the batch's check messages to the relay to
//! publish at once. Nothing waits for a batch to fill: a lone request is a
//! batch of one. Under load, one WAL flush covers many webhooks, and each
//! request is still answered only after its own row is committed.

use std::sync::Arc;

use shared::db::inbox::{self, Delivery, Stored};
use shared::db::{Db, DbError};
use shared::metrics::Metrics;
use shared::queue::relay::Relay;
use tokio::sync::{Mutex, mpsc, oneshot};

struct Job {
    delivery: Delivery,
    reply: oneshot::Sender<Result<Stored, DbError>>,
}

#[derive(Clone)]
pub struct InboxWriter {
    jobs: mpsc::Sender<Job>,
}

/// What every writer shares.
struct Shared {
    db: Db,
    relay: Relay,
    queue: Mutex<mpsc::Receiver<Job>>,
    max_batch: usize,
    metrics: Arc<Metrics>,
}

impl InboxWriter {
    pub fn start(
        db: Db,
        relay: Relay,
        writers: usize,
        max_batch: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        let max_batch = max_batch.max(1);
        let (jobs, queue) = mpsc::channel(max_batch * writers.max(1) * 4);
        let shared = Arc::new(Shared {
            db,
            relay,
            queue: Mutex::new(queue),
            max_batch,
            metrics,
        });
        for _ in 0..writers.max(1) {
            tokio::spawn(write_loop(shared.clone()));
        }
        Self { jobs }
    }

    /// Stores the delivery; returns once it is committed (or failed).
    pub async fn store(&self, delivery: Delivery) -> Result<Stored, DbError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { delivery, reply })
            .await
            .map_err(|_| DbError::Task("the inbox writer has stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| DbError::Task("the inbox writer dropped the request".to_owned()))?
    }
}

async fn write_loop(shared: Arc<Shared>) {
    loop {
        let mut jobs = Vec::with_capacity(shared.max_batch);
        {
            // One writer collects at a time; the others are committing meanwhile.
            let mut queue = shared.queue.lock().await;
            match queue.recv().await {
                Some(job) => jobs.push(job),
                None => return,
            }
            while jobs.len() < shared.max_batch {
                match queue.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        shared.metrics.ingress_batch.observe(jobs.len() as f64);
        let (deliveries, replies): (Vec<Delivery>, Vec<_>) =
            jobs.into_iter().map(|j| (j.delivery, j.reply)).unzip();
        let providers: Vec<_> = deliveries.iter().map(|d| d.provider).collect();
        let results = shared
            .db
            .run(move |conn| inbox::store_batch(conn, &deliveries))
            .await;
        match results {
            Ok(results) => {
                // The check messages committed with the batch go out now, in one publish.
                let mut messages = Vec::new();
                for ((reply, provider), result) in replies.into_iter().zip(providers).zip(results) {
                    let _ = reply.send(result.map(|saved| {
                        if saved.coalesced {
                            shared
                                .metrics
                                .checks_coalesced
                                .with_label_values(&[provider.as_str()])
                                .inc();
                        }
                        messages.extend(saved.message);
                        saved.stored
                    }));
                }
                shared.relay.publish_now(messages);
            }
            Err(e) => {
                let cause: Arc<dyn std::error::Error + Send + Sync> = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(DbError::Unavailable(cause.clone())));
                }
            }
        }
    }
}
