//! What the reconciler does to an order: find it by the provider's payment id, lock it,
//! and write what a provider check found.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Timestamptz};
use uuid::Uuid;

use crate::db::DbError;
use crate::db::models::OrderRow;
use crate::db::prepared::Prepared;
use crate::db::schema::orders;
use crate::domain::{OrderState, Provider};

/// The order that expects `payment_id`, locked `FOR UPDATE` until the transaction ends.
/// Taken before anything else in the transaction touches the order (see `apply`).
pub fn lock_by_payment(
    conn: &mut PgConnection,
    provider: Provider,
    payment_id: &str,
) -> Result<Option<OrderRow>, DbError> {
    Ok(orders::table
        .filter(orders::provider.eq(provider.as_str()))
        .filter(orders::provider_payment_id.eq(payment_id))
        .for_update()
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?)
}

/// The id of the order that expects `payment_id`, without locking it.
pub fn id_by_payment(
    conn: &mut PgConnection,
    provider: Provider,
    payment_id: &str,
) -> Result<Option<Uuid>, DbError> {
    Ok(orders::table
        .filter(orders::provider.eq(provider.as_str()))
        .filter(orders::provider_payment_id.eq(payment_id))
        .select(orders::id)
        .first(conn)
        .optional()?)
}

/// The columns a provider check sets. The caller has already decided each value
/// (what is kept from before, what the report replaces).
#[derive(Debug, Clone)]
pub struct CheckedOrder<'a> {
    pub state: OrderState,
    pub provider_status: Option<&'a str>,
    pub pse_cus: Option<&'a str>,
    pub bank_code: Option<&'a str>,
    pub provider_amount_minor: Option<i64>,
    pub checked_at: DateTime<Utc>,
    /// The webhook that caused the check: the report's `webhook_received_at` is the
    /// latest arrival among them, so an older webhook processed late does not move it back.
    pub webhook_inbox_id: Option<i64>,
    pub next_check_at: Option<DateTime<Utc>>,
}

/// Writes a check's result on the order (locked by [`lock_by_payment`]) and returns the row.
pub fn record_check(
    conn: &mut PgConnection,
    id: Uuid,
    c: &CheckedOrder<'_>,
) -> Result<OrderRow, DbError> {
    // The webhook's arrival time is read in the same statement; with no webhook
    // the subquery is NULL and GREATEST keeps the old value. One text whatever
    // the cause, so the statement stays prepared (`Prepared`).
    let last_webhook_at = diesel::dsl::sql::<Nullable<Timestamptz>>(
        "GREATEST(last_webhook_at, (SELECT received_at FROM webhook_events WHERE id = ",
    )
    .bind::<Nullable<BigInt>, _>(c.webhook_inbox_id)
    .sql("))");
    Ok(Prepared::fixed(
        diesel::update(orders::table.find(id))
            .set((
                orders::state.eq(c.state.as_str()),
                orders::provider_status.eq(c.provider_status),
                orders::pse_cus.eq(c.pse_cus),
                orders::bank_code.eq(c.bank_code),
                orders::provider_amount_minor.eq(c.provider_amount_minor),
                orders::last_checked_at.eq(c.checked_at),
                orders::last_webhook_at.eq(last_webhook_at),
                orders::updated_at.eq(c.checked_at),
                orders::next_check_at.eq(c.next_check_at),
            ))
            .returning(OrderRow::as_returning()),
    )
    .get_result(conn)?)
}

/// How many orders are in each state (for the `orders_by_state` gauge); states with
/// no order are absent. A scan of every order: callers cache it
/// (`METRICS_GAUGE_REFRESH_SECS`).
pub fn counts_by_state(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, DbError> {
    Ok(orders::table
        .group_by(orders::state)
        .select((orders::state, diesel::dsl::count_star()))
        .load(conn)?)
}
