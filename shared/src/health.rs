//! The `/readyz` answer both binaries give: each names its own checks, the shape and the
//! status code come from here so an orchestrator reads them the same way.
//!
//! Framework-free like the rest of `shared`: the binaries turn [`Readiness::status`] and
//! [`Readiness::body`] into their HTTP response.
//!
//! `/readyz` and `/metrics` are unauthenticated, so what they ask of the
//! database goes through [`Cached`]: a flood of probes costs at most one query
//! per period.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::db::Db;
use crate::db::outbox::{self, Stats};
use crate::metrics::Metrics;

/// The outcome of a readiness probe, built one named check at a time.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    checks: Map<String, Value>,
    detail: Map<String, Value>,
    ready: bool,
}

impl Readiness {
    pub fn new() -> Self {
        Self {
            checks: Map::new(),
            detail: Map::new(),
            ready: true,
        }
    }

    /// Adds a dependency that is reported (`"ok"`/`"unavailable"`) but does
    /// not decide readiness: the process still does its job without it.
    pub fn info(mut self, name: &str, ok: bool) -> Self {
        self.checks.insert(
            name.to_owned(),
            Value::from(if ok { "ok" } else { "unavailable" }),
        );
        self
    }

    /// Adds figures for operators under `detail.<name>`.
    pub fn detail(mut self, name: &str, value: Value) -> Self {
        self.detail.insert(name.to_owned(), value);
        self
    }

    /// Adds a check, shown as `"ok"` or `"unavailable"`; any unavailable check makes the
    /// whole probe not ready.
    pub fn check(mut self, name: &str, ok: bool) -> Self {
        self.checks.insert(
            name.to_owned(),
            Value::from(if ok { "ok" } else { "unavailable" }),
        );
        self.ready &= ok;
        self
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// 200 when ready, else 503 (so a load balancer stops sending traffic).
    pub fn status(&self) -> u16 {
        if self.ready { 200 } else { 503 }
    }

    /// `{"status": "ready"|"not_ready", "checks": {name: "ok"|"unavailable", …}}`,
    /// plus `"detail": {…}` when any was added.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "status": if self.ready { "ready" } else { "not_ready" },
            "checks": self.checks,
        });
        if !self.detail.is_empty() {
            body["detail"] = Value::Object(self.detail.clone());
        }
        body
    }
}

/// A value recomputed at most once per `ttl`; concurrent callers wait for
/// the one refresh instead of each running it.
pub struct Cached<T> {
    ttl: Duration,
    slot: tokio::sync::Mutex<Option<(Instant, T)>>,
}

impl<T: Clone> Cached<T> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn get<F, Fut>(&self, refresh: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return value.clone();
        }
        let value = refresh().await;
        *slot = Some((Instant::now(), value.clone()));
        value
    }
}

/// What both binaries' `/readyz` and `/metrics` ask of the database, cached.
pub struct Probes {
    database: Cached<bool>,
    outbox: Cached<Option<Stats>>,
}

impl Probes {
    /// `gauge_refresh`: how old the outbox figures may be (`METRICS_GAUGE_REFRESH_SECS`).
    pub fn new(gauge_refresh: Duration) -> Self {
        Self {
            database: Cached::new(DATABASE_PROBE_TTL),
            outbox: Cached::new(gauge_refresh),
        }
    }

    /// Whether `db` answers a `SELECT 1` (asked at most once a second).
    pub async fn database(&self, db: &Db) -> bool {
        self.database
            .get(move || async move { db.ping().await.is_ok() })
            .await
    }

    /// The outbox figures, refreshing the gauges in `metrics` when recomputed;
    /// `None` when the database did not answer.
    pub async fn outbox(&self, db: &Db, metrics: &Metrics) -> Option<Stats> {
        self.outbox
            .get(move || async move {
                let stats = db.run(|conn| outbox::stats(conn)).await.ok()?;
                metrics.set_outbox(&stats);
                Some(stats)
            })
            .await
    }
}

/// How long a database probe result is reused: short enough for a load
/// balancer to notice an outage within its own probe period.
const DATABASE_PROBE_TTL: Duration = Duration::from_secs(1);

/// The `/readyz` detail for the outbox.
pub fn outbox_detail(stats: Option<Stats>) -> Value {
    match stats {
        None => Value::from("unavailable"),
        Some(s) => json!({
            "unpublished": s.unpublished,
            "retrying": s.retrying,
            "max_failed_attempts": s.max_attempts,
            "oldest_pending_seconds": s.oldest_pending_seconds,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cached_values_are_recomputed_only_after_their_period() {
        let cached = Cached::new(Duration::from_millis(200));
        let counter = std::sync::atomic::AtomicU32::new(0);
        let runs = &counter;
        let count =
            move || async move { runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 };
        assert_eq!(cached.get(count).await, 1);
        assert_eq!(cached.get(count).await, 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(cached.get(count).await, 2);
    }

    #[test]
    fn informational_checks_and_detail_do_not_decide_readiness() {
        let r = Readiness::new()
            .check("database", true)
            .info("broker", false)
            .detail("outbox", json!({"unpublished": 3}));
        assert!(r.is_ready());
        assert_eq!(
            r.body(),
            json!({"status": "ready", "checks": {"database": "ok", "broker": "unavailable"},
                   "detail": {"outbox": {"unpublished": 3}}})
        );
    }

    #[test]
    fn ready_only_when_every_check_is_ok() {
        let r = Readiness::new()
            .check("database", true)
            .check("broker", true);
        assert!(r.is_ready());
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.body(),
            json!({"status": "ready", "checks": {"database": "ok", "broker": "ok"}})
        );
        let r = Readiness::new()
            .check("database", true)
            .check("broker", false)
            .check("consumer", true);
        assert!(!r.is_ready());
        assert_eq!(r.status(), 503);
        assert_eq!(
            r.body(),
            json!({"status": "not_ready",
                   "checks": {"database": "ok", "broker": "unavailable", "consumer": "ok"}})
        );
    }
}
