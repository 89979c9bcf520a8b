//! Messages waiting to be published, written in the same transaction as the
//! state they announce, and leased for publishing (`FOR UPDATE SKIP LOCKED`
//! plus a lease) so several processes never publish the same row at the same time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Text};

use super::DbError;
use super::prepared::{Prepared, prepared};
use super::schema::outbox;
use crate::queue::message::Exchange;

pub struct NewMessage {
    pub exchange: Exchange,
    pub routing_key: String,
    pub message_id: String,
    pub payload: serde_json::Value,
    pub inbox_id: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = outbox)]
struct NewRow<'a> {
    exchange: &'a str,
    routing_key: &'a str,
    message_id: &'a str,
    payload: &'a serde_json::Value,
    headers: serde_json::Value,
}

/// The row's `headers`: the inbox id when the message announces a webhook.
pub fn headers_for(m: &NewMessage) -> serde_json::Value {
    match m.inbox_id {
        Some(id) => serde_json::json!({ "inbox_id": id }),
        None => serde_json::json!({}),
    }
}

/// How long the process that wrote a message owns it for publishing it
/// straight after its commit; if it has not published by then (it crashed),
/// the background relay takes the row over.
pub const WRITER_LEASE_SECS: i32 = 60;

/// Until when a message written now belongs to its writer ([`WRITER_LEASE_SECS`]).
fn writer_lease_until() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(i64::from(WRITER_LEASE_SECS))
}

/// Inserts a message, leased to the caller so it can publish it right after
/// the commit ([`crate::queue::relay::Relay::publish_now`]) without another
/// update; the background relay only takes it if that does not happen. A
/// second insert with the same `message_id` is ignored (`None`).
pub fn insert(conn: &mut PgConnection, m: &NewMessage) -> Result<Option<PendingMessage>, DbError> {
    let headers = headers_for(m);
    let inserted: Option<(i64, DateTime<Utc>)> = Prepared::fixed(
        diesel::insert_into(outbox::table)
            .values((
                NewRow {
                    exchange: m.exchange.as_str(),
                    routing_key: &m.routing_key,
                    message_id: &m.message_id,
                    payload: &m.payload,
                    headers: headers.clone(),
                },
                outbox::lease_until.eq(Some(writer_lease_until())),
            ))
            .on_conflict(outbox::message_id)
            .do_nothing()
            .returning((outbox::id, outbox::created_at)),
    )
    .get_result(conn)
    .optional()?;
    Ok(inserted.map(|(id, created_at)| PendingMessage::written(m, headers, id, created_at)))
}

/// [`insert`] for several messages in one statement (the reconciler's group
/// commit writes a batch's announcements together). One answer per message,
/// in order; a message whose `message_id` is already stored, or repeats an
/// earlier one in `messages`, is `None`, as a second [`insert`] would be.
/// Prepared: it reads nothing but its arrays and the unique index.
pub fn insert_many(
    conn: &mut PgConnection,
    messages: &[NewMessage],
) -> Result<Vec<Option<PendingMessage>>, DbError> {
    if let [one] = messages {
        return Ok(vec![insert(conn, one)?]);
    }
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        message_id: String,
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        created_at: DateTime<Utc>,
    }
    let headers: Vec<serde_json::Value> = messages.iter().map(headers_for).collect();
    let inserted: Vec<Inserted> = prepared(
        "INSERT INTO outbox (exchange, routing_key, message_id, payload, headers, lease_until) \
         SELECT e, r, m, p, h, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[]) \
             AS u(e, r, m, p, h) \
         ON CONFLICT (message_id) DO NOTHING \
         RETURNING id, message_id, created_at",
        |q| {
            q.bind::<Array<Text>, _>(messages.iter().map(|m| m.exchange.as_str()).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(messages.iter().map(|m| m.routing_key.as_str()).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(messages.iter().map(|m| m.message_id.as_str()).collect::<Vec<_>>())
                .bind::<Array<diesel::sql_types::Jsonb>, _>(messages.iter().map(|m| &m.payload).collect::<Vec<_>>())
                .bind::<Array<diesel::sql_types::Jsonb>, _>(&headers)
                .bind::<diesel::sql_types::Timestamptz, _>(writer_lease_until())
        },
    )
    .load(conn)?;
    let mut by_id: std::collections::HashMap<String, (i64, DateTime<Utc>)> = inserted
        .into_iter()
        .map(|r| (r.message_id, (r.id, r.created_at)))
        .collect();
    Ok(messages
        .iter()
        .zip(headers)
        .map(|(m, headers)| {
            by_id
                .remove(&m.message_id)
                .map(|(id, created_at)| PendingMessage::written(m, headers, id, created_at))
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, QueryableByName)]
#[diesel(table_name = outbox, check_for_backend(diesel::pg::Pg))]
pub struct PendingMessage {
    pub id: i64,
    pub exchange: String,
    pub routing_key: String,
    pub message_id: String,
    pub payload: serde_json::Value,
    pub headers: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl PendingMessage {
    /// The row `m` became, from what the insert returned.
    fn written(
        m: &NewMessage,
        headers: serde_json::Value,
        id: i64,
        created_at: DateTime<Utc>,
    ) -> Self {
        PendingMessage {
            id,
            exchange: m.exchange.as_str().to_owned(),
            routing_key: m.routing_key.clone(),
            message_id: m.message_id.clone(),
            payload: m.payload.clone(),
            headers,
            created_at,
        }
    }
}

/// Leases up to `limit` unpublished rows (oldest first) for `lease_secs`,
/// skipping rows another relay holds or has leased and rows still waiting out
/// the backoff of a failed publish. Commits immediately: the
/// caller publishes with no database connection or lock held.
pub fn lease(
    conn: &mut PgConnection,
    limit: i64,
    lease_secs: i32,
) -> Result<Vec<PendingMessage>, DbError> {
    let mut rows: Vec<PendingMessage> = diesel::sql_query(
        "UPDATE outbox SET lease_until = now() + make_interval(secs => $2) \
         WHERE id IN (SELECT id FROM outbox \
                      WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now()) \
                        AND (next_attempt_at IS NULL OR next_attempt_at <= now()) \
                      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING id, exchange, routing_key, message_id, payload, headers, created_at",
    )
    .bind::<BigInt, _>(limit)
    .bind::<diesel::sql_types::Integer, _>(lease_secs)
    .load(conn)?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

pub fn mark_published(conn: &mut PgConnection, ids: &[i64]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE outbox SET published_at = now(), lease_until = NULL, attempts = attempts + 1 WHERE id = ANY($1)",
    )
    .bind::<Array<BigInt>, _>(ids)
    .execute(conn)?;
    Ok(())
}

/// Records a failed publish and gives the rows back after a backoff:
/// `base · 2^(attempts-1)`, capped at `max`, so a row the broker keeps
/// refusing (nacked, unroutable) is retried ever more slowly instead of in a
/// tight loop, and the attempt count shows in metrics and `/readyz`.
pub fn mark_failed(
    conn: &mut PgConnection,
    ids: &[i64],
    error: &str,
    base: std::time::Duration,
    max: std::time::Duration,
) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2, lease_until = NULL, \
         next_attempt_at = now() + make_interval(secs => \
             least($3::float8 * power(2, least(attempts, 30)), $4::float8)) \
         WHERE id = ANY($1) AND published_at IS NULL",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Text, _>(error)
    .bind::<Double, _>(base.as_secs_f64())
    .bind::<Double, _>(max.as_secs_f64())
    .execute(conn)?;
    Ok(())
}

/// Gives rows back at once, without counting an attempt: they were never
/// offered to the broker (it was unreachable), so they are not at fault and
/// must go out as soon as it returns.
pub fn release(conn: &mut PgConnection, ids: &[i64]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE outbox SET lease_until = NULL WHERE id = ANY($1) AND published_at IS NULL",
    )
    .bind::<Array<BigInt>, _>(ids)
    .execute(conn)?;
    Ok(())
}

/// What `/metrics` and `/readyz` say about the rows still to publish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Stats {
    #[diesel(sql_type = BigInt)]
    pub unpublished: i64,
    /// Unpublished rows whose publish has failed at least once.
    #[diesel(sql_type = BigInt)]
    pub retrying: i64,
    /// The most failed attempts of any unpublished row.
    #[diesel(sql_type = BigInt)]
    pub max_attempts: i64,
    /// Age of the oldest unpublished row, in whole seconds (0 when none).
    #[diesel(sql_type = BigInt)]
    pub oldest_pending_seconds: i64,
}

/// One pass over the unpublished rows (a partial index keeps it small).
pub fn stats(conn: &mut PgConnection) -> Result<Stats, DbError> {
    Ok(diesel::sql_query(
        "SELECT count(*) AS unpublished, \
                count(*) FILTER (WHERE attempts > 0) AS retrying, \
                coalesce(max(attempts), 0)::int8 AS max_attempts, \
                coalesce(extract(epoch FROM now() - min(created_at)), 0)::int8 AS oldest_pending_seconds \
         FROM outbox WHERE published_at IS NULL",
    )
    .get_result(conn)?)
}

/// Rows not yet published (for metrics and readiness detail).
pub fn backlog(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(outbox::table
        .filter(outbox::published_at.is_null())
        .count()
        .get_result(conn)?)
}
