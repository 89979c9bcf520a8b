//! Finding an order by what a person has in hand: the merchant's reference, the
//! provider's payment id, or the PSE CUS the bank printed on the payer's receipt.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::super::DbError;
use super::super::schema::orders;

/// An order as a search result lists it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orders)]
pub struct Found {
    pub reference: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub pse_cus: Option<String>,
    pub state: String,
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// Orders whose reference, provider payment id or PSE CUS equals `term` exactly (each
/// column has an index, migration 2026-11-30-000300_order_search; a payment id is unique
/// per provider, so a term matches few rows), newest first, at most `limit`.
pub fn search(conn: &mut PgConnection, term: &str, limit: i64) -> Result<Vec<Found>, DbError> {
    Ok(orders::table
        .filter(
            orders::reference
                .eq(term)
                .or(orders::provider_payment_id.eq(term))
                .or(orders::pse_cus.eq(term)),
        )
        .order(orders::created_at.desc())
        .limit(limit)
        .select(Found::as_select())
        .load(conn)?)
}
