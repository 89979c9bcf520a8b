//! Rows as diesel reads and writes them. Domain meaning lives in `crate::domain`;
//! these are the storage shapes.

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{order_events, orders, reconciliation_exceptions};

/// `Debug` is written by hand below: `payer` holds a document number, a
/// name and an e-mail, which must not reach a log through a stray `{:?}`.
#[derive(Clone, Queryable, Selectable, Identifiable)]
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

/// `Debug` by hand, as for [`OrderRow`]: the payer is personal data.
#[derive(Insertable)]
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

/// `None` is written as NULL (the columns' default), so the insert has one
/// text and diesel keeps it prepared.
#[derive(Debug, Insertable)]
#[diesel(table_name = order_events, treat_none_as_default_value = false)]
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

/// What `Debug` shows of a stored payer: whether there is one, never its content.
fn redacted_payer(payer: &Option<serde_json::Value>) -> &'static str {
    match payer {
        Some(_) => "Some([redacted])",
        None => "None",
    }
}

impl fmt::Debug for OrderRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderRow")
            .field("id", &self.id)
            .field("reference", &self.reference)
            .field("provider", &self.provider)
            .field("provider_payment_id", &self.provider_payment_id)
            .field("amount_minor", &self.amount_minor)
            .field("currency", &self.currency)
            .field("description", &self.description)
            .field("payer", &format_args!("{}", redacted_payer(&self.payer)))
            .field("request_hash", &self.request_hash)
            .field("state", &self.state)
            .field("provider_status", &self.provider_status)
            .field("pse_cus", &self.pse_cus)
            .field("bank_code", &self.bank_code)
            .field("provider_amount_minor", &self.provider_amount_minor)
            .field("last_checked_at", &self.last_checked_at)
            .field("next_check_at", &self.next_check_at)
            .field("check_count", &self.check_count)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("last_webhook_at", &self.last_webhook_at)
            .field("has_exceptions", &self.has_exceptions)
            .finish()
    }
}

impl fmt::Debug for NewOrderRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewOrderRow")
            .field("reference", &self.reference)
            .field("provider", &self.provider)
            .field("provider_payment_id", &self.provider_payment_id)
            .field("amount_minor", &self.amount_minor)
            .field("currency", &self.currency)
            .field("description", &self.description)
            .field("payer", &format_args!("{}", redacted_payer(&self.payer)))
            .field("request_hash", &self.request_hash)
            .field("next_check_at", &self.next_check_at)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payer() -> serde_json::Value {
        serde_json::json!({"document_type": "CC", "document_number": "1033711400",
                           "email": "ana@example.com", "name": "Ana Restrepo"})
    }

    fn assert_redacted(debug: &str) {
        for pii in ["1033711400", "ana@example.com", "Ana Restrepo"] {
            assert!(!debug.contains(pii), "{pii:?} in {debug}");
        }
        assert!(debug.contains("payer: Some([redacted])"), "{debug}");
    }

    #[test]
    fn debug_redacts_the_payer() {
        let now = Utc::now();
        let row = OrderRow {
            id: Uuid::nil(),
            reference: "ORD-1".into(),
            provider: "mono".into(),
            provider_payment_id: "cint_5dHsMj4uwhhujcVUTuw1OP".into(),
            amount_minor: 100,
            currency: "COP".into(),
            description: None,
            payer: Some(payer()),
            request_hash: "h".into(),
            state: "pending".into(),
            provider_status: None,
            pse_cus: None,
            bank_code: None,
            provider_amount_minor: None,
            last_checked_at: None,
            next_check_at: None,
            check_count: 0,
            created_at: now,
            updated_at: now,
            last_webhook_at: None,
            has_exceptions: false,
        };
        let debug = format!("{row:?} {row:#?}");
        assert_redacted(&debug);
        assert!(debug.contains("ORD-1"));
        let new = NewOrderRow {
            reference: "ORD-1",
            provider: "mono",
            provider_payment_id: "cint_5dHsMj4uwhhujcVUTuw1OP",
            amount_minor: 100,
            currency: "COP",
            description: None,
            payer: Some(payer()),
            request_hash: "h".into(),
            next_check_at: None,
            created_at: now,
            updated_at: now,
        };
        assert_redacted(&format!("{new:?} {new:#?}"));
    }
}
