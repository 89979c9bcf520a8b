//! One row of the report as read from the database.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use serde::Serialize;

/// One report row; amounts in minor units (centavos).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName, Serialize)]
pub struct ReportRow {
    #[diesel(sql_type = Nullable<Text>)]
    pub reference: Option<String>,
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub provider_payment_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub pse_cus: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub bank_code: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub order_amount: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub provider_amount: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub order_state: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub provider_status: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub webhook_received_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_checked_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub exception: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub detail: Option<String>,
    #[serde(skip)]
    #[diesel(sql_type = Timestamptz)]
    pub sort_at: DateTime<Utc>,
}

impl ReportRow {
    /// `provider_amount − order_amount`, when both are known. Wide, so that
    /// no pair of stored amounts (old rows predate the amount bounds) overflows.
    pub fn difference(&self) -> Option<i128> {
        Some(i128::from(self.provider_amount?) - i128::from(self.order_amount?))
    }

    /// The exception kinds on this row (without the "(resolved)" marks).
    pub fn exception_kinds(&self) -> impl Iterator<Item = &str> {
        self.exception
            .as_deref()
            .unwrap_or("")
            .split("; ")
            .filter(|k| !k.is_empty())
            .map(|k| k.trim_end_matches(" (resolved)"))
    }

    pub fn has_open_exception(&self) -> bool {
        self.exception
            .as_deref()
            .unwrap_or("")
            .split("; ")
            .any(|k| !k.is_empty() && !k.ends_with("(resolved)"))
    }
}
