//! Group commit for the reconciler: the transactions that store what a
//! provider check found (the order's change, its history and announcement,
//! the recorded calls, the inbox row, the end of the flight) are committed
//! several at a time, each under its own savepoint, as the ingress does
//! (docs/ARCHITECTURE.md, "Reconciler: group commit").
//!
//! Why: per event, BEGIN, COMMIT and its WAL flush cost PostgreSQL as much as
//! the work itself, and PostgreSQL is what limits the reconciler. A few
//! writers (`RECONCILER_WRITERS`) each take whatever work has queued, up to
//! `RECONCILER_BATCH_MAX`, and commit it at once; nothing waits for a batch to
//! fill, so an idle reconciler still commits each event straight away.
//!
//! A batch first runs without savepoints (each SAVEPOINT and RELEASE is a
//! round trip per event, measured in BENCHMARKS.md); only when one item fails
//! is the batch rolled back and run again with a savepoint per item. Work is
//! therefore `FnMut`: it may run twice, the first run having been rolled back.
//!
//! Writes that nothing later in the transaction reads (the recorded calls,
//! the announcement, the inbox outcome, the end of the flight) go through [`Later`] and are
//! written once for the whole batch just before the commit (`later`).
//!
//! Guarantees the caller relies on:
//! - a work item's answer comes only after the commit that made it durable, so
//!   the consumer acks only committed work;
//! - one item's failure rolls back its own work only: the others commit;
//! - when the batch itself fails (the connection dies, the commit fails), every
//!   item gets an error and nothing of it is committed: each message is retried
//!   like any database failure, and processing is idempotent.

use std::sync::Arc;

use diesel::{Connection, PgConnection};
use shared::db::{Db, DbError};
use shared::metrics::Histogram;
use shared::telemetry::ErrorChain;
use tokio::sync::{Mutex, mpsc, oneshot};

mod later;
pub use later::{Announcement, Later};

/// Work for one event, type-erased so one batch carries any mix of results.
trait Job: Send {
    /// What the batch is sorted by (see [`Committer::run`]).
    fn key(&self) -> &str;
    /// Runs the work in the batch's open transaction, keeping its result;
    /// its deferred writes go to `later`.
    fn run(&mut self, conn: &mut PgConnection, later: &mut Later) -> Result<(), DbError>;
    /// Hands the kept result, or `failed`, to the caller waiting for it.
    fn settle(self: Box<Self>, failed: Option<DbError>);
}

struct Typed<T, F> {
    key: String,
    work: F,
    output: Option<T>,
    reply: oneshot::Sender<Result<T, DbError>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnMut(&mut PgConnection, &mut Later) -> Result<T, DbError> + Send,
{
    fn key(&self) -> &str {
        &self.key
    }

    fn run(&mut self, conn: &mut PgConnection, later: &mut Later) -> Result<(), DbError> {
        self.output = None;
        self.output = Some((self.work)(conn, later)?);
        Ok(())
    }

    fn settle(self: Box<Self>, failed: Option<DbError>) {
        let result = match failed {
            Some(e) => Err(e),
            None => self
                .output
                .ok_or_else(|| DbError::Task("a group-commit job never ran".to_owned())),
        };
        let _ = self.reply.send(result);
    }
}

/// The handle callers submit work through; cheap to clone.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Committer {
    /// Starts `writers` writer tasks committing up to `batch_max` items per
    /// transaction; at most `backlog` items wait for a writer (the consumer's
    /// prefetch already bounds them). Each batch's size goes to `sizes`.
    pub fn start(
        db: Db,
        writers: usize,
        batch_max: usize,
        backlog: usize,
        sizes: Histogram,
    ) -> Self {
        let (queue, rx) = mpsc::channel(backlog.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers.max(1) {
            tokio::spawn(write_loop(
                db.clone(),
                rx.clone(),
                batch_max.max(1),
                sizes.clone(),
            ));
        }
        Self { queue }
    }

    /// Runs `work` in the next group commit and answers once it committed (or
    /// failed). `work` must not commit or roll back itself; a nested
    /// `conn.transaction` inside it is a savepoint. It may run a second time
    /// after its first run was rolled back (a sibling in the batch failed), so
    /// it must have no effect outside the connection and `Later`, which is
    /// written before the commit of the run that gathered it.
    ///
    /// A batch runs its work in `key` order (byte order). The reconciler passes
    /// the check's flight key, the one row every check locks that the ingress
    /// also locks in several at once, in key order: two batches, or a batch and
    /// an ingress transaction, then take those rows in the same order and do not
    /// deadlock on them. Any other cycle (rare: two objects of one order checked
    /// in two batches at once) is broken by PostgreSQL's deadlock detector or
    /// `lock_timeout`, which fails one item's savepoint only: that message is
    /// retried like any database failure.
    pub async fn run<T, F>(&self, key: String, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnMut(&mut PgConnection, &mut Later) -> Result<T, DbError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Typed {
            key,
            work,
            output: None,
            reply,
        });
        crate::batch::ask(&self.queue, job, answer).await
    }
}

async fn write_loop(
    db: Db,
    queue: Arc<Mutex<mpsc::Receiver<Box<dyn Job>>>>,
    batch_max: usize,
    sizes: Histogram,
) {
    // One writer collects at a time; the others are committing meanwhile.
    while let Some(jobs) = crate::batch::next(&queue, batch_max).await {
        sizes.observe(jobs.len() as f64);
        // Jobs dropped unsettled (no connection, a panic) answer their callers
        // with a retryable error (`batch::ask`).
        if let Err(e) = db
            .run(move |conn| {
                commit(conn, jobs);
                Ok(())
            })
            .await
        {
            tracing::warn!(error = %ErrorChain(&e), "group commit could not run; its events will be retried");
        }
    }
}

/// Commits `jobs` in one transaction and settles each. A batch of one needs
/// no savepoint: its transaction is its own. A larger batch is tried whole
/// first; if an item fails, that attempt is rolled back and the batch runs
/// again with a savepoint per item, so only the failing items fail.
fn commit(conn: &mut PgConnection, mut jobs: Vec<Box<dyn Job>>) {
    if jobs.len() == 1
        && let Some(mut job) = jobs.pop()
    {
        let done = conn.transaction::<_, DbError, _>(|conn| run_alone(conn, job.as_mut()));
        job.settle(done.err());
        return;
    }
    jobs.sort_by(|a, b| a.key().cmp(b.key()));
    let whole = conn.transaction::<_, DbError, _>(|conn| {
        let mut later = Later::default();
        for job in jobs.iter_mut() {
            job.run(conn, &mut later)?;
        }
        later.flush(conn)
    });
    let outcome = match whole {
        Ok(()) => Ok(jobs.iter().map(|_| None).collect()),
        // The connection or the commit failed: running again on it cannot help.
        Err(e) if e.is_unavailable() => Err(e),
        Err(_) => conn.transaction::<_, DbError, _>(|conn| {
            Ok(jobs
                .iter_mut()
                .map(|job| conn.transaction(|conn| run_alone(conn, job.as_mut())).err())
                .collect::<Vec<_>>())
        }),
    };
    match outcome {
        Ok(failures) => {
            for (job, failed) in jobs.into_iter().zip(failures) {
                job.settle(failed);
            }
        }
        Err(e) => {
            tracing::warn!(error = %ErrorChain(&e), events = jobs.len(), "group commit failed; its events will be retried");
            let cause: Arc<dyn std::error::Error + Send + Sync> = Arc::new(e);
            for job in jobs {
                job.settle(Some(DbError::Unavailable(cause.clone())));
            }
        }
    }
}

/// One job with its own deferred writes (a batch of one, or the savepoint path).
fn run_alone(conn: &mut PgConnection, job: &mut dyn Job) -> Result<(), DbError> {
    let mut later = Later::default();
    job.run(conn, &mut later)?;
    later.flush(conn)
}
