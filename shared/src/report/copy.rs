//! The CSV report at COPY speed (docs/ARCHITECTURE.md, "Daily reconciliation report"):
//! PostgreSQL formats and neutralises every cell and streams the rows with
//! `COPY (…) TO STDOUT (FORMAT csv)`; this side only forwards the bytes. The
//! output is byte for byte what [`super::csv::Encoder`] writes from decoded rows
//! (the contract; a test compares both on hostile cells).

use std::cell::RefCell;
use std::io::BufRead;
use std::sync::Arc;

use diesel::RunQueryDsl as _;
use diesel::connection::SimpleConnection as _;
use diesel::pg::{CopyFormat, CopyTarget, Pg, PgConnection};
use diesel::query_builder::AstPass;

use super::Scope;
use super::csv::{HEADER, safe_cell};
use crate::db::DbError;

/// Bytes per emitted chunk: large enough that forwarding costs nothing per row,
/// small enough that the chunks in flight stay a bounded few hundred kB.
const CHUNK: usize = 64 * 1024;

/// [`safe_cell`] in SQL, for a text expression `t` (evaluated up to three times,
/// so a column name, not a sub-query). `ascii()` is the first character's code
/// point (0 for an empty text): tab, CR, `+`, `-`, `=`, `@`. The regular
/// expression is `is_number`'s narrow decimal. Empty text becomes NULL, because
/// COPY writes an empty (non-NULL) string as `""` where the csv crate writes nothing.
fn safe(t: &str) -> String {
    format!(
        "CASE WHEN ascii({t}) IN (9, 13, 43, 45, 61, 64) \
           THEN CASE WHEN {t} ~ '^[-+]?[0-9]+(\\.[0-9]+)?$' THEN {t} ELSE '''' || {t} END \
           ELSE NULLIF({t}, '') END"
    )
}

/// A timestamp as `to_rfc3339_opts(SecondsFormat::Millis, true)` writes it:
/// UTC, milliseconds truncated (`MS` truncates, as chrono does), `Z`.
fn rfc3339_millis(t: &str) -> String {
    format!("to_char({t} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
}

/// The select list producing [`HEADER`]'s columns from [`Scope::rows_sql`]'s `r`.
/// Amounts are `bigint::text`, as Rust prints an `i64`; the difference is
/// `numeric`, which no pair of stored amounts overflows (like the `i128` in Rust).
///
/// Provider, currency and order state go out as stored: CHECK constraints on
/// `orders` and `reconciliation_exceptions` (migration
/// 2026-12-01-000100_exception_value_checks) allow only a lower-case name, three
/// capital letters and the six states, none of which can start a formula, so
/// [`safe_cell`] is the identity on them. Each [`safe`] costs a few function calls
/// per row: for a million rows these three were 0.12 s of a 2.05 s export
/// (docs/ARCHITECTURE.md, "Daily reconciliation report").
fn csv_projection(business_date: &str) -> String {
    let date = safe_cell(business_date).replace('\'', "''");
    [
        format!("'{date}'::text"),
        safe("r.reference"),
        "r.provider".to_owned(),
        safe("r.provider_payment_id"),
        safe("r.pse_cus"),
        safe("r.bank_code"),
        "r.order_amount::text".to_owned(),
        "r.provider_amount::text".to_owned(),
        "(r.provider_amount::numeric - r.order_amount::numeric)::text".to_owned(),
        "r.currency".to_owned(),
        "r.order_state".to_owned(),
        safe("r.provider_status"),
        rfc3339_millis("r.webhook_received_at"),
        rfc3339_millis("r.last_checked_at"),
        safe("r.exception"),
        safe("r.detail"),
    ]
    .join(", ")
}

/// The `COPY` statement's query for `scope` (what the report's rows are, in order).
pub(super) fn csv_sql(scope: &Scope, business_date: &str) -> String {
    scope.rows_select(&csv_projection(business_date))
}

thread_local! {
    /// The query of the `COPY` being built on this thread; see [`ReportCopy`].
    static COPY_QUERY: RefCell<String> = const { RefCell::new(String::new()) };
}

/// diesel 2's `copy_to` takes a table (a [`CopyTarget`], written by a function
/// without `self`), not a query, and `COPY` of a view is refused. This target
/// writes `(<query>)` from [`COPY_QUERY`], set just around the one synchronous
/// `load_raw` call that builds the statement (never cached: diesel marks `COPY`
/// statements unsafe to cache). `Table` only satisfies the trait's bounds.
struct ReportCopy;

impl CopyTarget for ReportCopy {
    type Table = crate::db::schema::orders::table;
    type SqlType = diesel::sql_types::Text;

    fn walk_target(mut pass: AstPass<'_, '_, Pg>) -> diesel::QueryResult<()> {
        COPY_QUERY.with_borrow(|sql| {
            if sql.is_empty() {
                return Err(diesel::result::Error::QueryBuilderError(
                    "the report COPY has no query".into(),
                ));
            }
            pass.push_sql("(");
            pass.push_sql(sql);
            pass.push_sql(")");
            Ok(())
        })
    }
}

/// Clears [`COPY_QUERY`] however the statement ends.
struct QueryGuard;

impl QueryGuard {
    fn set(sql: String) -> Self {
        COPY_QUERY.set(sql);
        QueryGuard
    }
}

impl Drop for QueryGuard {
    fn drop(&mut self) {
        COPY_QUERY.take();
    }
}

/// Writes the CSV report for `scope` (header first) to `emit` in chunks of
/// about [`CHUNK`] bytes. Returns the number of rows.
///
/// Nothing reaches `emit` until the first chunk of rows is read (the header
/// travels with it), so a query that cannot start fails before any output, as
/// [`super::read`] does. One statement: the rows are one snapshot, and
/// `statement_timeout` bounds the whole export. A slow `emit` stops the reading,
/// so the server waits on its socket (bounded memory, backpressure); when
/// `emit` refuses (the reader went away) the rest of the COPY is drained and
/// discarded at database speed before the connection is free again.
pub fn write_csv(
    conn: &mut PgConnection,
    scope: &Scope,
    emit: &mut dyn FnMut(Vec<u8>) -> bool,
) -> Result<u64, DbError> {
    let date = scope.date.format("%Y-%m-%d").to_string();
    let sql = csv_sql(scope, &date);
    let mut header = csv::Writer::from_writer(Vec::new());
    header
        .write_record(HEADER)
        .map_err(|e| DbError::Task(format!("csv: {e}")))?;
    let header = header
        .into_inner()
        .map_err(|e| DbError::Task(format!("csv: {e}")))?;
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            // As for the cursor (read.rs): no JIT, room to sort and hash in memory.
            diesel::sql_query("SET LOCAL jit = off").execute(conn)?;
            diesel::sql_query("SET LOCAL work_mem = '64MB'").execute(conn)?;
            let mut out = Vec::with_capacity(CHUNK + 4096);
            out.extend_from_slice(&header);
            let mut rows = 0u64;
            {
                let _query = QueryGuard::set(sql);
                let mut copy = diesel::copy_to(ReportCopy)
                    .with_format(CopyFormat::Csv)
                    .load_raw(conn)?;
                loop {
                    let row = copy
                        .fill_buf()
                        .map_err(|e| DbError::Unavailable(Arc::new(e)))?;
                    if row.is_empty() {
                        break;
                    }
                    // PostgreSQL sends one CopyData message per row, and diesel's
                    // reader hands out one message per fill: one fill, one row.
                    rows += 1;
                    out.extend_from_slice(row);
                    let n = row.len();
                    copy.consume(n);
                    if out.len() >= CHUNK
                        && !emit(std::mem::replace(
                            &mut out,
                            Vec::with_capacity(CHUNK + 4096),
                        ))
                    {
                        return Ok(rows);
                    }
                }
            }
            // An error while copying (a statement timeout, say) looks like the end
            // of the data to diesel's reader: PostgreSQL reports it after the last
            // row, and diesel does not read that final status. The next statement
            // collects it (libpq discards it) and then fails in the aborted
            // transaction, so a cut-short export is an error, never a short file.
            if let Err(e) = conn.batch_execute("SELECT 1") {
                let e = DbError::from(e);
                return Err(if e.is_unavailable() {
                    e
                } else {
                    DbError::Task(format!("the report's COPY failed part way: {e}"))
                });
            }
            if !out.is_empty() {
                emit(out);
            }
            Ok(rows)
        })
}
