//! Orders: idempotent creation, lookup with history and exceptions, and listing; what the
//! reconciler and the sweeper do to an order is in [`checks`] and [`schedule`].

mod checks;
mod schedule;
mod search;

pub use checks::{CheckedOrder, counts_by_state, id_by_payment, lock_by_payment, record_check};
pub use schedule::{DueOrder, advance_schedule, end_schedule, lock_due};
pub use search::{Found, search};

use std::collections::HashMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::models::{ExceptionRow, NewOrderEvent, NewOrderRow, OrderEventRow, OrderRow};
use super::schema::orders;
use super::{DbError, exceptions, order_events, payments, reference_lock};
use crate::domain::{NewOrder, OrderState, Provider};

/// The order as the API and the `pse.orders` exchange show it (docs/ARCHITECTURE.md, "The order as published").
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderJson {
    pub id: Uuid,
    pub reference: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub amount: AmountJson,
    pub description: Option<String>,
    pub state: String,
    pub provider_status: Option<String>,
    pub pse_cus: Option<String>,
    pub bank_code: Option<String>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<HistoryJson>,
    pub exceptions: Vec<ExceptionJson>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AmountJson {
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistoryJson {
    pub from: Option<String>,
    pub to: String,
    pub at: DateTime<Utc>,
    pub cause: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExceptionJson {
    pub id: i64,
    pub kind: String,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl From<&OrderEventRow> for HistoryJson {
    fn from(e: &OrderEventRow) -> Self {
        Self {
            from: e.from_state.clone(),
            to: e.to_state.clone(),
            at: e.at,
            cause: e.cause.clone(),
        }
    }
}

impl From<&ExceptionRow> for ExceptionJson {
    fn from(e: &ExceptionRow) -> Self {
        Self {
            id: e.id,
            kind: e.kind.clone(),
            detail: e.detail.clone(),
            opened_at: e.opened_at,
            resolved_at: e.resolved_at,
        }
    }
}

impl OrderJson {
    pub fn new(row: OrderRow, history: Vec<HistoryJson>, exceptions: Vec<ExceptionJson>) -> Self {
        Self {
            id: row.id,
            reference: row.reference,
            provider: row.provider,
            provider_payment_id: row.provider_payment_id,
            amount: AmountJson {
                amount: row.amount_minor,
                currency: row.currency,
            },
            description: row.description,
            state: row.state,
            provider_status: row.provider_status,
            pse_cus: row.pse_cus,
            bank_code: row.bank_code,
            last_checked_at: row.last_checked_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
            history,
            exceptions,
        }
    }
}

/// What happened to a creation request.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(Box<OrderJson>),
    /// The same request was already accepted; here is that order.
    Replayed(Box<OrderJson>),
    /// The reference exists with a different body.
    ReferenceConflict,
    /// Another order already expects this provider payment.
    PaymentIdConflict,
}

/// `POST /v1/orders`: creates the order and its first history row, or
/// recognises a replay. `first_check_at` is when the sweeper should first
/// re-query the provider. A reference that a `POST /v1/payments` attempt holds
/// (anything but a provider refusal) is a [`CreateOutcome::ReferenceConflict`]:
/// that attempt may already have created a payment the provider will report.
/// Serialised with payments on the reference lock (docs/ARCHITECTURE.md, "Payment attempts").
pub fn create(
    conn: &mut PgConnection,
    new: &NewOrder,
    first_check_at: DateTime<Utc>,
) -> Result<CreateOutcome, DbError> {
    conn.transaction(|conn| {
        reference_lock::lock(conn, new.reference.as_str())?;
        let existing = orders::table
            .filter(orders::reference.eq(new.reference.as_str()))
            .select(OrderRow::as_select())
            .first(conn)
            .optional()?;
        if existing.is_none() && payments::holds_reference(conn, new.reference.as_str())? {
            return Ok(CreateOutcome::ReferenceConflict);
        }
        insert(conn, new, first_check_at)
    })
}

/// Whether an order already has `reference` (through either endpoint).
pub(super) fn reference_taken(conn: &mut PgConnection, reference: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        orders::table.filter(orders::reference.eq(reference)),
    ))
    .get_result(conn)?)
}

/// Inserts the order or recognises a replay; the caller holds the reference
/// lock (`create`, or `payments::complete` for its own attempt's order).
pub(super) fn insert(
    conn: &mut PgConnection,
    new: &NewOrder,
    first_check_at: DateTime<Utc>,
) -> Result<CreateOutcome, DbError> {
    let now = Utc::now();
    let hash = new.request_hash();
    conn.transaction(|conn| {
        let row = NewOrderRow {
            reference: new.reference.as_str(),
            provider: new.provider.as_str(),
            provider_payment_id: &new.provider_payment_id,
            amount_minor: new.amount.minor_units(),
            currency: new.amount.currency().code(),
            description: new.description.as_deref(),
            payer: new.payer_json(),
            request_hash: hash.clone(),
            next_check_at: Some(first_check_at),
            created_at: now,
            updated_at: now,
        };
        let inserted = diesel::insert_into(orders::table)
            .values(&row)
            .on_conflict_do_nothing()
            .returning(OrderRow::as_returning())
            .get_result(conn)
            .optional()?;
        if let Some(order) = inserted {
            order_events::append(
                conn,
                &NewOrderEvent {
                    order_id: order.id,
                    from_state: None,
                    to_state: OrderState::Pending.as_str(),
                    cause: "created",
                    provider_status: None,
                    webhook_event_id: None,
                    at: now,
                    order_created_at: order.created_at,
                },
            )?;
            return Ok(CreateOutcome::Created(Box::new(one_with_details(
                conn, order,
            )?)));
        }
        let existing = orders::table
            .filter(orders::reference.eq(new.reference.as_str()))
            .select(OrderRow::as_select())
            .first(conn)
            .optional()?;
        Ok(match existing {
            Some(order) if order.request_hash == hash => {
                CreateOutcome::Replayed(Box::new(one_with_details(conn, order)?))
            }
            Some(_) => CreateOutcome::ReferenceConflict,
            None => CreateOutcome::PaymentIdConflict,
        })
    })
}

pub fn find_by_reference(
    conn: &mut PgConnection,
    reference: &str,
) -> Result<Option<OrderJson>, DbError> {
    let row = orders::table
        .filter(orders::reference.eq(reference))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => Ok(Some(one_with_details(conn, row)?)),
        None => Ok(None),
    }
}

pub fn find_by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<OrderJson>, DbError> {
    let row = orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => Ok(Some(one_with_details(conn, row)?)),
        None => Ok(None),
    }
}

/// Attaches its history and exceptions to one row (single-order queries).
/// The exceptions are read only when `row.has_exceptions` says there are any:
/// most orders never get one, and the reconciler builds every announcement
/// through here, so the skipped statement is a round trip per check inside
/// its group commit. The flag is set by the insert trigger on
/// `reconciliation_exceptions` and never cleared (the report reads it the
/// same way); a caller holding a row from before its own exception insert
/// must set it (`reconciler::apply`).
pub fn one_with_details(conn: &mut PgConnection, row: OrderRow) -> Result<OrderJson, DbError> {
    let history = order_events::for_order(conn, row.id)?
        .iter()
        .map(HistoryJson::from)
        .collect();
    let exceptions = if row.has_exceptions {
        exceptions::for_order(conn, row.id)?
            .iter()
            .map(ExceptionJson::from)
            .collect()
    } else {
        Vec::new()
    };
    Ok(OrderJson::new(row, history, exceptions))
}

/// Attaches history and exceptions to each row with two queries in all.
pub fn with_details(
    conn: &mut PgConnection,
    rows: Vec<OrderRow>,
) -> Result<Vec<OrderJson>, DbError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut history: HashMap<Uuid, Vec<HistoryJson>> = HashMap::new();
    for e in order_events::for_orders(conn, &ids)? {
        history
            .entry(e.order_id)
            .or_default()
            .push(HistoryJson::from(&e));
    }
    let mut exceptions: HashMap<Uuid, Vec<ExceptionJson>> = HashMap::new();
    for e in exceptions::for_orders(conn, &ids)? {
        if let Some(order_id) = e.order_id {
            exceptions
                .entry(order_id)
                .or_default()
                .push(ExceptionJson::from(&e));
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let h = history.remove(&row.id).unwrap_or_default();
            let x = exceptions.remove(&row.id).unwrap_or_default();
            OrderJson::new(row, h, x)
        })
        .collect())
}

/// Position in the newest-first listing: the last order of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!("{}|{}", self.created_at.timestamp_micros(), self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (micros, id) = raw.split_once('|')?;
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<OrderState>,
    pub provider: Option<Provider>,
    /// Inclusive lower bound on `created_at`.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `created_at`.
    pub to: Option<DateTime<Utc>>,
}

pub struct Page {
    pub orders: Vec<OrderJson>,
    pub next_cursor: Option<Cursor>,
}

/// Newest first, `limit` per page, keyset-paginated so pages stay stable while orders arrive.
pub fn list(
    conn: &mut PgConnection,
    filter: &ListFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Page, DbError> {
    let mut query = orders::table.select(OrderRow::as_select()).into_boxed();
    if let Some(state) = filter.state {
        query = query.filter(orders::state.eq(state.as_str()));
    }
    if let Some(provider) = filter.provider {
        query = query.filter(orders::provider.eq(provider.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(orders::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(orders::created_at.lt(to));
    }
    if let Some(c) = after {
        query = query.filter(
            orders::created_at
                .lt(c.created_at)
                .or(orders::created_at.eq(c.created_at).and(orders::id.lt(c.id))),
        );
    }
    let mut rows: Vec<OrderRow> = query
        .order((orders::created_at.desc(), orders::id.desc()))
        .limit(limit + 1)
        .load(conn)?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(|r| Cursor {
            created_at: r.created_at,
            id: r.id,
        })
    } else {
        None
    };
    Ok(Page {
        orders: with_details(conn, rows)?,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_763_700_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not-a-cursor"), None);
        assert_eq!(Cursor::decode(""), None);
    }
}
