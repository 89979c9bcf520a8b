//! The daily reconciliation report and the exception queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde_json::{Value, json};
use shared::testing::{ADMIN_KEY, FINANCE_KEY, MERCHANT_KEY};

use crate::helpers::*;

pub(crate) const DAY: &str = "2026-11-20"; // Bogota: [2026-11-20T05:00Z, 2026-11-21T05:00Z)

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

pub(crate) struct Fixture {
    pub(crate) conn: diesel::PgConnection,
}

impl Fixture {
    pub(crate) fn new(app: &TestApp) -> Self {
        Self {
            conn: app.db.connect(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn order(
        &mut self,
        reference: &str,
        provider: &str,
        amount: i64,
        state: &str,
        created: &str,
        provider_amount: Option<i64>,
    ) -> uuid::Uuid {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = SqlUuid)]
            id: uuid::Uuid,
        }
        let row: Id = diesel::sql_query(
            "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash, state, \
             provider_status, provider_amount_minor, pse_cus, bank_code, created_at, updated_at, last_checked_at) \
             VALUES ($1, $2, $3, $4, 'COP', 'h', $5, $6, $7, '3052043', '1007', $8, $8, $8) RETURNING id",
        )
        .bind::<Text, _>(reference)
        .bind::<Text, _>(provider)
        .bind::<Text, _>(format!("pay-{reference}"))
        .bind::<BigInt, _>(amount)
        .bind::<Text, _>(state)
        .bind::<Text, _>(format!("{state}-at-provider"))
        .bind::<Nullable<BigInt>, _>(provider_amount)
        .bind::<Timestamptz, _>(at(created))
        .get_result(&mut self.conn)
        .unwrap();
        row.id
    }

    /// A Mono order paid in full in the afternoon of [`DAY`].
    fn paid(&mut self, reference: &str, amount: i64) -> uuid::Uuid {
        self.order(
            reference,
            "mono",
            amount,
            "paid",
            "2026-11-20T15:00:00Z",
            Some(amount),
        )
    }

    fn event(&mut self, order: uuid::Uuid, from: &str, to: &str, when: &str) {
        diesel::sql_query("INSERT INTO order_events (order_id, from_state, to_state, cause, at, order_created_at) \
             VALUES ($1, $2, $3, 'sweep', $4, (SELECT created_at FROM orders WHERE id = $1))")
            .bind::<SqlUuid, _>(order)
            .bind::<Text, _>(from)
            .bind::<Text, _>(to)
            .bind::<Timestamptz, _>(at(when))
            .execute(&mut self.conn)
            .unwrap();
    }

    pub(crate) fn exception(
        &mut self,
        order: Option<uuid::Uuid>,
        provider: &str,
        kind: &str,
        detail: &str,
        opened: &str,
        provider_amount: Option<i64>,
    ) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = BigInt)]
            id: i64,
        }
        let row: Id = diesel::sql_query(
            "INSERT INTO reconciliation_exceptions (order_id, provider, provider_payment_id, kind, detail, dedup_key, \
             provider_amount_minor, currency, opened_at) VALUES ($1, $2, 'pay-x', $3, $4, $5, $6, 'COP', $7) RETURNING id",
        )
        .bind::<Nullable<SqlUuid>, _>(order)
        .bind::<Text, _>(provider)
        .bind::<Text, _>(kind)
        .bind::<Text, _>(detail)
        .bind::<Text, _>(format!("{kind}:{}:{detail}", order.map(|o| o.to_string()).unwrap_or_default()))
        .bind::<Nullable<BigInt>, _>(provider_amount)
        .bind::<Timestamptz, _>(at(opened))
        .get_result(&mut self.conn)
        .unwrap();
        row.id
    }
}

/// A day with every state bucket, orders touched from the day before, and exceptions.
pub(crate) fn business_day(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut f = Fixture::new(app);
    f.order(
        "ORD-A",
        "mono",
        10_000_000,
        "paid",
        "2026-11-20T15:00:00Z",
        Some(10_000_000),
    );
    f.order(
        "ORD-B",
        "mono",
        5_000_000,
        "failed",
        "2026-11-20T16:00:00Z",
        None,
    );
    f.order(
        "ORD-C",
        "mono",
        2_000_000,
        "pending",
        "2026-11-20T17:00:00Z",
        None,
    );
    f.order(
        "ORD-D",
        "mono",
        3_000_000,
        "processing",
        "2026-11-20T18:00:00Z",
        None,
    );
    let e = f.order(
        "ORD-E",
        "belvo",
        7_000_000,
        "needs_review",
        "2026-11-20T19:00:00Z",
        Some(6_900_000),
    );
    f.exception(
        Some(e),
        "belvo",
        "amount_mismatch",
        "order expects $ 70.000; belvo reports $ 69.000",
        "2026-11-20T19:05:00Z",
        Some(6_900_000),
    );
    f.order(
        "ORD-F",
        "belvo",
        1_000_000,
        "expired",
        "2026-11-20T06:00:00Z",
        None,
    );
    let g = f.order(
        "ORD-G",
        "tpaga",
        4_000_000,
        "paid",
        "2026-11-20T20:00:00Z",
        Some(4_000_000),
    );
    let late = f.exception(
        Some(g),
        "tpaga",
        "late_success",
        "tpaga reports settled after the order expired",
        "2026-11-20T21:00:00Z",
        Some(4_000_000),
    );
    f.exception(
        None,
        "tpaga",
        "unknown_payment",
        "tpaga reports a successful payment for pse-nobody",
        "2026-11-20T22:00:00Z",
        Some(900_000),
    );
    // Created the day before, paid during the day: touched.
    let h = f.order(
        "ORD-H",
        "tpaga",
        6_000_000,
        "paid",
        "2026-11-19T12:00:00Z",
        Some(6_000_000),
    );
    f.event(h, "pending", "paid", "2026-11-20T10:00:00Z");
    // Untouched that day: created the day before, or the day after.
    f.order(
        "ORD-I",
        "mono",
        8_000_000,
        "paid",
        "2026-11-19T12:00:00Z",
        Some(8_000_000),
    );
    f.order(
        "ORD-J",
        "mono",
        9_000_000,
        "paid",
        "2026-11-21T06:00:00Z",
        Some(9_000_000),
    );
    BTreeMap::from([("late_success", late)])
}

async fn report(app: &TestApp, query: &str) -> reqwest::Response {
    app.get_as(FINANCE_KEY, &format!("/v1/reports/reconciliation?{query}"))
        .await
}

async fn json_report(app: &TestApp, query: &str) -> Value {
    let r = report(app, query).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_summary_totals_equal_the_sums_of_the_rows() {
    let app = spawn_app().await;
    business_day(&app);
    let v = json_report(&app, &format!("date={DAY}&format=json")).await;
    let rows = v["rows"].as_array().unwrap();
    let refs: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["reference"].as_str())
        .collect();
    assert_eq!(refs.len(), 8, "{refs:?}");
    assert!(!refs.contains(&"ORD-I") && !refs.contains(&"ORD-J"));
    assert_eq!(
        rows.len(),
        9,
        "eight orders and one exception without an order"
    );

    // Recompute every summary figure from the rows, independently.
    fn bucket(state: &str) -> &str {
        match state {
            "pending" | "processing" => "pending",
            s => s,
        }
    }
    let mut expected: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut exceptions: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in rows {
        let provider = r["provider"].as_str().unwrap().to_owned();
        if let Some(state) = r["order_state"].as_str() {
            let e = expected
                .entry((provider.clone(), bucket(state).to_owned()))
                .or_default();
            e.0 += 1;
            e.1 += r["order_amount"].as_i64().unwrap();
        }
        for kind in r["exception"]
            .as_str()
            .unwrap_or("")
            .split("; ")
            .filter(|k| !k.is_empty())
        {
            *exceptions
                .entry((
                    provider.clone(),
                    kind.trim_end_matches(" (resolved)").to_owned(),
                ))
                .or_default() += 1;
        }
    }
    let mut total = (0i64, 0i64);
    for p in v["summary"]["providers"].as_array().unwrap() {
        let provider = p["provider"].as_str().unwrap();
        for b in ["paid", "failed", "pending", "expired", "needs_review"] {
            let (count, amount) = expected
                .get(&(provider.to_owned(), b.to_owned()))
                .copied()
                .unwrap_or_default();
            assert_eq!(p[b]["count"], count, "{provider} {b} count");
            assert_eq!(p[b]["amount"], amount, "{provider} {b} amount");
        }
        for (kind, n) in p["exceptions"].as_object().unwrap() {
            let want = exceptions
                .get(&(provider.to_owned(), kind.clone()))
                .copied()
                .unwrap_or(0);
            assert_eq!(n.as_i64().unwrap(), want, "{provider} {kind}");
        }
    }
    for b in ["paid", "failed", "pending", "expired", "needs_review"] {
        total.0 += v["summary"]["totals"][b]["count"].as_i64().unwrap();
        total.1 += v["summary"]["totals"][b]["amount"].as_i64().unwrap();
    }
    let row_total: (i64, i64) = rows
        .iter()
        .filter(|r| r["order_state"].is_string())
        .fold((0, 0), |(c, a), r| {
            (c + 1, a + r["order_amount"].as_i64().unwrap())
        });
    assert_eq!(total, row_total);
    // Concretely, for the mono provider: paid 1, failed 1, pending+processing 2.
    let mono = &v["summary"]["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "mono")
        .unwrap()
        .clone();
    assert_eq!(mono["pending"], json!({"count": 2, "amount": 5_000_000}));
    assert_eq!(
        v["summary"]["totals"]["paid"],
        json!({"count": 3, "amount": 20_000_000})
    );
    // Differences are provider − order.
    let e = rows.iter().find(|r| r["reference"] == "ORD-E").unwrap();
    assert_eq!(e["difference"], -100_000);
}

#[tokio::test]
async fn the_bogota_day_boundary_on_both_sides_of_midnight() {
    let app = spawn_app().await;
    let mut f = Fixture::new(&app);
    // 23:30 Bogota on the 20th is 04:30 UTC on the 21st: it belongs to the 20th.
    f.order(
        "LATE-20",
        "mono",
        1_000_000,
        "paid",
        "2026-11-21T04:30:00Z",
        None,
    );
    // 00:30 Bogota on the 21st.
    f.order(
        "EARLY-21",
        "mono",
        1_000_000,
        "paid",
        "2026-11-21T05:30:00Z",
        None,
    );
    // 00:10 Bogota on the 20th, and 23:50 Bogota on the 19th.
    f.order(
        "EARLY-20",
        "mono",
        1_000_000,
        "paid",
        "2026-11-20T05:10:00Z",
        None,
    );
    f.order(
        "LATE-19",
        "mono",
        1_000_000,
        "paid",
        "2026-11-20T04:50:00Z",
        None,
    );
    let refs = |v: &Value| -> Vec<String> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reference"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        refs(&json_report(&app, "date=2026-11-20&format=json").await),
        ["EARLY-20", "LATE-20"]
    );
    assert_eq!(
        refs(&json_report(&app, "date=2026-11-21&format=json").await),
        ["EARLY-21"]
    );
    assert_eq!(
        refs(&json_report(&app, "date=2026-11-19&format=json").await),
        ["LATE-19"]
    );
}

#[tokio::test]
async fn every_exception_kind_appears_with_its_detail() {
    let app = spawn_app().await;
    let mut f = Fixture::new(&app);
    let kinds = [
        "amount_mismatch",
        "unknown_payment",
        "duplicate_payment",
        "status_conflict",
        "late_success",
        "stale_pending",
        "provider_error",
    ];
    for (i, kind) in kinds.iter().enumerate() {
        let order = (*kind != "unknown_payment").then(|| {
            f.order(
                &format!("ORD-X{i}"),
                "belvo",
                1_000_000,
                "needs_review",
                "2026-11-20T12:00:00Z",
                None,
            )
        });
        f.exception(
            order,
            "belvo",
            kind,
            &format!("detail of {kind}"),
            "2026-11-20T13:00:00Z",
            Some(1),
        );
    }
    let v = json_report(&app, &format!("date={DAY}&format=json")).await;
    let rows = v["rows"].as_array().unwrap();
    for kind in kinds {
        let row = rows
            .iter()
            .find(|r| r["exception"] == kind)
            .unwrap_or_else(|| panic!("{kind} missing"));
        assert_eq!(row["detail"], format!("detail of {kind}"));
        assert_eq!(v["summary"]["totals"]["exceptions"][kind], 1, "{kind}");
    }
}

#[tokio::test]
async fn the_csv_round_trips_with_the_exact_header() {
    let app = spawn_app().await;
    business_day(&app);
    let r = report(&app, &format!("date={DAY}&format=csv")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"reconciliation-2026-11-20.csv\""
    );
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
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
            "detail"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let v = json_report(&app, &format!("date={DAY}&format=json")).await;
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(records.len(), rows.len());
    for (rec, row) in records.iter().zip(rows) {
        assert_eq!(&rec[0], DAY);
        assert_eq!(&rec[1], row["reference"].as_str().unwrap_or(""));
        assert_eq!(
            &rec[6],
            row["order_amount"]
                .as_i64()
                .map(|n| n.to_string())
                .unwrap_or_default()
        );
        assert_eq!(
            &rec[8],
            row["difference"]
                .as_i64()
                .map(|n| n.to_string())
                .unwrap_or_default()
        );
        assert_eq!(
            &rec[15],
            row["detail"].as_str().unwrap_or(""),
            "details with commas and quotes survive"
        );
    }
    // An empty day is still a valid CSV: just the header.
    let empty = report(&app, "date=2001-01-01&format=csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(empty.lines().count(), 1);
}

#[tokio::test]
async fn the_html_page_renders_in_headless_chromium_with_the_summary() {
    let app = spawn_app().await;
    business_day(&app);
    let summary = json_report(&app, &format!("date={DAY}&format=json")).await["summary"].clone();
    // A browser logs in with HTTP Basic: any user name, the API key as password.
    let port = app.address.rsplit(':').next().unwrap();
    let url = format!(
        "http://finance:{FINANCE_KEY}@127.0.0.1:{port}/v1/reports/reconciliation?date={DAY}&format=html"
    );
    let dom = crate::browser::dump_dom(&url);
    assert!(
        dom.contains("id=\"business-date\">2026-11-20<"),
        "rendered the page:\n{}",
        &dom[..dom.len().min(500)]
    );
    let cell = |provider: &str, metric: &str| -> i64 {
        let needle = format!("data-provider=\"{provider}\" data-metric=\"{metric}\"");
        let start = dom.find(&needle).unwrap_or_else(|| panic!("no {needle}"));
        let tail = &dom[start..];
        let value_start = tail.find('>').unwrap() + 1;
        let value_end = tail[value_start..].find('<').unwrap();
        tail[value_start..value_start + value_end]
            .trim()
            .parse()
            .unwrap()
    };
    for p in summary["providers"].as_array().unwrap() {
        let name = p["provider"].as_str().unwrap();
        for b in ["paid", "failed", "pending", "expired", "needs_review"] {
            assert_eq!(
                cell(name, &format!("{b}.count")),
                p[b]["count"].as_i64().unwrap(),
                "{name} {b}"
            );
        }
    }
    assert_eq!(cell("total", "paid.count"), 3);
    assert_eq!(cell("total", "exception.unknown_payment"), 1);
    // Human-readable pesos, exceptions before orders, the chart, navigation, nothing external.
    assert!(dom.contains(">$ 200.000</td>"), "Colombian pesos");
    assert!(dom.find("id=\"exception-rows\"").unwrap() < dom.find("id=\"order-rows\"").unwrap());
    assert!(dom.contains("<svg id=\"chart\""));
    assert!(
        dom.contains("href=\"?date=2026-11-19&amp;format=html\"")
            && dom.contains("href=\"?date=2026-11-21&amp;format=html\"")
    );
    assert!(dom.contains("href=\"?date=2026-11-20&amp;format=csv\""));
    assert!(!dom.contains("<script"));
}

/// Runs in the page after layout: for every amount cell, numeric cell and state
/// badge, whether any of its text breaks over more than one line box; whether
/// the page itself overflows the window (the wide tables must scroll inside
/// their own container instead).
const MEASURE_WRAPPING: &str = r#"(function () {
  function wraps(el) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (var n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      var range = document.createRange();
      range.selectNodeContents(n);
      if (range.getClientRects().length > 1) return true;
    }
    return false;
  }
  var all = Array.from(document.querySelectorAll('td.amount, td.num, .badge, th'));
  var cells = all.filter(function (c) { return c.textContent.trim() !== ''; });
  var scrollers = Array.from(document.querySelectorAll('.scroll')).map(function (s) {
    return { id: s.firstElementChild.id, scrolls: s.scrollWidth > s.clientWidth };
  });
  var out = {
    width: window.innerWidth,
    amounts: document.querySelectorAll('td.amount').length,
    badges: document.querySelectorAll('.badge').length,
    checked: cells.length,
    wrapped: cells.filter(wraps).map(function (c) { return c.textContent; }),
    page_overflows: document.documentElement.scrollWidth > window.innerWidth,
    scrollers: scrollers
  };
  var pre = document.createElement('pre');
  pre.id = 'measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();"#;

#[tokio::test]
async fn amounts_and_states_never_wrap_at_laptop_widths() {
    let app = spawn_app().await;
    business_day(&app);
    let html = report(&app, &format!("date={DAY}&format=html"))
        .await
        .text()
        .await
        .unwrap();
    for width in [1400, 1024] {
        let m: Value =
            serde_json::from_str(&crate::browser::measure(&html, width, MEASURE_WRAPPING)).unwrap();
        assert_eq!(m["width"], width, "the window is {width} px wide: {m}");
        assert!(m["amounts"].as_u64().unwrap() >= 30, "{m}");
        assert!(m["badges"].as_u64().unwrap() >= 3, "{m}");
        assert_eq!(
            m["wrapped"],
            json!([]),
            "cells that wrap at {width} px: {m}"
        );
        assert_eq!(m["page_overflows"], false, "{width} px: {m}");
        crate::browser::screenshot(&html, width, 2200, &format!("report-{width}"));
    }
}

#[tokio::test]
async fn a_browser_without_credentials_is_asked_for_them() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/v1/reports/reconciliation?format=html"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("Basic")
    );
}

#[tokio::test]
async fn roles_bad_parameters_and_the_default_date() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_as(MERCHANT_KEY, "/v1/reports/reconciliation")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get_as(ADMIN_KEY, "/v1/reports/reconciliation")
            .await
            .status(),
        200
    );
    let v = json_report(&app, "").await;
    let yesterday = shared::time::today()
        .pred_opt()
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(v["business_date"], yesterday);
    assert_eq!(v["timezone"], "America/Bogota");
    let r = report(&app, "date=20-11-2026&format=pdf&provider=stripe").await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["date", "format", "provider"]);
}

#[tokio::test]
async fn a_report_for_one_provider() {
    let app = spawn_app().await;
    business_day(&app);
    let v = json_report(&app, &format!("date={DAY}&format=json&provider=tpaga")).await;
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "ORD-G, ORD-H and the unknown payment");
    assert!(rows.iter().all(|r| r["provider"] == "tpaga"));
    assert_eq!(v["summary"]["providers"].as_array().unwrap().len(), 1);
    let r = report(&app, &format!("date={DAY}&format=csv&provider=tpaga")).await;
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"reconciliation-2026-11-20-tpaga.csv\""
    );
}

#[tokio::test]
async fn the_exception_queue_and_idempotent_resolution() {
    let app = spawn_app().await;
    let ids = business_day(&app);
    let open: Value = app
        .get_as(FINANCE_KEY, "/v1/exceptions?status=open")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["data"].as_array().unwrap().len(), 3);
    let by_kind: Value = app
        .get_as(
            FINANCE_KEY,
            "/v1/exceptions?kind=unknown_payment&provider=tpaga",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_kind["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_kind["data"][0]["order_reference"], Value::Null);
    assert_eq!(
        app.get_as(MERCHANT_KEY, "/v1/exceptions").await.status(),
        403
    );

    let late = ids["late_success"];
    let resolve = |key: &'static str, note: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url(&format!("/v1/exceptions/{late}/resolve")))
                .bearer_auth(key)
                .json(&json!({"note": note}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(resolve(MERCHANT_KEY, "no").await.status(), 403);
    let first = resolve(FINANCE_KEY, "customer refunded the late payment").await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["resolved_by"], "finance:ana");
    assert_eq!(
        first["resolution_note"],
        "customer refunded the late payment"
    );
    // Again, by someone else: nothing changes.
    let second: Value = resolve(ADMIN_KEY, "second try").await.json().await.unwrap();
    assert_eq!(second, first);
    let resolved: Value = app
        .get_as(FINANCE_KEY, "/v1/exceptions?status=resolved")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resolved["data"].as_array().unwrap().len(), 1);
    // Resolved exceptions stay in the report, marked resolved.
    let v = json_report(&app, &format!("date={DAY}&format=json")).await;
    let g = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reference"] == "ORD-G")
        .unwrap()
        .clone();
    assert_eq!(g["exception"], "late_success (resolved)");
    assert_eq!(v["summary"]["totals"]["exceptions"]["late_success"], 1);

    let r = app
        .client
        .post(app.url("/v1/exceptions/999999/resolve"))
        .bearer_auth(FINANCE_KEY)
        .json(&json!({"note": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .post(app.url(&format!("/v1/exceptions/{late}/resolve")))
        .bearer_auth(FINANCE_KEY)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

/// Rows stored before amounts were bounded: two orders of `i64::MAX` make a
/// day whose sums do not fit in `bigint`. Every format still answers 200 with
/// exact totals (the sums used to fail mid-stream after the 200).
#[tokio::test]
async fn huge_stored_amounts_do_not_break_any_format() {
    let app = spawn_app().await;
    let mut f = Fixture::new(&app);
    f.order(
        "ORD-HUGE-1",
        "mono",
        i64::MAX,
        "paid",
        "2026-11-20T15:00:00Z",
        Some(i64::MAX),
    );
    f.order(
        "ORD-HUGE-2",
        "mono",
        i64::MAX,
        "paid",
        "2026-11-20T16:00:00Z",
        Some(-5),
    );
    let two_max = (2 * i128::from(i64::MAX)).to_string();
    let low_diff = (-5 - i128::from(i64::MAX)).to_string();

    let r = report(&app, &format!("date={DAY}&format=json")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).expect("a complete JSON document");
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert!(
        text.contains(&format!("\"paid\":{{\"count\":2,\"amount\":{two_max}}}")),
        "exact total in {text}"
    );
    assert!(
        text.contains(&format!("\"difference\":{low_diff}")),
        "{text}"
    );

    let r = report(&app, &format!("date={DAY}&format=html")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("data-minor=\"{two_max}\"")),
        "{html}"
    );
    assert!(html.trim_end().ends_with("</html>"));

    let r = report(&app, &format!("date={DAY}&format=csv")).await;
    assert_eq!(r.status(), 200);
    let csv_text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let diffs: Vec<String> = reader.records().map(|r| r.unwrap()[8].to_owned()).collect();
    assert_eq!(diffs, ["0".to_owned(), low_diff]);
}

/// A failure before any output is a clean 5xx, never a 200 cut short.
#[tokio::test]
async fn a_report_that_cannot_be_computed_fails_before_its_status_line() {
    let app = spawn_app().await;
    let mut f = Fixture::new(&app);
    f.order("ORD-OK", "mono", 100, "paid", "2026-11-20T15:00:00Z", None);
    // Make the summary's query fail: its aggregate reads orders.amount_minor.
    diesel::sql_query("ALTER TABLE orders RENAME COLUMN amount_minor TO amount_minor_gone")
        .execute(&mut f.conn)
        .unwrap();
    for format in ["json", "html", "csv"] {
        let r = report(&app, &format!("date={DAY}&format={format}")).await;
        assert_eq!(r.status(), 500, "{format}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "internal_error", "{format}");
    }
}

/// Merchant and provider text reaches the CSV; none of it may run as a formula.
#[tokio::test]
async fn csv_cells_never_start_a_formula() {
    let app = spawn_app().await;
    let mut f = Fixture::new(&app);
    // A reference may start with '-' (the API and the table allow it).
    let id = f.order(
        "-2:ORD",
        "mono",
        10_000,
        "needs_review",
        "2026-11-20T15:00:00Z",
        Some(9_900),
    );
    // Provider-reported text, as old rows or a hostile provider could hold it.
    diesel::sql_query(
        "UPDATE orders SET provider_payment_id = '=HYPERLINK(\"http://x\")', pse_cus = '+57 300', \
         bank_code = '@SUM(A1:A2)', provider_status = E'\\tcmd' WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .execute(&mut f.conn)
    .unwrap();
    f.exception(
        Some(id),
        "mono",
        "amount_mismatch",
        "\r=1+1",
        "2026-11-20T15:00:00Z",
        None,
    );
    let r = report(&app, &format!("date={DAY}&format=csv")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rec = reader.records().next().unwrap().unwrap();
    assert_eq!(&rec[1], "'-2:ORD");
    assert_eq!(&rec[3], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&rec[4], "'+57 300");
    assert_eq!(&rec[5], "'@SUM(A1:A2)");
    assert_eq!(&rec[8], "-100", "a negative difference stays a number");
    assert_eq!(&rec[11], "'\tcmd");
    assert_eq!(&rec[15], "'\r=1+1");
    for cell in rec.iter() {
        assert!(
            !cell.starts_with(['=', '+', '@', '\t', '\r'])
                && (!cell.starts_with('-') || cell.parse::<i64>().is_ok()),
            "{cell:?}"
        );
    }
    // JSON is data, not a spreadsheet: it keeps the text as it is.
    let v = json_report(&app, &format!("date={DAY}&format=json")).await;
    assert_eq!(
        v["rows"][0]["provider_payment_id"],
        "=HYPERLINK(\"http://x\")"
    );
}

/// With `DATABASE_REPORT_URL` set, reports read that database (a streaming
/// replica in production) and nothing else: here a second database holds an
/// order the primary does not, and only that order is reported.
#[tokio::test]
async fn reports_read_the_database_report_url_names() {
    let replica = shared::testing::TestDb::create();
    let app = spawn_app_with(&[("DATABASE_REPORT_URL", &replica.url)]).await;
    Fixture::new(&app).paid("ORD-PRIMARY", 10_000);
    let mut on_replica = Fixture {
        conn: replica.connect(),
    };
    on_replica.paid("ORD-REPLICA", 20_000);
    let v = json_report(&app, &format!("date={DAY}&format=json")).await;
    let refs: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["reference"].as_str())
        .collect();
    assert_eq!(refs, ["ORD-REPLICA"]);
    let csv = report(&app, &format!("date={DAY}&format=csv"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("ORD-REPLICA") && !csv.contains("ORD-PRIMARY"),
        "{csv}"
    );
    // The API itself still reads the primary.
    let r = app.get_as(FINANCE_KEY, "/v1/orders/ORD-PRIMARY").await;
    assert_eq!(r.status(), 200);
}

/// A TCP relay to PostgreSQL standing in for a replica that can be switched
/// off: while `up` is false it hangs up on every connection at once.
async fn switchable_replica(target: &str) -> (String, Arc<AtomicBool>) {
    let (scheme_user, rest) = target.split_once('@').unwrap();
    let (server, path) = rest.split_at(rest.find('/').unwrap());
    let server = server.to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(false));
    let flag = up.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            if !flag.load(Ordering::SeqCst) {
                continue; // dropped: the connection is closed
            }
            let server = server.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(server).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    // The same database, reached through the relay.
    (format!("{scheme_user}@127.0.0.1:{port}{path}"), up)
}

/// A report replica that is down fails reports alone, with a 503 the client may
/// retry; the API and readiness, on the primary, carry on; and reports work
/// again once it is back. (It comes back before the test ends on purpose: a
/// pool still retrying its connection when the test binary exits would race
/// OpenSSL's exit handler in libpq.)
#[tokio::test]
async fn a_report_replica_that_is_down_fails_reports_only() {
    let replica = shared::testing::TestDb::create();
    let (replica_url, up) = switchable_replica(&replica.url).await;
    let app = spawn_app_with(&[("DATABASE_REPORT_URL", &replica_url)]).await;
    Fixture::new(&app).paid("ORD-PRIMARY", 10_000);
    Fixture {
        conn: replica.connect(),
    }
    .paid("ORD-REPLICA", 10_000);
    let r = report(&app, &format!("date={DAY}&format=csv")).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert_eq!(
        app.get_as(FINANCE_KEY, "/v1/orders/ORD-PRIMARY")
            .await
            .status(),
        200
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    up.store(true, Ordering::SeqCst);
    // The pool keeps retrying in the background; the next report finds it connected.
    let deadline = Instant::now() + Duration::from_secs(20);
    let back = loop {
        let r = report(&app, &format!("date={DAY}&format=csv")).await;
        if r.status() == 200 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        back.status(),
        200,
        "reports work again once the replica is back"
    );
    let csv = back.text().await.unwrap();
    assert!(csv.contains("ORD-REPLICA"), "{csv}");
}
