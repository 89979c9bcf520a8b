//! The report as one self-contained HTML page: inline CSS and an inline SVG
//! chart, no scripts, fonts or CDNs, so it renders the same offline.

use std::fmt::Write as _;

use chrono::{NaiveDate, SecondsFormat};

use super::{Bucket, ReportRow, Scope, Summary, Tally};
use crate::domain::money::format_major;
use crate::domain::{Currency, ExceptionKind};

/// Order rows shown on the page; the CSV has them all.
pub const MAX_ORDER_ROWS: usize = 1_000;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pesos(minor: impl Into<i128>) -> String {
    format_major(minor, Currency::Cop)
}

const BUCKETS: [(&str, &str, &str); 5] = [
    ("paid", "Paid", "#2e7d32"),
    ("failed", "Failed", "#c62828"),
    ("pending", "Pending / processing", "#f9a825"),
    ("expired", "Expired", "#6d4c41"),
    ("needs_review", "Needs review", "#6a1b9a"),
];

fn bucket(t: &Tally, name: &str) -> Bucket {
    match name {
        "paid" => t.paid,
        "failed" => t.failed,
        "pending" => t.pending,
        "expired" => t.expired,
        _ => t.needs_review,
    }
}

fn link(scope: &Scope, date: NaiveDate, format: &str) -> String {
    let mut q = format!("?date={}&format={format}", date.format("%Y-%m-%d"));
    if let Some(p) = scope.provider {
        q.push_str(&format!("&provider={p}"));
    }
    q
}

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

fn summary_table(out: &mut String, summary: &Summary) {
    out.push_str("<table class=\"summary\" id=\"summary\"><thead><tr><th>Provider</th>");
    for (_, label, _) in BUCKETS {
        let _ = write!(out, "<th colspan=\"2\">{label}</th>");
    }
    out.push_str("<th>Exceptions</th></tr><tr><th></th>");
    for _ in BUCKETS {
        out.push_str("<th>count</th><th>amount</th>");
    }
    out.push_str("<th>open + resolved</th></tr></thead><tbody>");
    let rows = summary
        .providers
        .iter()
        .map(|p| (p.provider.as_str(), &p.tally, false))
        .chain(std::iter::once(("total", &summary.totals, true)));
    for (name, tally, total) in rows {
        let _ = write!(
            out,
            "<tr{}><th scope=\"row\">{}</th>",
            if total { " class=\"total\"" } else { "" },
            escape(name)
        );
        for (key, _, _) in BUCKETS {
            let b = bucket(tally, key);
            let _ = write!(
                out,
                "<td class=\"num\" data-provider=\"{p}\" data-metric=\"{key}.count\">{c}</td>\
                 <td class=\"num\" data-provider=\"{p}\" data-metric=\"{key}.amount\" data-minor=\"{a}\">{h}</td>",
                p = escape(name),
                c = b.count,
                a = b.amount,
                h = pesos(b.amount),
            );
        }
        let _ = write!(
            out,
            "<td class=\"num\" data-provider=\"{}\" data-metric=\"exceptions\">{}</td></tr>",
            escape(name),
            tally.exception_total()
        );
    }
    out.push_str("</tbody></table>");
}

fn exception_table(out: &mut String, summary: &Summary) {
    out.push_str("<table class=\"kinds\" id=\"exception-kinds\"><thead><tr><th>Exception</th>");
    for p in &summary.providers {
        let _ = write!(out, "<th>{}</th>", escape(&p.provider));
    }
    out.push_str("<th>total</th></tr></thead><tbody>");
    for kind in ExceptionKind::ALL {
        let k = kind.as_str();
        let _ = write!(out, "<tr><th scope=\"row\">{k}</th>");
        for p in &summary.providers {
            let n = p.tally.exceptions.get(k).copied().unwrap_or(0);
            let _ = write!(
                out,
                "<td class=\"num{}\" data-provider=\"{}\" data-metric=\"exception.{k}\">{n}</td>",
                if n > 0 { " flag" } else { "" },
                escape(&p.provider)
            );
        }
        let n = summary.totals.exceptions.get(k).copied().unwrap_or(0);
        let _ = write!(
            out,
            "<td class=\"num\" data-provider=\"total\" data-metric=\"exception.{k}\">{n}</td></tr>"
        );
    }
    out.push_str("</tbody></table>");
}

/// Grouped bars: amount per provider and state bucket.
fn chart(out: &mut String, summary: &Summary) {
    let max = summary
        .providers
        .iter()
        .flat_map(|p| BUCKETS.iter().map(|(k, _, _)| bucket(&p.tally, k).amount))
        .max()
        .unwrap_or(0)
        .max(1);
    let (bar_w, gap, group_gap, height, top, left) = (22, 4, 36, 220, 20, 10);
    let group_w = BUCKETS.len() * (bar_w + gap);
    let width = left + summary.providers.len().max(1) * (group_w + group_gap) + 10;
    let _ = write!(
        out,
        "<svg id=\"chart\" role=\"img\" aria-label=\"Amounts by provider and state\" width=\"{width}\" height=\"{}\" \
         viewBox=\"0 0 {width} {}\" xmlns=\"http://www.w3.org/2000/svg\">",
        height + top + 40,
        height + top + 40
    );
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{width}\" y2=\"{y}\" stroke=\"#999\"/>",
        y = top + height
    );
    for (i, p) in summary.providers.iter().enumerate() {
        let x0 = left + i * (group_w + group_gap);
        for (j, (key, label, color)) in BUCKETS.iter().enumerate() {
            let b = bucket(&p.tally, key);
            let h = ((b.amount as f64 / max as f64) * height as f64).round() as usize;
            let x = x0 + j * (bar_w + gap);
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{bar_w}\" height=\"{h}\" fill=\"{color}\" \
                 data-provider=\"{p}\" data-metric=\"{key}.amount\"><title>{p} {label}: {amount}</title></rect>",
                y = top + height - h,
                p = escape(&p.provider),
                amount = pesos(b.amount)
            );
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
            x0 + group_w / 2,
            top + height + 18,
            escape(&p.provider)
        );
    }
    out.push_str("</svg><p class=\"legend\">");
    for (_, label, color) in BUCKETS {
        let _ = write!(
            out,
            "<span><i style=\"background:{color}\"></i>{label}</span>"
        );
    }
    out.push_str("</p>");
}

fn rows_table(out: &mut String, id: &str, rows: &[ReportRow]) {
    let _ = write!(
        out,
        "<table class=\"rows\" id=\"{id}\"><thead><tr><th>Reference</th><th>Provider</th><th>Payment id</th>\
         <th>CUS</th><th>State</th><th>Provider status</th><th>Order amount</th><th>Provider amount</th>\
         <th>Difference</th><th>Last checked (UTC)</th><th>Exception</th><th>Detail</th></tr></thead><tbody>"
    );
    for r in rows {
        fn amt<T: Into<i128>>(v: Option<T>) -> String {
            v.map(pesos).unwrap_or_default()
        }
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if r.has_open_exception() { "open" } else { "" },
            escape(r.reference.as_deref().unwrap_or("— no order —")),
            escape(&r.provider),
            escape(r.provider_payment_id.as_deref().unwrap_or("")),
            escape(r.pse_cus.as_deref().unwrap_or("")),
            escape(r.order_state.as_deref().unwrap_or("")),
            escape(r.provider_status.as_deref().unwrap_or("")),
            amt(r.order_amount),
            amt(r.provider_amount),
            amt(r.difference()),
            r.last_checked_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_default(),
            escape(r.exception.as_deref().unwrap_or("")),
            escape(r.detail.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</tbody></table>");
}

const STYLE: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#222}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}nav a{margin-right:14px}\
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}\
table.rows{max-width:100%}table.rows td{overflow-wrap:anywhere}table.rows td:last-child{min-width:16em}\
thead th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}tr.total th,tr.total td{font-weight:600;background:#fafafa}\
td.flag{background:#fdecea;font-weight:600}tr.open td{background:#fff8e1}.mono{font-family:ui-monospace,monospace;font-size:12px}\
.legend span{margin-right:14px}.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}\
.muted{color:#666}";

/// The whole page.
pub fn render(scope: &Scope, summary: &Summary, rows: &PageRows, generated_at: &str) -> String {
    let date = scope.date.format("%Y-%m-%d").to_string();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Reconciliation {date}</title><style>{STYLE}</style></head><body>\
         <h1>Reconciliation report — <span id=\"business-date\">{date}</span></h1>\
         <p class=\"muted\">Business day in America/Bogota{}. Generated {}. Amounts in Colombian pesos.</p><nav>",
        scope
            .provider
            .map(|p| format!(", provider {p}"))
            .unwrap_or_default(),
        escape(generated_at)
    );
    if let Some(prev) = scope.date.pred_opt() {
        let _ = write!(
            out,
            "<a id=\"prev-day\" href=\"{}\">← {}</a>",
            link(scope, prev, "html"),
            prev
        );
    }
    if let Some(next) = scope.date.succ_opt() {
        let _ = write!(
            out,
            "<a id=\"next-day\" href=\"{}\">{} →</a>",
            link(scope, next, "html"),
            next
        );
    }
    let _ = write!(
        out,
        "<a id=\"csv\" href=\"{}\">Download CSV</a><a href=\"{}\">JSON</a></nav>",
        link(scope, scope.date, "csv"),
        link(scope, scope.date, "json")
    );

    let open = rows
        .with_exceptions
        .iter()
        .filter(|r| r.has_open_exception())
        .count();
    let _ = write!(
        out,
        "<h2>Exceptions</h2><p id=\"exception-count\">{} rows with exceptions, <strong>{open} still open</strong>.</p>",
        rows.with_exceptions.len()
    );
    exception_table(&mut out, summary);
    let mut ordered = rows.with_exceptions.clone();
    ordered.sort_by_key(|r| !r.has_open_exception());
    rows_table(&mut out, "exception-rows", &ordered);

    out.push_str("<h2>Summary</h2>");
    summary_table(&mut out, summary);
    out.push_str("<h2>Amounts by provider and state</h2>");
    chart(&mut out, summary);

    let _ = write!(
        out,
        "<h2>Orders</h2><p class=\"muted\" id=\"row-count\" data-total=\"{}\">{} rows{}.</p>",
        rows.total_rows,
        rows.total_rows,
        if rows.total_rows as usize > rows.first_rows.len() {
            format!(
                ", the first {} shown; the CSV has them all",
                rows.first_rows.len()
            )
        } else {
            String::new()
        }
    );
    rows_table(&mut out, "order-rows", &rows.first_rows);
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_page_with_no_orders_still_renders() {
        let scope = Scope {
            date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            provider: None,
        };
        let summary = Summary {
            providers: vec![],
            totals: Tally::default(),
        };
        let page = render(&scope, &summary, &PageRows::new(), "now");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("id=\"prev-day\" href=\"?date=2026-11-19&format=html\""));
        assert!(page.contains("id=\"csv\" href=\"?date=2026-11-20&format=csv\""));
        // Nothing to fetch: no scripts, stylesheets, images or fonts from anywhere.
        for external in ["<script", "<link", " src=", "@import", "url("] {
            assert!(!page.contains(external), "{external}");
        }
    }
}
