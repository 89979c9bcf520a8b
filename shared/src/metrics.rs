//! Prometheus metrics. One [`Metrics`] per process, passed where needed (not a
//! global), so parallel tests each read their own counters.

use prometheus::{Encoder, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
/// What the reconciler's batch loops observe their sizes into (tests build their own).
pub use prometheus::{Histogram, HistogramOpts};

pub struct Metrics {
    registry: Registry,
    pub webhooks_received: IntCounterVec,
    pub webhooks_rejected: IntCounterVec,
    pub webhooks_duplicate: IntCounterVec,
    pub webhooks_stored: IntCounterVec,
    pub webhooks_ignored: IntCounterVec,
    pub published: IntCounterVec,
    pub publish_failures: IntCounterVec,
    pub outbox_backlog: IntGaugeVec,
    pub events_processed: IntCounterVec,
    pub provider_calls: HistogramVec,
    pub ingress_batch: prometheus::Histogram,
    /// Checks per reconciler group commit (`stage="commit"`) and per lease
    /// statement (`stage="lease"`): how much batching the load is buying.
    pub reconciler_batch: HistogramVec,
    pub retries: IntCounterVec,
    pub dead_letters: IntCounterVec,
    pub orders_by_state: IntGaugeVec,
    pub checks_coalesced: IntCounterVec,
    pub checks_deferred: IntCounterVec,
    pub outbox_oldest_pending: IntGaugeVec,
    pub outbox_retrying: IntGaugeVec,
    pub outbox_max_attempts: IntGaugeVec,
    pub broker_connected: IntGaugeVec,
    pub retention_deleted: IntCounterVec,
    pub retention_redacted: IntCounterVec,
    pub reports_refused: IntCounterVec,
    pub payments_created: IntCounterVec,
    pub provider_create_seconds: HistogramVec,
}

pub(crate) fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(c.clone()))
        .unwrap_or_else(|e| panic!("register {name}: {e}"));
    c
}

pub(crate) fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(g.clone()))
        .unwrap_or_else(|e| panic!("register {name}: {e}"));
    g
}

pub(crate) fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    registry
        .register(Box::new(h.clone()))
        .unwrap_or_else(|e| panic!("register {name}: {e}"));
    h
}

/// Sizes of batches that grow with load (at most a few hundred).
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

impl Metrics {
    // Metric definitions are constants: a failure here is a programming error
    // caught by every test, hence the panics above.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let r = Registry::new();
        let provider_calls = histogram(
            &r,
            "provider_call_duration_seconds",
            "Latency of provider API calls, by provider and HTTP status (or error)",
            &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            &["provider", "status"],
        );
        let ingress_batch = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "ingress_batch_size",
                "Webhook deliveries committed per transaction",
            )
            .buckets(BATCH_BUCKETS.to_vec()),
        )
        .unwrap_or_else(|e| panic!("metric ingress_batch_size: {e}"));
        r.register(Box::new(ingress_batch.clone()))
            .unwrap_or_else(|e| panic!("register ingress_batch_size: {e}"));
        let reconciler_batch = histogram(
            &r,
            "reconciler_batch_size",
            "Checks per reconciler group commit (stage=commit) and per flight-lease statement (stage=lease)",
            &BATCH_BUCKETS,
            &["stage"],
        );
        let provider_create_seconds = histogram(
            &r,
            "provider_create_seconds",
            "Latency of each provider call made to create a payment (POST /v1/payments, sweeper)",
            &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            &["provider"],
        );
        Self {
            provider_create_seconds,
            payments_created: counter(
                &r,
                "payments_created_total",
                "POST /v1/payments and sweeper resolutions, by provider and outcome (created, replayed, rejected, unavailable, abandoned)",
                &["provider", "outcome"],
            ),
            ingress_batch,
            reconciler_batch,
            webhooks_received: counter(
                &r,
                "webhooks_received_total",
                "Webhook deliveries received",
                &["provider"],
            ),
            webhooks_rejected: counter(
                &r,
                "webhooks_rejected_total",
                "Webhook deliveries refused, by reason",
                &["provider", "reason"],
            ),
            webhooks_duplicate: counter(
                &r,
                "webhooks_duplicate_total",
                "Deliveries already stored (answered 200, nothing added)",
                &["provider"],
            ),
            webhooks_stored: counter(
                &r,
                "webhooks_stored_total",
                "New webhook events stored in the inbox",
                &["provider"],
            ),
            webhooks_ignored: counter(
                &r,
                "webhooks_ignored_total",
                "Stored events of a type the product does not act on",
                &["provider"],
            ),
            published: counter(
                &r,
                "outbox_published_total",
                "Messages confirmed by RabbitMQ, by exchange and routing-key prefix",
                &["exchange", "prefix"],
            ),
            publish_failures: counter(
                &r,
                "outbox_publish_failures_total",
                "Publishes not confirmed (nacked, returned or failed)",
                &["exchange"],
            ),
            outbox_backlog: gauge(
                &r,
                "outbox_unpublished",
                "Outbox rows not yet published",
                &[],
            ),
            events_processed: counter(
                &r,
                "reconciler_events_total",
                "Queue messages handled, by provider and outcome",
                &["provider", "outcome"],
            ),
            provider_calls,
            retries: counter(
                &r,
                "reconciler_retries_total",
                "Checks sent to a delay queue after a retryable failure",
                &["provider"],
            ),
            dead_letters: counter(
                &r,
                "reconciler_dead_letters_total",
                "Messages sent to reconciler.dead",
                &["provider", "reason"],
            ),
            orders_by_state: gauge(
                &r,
                "orders",
                "Orders by state (refreshed when scraped)",
                &["state"],
            ),
            checks_coalesced: counter(
                &r,
                "checks_coalesced_total",
                "Check requests (webhooks, sweeps, replays, superseded retries) answered by a check already queued for the same provider object",
                &["provider"],
            ),
            checks_deferred: counter(
                &r,
                "checks_deferred_total",
                "Checks put back on a delay queue because another process was checking the same object",
                &["provider"],
            ),
            outbox_oldest_pending: gauge(
                &r,
                "outbox_oldest_pending_seconds",
                "Age of the oldest unpublished outbox row (0 when none)",
                &[],
            ),
            outbox_retrying: gauge(
                &r,
                "outbox_retrying",
                "Unpublished outbox rows whose publish has failed at least once",
                &[],
            ),
            outbox_max_attempts: gauge(
                &r,
                "outbox_failed_attempts",
                "Most failed publish attempts of any unpublished outbox row",
                &[],
            ),
            broker_connected: gauge(
                &r,
                "broker_connected",
                "1 while this process is connected to RabbitMQ",
                &[],
            ),
            retention_deleted: counter(
                &r,
                "retention_deleted_total",
                "Rows deleted by the retention job, by table",
                &["table"],
            ),
            retention_redacted: counter(
                &r,
                "retention_redacted_total",
                "Rows whose raw body and headers the retention job removed, by table",
                &["table"],
            ),
            reports_refused: counter(
                &r,
                "reports_refused_total",
                "Report requests refused with 503 reports_busy (REPORT_CONCURRENCY reached)",
                &[],
            ),
            registry: r,
        }
    }

    /// Sets the outbox gauges from one [`outbox::stats`](crate::db::outbox::stats) read.
    pub fn set_outbox(&self, s: &crate::db::outbox::Stats) {
        let none: &[&str] = &[];
        self.outbox_backlog
            .with_label_values(none)
            .set(s.unpublished);
        self.outbox_retrying.with_label_values(none).set(s.retrying);
        self.outbox_max_attempts
            .with_label_values(none)
            .set(s.max_attempts);
        self.outbox_oldest_pending
            .with_label_values(none)
            .set(s.oldest_pending_seconds);
    }

    pub fn set_broker(&self, connected: bool) {
        self.broker_connected
            .with_label_values(&[] as &[&str])
            .set(i64::from(connected));
    }

    /// For metric groups defined next to what they measure (`queue::metrics`).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format served on `/metrics`.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
