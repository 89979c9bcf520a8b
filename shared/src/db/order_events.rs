//! `order_events`: an order's history, appended in the transaction that moves it.

use diesel::prelude::*;
use uuid::Uuid;

use super::DbError;
use super::models::{NewOrderEvent, OrderEventRow};
use super::schema::order_events;

/// Appends one transition; its id names the `pse.orders` message that announces it.
pub fn append(conn: &mut PgConnection, event: &NewOrderEvent<'_>) -> Result<i64, DbError> {
    Ok(diesel::insert_into(order_events::table)
        .values(event)
        .returning(order_events::id)
        .get_result(conn)?)
}

/// One order's history, oldest first. Its own statement (`order_id = $1`
/// rather than `= ANY($1)`), so PostgreSQL settles on one generic plan for
/// it instead of planning a custom one on every call: this runs for every
/// order the reconciler moves.
pub fn for_order(conn: &mut PgConnection, id: Uuid) -> Result<Vec<OrderEventRow>, DbError> {
    Ok(order_events::table
        .filter(order_events::order_id.eq(id))
        .order(order_events::id)
        .select(OrderEventRow::as_select())
        .load(conn)?)
}

/// The history of every order in `ids`, oldest first within each order, in one query.
pub fn for_orders(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<OrderEventRow>, DbError> {
    Ok(order_events::table
        .filter(order_events::order_id.eq_any(ids))
        .order((order_events::order_id, order_events::id))
        .select(OrderEventRow::as_select())
        .load(conn)?)
}
