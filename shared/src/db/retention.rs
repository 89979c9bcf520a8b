//! Retention: what the reconciler's retention job removes, one bounded batch
//! per statement (each its own short transaction, `SKIP LOCKED` so it never
//! waits on a row in use). Periods and why: docs/ARCHITECTURE.md, "Retention".
//!
//! Never touched: unpublished outbox rows (still to deliver) and webhook
//! events whose check has not run (the reconciler still needs them).

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};

use super::DbError;

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Deletes up to `limit` outbox rows published more than `after` ago.
pub fn delete_published_outbox(
    conn: &mut PgConnection,
    after: Duration,
    limit: i64,
) -> Result<usize, DbError> {
    Ok(diesel::sql_query(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
             WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1) \
             ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Double, _>(secs(after))
    .bind::<BigInt, _>(limit)
    .execute(conn)?)
}

/// Deletes up to `limit` provider answers recorded more than `after` ago.
/// Nothing references `provider_checks`; order history (`order_events`) and
/// exceptions keep what the checks decided.
pub fn delete_provider_checks(
    conn: &mut PgConnection,
    after: Duration,
    limit: i64,
) -> Result<usize, DbError> {
    Ok(diesel::sql_query(
        "DELETE FROM provider_checks WHERE id IN (SELECT id FROM provider_checks \
             WHERE requested_at < now() - make_interval(secs => $1) \
             ORDER BY requested_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Double, _>(secs(after))
    .bind::<BigInt, _>(limit)
    .execute(conn)?)
}

/// Removes the raw body and headers (the PII) of up to `limit` webhook events
/// received more than `after` ago whose processing is over (checked, or of
/// a type the product does not act on). The row stays: `order_events` points
/// at it and is append-only, and its dedup key, type and outcome carry no PII.
pub fn redact_webhook_events(
    conn: &mut PgConnection,
    after: Duration,
    limit: i64,
) -> Result<usize, DbError> {
    Ok(diesel::sql_query(
        "UPDATE webhook_events SET body = '\\x'::bytea, headers = '{}'::jsonb, redacted_at = now() \
         WHERE id IN (SELECT id FROM webhook_events \
             WHERE redacted_at IS NULL AND received_at < now() - make_interval(secs => $1) \
               AND (processed_at IS NOT NULL OR NOT actionable) \
             ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Double, _>(secs(after))
    .bind::<BigInt, _>(limit)
    .execute(conn)?)
}
