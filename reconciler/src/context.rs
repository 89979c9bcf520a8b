//! What every part of the worker shares.

use std::sync::Arc;

use shared::Config;
use shared::db::Db;
use shared::metrics::Metrics;
use shared::providers::Connectors;
use shared::queue::Broker;
use shared::queue::metrics::QueueMetrics;
use shared::queue::relay::Relay;

use crate::commit::Committer;
use crate::pick::Picker;

pub struct Ctx {
    pub config: Arc<Config>,
    pub db: Db,
    pub broker: Broker,
    pub connectors: Connectors,
    pub metrics: Arc<Metrics>,
    /// Registered into `metrics`' registry, so `/metrics` shows them too.
    pub queue_metrics: Arc<QueueMetrics>,
    pub relay: Relay,
    /// Where a check's outcome is committed: with other checks' outcomes,
    /// each under its own savepoint (group commit, `crate::commit`).
    pub commits: Committer,
    /// Where a check takes its flight lease: with the other checks starting
    /// at the same moment, in one statement (`crate::pick`).
    pub picks: Picker,
}
