//! Taking the next batch off a queue that several loops share: the group
//! commit's writers (`crate::commit`) and the lease pickers (`crate::pick`);
//! and the caller's side, queueing one request and waiting for its answer.

use std::sync::Arc;

use shared::db::DbError;
use tokio::sync::{Mutex, mpsc, oneshot};

/// Why a caller got no answer: the loop holding its request dropped it
/// unanswered (its batch never reached the database, or the loop panicked).
/// The loop logged the cause.
#[derive(Debug, thiserror::Error)]
#[error("the batch holding this request did not complete")]
struct Unanswered;

/// Queues `request` for the loops reading `queue` and waits for the answer
/// they send on `answer`; a request dropped unanswered is a retryable error.
pub async fn ask<T, R>(
    queue: &mpsc::Sender<T>,
    request: T,
    answer: oneshot::Receiver<Result<R, DbError>>,
) -> Result<R, DbError> {
    queue.send(request).await.map_err(unanswered)?;
    answer.await.map_err(unanswered)?
}

fn unanswered<E>(_dropped: E) -> DbError {
    DbError::Unavailable(Arc::new(Unanswered))
}

/// Waits for one item, then takes whatever else is already waiting, up to
/// `max` in all; `None` once every sender is gone. One loop collects at a
/// time while the others run their batches: nothing waits for a batch to fill,
/// so an idle reconciler still handles each item straight away.
pub async fn next<T>(queue: &Mutex<mpsc::Receiver<T>>, max: usize) -> Option<Vec<T>> {
    let mut queue = queue.lock().await;
    let first = queue.recv().await?;
    let mut items = Vec::with_capacity(max.max(1));
    items.push(first);
    while items.len() < max {
        match queue.try_recv() {
            Ok(item) => items.push(item),
            Err(_) => break,
        }
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_takes_what_waits_up_to_its_size_and_ends_with_the_senders() {
        let (tx, rx) = mpsc::channel(8);
        let rx = Mutex::new(rx);
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
        assert_eq!(next(&rx, 3).await, Some(vec![0, 1, 2]));
        assert_eq!(next(&rx, 3).await, Some(vec![3, 4]));
        drop(tx);
        assert_eq!(next(&rx, 3).await, None);
    }
}
