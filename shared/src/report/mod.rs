//! The daily reconciliation report (docs/ARCHITECTURE.md, "Daily reconciliation report").
//!
//! One row per order touched that Bogota business day (created, moved, or an
//! exception opened or resolved), listing all its exceptions, plus one row per
//! exception with no order (money nobody expected), oldest first. The summary is computed
//! from the same definition of "touched", so its totals equal the rows' sums.
//! Rows are read through a server-side cursor, so a day of a million orders is
//! never held in memory.

pub mod csv;
pub mod html;
pub mod output;
pub mod stream;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use serde::Serialize;

use crate::db::DbError;
use crate::domain::{ExceptionKind, Provider};
use crate::time::day_bounds;

/// What a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub date: NaiveDate,
    pub provider: Option<Provider>,
}

impl Scope {
    fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        day_bounds(self.date)
    }

    /// SQL literals for the day's bounds and the provider filter. Inlined rather
    /// than bound because `DECLARE … CURSOR` takes no parameters; both come from
    /// typed values (a timestamp, an enum), so nothing user-written reaches SQL.
    fn literals(&self) -> (String, String, String) {
        let (from, to) = self.bounds();
        let provider = match self.provider {
            Some(p) => format!("'{}'", p.as_str()),
            None => "NULL".to_owned(),
        };
        (
            format!("'{}'::timestamptz", from.to_rfc3339()),
            format!("'{}'::timestamptz", to.to_rfc3339()),
            provider,
        )
    }

    /// `cross_day`: orders created on another day but moved that day, or with
    /// an exception opened or resolved that day (a small set, found without
    /// reading the day's own orders thanks to `order_events.order_created_at`).
    fn cross_day_cte(&self) -> String {
        let (from, to, _) = self.literals();
        format!(
            "cross_day AS (\
               SELECT e.order_id AS id FROM order_events e \
                WHERE e.at >= {from} AND e.at < {to} AND (e.order_created_at < {from} OR e.order_created_at >= {to}) \
               UNION \
               SELECT x.order_id FROM reconciliation_exceptions x JOIN orders o ON o.id = x.order_id \
                WHERE ((x.opened_at >= {from} AND x.opened_at < {to}) OR (x.resolved_at >= {from} AND x.resolved_at < {to})) \
                  AND (o.created_at < {from} OR o.created_at >= {to}))"
        )
    }

    /// `cross_day` plus `picked`: the report's orders (created that day, plus
    /// `cross_day`), for the summary's aggregates.
    fn ctes(&self) -> String {
        let (from, to, provider) = self.literals();
        format!(
            "{cross_day}, \
             picked AS (\
               SELECT o.* FROM orders o WHERE o.created_at >= {from} AND o.created_at < {to} \
                 AND ({provider}::text IS NULL OR o.provider = {provider}) \
               UNION ALL \
               SELECT o.* FROM orders o JOIN cross_day c ON c.id = o.id \
                WHERE ({provider}::text IS NULL OR o.provider = {provider}))",
            cross_day = self.cross_day_cte(),
        )
    }

    /// Exceptions with no order that were opened or resolved that day.
    fn orphans_where(&self) -> String {
        let (from, to, provider) = self.literals();
        format!(
            "x.order_id IS NULL AND ({provider}::text IS NULL OR x.provider = {provider}) \
             AND ((x.opened_at >= {from} AND x.opened_at < {to}) OR (x.resolved_at >= {from} AND x.resolved_at < {to}))"
        )
    }

    /// Every row of the report, oldest first (by order creation; an exception
    /// without an order by its opening). The day's orders stream straight
    /// from the `created_at` index (no sort of the whole day), merged with the
    /// few cross-day orders and orphan exceptions; exceptions are looked up
    /// only for orders flagged as having some.
    pub fn rows_sql(&self) -> String {
        let (from, to, provider) = self.literals();
        let columns = "o.reference, o.provider, o.provider_payment_id, o.pse_cus, o.bank_code, \
             o.amount_minor AS order_amount, o.provider_amount_minor AS provider_amount, o.currency, \
             o.state AS order_state, o.provider_status, o.last_webhook_at AS webhook_received_at, \
             o.last_checked_at, x.kinds AS exception, x.details AS detail, o.created_at AS sort_at, o.id AS sort_id";
        let exceptions = "LEFT JOIN LATERAL (SELECT \
               string_agg(e.kind || CASE WHEN e.resolved_at IS NULL THEN '' ELSE ' (resolved)' END, '; ' ORDER BY e.id) AS kinds, \
               string_agg(e.detail, ' | ' ORDER BY e.id) AS details \
             FROM reconciliation_exceptions e WHERE e.order_id = o.id AND o.has_exceptions) x ON true";
        format!(
            "WITH {ctes} \
             SELECT * FROM (\
               (SELECT {columns} FROM orders o {exceptions} \
                 WHERE o.created_at >= {from} AND o.created_at < {to} \
                   AND ({provider}::text IS NULL OR o.provider = {provider}) \
                 ORDER BY o.created_at, o.id) \
               UNION ALL \
               (SELECT {columns} FROM orders o JOIN cross_day c ON c.id = o.id {exceptions} \
                 WHERE ({provider}::text IS NULL OR o.provider = {provider}) \
                 ORDER BY o.created_at, o.id) \
               UNION ALL \
               (SELECT NULL, x.provider, x.provider_payment_id, NULL, NULL, NULL, x.provider_amount_minor, x.currency, \
                       NULL, NULL, NULL, NULL, \
                       x.kind || CASE WHEN x.resolved_at IS NULL THEN '' ELSE ' (resolved)' END, x.detail, \
                       x.opened_at, NULL::uuid \
                  FROM reconciliation_exceptions x WHERE {orphans} ORDER BY x.opened_at)) r \
             ORDER BY sort_at, sort_id",
            ctes = self.cross_day_cte(),
            orphans = self.orphans_where(),
        )
    }
}

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

    fn merge(&mut self, other: &Tally) {
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

#[derive(QueryableByName)]
struct StateAgg {
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    /// `sum()` of a `bigint` column is `numeric` in PostgreSQL and may exceed
    /// `bigint`; it is read as text and parsed into an `i128`.
    #[diesel(sql_type = Text)]
    amount: String,
}

#[derive(QueryableByName)]
struct KindAgg {
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The summary, by aggregate queries over the same rows as [`read`].
pub fn summary(conn: &mut PgConnection, scope: &Scope) -> Result<Summary, DbError> {
    let states: Vec<StateAgg> = diesel::sql_query(format!(
        "WITH {} SELECT p.provider, p.state, count(*) AS n, COALESCE(sum(p.amount_minor), 0)::text AS amount \
         FROM picked p GROUP BY p.provider, p.state",
        scope.ctes()
    ))
    .load(conn)?;
    let kinds: Vec<KindAgg> = diesel::sql_query(format!(
        "WITH {} \
         SELECT x.provider, x.kind, count(*) AS n FROM reconciliation_exceptions x JOIN picked p ON p.id = x.order_id \
         GROUP BY x.provider, x.kind \
         UNION ALL SELECT x.provider, x.kind, count(*) FROM reconciliation_exceptions x WHERE {} GROUP BY x.provider, x.kind",
        scope.ctes(),
        scope.orphans_where()
    ))
    .load(conn)?;
    let mut by_provider: BTreeMap<String, Tally> = BTreeMap::new();
    for s in states {
        let t = by_provider.entry(s.provider).or_default();
        let bucket = match s.state.as_str() {
            "paid" => &mut t.paid,
            "failed" => &mut t.failed,
            "pending" | "processing" => &mut t.pending,
            "expired" => &mut t.expired,
            _ => &mut t.needs_review,
        };
        let amount: i128 = s.amount.parse().map_err(|_| {
            DbError::Task(format!(
                "report: a sum of amounts is not an integer: {:?}",
                s.amount
            ))
        })?;
        bucket.count = bucket.count.saturating_add(s.n);
        bucket.amount = bucket.amount.saturating_add(amount);
    }
    for k in kinds {
        *by_provider
            .entry(k.provider)
            .or_default()
            .exceptions
            .entry(k.kind)
            .or_insert(0) += k.n;
    }
    let mut totals = Tally::default();
    let providers = by_provider
        .into_iter()
        .map(|(provider, tally)| {
            totals.merge(&tally);
            ProviderTally { provider, tally }
        })
        .collect();
    Ok(Summary { providers, totals })
}

/// Rows per FETCH: large enough that round trips do not dominate, small
/// enough that memory stays flat.
pub const FETCH_SIZE: usize = 5_000;

/// Where a report goes: the summary first (when asked for), then the rows in
/// batches. Returning `false` stops the read (the client went away).
pub trait Sink {
    fn summary(&mut self, summary: Summary) -> bool;
    fn rows(&mut self, rows: Vec<ReportRow>) -> bool;
}

/// Reads the report in one read-only, repeatable-read transaction, so the
/// summary and the rows describe the same moment. Rows come through a
/// server-side cursor, `FETCH_SIZE` at a time. Returns the number of rows.
///
/// Nothing reaches `sink` until the summary is computed, the cursor declared
/// and the first batch fetched: everything likely to fail has then been
/// tried, so an HTTP caller can wait for the first output before sending its
/// status line, and only a later batch can still cut a response short.
pub fn read(
    conn: &mut PgConnection,
    scope: &Scope,
    with_summary: bool,
    sink: &mut dyn Sink,
) -> Result<u64, DbError> {
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            // A report reads a whole day at once: no JIT (its compile time
            // outweighs the gain), and room to sort and hash in memory.
            diesel::sql_query("SET LOCAL jit = off").execute(conn)?;
            diesel::sql_query("SET LOCAL work_mem = '64MB'").execute(conn)?;
            let summary = if with_summary {
                Some(summary(conn, scope)?)
            } else {
                None
            };
            diesel::sql_query(format!(
                "DECLARE report_rows NO SCROLL CURSOR FOR {}",
                scope.rows_sql()
            ))
            .execute(conn)?;
            let fetch = |conn: &mut PgConnection| -> Result<Vec<ReportRow>, DbError> {
                Ok(diesel::sql_query(format!("FETCH {FETCH_SIZE} FROM report_rows")).load(conn)?)
            };
            let mut batch = fetch(conn)?;
            if let Some(summary) = summary
                && !sink.summary(summary)
            {
                return Ok(0);
            }
            let mut total = 0u64;
            loop {
                total += batch.len() as u64;
                let more = batch.len() == FETCH_SIZE;
                if !sink.rows(batch) || !more {
                    break;
                }
                batch = fetch(conn)?;
            }
            diesel::sql_query("CLOSE report_rows").execute(conn)?;
            Ok(total)
        })
}

enum Piece {
    Summary(Summary),
    Rows(Vec<ReportRow>),
}

/// Passes what [`read`] produces to another thread.
struct Forward(std::sync::mpsc::SyncSender<Piece>);

impl Sink for Forward {
    fn summary(&mut self, summary: Summary) -> bool {
        self.0.send(Piece::Summary(summary)).is_ok()
    }

    fn rows(&mut self, rows: Vec<ReportRow>) -> bool {
        self.0.send(Piece::Rows(rows)).is_ok()
    }
}

/// [`read`] with the database work on its own thread, two batches ahead of
/// `sink`: PostgreSQL produces the next rows while the previous ones are
/// encoded and written, instead of each waiting for the other. If `sink`
/// stops early, the reader stops at its next batch.
pub fn read_pipelined(
    conn: &mut PgConnection,
    scope: &Scope,
    with_summary: bool,
    sink: &mut dyn Sink,
) -> Result<u64, DbError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Piece>(2);
    std::thread::scope(|s| {
        let reader = s.spawn(move || read(conn, scope, with_summary, &mut Forward(tx)));
        for piece in rx {
            let go_on = match piece {
                Piece::Summary(summary) => sink.summary(summary),
                Piece::Rows(rows) => sink.rows(rows),
            };
            if !go_on {
                break;
            }
        }
        reader
            .join()
            .unwrap_or_else(|_| Err(DbError::Task("the report reader panicked".to_owned())))
    })
}

/// The default report date: yesterday in Bogota (the last closed business day).
pub fn default_date() -> NaiveDate {
    let today = crate::time::today();
    today.pred_opt().unwrap_or(today)
}

#[derive(Serialize)]
pub struct Header<'a> {
    pub business_date: String,
    pub timezone: &'static str,
    pub generated_at: DateTime<Utc>,
    pub provider: Option<&'a str>,
    pub summary: &'a Summary,
}

impl<'a> Header<'a> {
    pub fn new(scope: &'a Scope, summary: &'a Summary) -> Self {
        Self {
            business_date: scope.date.format("%Y-%m-%d").to_string(),
            timezone: "America/Bogota",
            generated_at: Utc::now(),
            provider: scope.provider.map(Provider::as_str),
            summary,
        }
    }
}

/// The JSON report is `{header fields…, "rows": [ … ]}`; these write it in
/// pieces so rows can be streamed: first [`json_open`], then each row with
/// [`json_row`], then [`json_close`].
pub fn json_open(header: &Header<'_>) -> Vec<u8> {
    let mut head = serde_json::to_vec(header).unwrap_or_else(|_| b"{}".to_vec());
    head.pop(); // the closing brace
    head.extend_from_slice(b",\"rows\":[");
    head
}

/// One row as the JSON report writes it. Serialized straight to bytes (not
/// through `serde_json::Value`, which refuses integers beyond `u64`).
#[derive(Serialize)]
struct JsonRow<'a> {
    business_date: &'a str,
    reference: Option<&'a str>,
    provider: &'a str,
    provider_payment_id: Option<&'a str>,
    pse_cus: Option<&'a str>,
    bank_code: Option<&'a str>,
    order_amount: Option<i64>,
    provider_amount: Option<i64>,
    difference: Option<i128>,
    currency: Option<&'a str>,
    order_state: Option<&'a str>,
    provider_status: Option<&'a str>,
    webhook_received_at: Option<DateTime<Utc>>,
    last_checked_at: Option<DateTime<Utc>>,
    exception: Option<&'a str>,
    detail: Option<&'a str>,
}

pub fn json_row(row: &ReportRow, business_date: &str, first: bool, out: &mut Vec<u8>) {
    if !first {
        out.push(b',');
    }
    let value = JsonRow {
        business_date,
        reference: row.reference.as_deref(),
        provider: &row.provider,
        provider_payment_id: row.provider_payment_id.as_deref(),
        pse_cus: row.pse_cus.as_deref(),
        bank_code: row.bank_code.as_deref(),
        order_amount: row.order_amount,
        provider_amount: row.provider_amount,
        difference: row.difference(),
        currency: row.currency.as_deref(),
        order_state: row.order_state.as_deref(),
        provider_status: row.provider_status.as_deref(),
        webhook_received_at: row.webhook_received_at,
        last_checked_at: row.last_checked_at,
        exception: row.exception.as_deref(),
        detail: row.detail.as_deref(),
    };
    let _ = serde_json::to_writer(&mut *out, &value);
}

pub fn json_close() -> &'static [u8] {
    b"]}"
}
