//! Writes a check makes that nothing after them in its transaction reads:
//! the provider calls it recorded, its announcement on `pse.orders` (the
//! outbox row), its inbox row's outcome and the end of its flight. They are
//! gathered while the batch runs and written at its end, just before the
//! commit: the calls of the whole batch in one statement, its announcements
//! in another, then the inbox rows, then the flights (docs/ARCHITECTURE.md, "Reconciler:
//! group commit", with the measurement).
//!
//! Why this is safe: they are inserts and updates of rows no other statement
//! in the batch reads; they still commit with the check's effect; and one of
//! them failing fails the batch's first attempt like any other statement, so
//! the batch runs again with a savepoint per check, each check then writing
//! its own. Written last, they also take their locks in the documented order
//! (an order's rows, then inbox rows, then flight rows in key order).

use std::sync::{Arc, OnceLock};

use diesel::PgConnection;
use shared::db::checks::{self, CallRows};
use shared::db::flights::{self, Finish};
use shared::db::outbox::{self, NewMessage, PendingMessage};
use shared::db::{DbError, inbox};
use shared::providers::check::RecordedCall;
use shared::providers::webhook::CheckTarget;

/// What a batch (or, on the savepoint path, one check) writes before it
/// commits. `Debug` shows counts only: calls and announcements carry payers'
/// names and documents.
#[derive(Default)]
pub struct Later {
    calls: CallRows,
    announced: Vec<(NewMessage, Announcement)>,
    processed: Vec<(i64, String, Option<chrono::DateTime<chrono::Utc>>)>,
    released: Vec<(CheckTarget, uuid::Uuid)>,
}

impl std::fmt::Debug for Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Later")
            .field("calls", &self.calls.len())
            .field("announced", &self.announced.len())
            .field("processed", &self.processed.len())
            .field("released", &self.released.len())
            .finish()
    }
}

impl Later {
    /// Stores `calls`, linked to `order_id` and the webhook that caused them.
    pub fn record_calls(
        &mut self,
        calls: &[RecordedCall],
        order_id: Option<uuid::Uuid>,
        inbox_id: Option<i64>,
    ) {
        self.calls.push(calls, order_id, inbox_id);
    }

    /// Writes `message` to the outbox. What was written (nothing when its
    /// `message_id` was already there) is read from the answer after the commit.
    pub fn announce(&mut self, message: NewMessage) -> Announcement {
        let announcement = Announcement::default();
        self.announced.push((message, announcement.clone()));
        announcement
    }

    /// Marks the webhook `inbox_id` processed with `outcome` (`inbox::mark_processed`).
    pub fn mark_processed(
        &mut self,
        inbox_id: i64,
        outcome: &str,
        picked_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        self.processed
            .push((inbox_id, outcome.to_owned(), picked_at));
    }

    /// Ends the flight `token` holds on `target` (`flights::finish`, released).
    pub fn release(&mut self, target: &CheckTarget, token: uuid::Uuid) {
        self.released.push((target.clone(), token));
    }

    /// Writes everything gathered, in lock order, and empties the buffer.
    pub fn flush(&mut self, conn: &mut PgConnection) -> Result<(), DbError> {
        let later = std::mem::take(self);
        checks::insert_many(conn, &later.calls)?;
        let (messages, announcements): (Vec<_>, Vec<_>) = later.announced.into_iter().unzip();
        for (written, announcement) in outbox::insert_many(conn, &messages)?
            .into_iter()
            .zip(announcements)
        {
            if let Some(message) = written {
                let _ = announcement.0.set(message);
            }
        }
        for (inbox_id, outcome, picked_at) in &later.processed {
            inbox::mark_processed(conn, *inbox_id, outcome, *picked_at)?;
        }
        for (target, token) in &later.released {
            flights::finish(conn, target, *token, Finish::Released)?;
        }
        Ok(())
    }
}

/// The outbox row a check's announcement became, known once its batch has
/// written it ([`Later::flush`]); the check publishes it after the commit.
#[derive(Clone, Default)]
pub struct Announcement(Arc<OnceLock<PendingMessage>>);

/// The message id only: the payload is the order, payer included.
impl std::fmt::Debug for Announcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Announcement")
            .field(&self.0.get().map(|m| m.message_id.as_str()))
            .finish()
    }
}

impl Announcement {
    /// The row written, or `None` when the message was already in the outbox
    /// (its first writer publishes it) or the batch was never written.
    pub fn written(&self) -> Option<PendingMessage> {
        self.0.get().cloned()
    }
}

impl PartialEq for Announcement {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}
