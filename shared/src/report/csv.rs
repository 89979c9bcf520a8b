//! CSV rendering with the exact columns of docs/ARCHITECTURE.md, "Daily reconciliation report".

use std::borrow::Cow;

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

fn num(n: Option<impl ToString>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// Text from merchants and providers (references, ids, CUS, details) must not
/// be run as a formula by a spreadsheet: a cell that starts with `=`, `+`, `-`,
/// `@`, tab or carriage return and is not a number gets a leading `'`, which
/// spreadsheets show as text. A number (`-100`, `+5`, `1.5`) stays as it is.
pub fn safe_cell(text: &str) -> Cow<'_, str> {
    let risky = text
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && !is_number(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn opt(v: &Option<String>) -> Cow<'_, str> {
    safe_cell(v.as_deref().unwrap_or(""))
}

/// A plain decimal number: optional sign, digits, optionally `.` and digits.
/// Deliberately narrow (no exponent, no spaces): anything else is text.
fn is_number(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let dotted = unsigned.contains('.');
    !int.is_empty() && digits(int) && digits(frac) && !(dotted && frac.is_empty())
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
        // Every text column goes through `safe_cell`, even those the product
        // writes itself (provider, state, exception kinds): cheap, and no
        // column has to be argued safe. Numbers and timestamps are ours.
        self.writer.write_record([
            &*safe_cell(&self.business_date),
            &*opt(&r.reference),
            &*safe_cell(&r.provider),
            &*opt(&r.provider_payment_id),
            &*opt(&r.pse_cus),
            &*opt(&r.bank_code),
            &num(r.order_amount),
            &num(r.provider_amount),
            &num(r.difference()),
            &*opt(&r.currency),
            &*opt(&r.order_state),
            &*opt(&r.provider_status),
            &ts(r.webhook_received_at),
            &ts(r.last_checked_at),
            &*opt(&r.exception),
            &*opt(&r.detail),
        ])
    }

    /// Takes what has been encoded so far.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.writer, writer())
            .into_inner()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz_support::any_text;
    use proptest::prelude::*;

    const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

    fn row(reference: &str, detail: &str) -> ReportRow {
        ReportRow {
            reference: Some(reference.to_owned()),
            provider: "mono".into(),
            provider_payment_id: Some("@SUM(A1:A9)".into()),
            pse_cus: Some("+57 300".into()),
            bank_code: Some("-1+1".into()),
            order_amount: Some(10_100),
            provider_amount: Some(10_000),
            currency: Some("COP".into()),
            order_state: Some("needs_review".into()),
            provider_status: Some("\tcmd|' /C calc'!A0".into()),
            webhook_received_at: None,
            last_checked_at: None,
            exception: Some("amount_mismatch".into()),
            detail: Some(detail.to_owned()),
            sort_at: chrono::Utc::now(),
        }
    }

    fn cells(r: &ReportRow) -> Vec<String> {
        let mut e = Encoder::new("2026-11-20");
        e.row(r).unwrap();
        let bytes = e.take();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice());
        let record = reader.records().next().unwrap().unwrap();
        record.iter().map(str::to_owned).collect()
    }

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        let c = cells(&row("=HYPERLINK(\"http://x\")", "\rnext"));
        assert_eq!(c[1], "'=HYPERLINK(\"http://x\")");
        assert_eq!(c[3], "'@SUM(A1:A9)");
        assert_eq!(c[4], "'+57 300");
        assert_eq!(c[5], "'-1+1");
        assert_eq!(c[11], "'\tcmd|' /C calc'!A0");
        assert_eq!(c[15], "'\rnext");
        // The difference is negative and numeric: untouched.
        assert_eq!(c[8], "-100");
        assert_eq!(c[6], "10100");
    }

    #[test]
    fn numbers_are_recognised_narrowly() {
        for n in ["-100", "+5", "0", "-1.5", "1"] {
            assert_eq!(safe_cell(n), n, "{n}");
        }
        for t in [
            "-", "+", "-1e5", "- 1", "-1.2.3", "--1", "=1", "-.5", "-12.",
        ] {
            assert!(safe_cell(t).starts_with('\''), "{t}");
        }
        assert_eq!(safe_cell(""), "");
        assert_eq!(safe_cell("ORD-1"), "ORD-1");
    }

    proptest! {
        /// No cell made from arbitrary text starts with a formula character,
        /// unless it is a number.
        #[test]
        fn no_cell_starts_a_formula(text in any_text(), prefix in proptest::sample::select(FORMULA_START.to_vec())) {
            for t in [text.clone(), format!("{prefix}{text}")] {
                for c in cells(&row(&t, &t)) {
                    if c.starts_with(FORMULA_START) {
                        prop_assert!(is_number(&c), "{c:?}");
                    }
                }
            }
        }
    }
}
