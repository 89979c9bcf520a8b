//! What every handler can reach.

use std::sync::Arc;

use shared::Config;
use shared::db::Db;
use shared::metrics::Metrics;
use shared::providers::Connectors;
use shared::queue::Broker;
use shared::queue::relay::Relay;

use crate::ingest::InboxWriter;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub broker: Broker,
    pub connectors: Connectors,
    pub relay: Relay,
    pub inbox: InboxWriter,
    pub metrics: Arc<Metrics>,
    pub payments: crate::payments::Payments,
}
