//! Rows as diesel reads and writes them. Domain meaning lives in `crate::domain`;
//! these are the storage shapes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{order_events, orders, reconciliation_exceptions};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct OrderRow {
    pub id: Uuid,
    pub reference: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub description: Option<String>,
    pub payer: Option<serde_json::Value>,
    pub request_hash: String,
    pub state: String,
    pub provider_status: Option<String>,
    pub pse_cus: Option<String>,
    pub bank_code: Option<String>,
    pub provider_amount_minor: Option<i64>,
    pub last_checked_at: Option<DateTime<Utc>>,
    pub next_check_at: Option<DateTime<Utc>>,
    pub check_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub has_exceptions: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = orders)]
pub struct NewOrderRow<'a> {
    pub reference: &'a str,
    pub provider: &'a str,
    pub provider_payment_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub description: Option<&'a str>,
    pub payer: Option<serde_json::Value>,
    pub request_hash: String,
    pub next_check_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = order_events, check_for_backend(diesel::pg::Pg))]
pub struct OrderEventRow {
    pub id: i64,
    pub order_id: Uuid,
    pub from_state: Option<String>,
    pub to_state: String,
    pub cause: String,
    pub provider_status: Option<String>,
    pub webhook_event_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub order_created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = order_events)]
pub struct NewOrderEvent<'a> {
    pub order_id: Uuid,
    pub from_state: Option<&'a str>,
    pub to_state: &'a str,
    pub cause: &'a str,
    pub provider_status: Option<&'a str>,
    pub webhook_event_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub order_created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reconciliation_exceptions, check_for_backend(diesel::pg::Pg))]
pub struct ExceptionRow {
    pub id: i64,
    pub order_id: Option<Uuid>,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub kind: String,
    pub detail: String,
    pub dedup_key: String,
    pub expected_amount_minor: Option<i64>,
    pub provider_amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}
