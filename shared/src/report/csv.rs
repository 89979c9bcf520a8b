//! CSV rendering with the exact columns of docs/ARCHITECTURE.md, "Daily reconciliation report".

use chrono::{DateTime, SecondsFormat, Utc};

use super::ReportRow;

pub const HEADER: [&str; 16] = [
    "business_date",
    "reference",
    "provider",
    "provider_payment_id",
    "pse_cus",
    "bank_code",
    "order_amount",
    "provider_amount",
    "difference",
    "currency",
    "order_state",
    "provider_status",
    "webhook_received_at",
    "last_checked_at",
    "exception",
    "detail",
];

fn ts(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// Appends CSV text to a buffer; one writer per response or file.
pub struct Encoder {
    writer: csv::Writer<Vec<u8>>,
    business_date: String,
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().from_writer(Vec::with_capacity(64 * 1024))
}

impl Encoder {
    pub fn new(business_date: &str) -> Self {
        Self {
            writer: writer(),
            business_date: business_date.to_owned(),
        }
    }

    pub fn header(&mut self) -> csv::Result<()> {
        self.writer.write_record(HEADER)
    }

    pub fn row(&mut self, r: &ReportRow) -> csv::Result<()> {
        self.writer.write_record([
            self.business_date.as_str(),
            r.reference.as_deref().unwrap_or(""),
            r.provider.as_str(),
            r.provider_payment_id.as_deref().unwrap_or(""),
            r.pse_cus.as_deref().unwrap_or(""),
            r.bank_code.as_deref().unwrap_or(""),
            &num(r.order_amount),
            &num(r.provider_amount),
            &num(r.difference()),
            r.currency.as_deref().unwrap_or(""),
            r.order_state.as_deref().unwrap_or(""),
            r.provider_status.as_deref().unwrap_or(""),
            &ts(r.webhook_received_at),
            &ts(r.last_checked_at),
            r.exception.as_deref().unwrap_or(""),
            r.detail.as_deref().unwrap_or(""),
        ])
    }

    /// Takes what has been encoded so far.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.writer, writer())
            .into_inner()
            .unwrap_or_default()
    }
}
