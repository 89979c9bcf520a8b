//! Read-only queries behind an order's dispute evidence (`crate::evidence`).
//! The brief for this bundle allowed one module for these reads: they cut across
//! five tables but never write, and the writers stay in each table's module.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::DbError;
use super::models::{ExceptionRow, OrderEventRow, OrderRow};
use super::schema::{
    order_events, orders, payment_attempts, provider_checks, reconciliation_exceptions,
    webhook_events,
};

/// At most this many rows of each kind, so one order with a runaway provider
/// cannot make a bundle of unbounded size; the bundle says when it was cut.
pub const MAX_ROWS_PER_KIND: i64 = 1000;

/// A stored webhook delivery. `Debug` shows no body or headers (payer data).
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_events, check_for_backend(diesel::pg::Pg))]
pub struct WebhookRow {
    pub id: i64,
    pub provider: String,
    pub event_type: String,
    pub object_id: Option<String>,
    pub body: Vec<u8>,
    pub headers: serde_json::Value,
    pub auth_result: String,
    pub received_at: DateTime<Utc>,
    pub delivery_count: i32,
    pub processed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub redacted_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRow")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// One provider API call. `Debug` shows no response body (payer data).
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = provider_checks, check_for_backend(diesel::pg::Pg))]
pub struct CheckRow {
    pub id: i64,
    pub provider: String,
    pub method: String,
    pub path: String,
    pub status_code: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub latency_ms: i32,
    pub requested_at: DateTime<Utc>,
    pub webhook_event_id: Option<i64>,
}

impl std::fmt::Debug for CheckRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckRow")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("status_code", &self.status_code)
            .finish_non_exhaustive()
    }
}

/// A payment creation attempt, without its stored request (which holds the payer).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payment_attempts, check_for_backend(diesel::pg::Pg))]
pub struct AttemptSummary {
    pub id: Uuid,
    pub state: String,
    pub idempotency_key: String,
    pub provider_payment_id: Option<String>,
    pub provider_error: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything stored about one order, each list oldest first.
#[derive(Debug, Clone)]
pub struct OrderRecords {
    pub order: OrderRow,
    pub webhooks: Vec<WebhookRow>,
    pub checks: Vec<CheckRow>,
    pub transitions: Vec<OrderEventRow>,
    pub exceptions: Vec<ExceptionRow>,
    pub attempts: Vec<AttemptSummary>,
    /// Some list reached [`MAX_ROWS_PER_KIND`].
    pub truncated: bool,
}

/// `None` for an unknown reference. Webhooks are matched by the provider's
/// object id (they carry no order id); checks by order id or, for checks made
/// before the order was linked, by object id too. One repeatable-read
/// transaction, so the lists agree with each other.
pub fn for_reference(
    conn: &mut PgConnection,
    reference: &str,
) -> Result<Option<OrderRecords>, DbError> {
    conn.build_transaction().read_only().repeatable_read().run(
        |conn| -> Result<Option<OrderRecords>, DbError> {
            let Some(order) = orders::table
                .filter(orders::reference.eq(reference))
                .select(OrderRow::as_select())
                .first(conn)
                .optional()?
            else {
                return Ok(None);
            };
            let webhooks: Vec<WebhookRow> = webhook_events::table
                .filter(webhook_events::provider.eq(&order.provider))
                .filter(webhook_events::object_id.eq(&order.provider_payment_id))
                .order((webhook_events::received_at, webhook_events::id))
                .limit(MAX_ROWS_PER_KIND)
                .select(WebhookRow::as_select())
                .load(conn)?;
            let checks: Vec<CheckRow> = provider_checks::table
                .filter(
                    provider_checks::order_id
                        .eq(order.id)
                        .or(provider_checks::provider
                            .eq(&order.provider)
                            .and(provider_checks::object_id.eq(&order.provider_payment_id))),
                )
                .order((provider_checks::requested_at, provider_checks::id))
                .limit(MAX_ROWS_PER_KIND)
                .select(CheckRow::as_select())
                .load(conn)?;
            let transitions: Vec<OrderEventRow> = order_events::table
                .filter(order_events::order_id.eq(order.id))
                .order(order_events::id)
                .limit(MAX_ROWS_PER_KIND)
                .select(OrderEventRow::as_select())
                .load(conn)?;
            let exceptions: Vec<ExceptionRow> = reconciliation_exceptions::table
                .filter(reconciliation_exceptions::order_id.eq(order.id))
                .order(reconciliation_exceptions::id)
                .limit(MAX_ROWS_PER_KIND)
                .select(ExceptionRow::as_select())
                .load(conn)?;
            let attempts: Vec<AttemptSummary> = payment_attempts::table
                .filter(payment_attempts::reference.eq(&order.reference))
                .order(payment_attempts::created_at)
                .limit(MAX_ROWS_PER_KIND)
                .select(AttemptSummary::as_select())
                .load(conn)?;
            let full = |n: usize| n as i64 >= MAX_ROWS_PER_KIND;
            let truncated = full(webhooks.len())
                || full(checks.len())
                || full(transitions.len())
                || full(exceptions.len())
                || full(attempts.len());
            Ok(Some(OrderRecords {
                order,
                webhooks,
                checks,
                transitions,
                exceptions,
                attempts,
                truncated,
            }))
        },
    )
}
