//! Messages waiting to be published, written in the same transaction as the
//! state they announce, and leased for publishing (`FOR UPDATE SKIP LOCKED`
//! plus a lease) so several processes never publish the same row at the same time.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Text};

use super::DbError;
use super::prepared::Prepared;
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
                outbox::lease_until.eq(Some(
                    Utc::now() + chrono::Duration::seconds(i64::from(WRITER_LEASE_SECS)),
                )),
            ))
            .on_conflict(outbox::message_id)
            .do_nothing()
            .returning((outbox::id, outbox::created_at)),
    )
    .get_result(conn)
    .optional()?;
    Ok(inserted.map(|(id, created_at)| PendingMessage {
        id,
        exchange: m.exchange.as_str().to_owned(),
        routing_key: m.routing_key.clone(),
        message_id: m.message_id.clone(),
        payload: m.payload.clone(),
        headers,
        created_at,
    }))
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
