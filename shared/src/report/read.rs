//! Reading a report from one database snapshot: the summary's aggregates, then the rows
//! through a server-side cursor.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::{ProviderTally, ReportRow, Scope, Summary, Tally};
use crate::db::DbError;

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
