//! PostgreSQL through sync diesel and an r2d2 pool. Every query runs on tokio's
//! blocking pool via [`Db::run`], so no async worker thread ever waits on the database.

pub mod checks;
pub mod console_signouts;
pub mod dead_letters;
pub mod evidence;
pub mod exceptions;
pub mod flights;
pub mod inbox;
pub mod models;
pub mod order_events;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod prepared;
mod reference_lock;
pub mod retention;
pub mod schema;
pub mod settlements;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection as _;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::SessionLimits;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Arbitrary constant naming the advisory lock that serialises migrations, so
/// webhook-api and reconciler can start at the same moment.
const MIGRATION_LOCK_KEY: i64 = 0x5053_455f_4d49_4752; // "PSE_MIGR"

/// Connections of the soft-state pool ([`Db::soft_state`]): the relay's one
/// loop, the reconciler's two lease pickers and one spare for the relay's
/// hand-backs.
pub const SOFT_STATE_POOL_SIZE: u32 = 4;

/// How long soft-state work waits for one of those connections: as long as
/// ingestion's writers, whose rows the relay carries.
pub const SOFT_STATE_WAIT: Duration = Duration::from_secs(1);

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type PgConn = PooledConnection<ConnectionManager<PgConnection>>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database could not be reached or no connection was free in time. The cause is
    /// shared (`Arc`) because one failed batch answers every delivery in it.
    #[error("database unavailable")]
    Unavailable(#[source] Arc<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    /// Something the code around the query found wrong (no underlying error to keep).
    #[error("database task failed: {0}")]
    Task(String),
    /// The blocking task that ran the query panicked or was cancelled.
    #[error("database task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// A message bound for the outbox could not be encoded.
    #[error("cannot encode a message: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("migration failed: {0}")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DbError {
    /// Whether retrying later may succeed (connection-level trouble rather than a bad query).
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    diesel::result::DatabaseErrorKind::ClosedConnection
                        | diesel::result::DatabaseErrorKind::SerializationFailure
                ) || is_timeout(info.message())
            }
            _ => false,
        }
    }
}

/// A statement or lock wait cut short by the session limits ([`SessionLimits`]):
/// worth retrying, not a bad query. diesel exposes no SQLSTATE (57014, 55P03),
/// so this reads PostgreSQL's message, which is English unless `lc_messages`
/// is changed on the server.
fn is_timeout(message: &str) -> bool {
    message.starts_with("canceling statement due to")
}

impl From<r2d2::Error> for DbError {
    fn from(e: r2d2::Error) -> Self {
        DbError::Unavailable(Arc::new(e))
    }
}

/// A cheap-to-clone handle on the pool.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    /// One permit per pooled connection, taken before a blocking thread is
    /// asked for: callers beyond the pool's size wait here, as cheap tasks,
    /// instead of each parking a blocking thread on the pool (measured: 78
    /// threads and a futex storm in a reconciler with 64 checks in flight).
    slots: Arc<tokio::sync::Semaphore>,
    /// How long a caller waits for a permit, the pool's own check-out timeout.
    wait: Duration,
}

impl Db {
    /// Builds the pool without connecting yet, so a process can start (and
    /// answer 503) while the database is down.
    pub fn new(url: &str, max_size: u32, connection_timeout: Duration) -> Self {
        Self::build(url, max_size, connection_timeout, None)
    }

    /// Like [`Db::new`], with `limits` set on every connection the pool opens.
    pub fn with_limits(
        url: &str,
        max_size: u32,
        connection_timeout: Duration,
        limits: SessionLimits,
    ) -> Self {
        let session = Limits {
            limits,
            commit: Commit::Durable,
        };
        Self::build(url, max_size, connection_timeout, Some(session))
    }

    /// The pool for soft state only ([`SOFT_STATE_POOL_SIZE`] connections,
    /// waited for at most [`SOFT_STATE_WAIT`]): its transactions commit
    /// without waiting for the WAL flush (`synchronous_commit = off`). Only for
    /// writes whose loss in a database server crash repeats work and never
    /// loses or doubles an effect: flight leases, outbox claims and published
    /// marks (docs/ARCHITECTURE.md, "Soft state commits without waiting for
    /// the disk"). What such a transaction wrote is visible to others at once
    /// as usual; the next durable commit on the server flushes it too.
    pub fn soft_state(url: &str, limits: SessionLimits) -> Self {
        let session = Limits {
            limits,
            commit: Commit::Unflushed,
        };
        Self::build(url, SOFT_STATE_POOL_SIZE, SOFT_STATE_WAIT, Some(session))
    }

    fn build(
        url: &str,
        max_size: u32,
        connection_timeout: Duration,
        limits: Option<Limits>,
    ) -> Self {
        let mut builder = Pool::<ConnectionManager<PgConnection>>::builder()
            .max_size(max_size)
            .min_idle(Some(0))
            .connection_timeout(connection_timeout)
            // A `SELECT 1` per check-out stays: without it every connection the
            // server closed (a database restart) fails the next query that meets
            // it, and with group commit that is a whole batch of events spending a
            // retry attempt each; the fault test then dead-lettered events
            // (docs/ARCHITECTURE.md, "Reconciler: group commit").
            .test_on_check_out(true);
        if let Some(limits) = limits {
            builder = builder.connection_customizer(Box::new(limits));
        }
        Self {
            pool: builder.build_unchecked(ConnectionManager::new(url)),
            slots: Arc::new(tokio::sync::Semaphore::new(max_size as usize)),
            wait: connection_timeout,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut PgConn) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => return Err(DbError::Unavailable(Arc::new(closed))),
            Err(elapsed) => return Err(DbError::Unavailable(Arc::new(PoolBusy(elapsed)))),
        };
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// `SELECT 1`, for readiness.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| ping(conn)).await
    }
}

/// Every pooled connection stayed busy for the whole check-out timeout.
#[derive(Debug, thiserror::Error)]
#[error("no database connection came free in time")]
struct PoolBusy(#[source] tokio::time::error::Elapsed);

/// `SELECT 1`: whether the session still answers.
pub fn ping(conn: &mut PgConnection) -> Result<(), DbError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(())
}

/// Takes the session-level advisory lock `key` if no other session holds it. It lives as
/// long as the session, so a crashed holder frees it at once.
pub fn try_session_lock(conn: &mut PgConnection, key: i64) -> Result<bool, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let got: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
        .bind::<diesel::sql_types::BigInt, _>(key)
        .get_result(conn)?;
    Ok(got.locked)
}

/// Sets [`SessionLimits`] when r2d2 opens a connection: a runaway query, a
/// lock wait or an abandoned transaction ends on the server's side rather
/// than holding a pooled connection (and what it locked) for ever. A
/// [`Db::soft_state`] pool's sessions also commit without waiting for the disk.
#[derive(Debug)]
struct Limits {
    limits: SessionLimits,
    commit: Commit,
}

/// When a commit answers: after its WAL is flushed, or at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    Durable,
    Unflushed,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for Limits {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        let ms = |d: Duration| d.as_millis().min(i32::MAX as u128);
        // A durable pool keeps the server's setting, which may be stronger
        // than `on` (`remote_apply` with a synchronous standby).
        let commit = match self.commit {
            Commit::Durable => "",
            Commit::Unflushed => "; SET synchronous_commit = off",
        };
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET lock_timeout = {}; \
             SET idle_in_transaction_session_timeout = {}{commit}",
            ms(self.limits.statement_timeout),
            ms(self.limits.lock_timeout),
            ms(self.limits.idle_in_transaction_timeout),
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Applies pending migrations under a session advisory lock. Safe when several
/// processes start together: the second waits, then finds nothing to do.
pub fn run_migrations(url: &str) -> Result<Vec<String>, DbError> {
    let mut conn = PgConnection::establish(url).map_err(|e| DbError::Unavailable(Arc::new(e)))?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|applied| applied.iter().map(ToString::to_string).collect())
        .map_err(DbError::Migration);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
        .execute(&mut conn)?;
    result
}

/// Retries [`run_migrations`] until the database answers or `deadline` passes,
/// logging progress; a fresh `docker compose up` starts Postgres slowly.
pub async fn migrate_with_retry(url: &str, deadline: Duration) -> Result<(), DbError> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        let url_owned = url.to_owned();
        let attempt = tokio::task::spawn_blocking(move || run_migrations(&url_owned)).await?;
        match attempt {
            Ok(applied) => {
                for name in &applied {
                    tracing::info!(migration = %name, "applied migration");
                }
                return Ok(());
            }
            Err(e) if e.is_unavailable() && started.elapsed() < deadline => {
                tracing::warn!(error = %crate::telemetry::ErrorChain(&e), retry_in_ms = delay.as_millis() as u64, "database not reachable yet; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// True when `e` is a unique-constraint violation (a duplicate the schema caught).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::ErrorChain;

    /// The driver's words are what an operator needs: they stay the error's source.
    #[test]
    fn an_unreachable_database_keeps_its_cause() {
        let e = run_migrations("postgres://nobody@127.0.0.1:1/none").unwrap_err();
        assert!(e.is_unavailable(), "{e:?}");
        let cause = std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(!cause.is_empty(), "no source kept");
        assert_eq!(
            ErrorChain(&e).to_string(),
            format!("database unavailable: {cause}")
        );
    }
}
