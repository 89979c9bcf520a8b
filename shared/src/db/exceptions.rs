//! Reconciliation exceptions: discrepancies a person must look at.

use diesel::prelude::*;
use uuid::Uuid;

use super::DbError;
use super::schema::reconciliation_exceptions as rx;
use crate::domain::{ExceptionKind, Provider};

/// A discrepancy to record. `dedup_key` names "the same discrepancy", so
/// re-processing an event never opens it twice.
#[derive(Debug, Clone)]
pub struct NewException {
    pub order_id: Option<Uuid>,
    pub provider: Provider,
    pub provider_payment_id: Option<String>,
    pub kind: ExceptionKind,
    pub detail: String,
    pub dedup_key: String,
    pub expected_amount_minor: Option<i64>,
    pub provider_amount_minor: Option<i64>,
    pub currency: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = rx)]
struct Row<'a> {
    order_id: Option<Uuid>,
    provider: &'a str,
    provider_payment_id: Option<&'a str>,
    kind: &'a str,
    detail: &'a str,
    dedup_key: &'a str,
    expected_amount_minor: Option<i64>,
    provider_amount_minor: Option<i64>,
    currency: Option<&'a str>,
}

/// Opens the exception unless one with the same key exists; returns the new id.
pub fn open(conn: &mut PgConnection, e: &NewException) -> Result<Option<i64>, DbError> {
    Ok(diesel::insert_into(rx::table)
        .values(Row {
            order_id: e.order_id,
            provider: e.provider.as_str(),
            provider_payment_id: e.provider_payment_id.as_deref(),
            kind: e.kind.as_str(),
            detail: &e.detail,
            dedup_key: &e.dedup_key,
            expected_amount_minor: e.expected_amount_minor,
            provider_amount_minor: e.provider_amount_minor,
            currency: e.currency.as_deref(),
        })
        .on_conflict(rx::dedup_key)
        .do_nothing()
        .returning(rx::id)
        .get_result(conn)
        .optional()?)
}

/// Every exception of the orders in `ids`, oldest first, in one query (for the order JSON).
/// One order's exceptions, oldest first; a single-order statement for the
/// same reason as `order_events::for_order`.
pub fn for_order(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Vec<super::models::ExceptionRow>, DbError> {
    Ok(rx::table
        .filter(rx::order_id.eq(id))
        .order(rx::id)
        .select(super::models::ExceptionRow::as_select())
        .load(conn)?)
}

pub fn for_orders(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<super::models::ExceptionRow>, DbError> {
    Ok(rx::table
        .filter(rx::order_id.eq_any(ids))
        .order(rx::id)
        .select(super::models::ExceptionRow::as_select())
        .load(conn)?)
}

/// An exception as the API shows it.
#[derive(Debug, Clone, serde::Serialize, QueryableByName)]
pub struct ExceptionView {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub provider: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub provider_payment_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub order_reference: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub detail: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub expected_amount: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub provider_amount: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub opened_at: chrono::DateTime<chrono::Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub resolved_by: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub resolution_note: Option<String>,
}

const VIEW: &str = "SELECT x.id, x.kind, x.provider, x.provider_payment_id, o.reference AS order_reference, x.detail, \
    x.expected_amount_minor AS expected_amount, x.provider_amount_minor AS provider_amount, x.currency, \
    x.opened_at, x.resolved_at, x.resolved_by, x.resolution_note \
    FROM reconciliation_exceptions x LEFT JOIN orders o ON o.id = x.order_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Resolved,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<Status>,
    pub kind: Option<ExceptionKind>,
    pub provider: Option<Provider>,
    /// Only ids below this (the previous page's last id).
    pub before_id: Option<i64>,
}

/// Newest first, `limit` at a time.
pub fn list(
    conn: &mut PgConnection,
    filter: &Filter,
    limit: i64,
) -> Result<Vec<ExceptionView>, DbError> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    let status = match filter.status {
        None => "",
        Some(Status::Open) => " AND x.resolved_at IS NULL",
        Some(Status::Resolved) => " AND x.resolved_at IS NOT NULL",
    };
    Ok(diesel::sql_query(format!(
        "{VIEW} WHERE ($1::text IS NULL OR x.kind = $1) AND ($2::text IS NULL OR x.provider = $2) \
         AND ($3::bigint IS NULL OR x.id < $3){status} ORDER BY x.id DESC LIMIT $4"
    ))
    .bind::<Nullable<Text>, _>(filter.kind.map(ExceptionKind::as_str))
    .bind::<Nullable<Text>, _>(filter.provider.map(Provider::as_str))
    .bind::<Nullable<BigInt>, _>(filter.before_id)
    .bind::<BigInt, _>(limit)
    .load(conn)?)
}

pub fn find(conn: &mut PgConnection, id: i64) -> Result<Option<ExceptionView>, DbError> {
    Ok(diesel::sql_query(format!("{VIEW} WHERE x.id = $1"))
        .bind::<diesel::sql_types::BigInt, _>(id)
        .get_result(conn)
        .optional()?)
}

#[derive(Debug)]
pub enum Resolved {
    Now(ExceptionView),
    /// It was resolved before; the first resolution stands.
    Already(ExceptionView),
    NotFound,
}

/// Marks the exception resolved by `who` with `note`. Idempotent: resolving
/// it again changes nothing and returns the original resolution.
pub fn resolve(
    conn: &mut PgConnection,
    id: i64,
    who: &str,
    note: &str,
) -> Result<Resolved, DbError> {
    use diesel::sql_types::{BigInt, Text};
    conn.transaction(|conn| {
        let updated = diesel::sql_query(
            "UPDATE reconciliation_exceptions SET resolved_at = now(), resolved_by = $2, resolution_note = $3 \
             WHERE id = $1 AND resolved_at IS NULL",
        )
        .bind::<BigInt, _>(id)
        .bind::<Text, _>(who)
        .bind::<Text, _>(note)
        .execute(conn)?;
        Ok(match (updated, find(conn, id)?) {
            (1, Some(view)) => Resolved::Now(view),
            (_, Some(view)) => Resolved::Already(view),
            (_, None) => Resolved::NotFound,
        })
    })
}

/// What the finance console's queue shows: optional kind, provider and Bogota day the
/// exception was opened.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    pub kind: Option<ExceptionKind>,
    pub provider: Option<Provider>,
    pub opened_on: Option<chrono::NaiveDate>,
}

/// The work queue: open exceptions first (newest first), then resolved ones (most recently
/// resolved first), at most `limit` rows. A person works the top of it, so a bounded page
/// is enough; the JSON API pages through the rest.
pub fn queue(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    limit: i64,
) -> Result<Vec<ExceptionView>, DbError> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
    let (from, to) = match filter.opened_on {
        Some(day) => {
            let (a, b) = crate::time::day_bounds(day);
            (Some(a), Some(b))
        }
        None => (None, None),
    };
    Ok(diesel::sql_query(format!(
        "{VIEW} WHERE ($1::text IS NULL OR x.kind = $1) AND ($2::text IS NULL OR x.provider = $2) \
         AND ($3::timestamptz IS NULL OR x.opened_at >= $3) AND ($4::timestamptz IS NULL OR x.opened_at < $4) \
         ORDER BY x.resolved_at IS NOT NULL, x.resolved_at DESC, x.id DESC LIMIT $5"
    ))
    .bind::<Nullable<Text>, _>(filter.kind.map(ExceptionKind::as_str))
    .bind::<Nullable<Text>, _>(filter.provider.map(Provider::as_str))
    .bind::<Nullable<Timestamptz>, _>(from)
    .bind::<Nullable<Timestamptz>, _>(to)
    .bind::<BigInt, _>(limit)
    .load(conn)?)
}
