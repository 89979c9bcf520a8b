//! The report as one self-contained HTML page: inline CSS and an inline SVG
//! chart, no scripts, fonts or CDNs, so it renders the same offline.
//!
//! Rendered by askama from `shared/templates/report.html`, which escapes every
//! value by default: merchant references, provider ids and exception details
//! are outside input and must never become markup. This module only prepares
//! plain values (formatted amounts, chart geometry); it builds no HTML itself.

use askama::Template;
use chrono::NaiveDate;

use super::chart::{self, BUCKETS, Chart, bucket};
use super::{ReportRow, Scope, Summary, Tally};
use crate::domain::ExceptionKind;
use crate::domain::money::format_cop;

/// Order rows shown on the page; the CSV has them all.
pub const MAX_ORDER_ROWS: usize = 1_000;

/// What the page shows besides the summary: every row with an exception,
/// and the first [`MAX_ORDER_ROWS`] rows.
pub struct PageRows {
    pub with_exceptions: Vec<ReportRow>,
    pub first_rows: Vec<ReportRow>,
    pub total_rows: u64,
}

impl PageRows {
    pub fn new() -> Self {
        Self {
            with_exceptions: Vec::new(),
            first_rows: Vec::new(),
            total_rows: 0,
        }
    }

    pub fn add(&mut self, row: &ReportRow) {
        self.total_rows += 1;
        if row.exception.is_some() {
            self.with_exceptions.push(row.clone());
        }
        if self.first_rows.len() < MAX_ORDER_ROWS {
            self.first_rows.push(row.clone());
        }
    }
}

impl Default for PageRows {
    fn default() -> Self {
        Self::new()
    }
}

fn link(scope: &Scope, date: NaiveDate, format: &str) -> String {
    let mut q = format!("?date={}&format={format}", date.format("%Y-%m-%d"));
    if let Some(p) = scope.provider {
        q.push_str(&format!("&provider={p}"));
    }
    q
}

struct Nav {
    href: String,
    label: String,
}

/// The download links of the standalone page; the console has none (its session cannot
/// authenticate the API's download) and shows a day picker instead.
struct Downloads {
    csv_href: String,
    json_href: String,
}

/// Where the page is shown, which decides how its day links are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// `GET /v1/reports/reconciliation?format=html` and the CLI: `?date=…&format=html`.
    Report,
    /// The finance console's report page: `?day=…`.
    Console,
}

struct Cell {
    key: &'static str,
    count: i64,
    minor: i128,
    amount: String,
}

struct SummaryRow {
    name: String,
    total: bool,
    cells: Vec<Cell>,
    exceptions: i64,
}

fn summary_row(name: &str, tally: &Tally, total: bool) -> SummaryRow {
    SummaryRow {
        name: name.to_owned(),
        total,
        cells: BUCKETS
            .iter()
            .map(|(key, _, _)| {
                let b = bucket(tally, key);
                Cell {
                    key,
                    count: b.count,
                    minor: b.amount,
                    amount: format_cop(b.amount),
                }
            })
            .collect(),
        exceptions: tally.exception_total(),
    }
}

struct KindCell {
    provider: String,
    count: i64,
}

struct KindRow {
    kind: &'static str,
    counts: Vec<KindCell>,
    total: i64,
}

fn kind_rows(summary: &Summary) -> Vec<KindRow> {
    ExceptionKind::ALL
        .iter()
        .map(|kind| {
            let k = kind.as_str();
            let n = |t: &Tally| t.exceptions.get(k).copied().unwrap_or(0);
            KindRow {
                kind: k,
                counts: summary
                    .providers
                    .iter()
                    .map(|p| KindCell {
                        provider: p.provider.clone(),
                        count: n(&p.tally),
                    })
                    .collect(),
                total: n(&summary.totals),
            }
        })
        .collect()
}

/// One table row, every field already a display string (escaped by the template).
struct Row<'a> {
    open: bool,
    reference: &'a str,
    provider: &'a str,
    payment_id: &'a str,
    cus: &'a str,
    state: &'a str,
    /// A fixed class name per known state; unknown states get the neutral badge.
    state_class: &'static str,
    provider_status: &'a str,
    order_amount: String,
    provider_amount: String,
    difference: String,
    last_checked: String,
    exception: &'a str,
    detail: &'a str,
}

/// The badge class of an order state, shared by the report page and the
/// console so a state looks the same everywhere.
pub fn state_class(state: &str) -> &'static str {
    match state {
        "paid" => "paid",
        "failed" => "failed",
        "pending" | "processing" => "pending",
        "expired" => "expired",
        "needs_review" => "review",
        _ => "other",
    }
}

fn row(r: &ReportRow) -> Row<'_> {
    fn amount<T: Into<i128>>(v: Option<T>) -> String {
        v.map(format_cop).unwrap_or_default()
    }
    let state = r.order_state.as_deref().unwrap_or("");
    Row {
        open: r.has_open_exception(),
        reference: r.reference.as_deref().unwrap_or("— no order —"),
        provider: &r.provider,
        payment_id: r.provider_payment_id.as_deref().unwrap_or(""),
        cus: r.pse_cus.as_deref().unwrap_or(""),
        state,
        state_class: state_class(state),
        provider_status: r.provider_status.as_deref().unwrap_or(""),
        order_amount: amount(r.order_amount),
        provider_amount: amount(r.provider_amount),
        difference: amount(r.difference()),
        last_checked: r
            .last_checked_at
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        exception: r.exception.as_deref().unwrap_or(""),
        detail: r.detail.as_deref().unwrap_or(""),
    }
}

/// The standalone page: the body below inside a document with its inline CSS.
#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    date: &'a str,
    body: &'a str,
}

/// The report's content, without the document around it; the console puts it in its own layout.
#[derive(Template)]
#[template(path = "report_body.html")]
struct Body<'a> {
    date: String,
    provider: Option<String>,
    generated_at: &'a str,
    prev: Option<Nav>,
    next: Option<Nav>,
    downloads: Option<Downloads>,
    exception_count: usize,
    open_count: usize,
    providers: Vec<String>,
    bucket_labels: Vec<&'static str>,
    kinds: Vec<KindRow>,
    summary: Vec<SummaryRow>,
    chart: Chart,
    exception_rows: Vec<Row<'a>>,
    order_rows: Vec<Row<'a>>,
    total_rows: u64,
    /// Set when the page shows fewer rows than the day has.
    shown: Option<usize>,
}

/// The CSS of the report, for a page that shows [`render_body`] in its own layout.
pub const CSS: &str = include_str!("../../templates/report.css");

/// The whole page.
pub fn render(
    scope: &Scope,
    summary: &Summary,
    rows: &PageRows,
    generated_at: &str,
) -> Result<String, askama::Error> {
    let body = render_body(scope, summary, rows, generated_at, Host::Report)?;
    Page {
        date: &scope.date.format("%Y-%m-%d").to_string(),
        body: &body,
    }
    .render()
}

/// The report's content (headings, tables, chart) as an HTML fragment, every value escaped.
pub fn render_body(
    scope: &Scope,
    summary: &Summary,
    rows: &PageRows,
    generated_at: &str,
    host: Host,
) -> Result<String, askama::Error> {
    let nav = |d: NaiveDate| Nav {
        href: match host {
            Host::Report => link(scope, d, "html"),
            Host::Console => format!("?day={}", d.format("%Y-%m-%d")),
        },
        label: d.format("%Y-%m-%d").to_string(),
    };
    let mut exceptions: Vec<&ReportRow> = rows.with_exceptions.iter().collect();
    exceptions.sort_by_key(|r| !r.has_open_exception());
    let mut summary_rows: Vec<SummaryRow> = summary
        .providers
        .iter()
        .map(|p| summary_row(&p.provider, &p.tally, false))
        .collect();
    summary_rows.push(summary_row("total", &summary.totals, true));
    Body {
        date: scope.date.format("%Y-%m-%d").to_string(),
        provider: scope.provider.map(|p| p.to_string()),
        generated_at,
        prev: scope.date.pred_opt().map(nav),
        next: scope.date.succ_opt().map(nav),
        downloads: (host == Host::Report).then(|| Downloads {
            csv_href: link(scope, scope.date, "csv"),
            json_href: link(scope, scope.date, "json"),
        }),
        exception_count: rows.with_exceptions.len(),
        open_count: exceptions.iter().filter(|r| r.has_open_exception()).count(),
        providers: summary
            .providers
            .iter()
            .map(|p| p.provider.clone())
            .collect(),
        bucket_labels: BUCKETS.iter().map(|(_, label, _)| *label).collect(),
        kinds: kind_rows(summary),
        summary: summary_rows,
        chart: chart::layout(summary),
        exception_rows: exceptions.into_iter().map(row).collect(),
        order_rows: rows.first_rows.iter().map(row).collect(),
        total_rows: rows.total_rows,
        shown: (rows.total_rows > rows.first_rows.len() as u64).then_some(rows.first_rows.len()),
    }
    .render()
}

#[cfg(test)]
mod tests;
