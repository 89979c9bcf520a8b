//! The archive of `reconciler.dead`: list it, replay from it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::DbError;
use super::flights::{self, Requested};
use super::outbox::{self, NewMessage};
use super::schema::dead_letters as dl;
use crate::queue::message::{Cause, CheckMessage, Exchange};

#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    pub message_id: String,
    pub routing_key: Option<String>,
    pub body: Vec<u8>,
    pub provider: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub reason: String,
    pub error: Option<String>,
    pub attempts: i32,
}

#[derive(Insertable)]
#[diesel(table_name = dl)]
struct Row<'a> {
    message_id: &'a str,
    routing_key: Option<&'a str>,
    body: &'a [u8],
    provider: Option<&'a str>,
    object_type: Option<&'a str>,
    object_id: Option<&'a str>,
    reason: &'a str,
    error: Option<&'a str>,
    attempts: i32,
}

/// Archives a dead message; `None` if this message id is already archived.
pub fn archive(conn: &mut PgConnection, d: &NewDeadLetter) -> Result<Option<i64>, DbError> {
    Ok(diesel::insert_into(dl::table)
        .values(Row {
            message_id: &d.message_id,
            routing_key: d.routing_key.as_deref(),
            body: &d.body,
            provider: d.provider.as_deref(),
            object_type: d.object_type.as_deref(),
            object_id: d.object_id.as_deref(),
            reason: &d.reason,
            error: d.error.as_deref(),
            attempts: d.attempts,
        })
        .on_conflict(dl::message_id)
        .do_nothing()
        .returning(dl::id)
        .get_result(conn)
        .optional()?)
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = dl, check_for_backend(diesel::pg::Pg))]
pub struct DeadLetter {
    pub id: i64,
    pub message_id: String,
    pub routing_key: Option<String>,
    pub provider: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub reason: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub dead_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_count: i32,
}

/// Newest first; `pending_only` hides the ones already replayed.
pub fn list(
    conn: &mut PgConnection,
    pending_only: bool,
    limit: i64,
) -> Result<Vec<DeadLetter>, DbError> {
    let mut q = dl::table.select(DeadLetter::as_select()).into_boxed();
    if pending_only {
        q = q.filter(dl::replayed_at.is_null());
    }
    Ok(q.order(dl::id.desc()).limit(limit).load(conn)?)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayOutcome {
    /// The messages written, to publish after the commit.
    #[serde(skip)]
    pub messages: Vec<super::outbox::PendingMessage>,
    /// Dead letters queued again: as new outbox messages, or (also listed in
    /// `coalesced`) covered by a check already queued for their object.
    pub replayed: Vec<i64>,
    /// Replayed dead letters whose object already had a check queued: that
    /// check re-queries the provider, so no message of their own. Left out
    /// of the JSON when empty (the usual case).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub coalesced: Vec<i64>,
    /// Ids that do not exist or are already replayed.
    pub skipped: Vec<i64>,
    /// Dead letters whose body is not a check message (poison): they cannot be replayed.
    pub unreplayable: Vec<i64>,
}

/// (id, message id, routing key, body) of an archived letter.
type StoredLetter = (i64, String, Option<String>, Vec<u8>);

/// Which dead letters to replay.
pub enum Selection<'a> {
    Ids(&'a [i64]),
    /// Every one not yet replayed.
    AllPending,
}

/// Queues the selected dead letters again and marks them replayed, in one
/// transaction. Each asks for its check through the single-flight gate like
/// any other request: a new outbox message (the relay publishes it) unless a
/// check is already queued for the object, which then covers it. Each replay
/// is a new message id, so a replay that dies again is archived again.
pub fn replay(conn: &mut PgConnection, selection: Selection<'_>) -> Result<ReplayOutcome, DbError> {
    conn.transaction(|conn| {
        let pending = dl::table
            .filter(dl::replayed_at.is_null())
            .select((dl::id, dl::message_id, dl::routing_key, dl::body))
            .order(dl::id);
        let (requested, rows): (Vec<i64>, Vec<StoredLetter>) = match selection {
            Selection::Ids(ids) => (
                ids.to_vec(),
                pending
                    .filter(dl::id.eq_any(ids.to_vec()))
                    .for_update()
                    .load(conn)?,
            ),
            Selection::AllPending => (Vec::new(), pending.for_update().load(conn)?),
        };
        let mut out = ReplayOutcome::default();
        let mut letters: Vec<(&StoredLetter, CheckMessage)> = Vec::new();
        for row in &rows {
            match serde_json::from_slice::<CheckMessage>(&row.3) {
                Ok(message) => letters.push((row, message)),
                Err(_) => out.unreplayable.push(row.0),
            }
        }
        // One request for the lot: the flight rows are locked in key order.
        let targets: Vec<_> = letters.iter().map(|(_, m)| &m.target).collect();
        let answers = flights::request(conn, &targets)?;
        for ((row, mut message), answer) in letters.into_iter().zip(answers) {
            let (id, message_id, routing_key, _) = row;
            match answer {
                Requested::Queue { ticket } => {
                    message.cause = Cause::Replay {
                        dead_letter_id: *id,
                    };
                    message.ticket = Some(ticket);
                    let routing_key = routing_key
                        .clone()
                        .unwrap_or_else(|| format!("{}.replay", message.target.provider.as_str()));
                    let base = message_id.split("-replay-").next().unwrap_or(message_id);
                    let pending = outbox::insert(
                        conn,
                        &NewMessage {
                            exchange: Exchange::Events,
                            routing_key,
                            message_id: format!("{base}-replay-{id}"),
                            payload: serde_json::to_value(&message)?,
                            inbox_id: None,
                        },
                    )?;
                    out.messages.extend(pending);
                }
                Requested::Coalesced { .. } => out.coalesced.push(*id),
            }
            diesel::update(dl::table.find(*id))
                .set((
                    dl::replayed_at.eq(diesel::dsl::now),
                    dl::replay_count.eq(dl::replay_count + 1),
                ))
                .execute(conn)?;
            out.replayed.push(*id);
        }
        let found: Vec<i64> = rows.iter().map(|r| r.0).collect();
        out.skipped = requested
            .into_iter()
            .filter(|id| !found.contains(id))
            .collect();
        Ok(out)
    })
}
