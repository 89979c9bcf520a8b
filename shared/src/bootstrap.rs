//! What both binaries set up at start: migrations, the pool, the broker
//! connection, the provider clients, metrics and the outbox relay.
//! Three pools: one reserved for ingestion, a small one for soft state (the
//! relay's claims and marks, the reconciler's flight leases), one for the rest.

use std::sync::Arc;
use std::time::Duration;

use crate::Config;
use crate::db::{self, Db, DbError};
use crate::metrics::Metrics;
use crate::providers::Connectors;
use crate::queue::relay::{Pace, Relay};
use crate::queue::{Broker, Topology};

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("database: {0}; is PostgreSQL running? (scripts/services.sh starts it)")]
    Database(#[from] DbError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

pub struct Parts {
    pub db: Db,
    /// The pool reserved for webhook ingestion.
    pub ingest_db: Db,
    /// Writes whose loss in a database crash only repeats work: the relay's
    /// and the reconciler's lease pickers' ([`Db::soft_state`]).
    pub soft_db: Db,
    pub broker: Broker,
    pub connectors: Connectors,
    pub metrics: Arc<Metrics>,
    pub relay: Relay,
}

/// Applies migrations (waiting up to a minute for the database), then starts
/// the broker supervisor (`name` labels the AMQP connection) and the relay.
pub async fn start(config: &Config, name: &str) -> Result<Parts, BootError> {
    db::migrate_with_retry(config.database_url.expose(), Duration::from_secs(60)).await?;
    let db = Db::with_limits(
        config.database_url.expose(),
        config.database_pool_size,
        Duration::from_secs(3),
        config.ops.api_limits,
    );
    // Ingestion and the relay get connections nobody else can take; a writer
    // that cannot get one within a second answers 503 (the provider retries)
    // well inside the providers' timeouts.
    let ingest_db = Db::with_limits(
        config.database_url.expose(),
        config.ops.ingest_pool_size,
        Duration::from_secs(1),
        config.ops.ingest_limits,
    );
    // Soft state: the relay's and the pickers' commits do not wait for the
    // disk; the same short limits as ingestion, whose rows the relay carries.
    let soft_db = Db::soft_state(config.database_url.expose(), config.ops.ingest_limits);
    let topology = Topology::new(config.amqp_name_prefix.clone(), config.retry_delays.clone());
    let broker = Broker::start(config.amqp_url.clone(), topology, name);
    let http = crate::http::client(config.provider_connect_timeout, config.provider_timeout)
        .map_err(BootError::Http)?;
    let metrics = Arc::new(Metrics::new());
    let relay = Relay::start(
        soft_db.clone(),
        broker.clone(),
        metrics.clone(),
        Pace::from_config(&config.ops),
    );
    Ok(Parts {
        connectors: Connectors::from_config(config, http),
        db,
        ingest_db,
        soft_db,
        broker,
        metrics,
        relay,
    })
}
