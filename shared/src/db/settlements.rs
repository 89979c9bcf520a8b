//! Settlements: each movement of money a provider reported, once. A second distinct one
//! for an order is how a duplicate payment is noticed.

use diesel::prelude::*;
use uuid::Uuid;

use super::DbError;
use super::schema::settlements;
use crate::domain::{Money, Provider};

/// Records the movement unless the provider already reported it; true when it is new.
pub fn record(
    conn: &mut PgConnection,
    provider: Provider,
    settlement_id: &str,
    order_id: Option<Uuid>,
    amount: Option<Money>,
) -> Result<bool, DbError> {
    let inserted = diesel::insert_into(settlements::table)
        .values((
            settlements::provider.eq(provider.as_str()),
            settlements::settlement_id.eq(settlement_id),
            settlements::order_id.eq(order_id),
            settlements::amount_minor.eq(amount.map(|m| m.minor_units())),
            settlements::currency.eq(amount.map(|m| m.currency().code())),
        ))
        .on_conflict((settlements::provider, settlements::settlement_id))
        .do_nothing()
        .execute(conn)?;
    Ok(inserted == 1)
}

/// How many movements other than `settlement_id` the order already has.
pub fn others_for_order(
    conn: &mut PgConnection,
    order_id: Uuid,
    settlement_id: &str,
) -> Result<i64, DbError> {
    Ok(settlements::table
        .filter(settlements::order_id.eq(order_id))
        .filter(settlements::settlement_id.ne(settlement_id))
        .count()
        .get_result(conn)?)
}
