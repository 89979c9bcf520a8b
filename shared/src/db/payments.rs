//! `payment_attempts`: the record of creating a payment at a provider, written
//! before the call. Its states and invariants are in docs/ARCHITECTURE.md
//! ("Payment attempts"); every query on the table lives here.

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::checks::{self, OrderLink};
use super::exceptions::{self, NewException};
use super::orders::{self, CreateOutcome, OrderJson};
use super::schema::payment_attempts as pa;
use super::{DbError, reference_lock};
use crate::domain::{ExceptionKind, Provider};
use crate::providers::check::RecordedCall;
use crate::providers::create::{Created, PaymentRequest};

pub const CALLING: &str = "calling";
pub const CREATED: &str = "created";
pub const REJECTED: &str = "rejected";
pub const UNKNOWN: &str = "unknown";
pub const ABANDONED: &str = "abandoned";

/// `Debug` by hand: `request` holds the payer.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = pa, check_for_backend(diesel::pg::Pg))]
pub struct AttemptRow {
    pub id: Uuid,
    pub reference: String,
    pub provider: String,
    pub request_hash: String,
    pub request: serde_json::Value,
    pub idempotency_key: String,
    pub state: String,
    pub provider_customer_id: Option<String>,
    pub link_requested: bool,
    pub provider_payment_id: Option<String>,
    pub payment_url: Option<String>,
    pub provider_error: Option<String>,
    pub attempts: i32,
    pub generation: i32,
    pub lease_until: Option<DateTime<Utc>>,
    pub next_resolve_at: Option<DateTime<Utc>>,
    pub order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for AttemptRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttemptRow")
            .field("id", &self.id)
            .field("reference", &self.reference)
            .field("provider", &self.provider)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("provider_payment_id", &self.provider_payment_id)
            .finish_non_exhaustive()
    }
}

impl AttemptRow {
    /// The stored request, as the provider must receive it again.
    pub fn payment_request(&self) -> Result<PaymentRequest, DbError> {
        serde_json::from_value(self.request.clone()).map_err(DbError::Encode)
    }
}

/// What `begin` decided.
#[derive(Debug)]
pub enum Begin {
    /// Call the provider with this attempt's keys (a new attempt or a retry).
    Call(Box<AttemptRow>),
    /// Already created: the order and where the payer goes.
    Done(Box<OrderJson>, String),
    /// The reference is taken by another request (or by a `POST /v1/orders` order).
    Conflict,
    /// Another request for this reference is calling the provider right now.
    InProgress,
    /// Given up (outcome unknowable); a person settles it.
    Abandoned(Option<String>),
}

/// Records the attempt (committed before the provider is called) or finds
/// what an earlier one reached. `key` derives the idempotency key of a
/// generation; `lease` is how long this caller owns the call.
pub fn begin(
    conn: &mut PgConnection,
    req: &PaymentRequest,
    key: &dyn Fn(&str, i32) -> String,
    lease: chrono::Duration,
    resolve_after: chrono::Duration,
) -> Result<Begin, DbError> {
    let hash = req.request_hash();
    let request = serde_json::to_value(req)?;
    let now = Utc::now();
    conn.transaction(|conn| {
        // Serialised with `POST /v1/orders` for the same reference: whichever
        // commits first owns it, the other sees it taken (never both).
        reference_lock::lock(conn, &req.reference)?;
        let existing = pa::table
            .filter(pa::reference.eq(&req.reference))
            .for_update()
            .select(AttemptRow::as_select())
            .first(conn)
            .optional()?;
        let Some(row) = existing else {
            if orders::reference_taken(conn, &req.reference)? {
                return Ok(Begin::Conflict);
            }
            let inserted = diesel::insert_into(pa::table)
                .values((
                    pa::id.eq(Uuid::new_v4()),
                    pa::reference.eq(&req.reference),
                    pa::provider.eq(req.provider.as_str()),
                    pa::request_hash.eq(&hash),
                    pa::request.eq(&request),
                    pa::idempotency_key.eq(key(&req.reference, 0)),
                    pa::state.eq(CALLING),
                    pa::attempts.eq(1),
                    pa::lease_until.eq(now + lease),
                    pa::next_resolve_at.eq(now + resolve_after),
                ))
                .on_conflict_do_nothing()
                .returning(AttemptRow::as_returning())
                .get_result(conn)
                .optional()?;
            // A concurrent first request won the insert: it is calling.
            return Ok(inserted.map_or(Begin::InProgress, |r| Begin::Call(Box::new(r))));
        };
        if row.state == REJECTED {
            // Nothing exists at the provider: the reference is free, for any
            // body, unless `POST /v1/orders` registered it since.
            if orders::reference_taken(conn, &req.reference)? {
                return Ok(Begin::Conflict);
            }
            let generation = row.generation + 1;
            let restarted = diesel::update(pa::table.find(row.id))
                .set((
                    pa::provider.eq(req.provider.as_str()),
                    pa::request_hash.eq(&hash),
                    pa::request.eq(&request),
                    pa::idempotency_key.eq(key(&req.reference, generation)),
                    pa::generation.eq(generation),
                    pa::state.eq(CALLING),
                    pa::provider_customer_id.eq(None::<String>),
                    pa::link_requested.eq(false),
                    pa::provider_error.eq(None::<String>),
                    pa::attempts.eq(1),
                    pa::lease_until.eq(now + lease),
                    pa::next_resolve_at.eq(now + resolve_after),
                    pa::updated_at.eq(now),
                ))
                .returning(AttemptRow::as_returning())
                .get_result(conn)?;
            return Ok(Begin::Call(Box::new(restarted)));
        }
        if row.request_hash != hash {
            return Ok(Begin::Conflict);
        }
        match row.state.as_str() {
            CREATED => {
                let order = row
                    .order_id
                    .map(|id| orders::find_by_id(conn, id))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| DbError::Task("created attempt without its order".into()))?;
                Ok(Begin::Done(
                    Box::new(order),
                    row.payment_url.unwrap_or_default(),
                ))
            }
            ABANDONED => Ok(Begin::Abandoned(row.provider_error)),
            _ if row.lease_until.is_some_and(|l| l > now) => Ok(Begin::InProgress),
            _ => {
                let retried = diesel::update(pa::table.find(row.id))
                    .set((
                        pa::state.eq(CALLING),
                        pa::attempts.eq(pa::attempts + 1),
                        pa::lease_until.eq(now + lease),
                        pa::updated_at.eq(now),
                    ))
                    .returning(AttemptRow::as_returning())
                    .get_result(conn)?;
                Ok(Begin::Call(Box::new(retried)))
            }
        }
    })
}

/// Keeps Belvo's customer id, committed before the link call, so a retry reuses it.
pub fn save_customer(conn: &mut PgConnection, id: Uuid, customer: &str) -> Result<(), DbError> {
    diesel::update(pa::table.find(id))
        .set((
            pa::provider_customer_id.eq(customer),
            pa::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Committed just before Belvo's payment-link call: from here on the call is
/// never repeated for this attempt (Belvo has no idempotency key).
pub fn mark_link_requested(conn: &mut PgConnection, id: Uuid) -> Result<(), DbError> {
    diesel::update(pa::table.find(id))
        .set((pa::link_requested.eq(true), pa::updated_at.eq(Utc::now())))
        .execute(conn)?;
    Ok(())
}

/// Stores an attempt's create calls in `provider_checks` under the attempt's
/// id (no provider object exists before the answer), linked to `order` once
/// there is one; `complete` links the ones stored by earlier, unanswered tries.
fn record_calls(
    conn: &mut PgConnection,
    id: Uuid,
    calls: &[RecordedCall],
    order: Option<Uuid>,
) -> Result<(), DbError> {
    let object_id = id.to_string();
    let calls: Vec<RecordedCall> = calls
        .iter()
        .map(|c| RecordedCall {
            object_id: object_id.clone(),
            ..c.clone()
        })
        .collect();
    let link = order.map_or(OrderLink::None, OrderLink::Known);
    checks::record(conn, &calls, link, None)?;
    if let Some(order) = order {
        checks::link_to_order(conn, &object_id, order)?;
    }
    Ok(())
}

/// Registers the order with the provider's id, marks the attempt created and
/// stores this try's provider `calls` linked to the order, in one
/// transaction. Idempotent: an attempt already created (by a concurrent retry
/// or the sweeper) answers its order.
pub fn complete(
    conn: &mut PgConnection,
    id: Uuid,
    req: &PaymentRequest,
    created: &Created,
    first_check_at: DateTime<Utc>,
    calls: &[RecordedCall],
) -> Result<(OrderJson, String), DbError> {
    let order = req.new_order(&created.payment_id).map_err(DbError::Task)?;
    conn.transaction(|conn| {
        reference_lock::lock(conn, &req.reference)?;
        let row: AttemptRow = pa::table
            .find(id)
            .for_update()
            .select(AttemptRow::as_select())
            .first(conn)?;
        if row.state == CREATED {
            record_calls(conn, id, calls, row.order_id)?;
            let existing = row
                .order_id
                .map(|oid| orders::find_by_id(conn, oid))
                .transpose()?
                .flatten()
                .ok_or_else(|| DbError::Task("created attempt without its order".into()))?;
            return Ok((existing, row.payment_url.unwrap_or_default()));
        }
        let order = match orders::insert(conn, &order, first_check_at)? {
            CreateOutcome::Created(o) | CreateOutcome::Replayed(o) => *o,
            CreateOutcome::ReferenceConflict | CreateOutcome::PaymentIdConflict => {
                return Err(DbError::Task(format!(
                    "the order for payment attempt {} conflicts with an existing order",
                    row.reference
                )));
            }
        };
        diesel::update(pa::table.find(id))
            .set((
                pa::state.eq(CREATED),
                pa::provider_payment_id.eq(&created.payment_id),
                pa::payment_url.eq(&created.payment_url),
                pa::order_id.eq(order.id),
                pa::provider_error.eq(None::<String>),
                pa::lease_until.eq(None::<DateTime<Utc>>),
                pa::next_resolve_at.eq(None::<DateTime<Utc>>),
                pa::updated_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        record_calls(conn, id, calls, Some(order.id))?;
        Ok((order, created.payment_url.clone()))
    })
}

/// Nothing exists at the provider: the reference may be used again. `calls`
/// (the refused ones) are kept with the attempt.
pub fn reject(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    calls: &[RecordedCall],
) -> Result<(), DbError> {
    conn.transaction(|conn| {
        finish(conn, id, REJECTED, error, None)?;
        record_calls(conn, id, calls, None)
    })
}

/// The payment may exist: a retry or the sweeper (from `next_resolve_at`)
/// completes it. `calls` are kept with the attempt until its order links them.
pub fn mark_unknown(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    next_resolve_at: DateTime<Utc>,
    calls: &[RecordedCall],
) -> Result<(), DbError> {
    conn.transaction(|conn| {
        finish(conn, id, UNKNOWN, error, Some(next_resolve_at))?;
        record_calls(conn, id, calls, None)
    })
}

fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    state: &str,
    error: &str,
    next_resolve_at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    diesel::update(pa::table.find(id).filter(pa::state.ne(CREATED)))
        .set((
            pa::state.eq(state),
            pa::provider_error.eq(error),
            pa::lease_until.eq(None::<DateTime<Utc>>),
            pa::next_resolve_at.eq(next_resolve_at),
            pa::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives the attempt up and opens a `provider_error` exception finance sees,
/// with this try's `calls`, in one transaction: a payment may exist at the
/// provider that no order tracks.
pub fn abandon(
    conn: &mut PgConnection,
    id: Uuid,
    reason: &str,
    calls: &[RecordedCall],
) -> Result<(), DbError> {
    conn.transaction(|conn| {
        let row: AttemptRow = pa::table
            .find(id)
            .for_update()
            .select(AttemptRow::as_select())
            .first(conn)?;
        record_calls(conn, id, calls, row.order_id)?;
        if row.state == CREATED || row.state == ABANDONED {
            return Ok(());
        }
        finish(conn, id, ABANDONED, reason, None)?;
        let provider: Provider = row
            .provider
            .parse()
            .map_err(|_| DbError::Task(format!("unknown provider {:?}", row.provider)))?;
        exceptions::open(
            conn,
            &NewException {
                order_id: None,
                provider,
                provider_payment_id: row.provider_payment_id.clone(),
                kind: ExceptionKind::ProviderError,
                detail: format!(
                    "payment attempt for reference {} abandoned after {} call(s): {reason}; a \
                     payment may exist at {provider} that no order tracks",
                    row.reference, row.attempts
                ),
                dedup_key: format!("payment_attempt:{}:{}", row.id, row.generation),
                expected_amount_minor: None,
                provider_amount_minor: None,
                currency: None,
            },
        )?;
        Ok(())
    })
}

/// Claims up to `limit` attempts left `calling` (a crash) or `unknown` whose
/// lease has lapsed and whose time has come, leasing each so no API retry
/// calls at the same time. Counts the claim as an attempt.
pub fn claim_unresolved(
    conn: &mut PgConnection,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<AttemptRow>, DbError> {
    let now = Utc::now();
    conn.transaction(|conn| {
        let due: Vec<Uuid> = pa::table
            .filter(pa::state.eq_any([CALLING, UNKNOWN]))
            .filter(pa::next_resolve_at.le(now))
            .filter(pa::lease_until.is_null().or(pa::lease_until.le(now)))
            .order(pa::next_resolve_at.asc())
            .limit(limit)
            .select(pa::id)
            .for_update()
            .skip_locked()
            .load(conn)?;
        Ok(diesel::update(pa::table.filter(pa::id.eq_any(due)))
            .set((
                pa::state.eq(CALLING),
                pa::attempts.eq(pa::attempts + 1),
                pa::lease_until.eq(now + lease),
                pa::updated_at.eq(now),
            ))
            .returning(AttemptRow::as_returning())
            .get_results(conn)?)
    })
}

/// Whether an attempt holds `reference`: every state but `rejected` (then
/// nothing exists at the provider) may have, or will have, a provider payment.
pub(super) fn holds_reference(conn: &mut PgConnection, reference: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        pa::table
            .filter(pa::reference.eq(reference))
            .filter(pa::state.ne(REJECTED)),
    ))
    .get_result(conn)?)
}

pub fn find(conn: &mut PgConnection, reference: &str) -> Result<Option<AttemptRow>, DbError> {
    Ok(pa::table
        .filter(pa::reference.eq(reference))
        .select(AttemptRow::as_select())
        .first(conn)
        .optional()?)
}
