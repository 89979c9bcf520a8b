//! The CSV report streamed by `COPY` (cells formatted and neutralised in SQL) is
//! byte for byte what the Rust encoder writes from decoded rows: the contract of
//! docs/ARCHITECTURE.md, "Daily reconciliation report", on hostile cells.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use proptest::prelude::*;
use shared::report::csv::Encoder;
use shared::report::output::{Format, write_report};
use shared::report::{ReportRow, Scope, Sink, Summary, read};
use shared::testing::TestDb;

const DAY: &str = "2026-11-20"; // Bogota: [2026-11-20T05:00Z, 2026-11-21T05:00Z)

/// Cells a merchant, a provider or an old row could hold.
const HOSTILE: &[&str] = &[
    "=1+1",
    "=HYPERLINK(\"http://x\")",
    "+57 300",
    "-1+1",
    "@SUM(A1:A2)",
    "\tcmd",
    "\rnext",
    "-100",
    "+5",
    "-1.5",
    "-12.",
    "-.5",
    "--1",
    "-1e5",
    "-5\n",
    "+-5",
    "-",
    "=",
    "a,b",
    "say \"hi\"",
    "\"",
    ",",
    "line1\nline2",
    "crlf\r\nend",
    "\n",
    "x\ty",
    " =x",
    "\\.",
    "'quoted'",
    "ñandú — 5 €",
    "😀=",
    "\u{2212}5",
    "-٣",
    "\u{feff}=1",
    "0",
    "",
];

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: uuid::Uuid,
}

/// One order created at `created`; `text` goes into every free-text column.
#[allow(clippy::too_many_arguments)]
fn order(
    conn: &mut PgConnection,
    n: usize,
    text: Option<&str>,
    amount: i64,
    provider_amount: Option<i64>,
    created: chrono::DateTime<chrono::Utc>,
    checked: Option<chrono::DateTime<chrono::Utc>>,
) -> uuid::Uuid {
    let row: Id = diesel::sql_query(
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash, state, \
         provider_status, provider_amount_minor, pse_cus, bank_code, created_at, updated_at, last_checked_at, \
         last_webhook_at) \
         VALUES ($1, $2, $3, $4, 'COP', 'h', 'needs_review', $5, $6, $5, $5, $7, $7, $8, $8) RETURNING id",
    )
    .bind::<Text, _>(if n.is_multiple_of(5) { format!("-{n}x") } else { format!("ORD-{n}") })
    .bind::<Text, _>(["mono", "belvo", "tpaga"][n % 3])
    .bind::<Text, _>(match text {
        Some(t) if !t.is_empty() => format!("{t}{}", "\u{200b}".repeat(n)),
        _ => format!("pay-{n}"),
    })
    .bind::<BigInt, _>(amount)
    .bind::<Nullable<Text>, _>(text)
    .bind::<Nullable<BigInt>, _>(provider_amount)
    .bind::<Timestamptz, _>(created)
    .bind::<Nullable<Timestamptz>, _>(checked)
    .get_result(conn)
    .unwrap();
    row.id
}

fn exception(
    conn: &mut PgConnection,
    order: Option<uuid::Uuid>,
    detail: &str,
    n: usize,
    resolved: bool,
) {
    diesel::sql_query(
        "INSERT INTO reconciliation_exceptions (order_id, provider, provider_payment_id, kind, detail, dedup_key, \
         provider_amount_minor, currency, opened_at, resolved_at, resolved_by) \
         VALUES ($1, 'mono', $2, 'amount_mismatch', $3, $4, -7, 'COP', '2026-11-20T16:00:00Z', \
                 CASE WHEN $5 THEN '2026-11-20T17:00:00.123999Z'::timestamptz END, CASE WHEN $5 THEN 'finance:ana' END)",
    )
    .bind::<Nullable<SqlUuid>, _>(order)
    .bind::<Text, _>(if detail.is_empty() { "x" } else { detail })
    .bind::<Text, _>(detail)
    .bind::<Text, _>(format!("k{n}"))
    .bind::<diesel::sql_types::Bool, _>(resolved)
    .execute(conn)
    .unwrap();
}

/// A day with one order per text in `texts` (every text column holding it), NULL
/// cells, extreme amounts, several exceptions per order, a cross-day order and
/// orphan exceptions.
fn fill(conn: &mut PgConnection, texts: &[String]) {
    let base = at("2026-11-20T06:00:00Z");
    let amounts = [
        (i64::MAX, Some(i64::MIN)),
        (1, None),
        (i64::MAX, Some(i64::MAX)),
        (10_100, Some(10_000)),
        (5, Some(0)),
    ];
    for (n, text) in texts.iter().enumerate() {
        let (amount, provider_amount) = amounts[n % amounts.len()];
        // Microseconds that must be truncated (not rounded) to milliseconds.
        let checked = base + chrono::Duration::microseconds(n as i64 * 1_000_999 + 999);
        let id = order(
            conn,
            n,
            Some(text),
            amount,
            provider_amount,
            base + chrono::Duration::seconds(n as i64),
            (!n.is_multiple_of(4)).then_some(checked),
        );
        if n.is_multiple_of(2) {
            exception(conn, Some(id), text, 2 * n, n.is_multiple_of(4));
            exception(conn, Some(id), "second; one", 2 * n + 1, false);
        }
    }
    let n = texts.len();
    let nulls = order(conn, n, None, 42, None, at("2026-11-20T05:00:00Z"), None);
    let old = order(
        conn,
        n + 1,
        Some("=old"),
        7,
        Some(7),
        at("2026-11-19T12:00:00Z"),
        None,
    );
    exception(conn, Some(old), "@cross day", 3 * n, false);
    exception(conn, None, "=orphan", 3 * n + 1, false);
    exception(conn, None, "", 3 * n + 2, true);
    let _ = nulls;
}

/// The rows through the cursor, encoded by [`Encoder`]: the reference bytes.
struct Reference(Encoder);

impl Sink for Reference {
    fn summary(&mut self, _: Summary) -> bool {
        true
    }

    fn rows(&mut self, rows: Vec<ReportRow>) -> bool {
        rows.iter().all(|r| self.0.row(r).is_ok())
    }
}

fn scope() -> Scope {
    Scope {
        date: NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap(),
        provider: None,
    }
}

fn encoded(conn: &mut PgConnection, scope: &Scope) -> (Vec<u8>, u64) {
    let mut sink = Reference(Encoder::new(DAY));
    sink.0.header().unwrap();
    let n = read(conn, scope, false, &mut sink).unwrap();
    (sink.0.take(), n)
}

fn copied(conn: &mut PgConnection, scope: &Scope) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let mut emit = |chunk: Vec<u8>| {
        out.extend_from_slice(&chunk);
        true
    };
    let n = write_report(conn, scope, Format::Csv, &mut emit).unwrap();
    (out, n)
}

fn assert_same(conn: &mut PgConnection) {
    for provider in [None, Some(shared::domain::Provider::Mono)] {
        let scope = Scope {
            provider,
            ..scope()
        };
        let (want, want_rows) = encoded(conn, &scope);
        let (got, got_rows) = copied(conn, &scope);
        assert_eq!(got_rows, want_rows);
        if got != want {
            let (w, g) = (
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got),
            );
            let line = w.lines().zip(g.lines()).position(|(a, b)| a != b);
            panic!(
                "COPY differs from the encoder (first differing line {line:?}):\nencoder:\n{w}\nCOPY:\n{g}"
            );
        }
    }
}

#[test]
fn copy_writes_the_encoders_bytes_for_hostile_cells() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let texts: Vec<String> = HOSTILE.iter().map(|t| (*t).to_owned()).collect();
    fill(&mut conn, &texts);
    let (bytes, rows) = copied(&mut conn, &scope());
    // Every order of the day, the cross-day one and two orphans.
    assert_eq!(rows, texts.len() as u64 + 4);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(",'=1+1,"), "{text}");
    assert!(text.contains(",-100,"), "a number stays a number: {text}");
    assert!(text.contains("\"'\rnext\""), "{text}");
    assert!(text.contains(",-1.5,"), "{text}");
    assert!(text.contains(",'-12.,"), "{text}");
    assert!(
        text.contains("9223372036854775807,-9223372036854775808,-18446744073709551615,"),
        "{text}"
    );
    assert!(
        text.contains(",2026-11-20T06:00:01.001Z,"),
        "truncated milliseconds: {text}"
    );
    assert!(
        text.contains(",amount_mismatch (resolved); amount_mismatch,"),
        "{text}"
    );
    assert_same(&mut conn);
}

/// The COPY path writes provider, currency and order state without
/// neutralising them because the schema cannot hold a value there that starts a
/// formula; this holds it to that, for orders and for exceptions with no order.
#[test]
fn the_cells_copy_trusts_cannot_hold_a_formula() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let order = |provider: &str, currency: &str, state: &str| {
        diesel::sql_query(
            "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash, state) \
             VALUES ('ORD-' || $1 || $2 || $3, $1, 'p-' || $1 || $2 || $3, 1, $2, 'h', $3)",
        )
        .bind::<Text, _>(provider)
        .bind::<Text, _>(currency)
        .bind::<Text, _>(state)
        .execute(&mut db.connect())
    };
    for (column, value) in [
        ("provider", "=HYPERLINK(1)"),
        ("provider", "+mono"),
        ("provider", "-mono"),
        ("provider", "@mono"),
        ("provider", "\tmono"),
        ("currency", "=1+"),
        ("currency", "-CO"),
    ] {
        let (provider, currency) = match column {
            "provider" => (value, "COP"),
            _ => ("mono", value),
        };
        let exception = diesel::sql_query(
            "INSERT INTO reconciliation_exceptions (provider, kind, detail, dedup_key, currency) \
             VALUES ($1, 'unknown_payment', 'd', $1 || $2, $2)",
        )
        .bind::<Text, _>(provider)
        .bind::<Text, _>(currency)
        .execute(&mut conn);
        assert!(
            exception.is_err(),
            "an exception with {column} {value:?} was stored"
        );
        assert!(
            order(provider, currency, "pending").is_err(),
            "an order with {column} {value:?} was stored"
        );
    }
    for state in ["=1", "-paid", "@paid"] {
        assert!(
            order("mono", "COP", state).is_err(),
            "an order in state {state:?} was stored"
        );
    }
    // What the product writes is accepted.
    order("mono", "COP", "pending").unwrap();
    diesel::sql_query(
        "INSERT INTO reconciliation_exceptions (provider, kind, detail, dedup_key, currency) \
         VALUES ('mono', 'unknown_payment', 'd', 'ok', 'COP'), ('belvo', 'unknown_payment', 'd', 'ok2', NULL)",
    )
    .execute(&mut conn)
    .unwrap();
}

/// An empty day is the header alone, the same in both paths.
#[test]
fn an_empty_day_is_the_header_alone() {
    let db = TestDb::create();
    let mut conn = db.connect();
    let (bytes, rows) = copied(&mut conn, &scope());
    assert_eq!(rows, 0);
    assert_eq!(bytes, encoded(&mut conn, &scope()).0);
    assert!(bytes.ends_with(b"exception,detail\n"));
}

/// A report longer than one chunk arrives in several, each whole rows, and the
/// reader can stop it: the connection is usable again afterwards.
#[test]
fn a_long_report_streams_in_chunks_and_can_be_stopped() {
    let db = TestDb::create();
    let mut conn = db.connect();
    conn.batch_execute(
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash, created_at) \
         SELECT 'ORD-' || i, 'mono', 'p-' || i, i, 'COP', 'h', '2026-11-20T06:00:00Z'::timestamptz + i * interval '1 ms' \
         FROM generate_series(1, 5000) i",
    )
    .unwrap();
    let mut chunks = Vec::new();
    let mut emit = |chunk: Vec<u8>| {
        chunks.push(chunk);
        true
    };
    assert_eq!(
        write_report(&mut conn, &scope(), Format::Csv, &mut emit).unwrap(),
        5000
    );
    assert!(chunks.len() > 1, "{} chunk(s)", chunks.len());
    assert!(chunks.iter().all(|c| c.ends_with(b"\n")));
    assert_eq!(chunks.concat(), encoded(&mut conn, &scope()).0);

    let mut seen = 0;
    let mut stop = |_: Vec<u8>| {
        seen += 1;
        false
    };
    let rows = write_report(&mut conn, &scope(), Format::Csv, &mut stop).unwrap();
    assert_eq!(seen, 1);
    assert!(rows < 5000, "{rows}");
    assert_eq!(
        copied(&mut conn, &scope()).1,
        5000,
        "the connection still works"
    );
}

/// A COPY cut short by the server (here by `statement_timeout`, part way through
/// the rows) is an error, never a short file that looks complete.
#[test]
fn a_copy_cut_short_is_an_error() {
    let db = TestDb::create();
    let mut conn = db.connect();
    conn.batch_execute(
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, request_hash, created_at) \
         SELECT 'ORD-' || i, 'mono', 'p-' || i, i, 'COP', 'h', '2026-11-20T06:00:00Z'::timestamptz + i * interval '1 ms' \
         FROM generate_series(1, 300000) i; ANALYZE orders",
    )
    .unwrap();
    conn.batch_execute("SET statement_timeout = 150").unwrap();
    let mut rows = 0;
    let mut emit = |chunk: Vec<u8>| {
        rows += chunk.iter().filter(|b| **b == b'\n').count();
        true
    };
    let e = write_report(&mut conn, &scope(), Format::Csv, &mut emit);
    assert!(e.is_err(), "{rows} lines written and no error");
    conn.batch_execute("SET statement_timeout = 0").unwrap();
    assert_eq!(
        copied(&mut conn, &scope()).1,
        300_000,
        "the connection still works"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// Arbitrary text, with and without a formula character in front.
    #[test]
    fn copy_matches_the_encoder_on_arbitrary_text(
        texts in proptest::collection::vec(
            (any::<String>(), proptest::sample::select(vec!["", "=", "+", "-", "@", "\t", "\r", "-1", "+2."])),
            1..60,
        )
    ) {
        let db = TestDb::create();
        let mut conn = db.connect();
        // PostgreSQL text cannot hold NUL.
        let texts: Vec<String> = texts
            .into_iter()
            .map(|(t, prefix)| format!("{prefix}{}", t.replace('\0', "").chars().take(60).collect::<String>()))
            .collect();
        fill(&mut conn, &texts);
        assert_same(&mut conn);
    }
}
