//! Counts and sums by state and exception kind: the report's summary.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ReportRow;
use crate::domain::ExceptionKind;

/// A count and a sum of order amounts. The sum is `i128`: amounts are `i64`
/// and a day may hold rows stored before amounts were bounded, so a sum of
/// them need not fit in `i64` (it always fits in `i128`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    pub count: i64,
    pub amount: i128,
}

impl Bucket {
    fn add(&mut self, amount: i64) {
        self.count = self.count.saturating_add(1);
        self.amount = self.amount.saturating_add(i128::from(amount));
    }
}

/// Counts and sums by state bucket, and exceptions by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub paid: Bucket,
    pub failed: Bucket,
    /// `pending` and `processing`.
    pub pending: Bucket,
    pub expired: Bucket,
    pub needs_review: Bucket,
    /// Every kind, zero when absent.
    pub exceptions: BTreeMap<String, i64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            paid: Bucket::default(),
            failed: Bucket::default(),
            pending: Bucket::default(),
            expired: Bucket::default(),
            needs_review: Bucket::default(),
            exceptions: ExceptionKind::ALL
                .iter()
                .map(|k| (k.as_str().to_owned(), 0))
                .collect(),
        }
    }
}

impl Tally {
    /// Adds one row. The summary is this fold over the rows, computed in SQL.
    pub fn add_row(&mut self, row: &ReportRow) {
        let amount = row.order_amount.unwrap_or(0);
        match row.order_state.as_deref() {
            Some("paid") => self.paid.add(amount),
            Some("failed") => self.failed.add(amount),
            Some("pending" | "processing") => self.pending.add(amount),
            Some("expired") => self.expired.add(amount),
            Some("needs_review") => self.needs_review.add(amount),
            _ => {}
        }
        for kind in row.exception_kinds() {
            *self.exceptions.entry(kind.to_owned()).or_insert(0) += 1;
        }
    }

    pub(super) fn merge(&mut self, other: &Tally) {
        for (a, b) in [
            (&mut self.paid, other.paid),
            (&mut self.failed, other.failed),
            (&mut self.pending, other.pending),
            (&mut self.expired, other.expired),
            (&mut self.needs_review, other.needs_review),
        ] {
            a.count = a.count.saturating_add(b.count);
            a.amount = a.amount.saturating_add(b.amount);
        }
        for (k, n) in &other.exceptions {
            *self.exceptions.entry(k.clone()).or_insert(0) += n;
        }
    }

    pub fn exception_total(&self) -> i64 {
        self.exceptions.values().sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderTally {
    pub provider: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub providers: Vec<ProviderTally>,
    pub totals: Tally,
}
