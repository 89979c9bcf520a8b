//! The JSON report, written in pieces so its rows can be streamed.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{ReportRow, Scope, Summary};
use crate::domain::Provider;

#[derive(Serialize)]
pub struct Header<'a> {
    pub business_date: String,
    pub timezone: &'static str,
    pub generated_at: DateTime<Utc>,
    pub provider: Option<&'a str>,
    pub summary: &'a Summary,
}

impl<'a> Header<'a> {
    pub fn new(scope: &'a Scope, summary: &'a Summary) -> Self {
        Self {
            business_date: scope.date.format("%Y-%m-%d").to_string(),
            timezone: "America/Bogota",
            generated_at: Utc::now(),
            provider: scope.provider.map(Provider::as_str),
            summary,
        }
    }
}

/// The JSON report is `{header fields…, "rows": [ … ]}`; these write it in
/// pieces so rows can be streamed: first [`json_open`], then each row with
/// [`json_row`], then [`json_close`].
pub fn json_open(header: &Header<'_>) -> Vec<u8> {
    let mut head = serde_json::to_vec(header).unwrap_or_else(|_| b"{}".to_vec());
    head.pop(); // the closing brace
    head.extend_from_slice(b",\"rows\":[");
    head
}

/// One row as the JSON report writes it. Serialized straight to bytes (not
/// through `serde_json::Value`, which refuses integers beyond `u64`).
#[derive(Serialize)]
struct JsonRow<'a> {
    business_date: &'a str,
    reference: Option<&'a str>,
    provider: &'a str,
    provider_payment_id: Option<&'a str>,
    pse_cus: Option<&'a str>,
    bank_code: Option<&'a str>,
    order_amount: Option<i64>,
    provider_amount: Option<i64>,
    difference: Option<i128>,
    currency: Option<&'a str>,
    order_state: Option<&'a str>,
    provider_status: Option<&'a str>,
    webhook_received_at: Option<DateTime<Utc>>,
    last_checked_at: Option<DateTime<Utc>>,
    exception: Option<&'a str>,
    detail: Option<&'a str>,
}

pub fn json_row(row: &ReportRow, business_date: &str, first: bool, out: &mut Vec<u8>) {
    if !first {
        out.push(b',');
    }
    let value = JsonRow {
        business_date,
        reference: row.reference.as_deref(),
        provider: &row.provider,
        provider_payment_id: row.provider_payment_id.as_deref(),
        pse_cus: row.pse_cus.as_deref(),
        bank_code: row.bank_code.as_deref(),
        order_amount: row.order_amount,
        provider_amount: row.provider_amount,
        difference: row.difference(),
        currency: row.currency.as_deref(),
        order_state: row.order_state.as_deref(),
        provider_status: row.provider_status.as_deref(),
        webhook_received_at: row.webhook_received_at,
        last_checked_at: row.last_checked_at,
        exception: row.exception.as_deref(),
        detail: row.detail.as_deref(),
    };
    let _ = serde_json::to_writer(&mut *out, &value);
}

pub fn json_close() -> &'static [u8] {
    b"]}"
}
