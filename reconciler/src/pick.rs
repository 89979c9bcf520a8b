//! Taking flight leases for the checks that start together in one statement
//! (`flights::pick_many`) instead of one connection check-out and one
//! statement each: under load, dozens of handlers reach their pick at once.
//! The lease still commits before its provider call, alone in its
//! transaction, as the single-flight rules require (`shared::db::flights`),
//! on the soft-state pool (`Db::soft_state`): visible to every process at
//! once, without waiting for the disk, since a lease lost in a database
//! crash only lets a second, harmless check of the object run.

use std::sync::Arc;
use std::time::Duration;

use shared::db::flights::{self, Picked};
use shared::db::{Db, DbError};
use shared::metrics::Histogram;
use shared::providers::webhook::CheckTarget;
use shared::telemetry::ErrorChain;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Statements taking leases at once: one can be collecting while the other runs.
const PICKERS: usize = 2;

struct Ask {
    target: CheckTarget,
    ticket: Option<i64>,
    reply: oneshot::Sender<Result<Picked, DbError>>,
}

/// The handle checks take their lease through; cheap to clone.
#[derive(Clone)]
pub struct Picker {
    queue: mpsc::Sender<Ask>,
}

impl Picker {
    /// Starts the pickers: each takes up to `batch_max` waiting requests into
    /// one statement, with leases of `lease`; at most `backlog` requests wait.
    /// Each statement's size goes to `sizes`.
    pub fn start(
        db: Db,
        lease: Duration,
        batch_max: usize,
        backlog: usize,
        sizes: Histogram,
    ) -> Self {
        let (queue, rx) = mpsc::channel(backlog.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..PICKERS {
            tokio::spawn(pick_loop(
                db.clone(),
                rx.clone(),
                lease,
                batch_max.max(1),
                sizes.clone(),
            ));
        }
        Self { queue }
    }

    /// Takes the lease on `target` for the message carrying `ticket`
    /// (`flights::pick`), committed before this returns.
    pub async fn pick(&self, target: &CheckTarget, ticket: Option<i64>) -> Result<Picked, DbError> {
        let (reply, answer) = oneshot::channel();
        let ask = Ask {
            target: target.clone(),
            ticket,
            reply,
        };
        crate::batch::ask(&self.queue, ask, answer).await
    }
}

async fn pick_loop(
    db: Db,
    queue: Arc<Mutex<mpsc::Receiver<Ask>>>,
    lease: Duration,
    batch_max: usize,
    sizes: Histogram,
) {
    while let Some(asks) = crate::batch::next(&queue, batch_max).await {
        sizes.observe(asks.len() as f64);
        let (wanted, replies): (Vec<_>, Vec<_>) = asks
            .into_iter()
            .map(|a| ((a.target, a.ticket), a.reply))
            .unzip();
        let wanted = Arc::new(wanted);
        // One statement in its own transaction: every lease in it commits, or none does.
        let batch = wanted.clone();
        match db
            .run(move |conn| flights::pick_many(conn, &batch, lease))
            .await
        {
            Ok(picked) if picked.len() == replies.len() => {
                for (reply, picked) in replies.into_iter().zip(picked) {
                    let _ = reply.send(Ok(picked));
                }
            }
            Ok(_) => {
                let e = DbError::Task("a lease request got no answer of its own".to_owned());
                answer_all(replies, e);
            }
            // The statement refused something in it (not the connection):
            // one request must not fail the others, so each goes alone.
            Err(e) if !e.is_unavailable() && replies.len() > 1 => {
                tracing::warn!(error = %ErrorChain(&e), checks = replies.len(), "taking leases together failed; taking them one by one");
                one_by_one(&db, wanted, replies, lease).await;
            }
            Err(e) => answer_all(replies, e),
        }
    }
}

/// Each request in its own statement, answered with its own result.
async fn one_by_one(
    db: &Db,
    wanted: Arc<Vec<(CheckTarget, Option<i64>)>>,
    replies: Vec<oneshot::Sender<Result<Picked, DbError>>>,
    lease: Duration,
) {
    let answers = db
        .run(move |conn| {
            Ok(wanted
                .iter()
                .map(|(target, ticket)| flights::pick(conn, target, *ticket, lease))
                .collect::<Vec<_>>())
        })
        .await;
    match answers {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
        Err(e) => answer_all(replies, e),
    }
}

/// Every request of a failed batch fails with its cause (and is retried as
/// any database failure is: no lease was taken).
fn answer_all(replies: Vec<oneshot::Sender<Result<Picked, DbError>>>, e: DbError) {
    tracing::warn!(error = %ErrorChain(&e), checks = replies.len(), "taking leases failed; the checks will be retried");
    let cause: Arc<dyn std::error::Error + Send + Sync> = Arc::new(e);
    for reply in replies {
        let _ = reply.send(Err(DbError::Unavailable(cause.clone())));
    }
}
