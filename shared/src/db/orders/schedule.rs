//! The sweeper's queries on orders: which open orders are due a re-check, and moving
//! each one's schedule on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz};
use uuid::Uuid;

use crate::db::DbError;
use crate::db::schema::orders;
use crate::domain::Provider;

/// An open order whose next check is due.
#[derive(Debug, Clone, QueryableByName)]
pub struct DueOrder {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Text)]
    pub provider_payment_id: String,
    #[diesel(sql_type = Text)]
    pub state: String,
    /// Checks already queued by the schedule: the index of the next offset.
    #[diesel(sql_type = Integer)]
    pub check_count: i32,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// Up to `limit` open orders of `providers` due at `now`, earliest first, locked
/// (`SKIP LOCKED`: orders another transaction holds are left for the next batch).
pub fn lock_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    providers: &[Provider],
    limit: i64,
) -> Result<Vec<DueOrder>, DbError> {
    let names: Vec<&str> = providers.iter().map(|p| p.as_str()).collect();
    Ok(diesel::sql_query(
        "SELECT id, provider, provider_payment_id, state, check_count, created_at FROM orders \
         WHERE next_check_at <= $1 AND state IN ('pending', 'processing', 'expired') \
           AND provider = ANY($2) \
         ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Array<Text>, _>(&names)
    .bind::<BigInt, _>(limit)
    .load(conn)?)
}

/// The schedule is over: the sweeper stops looking at the order.
pub fn end_schedule(conn: &mut PgConnection, id: Uuid) -> Result<(), DbError> {
    diesel::update(orders::table.find(id))
        .set(orders::next_check_at.eq(None::<DateTime<Utc>>))
        .execute(conn)?;
    Ok(())
}

/// Counts one more scheduled check and sets when the next is due.
pub fn advance_schedule(
    conn: &mut PgConnection,
    id: Uuid,
    check_count: i32,
    next_check_at: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(orders::table.find(id))
        .set((
            orders::check_count.eq(check_count),
            orders::next_check_at.eq(next_check_at),
        ))
        .execute(conn)?;
    Ok(())
}
