//! Operational limits: database pools and session timeouts, the report cap,
//! the relay's pace, gauge caching and retention (README, "Configuration";
//! docs/ARCHITECTURE.md, "Pools, timeouts and retention").

use std::time::Duration;

use super::ConfigError;
use super::source::Reader;

/// Per-session PostgreSQL limits, set on every pooled connection when it is
/// opened, so a stuck query or a forgotten transaction cannot hold a
/// connection (and its locks) indefinitely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    pub idle_in_transaction_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsConfig {
    /// Connections reserved for webhook ingestion, so slow API calls can
    /// never make a provider's delivery wait for one (the outbox relay has a
    /// pool of its own: `db::SOFT_STATE_POOL_SIZE`).
    pub ingest_pool_size: u32,
    /// Ingestion and relay sessions: short, because a webhook must be
    /// answered well inside the providers' timeouts (Belvo: 5 s).
    pub ingest_limits: SessionLimits,
    /// API, reconciler and operator endpoints.
    pub api_limits: SessionLimits,
    /// Report downloads: one long snapshot read, streamed to the client.
    pub report_limits: SessionLimits,
    /// Reports running at once per webhook-api process (each holds one
    /// connection of its own pool); one more is refused with 503 `reports_busy`.
    pub report_concurrency: u32,
    /// How often the relay's background pass runs (released, failed or
    /// orphaned outbox rows).
    pub relay_interval: Duration,
    /// First delay before a failed outbox row is tried again; doubles per attempt.
    pub relay_retry_base: Duration,
    pub relay_retry_max: Duration,
    /// Expensive gauges (orders by state, outbox statistics) are recomputed at
    /// most this often, however often `/metrics` is scraped.
    pub gauge_refresh: Duration,
    pub retention: RetentionConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Time between retention runs in the reconciler.
    pub interval: Duration,
    /// Published outbox rows are deleted this long after publication.
    pub outbox_published: Duration,
    /// Raw webhook bodies and provider answers are kept this long (disputes).
    pub evidence: Duration,
    /// Rows per statement; each statement is its own short transaction.
    pub batch: i64,
}

fn millis(
    r: &Reader<'_>,
    name: &'static str,
    default: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    r.number(name, default, 1..=max).map(Duration::from_millis)
}

impl OpsConfig {
    pub(super) fn read(r: &Reader<'_>) -> Result<Self, ConfigError> {
        let lock_timeout = millis(r, "DB_LOCK_TIMEOUT_MS", 2_000, 600_000)?;
        let idle = millis(r, "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 30_000, 3_600_000)?;
        Ok(Self {
            ingest_pool_size: r.number("DATABASE_INGEST_POOL_SIZE", 4, 2..=64)?,
            ingest_limits: SessionLimits {
                statement_timeout: millis(r, "DB_INGEST_STATEMENT_TIMEOUT_MS", 2_000, 600_000)?,
                lock_timeout,
                idle_in_transaction_timeout: idle,
            },
            api_limits: SessionLimits {
                statement_timeout: millis(r, "DB_STATEMENT_TIMEOUT_MS", 10_000, 3_600_000)?,
                lock_timeout,
                idle_in_transaction_timeout: idle,
            },
            report_limits: SessionLimits {
                statement_timeout: millis(r, "DB_REPORT_STATEMENT_TIMEOUT_MS", 300_000, 3_600_000)?,
                lock_timeout,
                // A streamed report's transaction sits idle while a slow
                // client reads; the statement timeout already bounds each read.
                idle_in_transaction_timeout: idle.max(Duration::from_secs(300)),
            },
            report_concurrency: r.number("REPORT_CONCURRENCY", 2, 1..=64)?,
            relay_interval: millis(r, "OUTBOX_RELAY_INTERVAL_MS", 1_000, 60_000)?,
            relay_retry_base: millis(r, "OUTBOX_RETRY_BASE_MS", 1_000, 600_000)?,
            relay_retry_max: r.seconds("OUTBOX_RETRY_MAX_SECS", 300)?,
            gauge_refresh: r.seconds("METRICS_GAUGE_REFRESH_SECS", 15)?,
            retention: RetentionConfig {
                interval: r.seconds("RETENTION_INTERVAL_SECS", 600)?,
                outbox_published: r.seconds("RETENTION_OUTBOX_PUBLISHED_SECS", 86_400)?,
                evidence: Duration::from_secs(
                    r.number("RETENTION_EVIDENCE_DAYS", 400u64, 30..=3_650)? * 86_400,
                ),
                batch: r.number("RETENTION_BATCH", 1_000, 1..=100_000)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::Config;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_source(&vars)
    }

    #[test]
    fn documented_defaults() {
        let ops = config(&[]).unwrap().ops;
        assert_eq!(ops.ingest_pool_size, 4);
        assert_eq!(ops.ingest_limits.statement_timeout, Duration::from_secs(2));
        assert_eq!(ops.api_limits.statement_timeout, Duration::from_secs(10));
        assert_eq!(
            ops.report_limits.statement_timeout,
            Duration::from_secs(300)
        );
        assert_eq!(ops.api_limits.lock_timeout, Duration::from_secs(2));
        assert_eq!(
            ops.api_limits.idle_in_transaction_timeout,
            Duration::from_secs(30)
        );
        assert_eq!(
            ops.report_limits.idle_in_transaction_timeout,
            Duration::from_secs(300)
        );
        assert_eq!(ops.report_concurrency, 2);
        assert_eq!(ops.relay_interval, Duration::from_secs(1));
        assert_eq!(ops.relay_retry_base, Duration::from_secs(1));
        assert_eq!(ops.relay_retry_max, Duration::from_secs(300));
        assert_eq!(ops.gauge_refresh, Duration::from_secs(15));
        assert_eq!(
            ops.retention,
            RetentionConfig {
                interval: Duration::from_secs(600),
                outbox_published: Duration::from_secs(86_400),
                evidence: Duration::from_secs(400 * 86_400),
                batch: 1_000,
            }
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("DATABASE_INGEST_POOL_SIZE", "1"),
            ("DB_STATEMENT_TIMEOUT_MS", "0"),
            ("DB_LOCK_TIMEOUT_MS", "soon"),
            ("REPORT_CONCURRENCY", "0"),
            ("OUTBOX_RETRY_BASE_MS", "-5"),
            ("RETENTION_EVIDENCE_DAYS", "7"),
            ("RETENTION_BATCH", "0"),
        ] {
            let e = config(&[(var, value)]).unwrap_err();
            assert_eq!(e.variable, var, "{e}");
        }
    }
}
