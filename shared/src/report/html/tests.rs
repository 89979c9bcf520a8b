use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;
use crate::report::{Bucket, ProviderTally};

fn scope() -> Scope {
    Scope {
        date: NaiveDate::from_ymd_opt(2026, 11, 20).expect("date"),
        provider: None,
    }
}

fn hostile_row() -> ReportRow {
    ReportRow {
        reference: Some("<script>alert(1)</script>".to_owned()),
        provider: "mono".to_owned(),
        provider_payment_id: Some("pay_\"quoted\"".to_owned()),
        pse_cus: Some("O'Brien".to_owned()),
        bank_code: None,
        order_amount: Some(31_000_000),
        provider_amount: Some(31_000_050),
        currency: Some("COP".to_owned()),
        order_state: Some("processing".to_owned()),
        provider_status: Some("<b>ok</b>".to_owned()),
        webhook_received_at: None,
        last_checked_at: None,
        exception: Some("amount_mismatch".to_owned()),
        detail: Some("x\" onmouseover=\"alert(2)".to_owned()),
        sort_at: chrono::Utc::now(),
    }
}

fn summary() -> Summary {
    let tally = Tally {
        paid: Bucket {
            count: 3,
            amount: 123_456_750,
        },
        pending: Bucket {
            count: 1,
            amount: 31_000_000,
        },
        exceptions: BTreeMap::from([("amount_mismatch".to_owned(), 1)]),
        ..Tally::default()
    };
    Summary {
        providers: vec![ProviderTally {
            provider: "mono".to_owned(),
            tally: tally.clone(),
        }],
        totals: tally,
    }
}

fn page(rows: &PageRows) -> String {
    render(&scope(), &summary(), rows, "2026-11-21T05:00:00Z").expect("render")
}

#[test]
fn hostile_merchant_text_is_escaped_everywhere() {
    let mut rows = PageRows::new();
    rows.add(&hostile_row());
    let html = page(&rows);
    assert!(!html.contains("<script"), "raw script tag in the page");
    assert!(!html.contains("<b>ok"));
    assert!(!html.contains("pay_\"quoted\""));
    assert!(!html.contains("O'Brien"));
    assert!(!html.contains("\" onmouseover=\""));
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(
        html.contains("pay_&#34;quoted&#34;"),
        "double quote escaped"
    );
    assert!(html.contains("O&#39;Brien"), "single quote escaped");
}

#[test]
fn amounts_are_colombian_pesos_in_non_wrapping_cells() {
    let mut rows = PageRows::new();
    rows.add(&hostile_row());
    let html = page(&rows);
    assert!(html.contains("<td class=\"num amount\">$ 310.000</td>"));
    assert!(html.contains("<td class=\"num amount\">$ 310.000,50</td>"));
    assert!(
        html.contains("<td class=\"num amount\">$ 0,50</td>"),
        "difference"
    );
    assert!(html.contains(">$ 1.234.567,50</td>"), "summary amount");
    assert!(html.contains("data-minor=\"123456750\""));
    assert!(html.contains("<span class=\"badge b-pending\">processing</span>"));
    assert!(!html.contains("COP 310,000.00"));
}

#[test]
fn tables_are_labelled_for_screen_readers() {
    let html = page(&PageRows::new());
    assert_eq!(
        html.matches("<caption").count(),
        4,
        "every table has a caption"
    );
    assert!(html.contains("<th scope=\"row\">mono</th>"));
    assert!(html.contains("<th scope=\"col\" class=\"num\">Order amount</th>"));
    assert!(html.contains("role=\"img\" aria-labelledby=\"chart-title chart-desc\""));
    assert!(html.contains("<title id=\"chart-title\">"));
}

#[test]
fn the_chart_has_an_axis_gridlines_and_value_labels() {
    let html = page(&PageRows::new());
    // Largest bar $ 1.234.567,50 → steps of $ 500.000 up to $ 1.500.000.
    for tick in ["$ 0", "$ 500.000", "$ 1.000.000", "$ 1.500.000"] {
        assert!(
            html.contains(&format!("class=\"tick\">{tick}</text>")),
            "{tick}"
        );
    }
    assert!(!html.contains("class=\"tick\">$ 2.000.000<"));
    assert!(html.contains("id=\"chart-axis-label\">Amount (COP, pesos)</text>"));
    assert!(html.contains("class=\"value\">$ 1.234.567,50</text>"));
    assert!(html.contains("<title>mono · Paid: $ 1.234.567,50 (3 orders)</title>"));
}

#[test]
fn a_page_with_no_orders_still_renders() {
    let summary = Summary {
        providers: vec![],
        totals: Tally::default(),
    };
    let page = render(&scope(), &summary, &PageRows::new(), "now").expect("render");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("id=\"prev-day\" href=\"?date=2026-11-19&#38;format=html\""));
    assert!(page.contains("id=\"csv\" href=\"?date=2026-11-20&#38;format=csv\""));
    // Nothing to fetch: no scripts, stylesheets, images or fonts from anywhere.
    for external in ["<script", "<link", " src=", "@import", "url("] {
        assert!(!page.contains(external), "{external}");
    }
}
