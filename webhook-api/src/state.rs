//! What every handler can reach.

use std::sync::Arc;

use shared::Config;
use shared::db::Db;
use shared::health::Probes;
use shared::metrics::Metrics;
use shared::providers::Connectors;
use shared::queue::Broker;
use shared::queue::relay::Relay;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::ingest::InboxWriter;

pub struct AppState {
    pub config: Arc<Config>,
    /// API requests; ingestion has its own pool (in `inbox` and `relay`).
    pub db: Db,
    /// The pool reserved for ingestion, also what readiness asks.
    pub ingest_db: Db,
    pub broker: Broker,
    pub connectors: Connectors,
    pub relay: Relay,
    pub inbox: InboxWriter,
    pub metrics: Arc<Metrics>,
    pub payments: crate::payments::Payments,
    pub reports: ReportSlots,
    pub probes: Probes,
    /// The finance console's session key and sign-in limiter.
    pub console: crate::console::ConsoleState,
}

/// Reports run on a pool of their own (longer statement timeout) with at
/// most `REPORT_CONCURRENCY` at once: a download holds its connection for as
/// long as the client reads, so an uncapped burst would queue everyone else.
pub struct ReportSlots {
    pub db: Db,
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

/// Held for the whole report, including streaming; dropping it frees the slot.
pub type ReportSlot = OwnedSemaphorePermit;

impl ReportSlots {
    pub fn new(db: Db, concurrency: u32, metrics: Arc<Metrics>) -> Self {
        Self {
            db,
            slots: Arc::new(Semaphore::new(concurrency as usize)),
            metrics,
        }
    }

    /// A slot now, or 503 `reports_busy` (never a wait that would hold the
    /// client's connection with nothing to say).
    pub fn acquire(&self) -> Result<ReportSlot, ApiError> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            self.metrics
                .reports_refused
                .with_label_values(&[] as &[&str])
                .inc();
            ApiError::ReportsBusy
        })
    }
}
