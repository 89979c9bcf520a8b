//! Statements kept prepared on their connection: parsed and planned once per
//! connection instead of once per execution.
//!
//! Why this exists: diesel caches a prepared statement only when it can prove
//! the SQL text is fixed, and it refuses for every `sql_query`, every
//! `UPDATE` and every `ON CONFLICT … DO UPDATE`, which are exactly the
//! statements that run for every webhook and every reconciled check. Measured
//! in `BENCHMARKS.md` ("Prepared statements"): parsing and planning those
//! statements was most of PostgreSQL's CPU per event.
//!
//! The cache is per connection and unbounded (diesel's default), so what goes
//! in must be a fixed set of texts: [`prepared`] only takes a `&'static str`,
//! and [`Prepared::fixed`] is only for builder statements whose SQL depends on
//! the call site alone (no `Vec` of rows, no optional columns, no SQL built
//! from values). The test `a_prepared_statement_is_parsed_once_per_connection`
//! proves the statement is really kept, so a diesel upgrade that stops it
//! fails there rather than silently costing the CPU back.

use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId, SqlQuery};
use diesel::sql_types::Untyped;
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

/// A statement diesel keeps prepared on the connection it runs on.
#[derive(Debug, Clone)]
#[must_use = "a statement does nothing until it is executed or loaded"]
pub struct Prepared<Q>(Q);

/// Raw SQL with a fixed text; `bind` adds its parameters, as with
/// `diesel::sql_query(sql).bind(..)`.
pub fn prepared<Q>(sql: &'static str, bind: impl FnOnce(SqlQuery) -> Q) -> Prepared<Q> {
    Prepared(bind(diesel::sql_query(sql)))
}

impl<Q> Prepared<Q> {
    /// A builder statement (typically an `UPDATE … RETURNING`) whose SQL text
    /// is the same on every call from this call site.
    pub fn fixed(query: Q) -> Self {
        Prepared(query)
    }
}

/// What a statement without `RETURNING` gives back: no rows.
#[derive(QueryableByName)]
struct NoRows {}

impl<Q> Prepared<Q>
where
    Q: QueryFragment<Pg> + Query<SqlType = Untyped>,
{
    /// Runs a statement that returns no rows (no `RETURNING`), prepared.
    ///
    /// This shadows `RunQueryDsl::execute` on purpose: diesel's execute path
    /// hands the statement on by reference, and a reference never reaches
    /// [`Prepared`]'s cache decision, so `execute` would parse and plan it
    /// every time (measured: one plan per call). The load path takes the
    /// statement itself. The price is the affected-row count, which that path
    /// does not report: a caller that needs it adds `RETURNING` and loads.
    pub fn execute(self, conn: &mut PgConnection) -> QueryResult<()> {
        self.load::<NoRows>(conn).map(|_| ())
    }
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    /// The one thing this type changes: the text is fixed by construction, so
    /// it is safe to key the cache on it (diesel's `StatementCacheKey::Sql`).
    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: statements of one type may carry different texts, so the
/// cache keys them by their SQL.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}
