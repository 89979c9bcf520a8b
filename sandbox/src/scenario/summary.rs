//! The reconciliation summary a scenario expects, the one the product reports,
//! how they compare, and how they are printed. Same shape as the report's
//! `summary` (`GET /v1/reports/reconciliation?format=json`): per provider, a
//! count and a sum of order amounts (centavos) for each state bucket, and a
//! count per exception kind.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use shared::domain::{ExceptionKind, OrderState};

use super::plan::PaymentPlan;

/// A count and a sum of order amounts, in centavos.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Bucket {
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub amount: i64,
}

impl Bucket {
    fn add(&mut self, amount: i64) {
        self.count += 1;
        self.amount += amount;
    }
}

/// The state buckets of the report, in the order they are printed.
pub const BUCKETS: [&str; 5] = ["paid", "failed", "pending", "expired", "needs_review"];

/// One provider's figures (or the totals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Tally {
    #[serde(default)]
    pub paid: Bucket,
    #[serde(default)]
    pub failed: Bucket,
    /// `pending` and `processing`.
    #[serde(default)]
    pub pending: Bucket,
    #[serde(default)]
    pub expired: Bucket,
    #[serde(default)]
    pub needs_review: Bucket,
    /// Exception counts by kind; absent kinds count 0.
    #[serde(default)]
    pub exceptions: BTreeMap<String, i64>,
}

impl Tally {
    pub fn bucket(&self, name: &str) -> Bucket {
        match name {
            "paid" => self.paid,
            "failed" => self.failed,
            "pending" => self.pending,
            "expired" => self.expired,
            "needs_review" => self.needs_review,
            _ => Bucket::default(),
        }
    }

    /// Counts an order in the bucket of `state` (the report's buckets: processing is pending).
    pub fn add_order(&mut self, state: &str, amount: i64) {
        let bucket = match state {
            "paid" => &mut self.paid,
            "failed" => &mut self.failed,
            "pending" | "processing" => &mut self.pending,
            "expired" => &mut self.expired,
            "needs_review" => &mut self.needs_review,
            _ => return,
        };
        bucket.add(amount);
    }

    pub fn add_exception(&mut self, kind: &str) {
        *self.exceptions.entry(kind.to_owned()).or_insert(0) += 1;
    }

    pub fn exception(&self, kind: &str) -> i64 {
        self.exceptions.get(kind).copied().unwrap_or(0)
    }

    fn merge(&mut self, other: &Tally) {
        for name in BUCKETS {
            let b = other.bucket(name);
            let mine = match name {
                "paid" => &mut self.paid,
                "failed" => &mut self.failed,
                "pending" => &mut self.pending,
                "expired" => &mut self.expired,
                _ => &mut self.needs_review,
            };
            mine.count += b.count;
            mine.amount += b.amount;
        }
        for (k, n) in &other.exceptions {
            *self.exceptions.entry(k.clone()).or_insert(0) += n;
        }
    }

    /// Every exception kind worth printing or comparing: the product's seven, plus any other named.
    fn kinds<'a>(&'a self, other: &'a Tally) -> Vec<String> {
        let mut kinds: Vec<String> = ExceptionKind::ALL
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        for k in self.exceptions.keys().chain(other.exceptions.keys()) {
            if !kinds.contains(k) {
                kinds.push(k.clone());
            }
        }
        kinds
    }
}

/// Figures per provider (`mono`, `belvo`, `tpaga`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub providers: BTreeMap<String, Tally>,
}

impl Summary {
    pub fn totals(&self) -> Tally {
        let mut t = Tally::default();
        for tally in self.providers.values() {
            t.merge(tally);
        }
        t
    }

    fn provider_mut(&mut self, name: &str) -> &mut Tally {
        self.providers.entry(name.to_owned()).or_default()
    }

    /// What the plans must produce.
    pub fn expected(plans: &[PaymentPlan]) -> Self {
        let mut s = Self::default();
        for p in plans {
            let t = s.provider_mut(p.provider.as_str());
            if let Some(state) = p.expect.state {
                t.add_order(state.as_str(), p.amount_minor);
            }
            for k in &p.expect.exceptions {
                t.add_exception(k.as_str());
            }
        }
        s
    }

    /// From the report's rows: one per order (its exception kinds joined by
    /// `"; "`, resolved ones marked `" (resolved)"`), one per exception with no order.
    pub fn from_rows<'a>(rows: impl IntoIterator<Item = &'a ReportRow>) -> Self {
        let mut s = Self::default();
        for r in rows {
            let t = s.provider_mut(&r.provider);
            if let Some(state) = &r.order_state {
                t.add_order(state, r.order_amount.unwrap_or(0));
            }
            for kind in r.exception_kinds() {
                t.add_exception(kind);
            }
        }
        s
    }

    /// From orders as `GET /v1/orders` lists them (exceptions with no order cannot be seen this way).
    pub fn from_orders<'a>(orders: impl IntoIterator<Item = &'a OrderView>) -> Self {
        let mut s = Self::default();
        for o in orders {
            let t = s.provider_mut(&o.provider);
            t.add_order(&o.state, o.amount.amount);
            for e in &o.exceptions {
                t.add_exception(&e.kind);
            }
        }
        s
    }

    /// From the report's `summary`.
    pub fn from_report(summary: &ReportSummary) -> Self {
        let mut s = Self::default();
        for p in &summary.providers {
            s.provider_mut(&p.provider).merge(&p.tally);
        }
        s
    }

    /// Drops an exception kind everywhere (it cannot be observed from the source used).
    pub fn without_exception(&self, kind: &str) -> Self {
        let mut s = self.clone();
        for t in s.providers.values_mut() {
            t.exceptions.remove(kind);
        }
        s
    }
}

/// The report's JSON (only what the runner reads; other fields are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    #[serde(default)]
    pub business_date: String,
    pub summary: ReportSummary,
    #[serde(default)]
    pub rows: Vec<ReportRow>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReportSummary {
    #[serde(default)]
    pub providers: Vec<ProviderTally>,
    #[serde(default)]
    pub totals: Option<Tally>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProviderTally {
    pub provider: String,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReportRow {
    #[serde(default)]
    pub reference: Option<String>,
    pub provider: String,
    #[serde(default)]
    pub provider_payment_id: Option<String>,
    #[serde(default)]
    pub order_amount: Option<i64>,
    #[serde(default)]
    pub order_state: Option<String>,
    #[serde(default)]
    pub exception: Option<String>,
}

impl ReportRow {
    /// `"late_success; amount_mismatch (resolved)"` → `late_success`, `amount_mismatch`.
    pub fn exception_kinds(&self) -> impl Iterator<Item = &str> {
        self.exception
            .as_deref()
            .unwrap_or("")
            .split(';')
            .map(|k| k.trim().trim_end_matches("(resolved)").trim())
            .filter(|k| !k.is_empty())
    }
}

/// An order as the orders API shows it (only what the runner reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderView {
    pub reference: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub amount: AmountView,
    pub state: String,
    #[serde(default)]
    pub provider_status: Option<String>,
    #[serde(default)]
    pub last_checked_at: Option<String>,
    #[serde(default)]
    pub exceptions: Vec<ExceptionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AmountView {
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExceptionView {
    pub kind: String,
}

impl OrderView {
    /// Exception kinds, sorted (to compare with an expectation).
    pub fn exception_kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.exceptions.iter().map(|e| e.kind.as_str()).collect();
        k.sort_unstable();
        k
    }

    /// Whether the order shows exactly what the plan expects.
    pub fn matches(&self, state: OrderState, exceptions: &[ExceptionKind]) -> bool {
        let mut want: Vec<&str> = exceptions.iter().map(|k| k.as_str()).collect();
        want.sort_unstable();
        self.state == state.as_str() && self.exception_kinds() == want
    }
}

/// Pesos as the report page shows them (one formatter in shared, so the demo
/// and the page agree): `$ 12.345,50`, whole pesos without decimals.
pub fn pesos(minor: i64) -> String {
    shared::domain::money::format_cop(minor)
}

fn label(bucket: &str) -> &str {
    if bucket == "needs_review" {
        "needs review"
    } else {
        bucket
    }
}

/// One difference between what was expected and what was observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn describe(b: Bucket) -> String {
    format!("{} ({})", b.count, pesos(b.amount))
}

/// Every difference, provider by provider (then the totals), bucket by bucket, kind by kind.
pub fn compare(expected: &Summary, observed: &Summary) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let empty = Tally::default();
    let mut names: Vec<&String> = expected
        .providers
        .keys()
        .chain(observed.providers.keys())
        .collect();
    names.sort();
    names.dedup();
    let mut compare_tally = |who: &str, e: &Tally, o: &Tally| {
        for b in BUCKETS {
            let (eb, ob) = (e.bucket(b), o.bucket(b));
            if eb != ob {
                out.push(Mismatch(format!(
                    "{who} {}: expected {}, observed {}",
                    label(b),
                    describe(eb),
                    describe(ob)
                )));
            }
        }
        for k in e.kinds(o) {
            let (en, on) = (e.exception(&k), o.exception(&k));
            if en != on {
                out.push(Mismatch(format!(
                    "{who} {k} exceptions: expected {en}, observed {on}"
                )));
            }
        }
    };
    for name in names {
        let e = expected.providers.get(name).unwrap_or(&empty);
        let o = observed.providers.get(name).unwrap_or(&empty);
        compare_tally(name, e, o);
    }
    out
}

/// The report's own consistency: its totals equal the sum of its providers.
pub fn check_totals(summary: &ReportSummary) -> Vec<Mismatch> {
    let Some(totals) = &summary.totals else {
        return Vec::new();
    };
    let sum = Summary::from_report(summary).totals();
    let mut out = Vec::new();
    for b in BUCKETS {
        if totals.bucket(b) != sum.bucket(b) {
            out.push(Mismatch(format!(
                "report totals {}: {} but its providers add up to {}",
                label(b),
                describe(totals.bucket(b)),
                describe(sum.bucket(b))
            )));
        }
    }
    for k in totals.kinds(&sum) {
        if totals.exception(&k) != sum.exception(&k) {
            out.push(Mismatch(format!(
                "report totals {k} exceptions: {} but its providers add up to {}",
                totals.exception(&k),
                sum.exception(&k)
            )));
        }
    }
    out
}

/// The summary as a table: one line of state buckets per provider and one of exceptions.
pub fn render(summary: &Summary) -> String {
    let mut rows: Vec<(String, Tally)> = summary
        .providers
        .iter()
        .map(|(p, t)| (p.clone(), t.clone()))
        .collect();
    rows.push(("total".to_owned(), summary.totals()));
    let cell = |b: Bucket| format!("{:>4}  {:>14}", b.count, pesos(b.amount));
    let mut out = String::new();
    let _ = write!(out, "{:<9}", "provider");
    for b in BUCKETS {
        let _ = write!(out, " | {:^20}", label(b));
    }
    out.push('\n');
    let _ = writeln!(out, "{}", "-".repeat(9 + 5 * 23));
    for (name, t) in &rows {
        let _ = write!(out, "{name:<9}");
        for b in BUCKETS {
            let _ = write!(out, " | {}", cell(t.bucket(b)));
        }
        out.push('\n');
        let kinds: Vec<String> = t
            .exceptions
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "{:<9}   exceptions: {}",
            "",
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(" · ")
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::plan::{Case, payment};
    use shared::domain::Provider;

    fn plans() -> Vec<PaymentPlan> {
        vec![
            payment(Case::Success, Provider::Mono, 0, 10_000_000),
            payment(Case::Success, Provider::Mono, 1, 5_000_000),
            payment(Case::AmountMismatch, Provider::Belvo, 0, 2_000_000),
            payment(Case::Stuck, Provider::Belvo, 0, 300_000),
            payment(Case::UnknownPayment, Provider::Tpaga, 0, 700_000),
            payment(Case::LateSuccess, Provider::Tpaga, 0, 100_000_000),
        ]
    }

    const REPORT: &str = r#"{
      "business_date": "2026-11-21", "timezone": "America/Bogota", "generated_at": "2026-11-21T15:00:00Z",
      "summary": {
        "providers": [
          {"provider": "belvo", "paid": {"count": 0, "amount": 0}, "failed": {"count": 0, "amount": 0},
           "pending": {"count": 1, "amount": 300000}, "expired": {"count": 0, "amount": 0},
           "needs_review": {"count": 1, "amount": 2000000},
           "exceptions": {"amount_mismatch": 1, "unknown_payment": 0, "duplicate_payment": 0, "status_conflict": 0,
                          "late_success": 0, "stale_pending": 1, "provider_error": 0}},
          {"provider": "mono", "paid": {"count": 2, "amount": 15000000}, "failed": {"count": 0, "amount": 0},
           "pending": {"count": 0, "amount": 0}, "expired": {"count": 0, "amount": 0},
           "needs_review": {"count": 0, "amount": 0}, "exceptions": {"amount_mismatch": 0}},
          {"provider": "tpaga", "paid": {"count": 1, "amount": 100000000}, "failed": {"count": 0, "amount": 0},
           "pending": {"count": 0, "amount": 0}, "expired": {"count": 0, "amount": 0},
           "needs_review": {"count": 0, "amount": 0},
           "exceptions": {"unknown_payment": 1, "late_success": 1}}
        ],
        "totals": {"paid": {"count": 3, "amount": 115000000}, "failed": {"count": 0, "amount": 0},
                   "pending": {"count": 1, "amount": 300000}, "expired": {"count": 0, "amount": 0},
                   "needs_review": {"count": 1, "amount": 2000000},
                   "exceptions": {"amount_mismatch": 1, "unknown_payment": 1, "late_success": 1, "stale_pending": 1}}
      },
      "rows": [
        {"business_date": "2026-11-21", "reference": "r-004-stuck", "provider": "belvo", "provider_payment_id": "x",
         "pse_cus": null, "bank_code": null, "order_amount": 300000, "provider_amount": 300000, "difference": 0,
         "currency": "COP", "order_state": "processing", "provider_status": "PROCESSING",
         "webhook_received_at": null, "last_checked_at": null, "exception": "stale_pending", "detail": "…"},
        {"business_date": "2026-11-21", "reference": null, "provider": "tpaga", "provider_payment_id": "pse-1",
         "order_amount": null, "order_state": null, "exception": "unknown_payment", "detail": "…"},
        {"reference": "r-006-late-success", "provider": "tpaga", "order_amount": 100000000,
         "order_state": "paid", "exception": "late_success; amount_mismatch (resolved)"}
      ]
    }"#;

    #[test]
    fn expected_counts_orders_by_bucket_and_exceptions_by_provider() {
        let e = Summary::expected(&plans());
        let mono = &e.providers["mono"];
        assert_eq!(
            mono.paid,
            Bucket {
                count: 2,
                amount: 15_000_000
            }
        );
        let belvo = &e.providers["belvo"];
        assert_eq!(belvo.needs_review.count, 1);
        assert_eq!(
            belvo.pending.amount, 300_000,
            "processing counts as pending"
        );
        assert_eq!(belvo.exception("amount_mismatch"), 1);
        assert_eq!(belvo.exception("stale_pending"), 1);
        let tpaga = &e.providers["tpaga"];
        // The unknown payment has no order: an exception but no bucket.
        assert_eq!(tpaga.paid.count, 1);
        assert_eq!(tpaga.exception("unknown_payment"), 1);
        assert_eq!(tpaga.exception("late_success"), 1);
        let totals = e.totals();
        assert_eq!(totals.paid.count, 3);
        assert_eq!(
            BUCKETS.iter().map(|b| totals.bucket(b).count).sum::<i64>(),
            5
        );
    }

    #[test]
    fn a_matching_report_has_no_mismatches() {
        let report: Report = serde_json::from_str(REPORT).unwrap();
        let observed = Summary::from_report(&report.summary);
        assert_eq!(compare(&Summary::expected(&plans()), &observed), vec![]);
        assert_eq!(check_totals(&report.summary), vec![]);
    }

    #[test]
    fn each_difference_is_named() {
        let report: Report = serde_json::from_str(REPORT).unwrap();
        let mut observed = Summary::from_report(&report.summary);
        let mono = observed.providers.get_mut("mono").unwrap();
        mono.paid = Bucket {
            count: 1,
            amount: 10_000_000,
        };
        mono.failed = Bucket {
            count: 1,
            amount: 5_000_000,
        };
        mono.exceptions.insert("status_conflict".to_owned(), 1);
        observed.providers.remove("tpaga");
        let m: Vec<String> = compare(&Summary::expected(&plans()), &observed)
            .into_iter()
            .map(|m| m.0)
            .collect();
        assert!(
            m.contains(&"mono paid: expected 2 ($ 150.000), observed 1 ($ 100.000)".to_owned())
        );
        assert!(m.contains(&"mono failed: expected 0 ($ 0), observed 1 ($ 50.000)".to_owned()));
        assert!(m.contains(&"mono status_conflict exceptions: expected 0, observed 1".to_owned()));
        assert!(m.contains(&"tpaga unknown_payment exceptions: expected 1, observed 0".to_owned()));
        assert!(m.contains(&"tpaga paid: expected 1 ($ 1.000.000), observed 0 ($ 0)".to_owned()));
        assert_eq!(m.len(), 6, "{m:#?}");
    }

    #[test]
    fn inconsistent_report_totals_are_reported() {
        let mut report: Report = serde_json::from_str(REPORT).unwrap();
        let totals = report.summary.totals.as_mut().unwrap();
        totals.paid.count = 4;
        totals.exceptions.insert("late_success".to_owned(), 0);
        let m = check_totals(&report.summary);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].0.contains("report totals paid: 4"));
    }

    #[test]
    fn rows_fold_into_the_same_summary() {
        let report: Report = serde_json::from_str(REPORT).unwrap();
        let s = Summary::from_rows(&report.rows);
        assert_eq!(s.providers["belvo"].pending.count, 1);
        assert_eq!(s.providers["belvo"].exception("stale_pending"), 1);
        assert_eq!(s.providers["tpaga"].exception("unknown_payment"), 1);
        // A resolved exception still counts; its mark is not part of the kind.
        assert_eq!(s.providers["tpaga"].exception("amount_mismatch"), 1);
        assert_eq!(s.providers["tpaga"].paid.amount, 100_000_000);
        assert_eq!(s.providers["tpaga"].pending.count, 0);
    }

    #[test]
    fn orders_fold_and_match_expectations() {
        let order: OrderView = serde_json::from_value(serde_json::json!({
            "id": "6c1f", "reference": "r-1", "provider": "mono", "provider_payment_id": "cint_x",
            "amount": {"amount": 2_000_000, "currency": "COP"}, "state": "needs_review",
            "exceptions": [{"id": 2, "kind": "status_conflict", "detail": "d", "opened_at": "t", "resolved_at": null},
                           {"id": 1, "kind": "amount_mismatch", "detail": "d", "opened_at": "t", "resolved_at": null}]
        }))
        .unwrap();
        assert!(order.matches(
            OrderState::NeedsReview,
            &[ExceptionKind::StatusConflict, ExceptionKind::AmountMismatch]
        ));
        assert!(!order.matches(OrderState::NeedsReview, &[ExceptionKind::AmountMismatch]));
        assert!(!order.matches(OrderState::Paid, &[]));
        let s = Summary::from_orders([&order]);
        assert_eq!(s.providers["mono"].needs_review.amount, 2_000_000);
        assert_eq!(s.providers["mono"].exception("amount_mismatch"), 1);
        assert_eq!(
            s.without_exception("amount_mismatch").providers["mono"].exception("amount_mismatch"),
            0
        );
    }

    #[test]
    fn pesos_are_grouped_colombian_style() {
        assert_eq!(pesos(0), "$ 0");
        assert_eq!(pesos(4_590_000), "$ 45.900");
        assert_eq!(pesos(123_456_789), "$ 1.234.567,89");
        assert_eq!(pesos(100_000_000_000), "$ 1.000.000.000");
        assert_eq!(pesos(-150), "-$ 1,50");
    }

    #[test]
    fn the_table_has_a_line_per_provider_and_totals() {
        let text = render(&Summary::expected(&plans()));
        assert!(text.contains("needs review"));
        let mono = text.lines().find(|l| l.starts_with("mono")).unwrap();
        assert!(mono.contains("$ 150.000"), "{mono}");
        assert!(text.lines().any(|l| l.starts_with("total")));
        assert!(text.contains("exceptions: amount_mismatch 1 · stale_pending 1"));
        assert!(text.contains("exceptions: late_success 1 · unknown_payment 1"));
    }
}
