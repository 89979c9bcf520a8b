//! `provider_checks`: every provider call and what it answered.

use diesel::prelude::*;

use super::DbError;
use super::schema::{orders, provider_checks};
use crate::providers::check::RecordedCall;

/// `None` is written as NULL rather than DEFAULT (the defaults are NULL), so
/// the insert has one text and diesel keeps it prepared.
#[derive(Insertable)]
#[diesel(table_name = provider_checks, treat_none_as_default_value = false)]
struct Row<'a> {
    provider: &'a str,
    object_id: &'a str,
    order_id: Option<uuid::Uuid>,
    webhook_event_id: Option<i64>,
    method: &'a str,
    path: &'a str,
    status_code: Option<i32>,
    response_body: Option<&'a str>,
    error: Option<&'a str>,
    latency_ms: i32,
}

/// Which order the calls were about.
pub enum OrderLink<'a> {
    Known(uuid::Uuid),
    /// The order that expects this provider payment id, if any.
    Find(&'a str),
    None,
}

/// Stores `calls`, linked to their order.
pub fn record(
    conn: &mut PgConnection,
    calls: &[RecordedCall],
    order: OrderLink<'_>,
    webhook_event_id: Option<i64>,
) -> Result<(), DbError> {
    let Some(first) = calls.first() else {
        return Ok(());
    };
    let order_id: Option<uuid::Uuid> = match order {
        OrderLink::Known(id) => Some(id),
        OrderLink::None => None,
        OrderLink::Find(pid) => orders::table
            .filter(orders::provider.eq(first.provider.as_str()))
            .filter(orders::provider_payment_id.eq(pid))
            .select(orders::id)
            .first(conn)
            .optional()?,
    };
    // One single-row insert per call (usually one call, at most four): a
    // multi-row insert would be a different text for every count, never prepared.
    for c in calls {
        let row = Row {
            provider: c.provider.as_str(),
            object_id: &c.object_id,
            order_id,
            webhook_event_id,
            method: c.method,
            path: &c.path,
            status_code: c.status.map(i32::from),
            response_body: c.body.as_deref(),
            error: c.error.as_deref(),
            latency_ms: i32::try_from(c.latency.as_millis()).unwrap_or(i32::MAX),
        };
        diesel::insert_into(provider_checks::table)
            .values(&row)
            .execute(conn)?;
    }
    Ok(())
}

/// Links the calls recorded under `object_id` before any order existed (a
/// payment attempt's create calls) to the order they produced.
pub fn link_to_order(
    conn: &mut PgConnection,
    object_id: &str,
    order_id: uuid::Uuid,
) -> Result<(), DbError> {
    diesel::update(
        provider_checks::table
            .filter(provider_checks::object_id.eq(object_id))
            .filter(provider_checks::order_id.is_null()),
    )
    .set(provider_checks::order_id.eq(order_id))
    .execute(conn)?;
    Ok(())
}
