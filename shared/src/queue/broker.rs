//! One supervised AMQP connection per process, re-established with backoff.
//!
//! Callers never block on an absent broker: [`Broker::channel`] fails fast
//! while disconnected, and [`Broker::connected`] lets loops wait for the next
//! connection. Webhooks keep being accepted meanwhile (they are in Postgres).

use std::sync::Arc;
use std::time::Duration;

use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::{RwLock, watch};

use super::topology::Topology;
use crate::secret::Secret;
use crate::telemetry::ErrorChain;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("not connected to RabbitMQ")]
    Disconnected,
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
}

struct Inner {
    url: Secret,
    name: String,
    topology: Topology,
    connection: RwLock<Option<Arc<Connection>>>,
    /// Bumped on every (re)connection; `true` while connected.
    state: watch::Sender<(u64, bool)>,
    shutdown: watch::Sender<bool>,
}

#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl Broker {
    /// Starts the supervisor; the first connection attempt happens in the background.
    pub fn start(url: Secret, topology: Topology, name: impl Into<String>) -> Self {
        let (state, _) = watch::channel((0, false));
        let (shutdown, _) = watch::channel(false);
        let broker = Self {
            inner: Arc::new(Inner {
                url,
                name: name.into(),
                topology,
                connection: RwLock::new(None),
                state,
                shutdown,
            }),
        };
        tokio::spawn(broker.clone().supervise());
        broker
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// Changes of `(connection generation, connected)`.
    pub fn subscribe(&self) -> watch::Receiver<(u64, bool)> {
        self.inner.state.subscribe()
    }

    pub fn is_connected(&self) -> bool {
        self.inner.state.borrow().1
    }

    /// Waits until connected (or `timeout`); returns whether it is.
    pub async fn connected(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.state.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|(_, up)| *up))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// A new channel on the live connection.
    pub async fn channel(&self) -> Result<Channel, BrokerError> {
        let guard = self.inner.connection.read().await;
        let conn = guard.as_ref().ok_or(BrokerError::Disconnected)?;
        if !conn.status().connected() {
            return Err(BrokerError::Disconnected);
        }
        Ok(conn.create_channel().await?)
    }

    /// Closes the connection and stops reconnecting.
    pub async fn close(&self) {
        let _ = self.inner.shutdown.send(true);
        if let Some(conn) = self.inner.connection.write().await.take() {
            let _ = conn.close(200, "shutdown".into()).await;
        }
        self.inner.state.send_modify(|s| s.1 = false);
    }

    async fn connect_once(&self) -> Result<Connection, lapin::Error> {
        let props =
            ConnectionProperties::default().with_connection_name(self.inner.name.clone().into());
        let conn = Connection::connect(self.inner.url.expose(), props).await?;
        self.inner.topology.declare(&conn).await?;
        Ok(conn)
    }

    async fn supervise(self) {
        let mut shutdown = self.inner.shutdown.subscribe();
        let mut backoff = Duration::from_millis(200);
        let mut failures = 0u32;
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.connect_once().await {
                Ok(conn) => {
                    if failures > 0 {
                        tracing::info!(after_failures = failures, "connected to RabbitMQ");
                    } else {
                        tracing::info!("connected to RabbitMQ");
                    }
                    failures = 0;
                    backoff = Duration::from_millis(200);
                    let conn = Arc::new(conn);
                    *self.inner.connection.write().await = Some(conn.clone());
                    self.inner.state.send_modify(|s| *s = (s.0 + 1, true));
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                            _ = shutdown.changed() => {}
                        }
                        if *shutdown.borrow() {
                            return;
                        }
                        if !conn.status().connected() {
                            break;
                        }
                    }
                    tracing::warn!("lost the RabbitMQ connection; reconnecting");
                    self.inner.state.send_modify(|s| s.1 = false);
                    *self.inner.connection.write().await = None;
                }
                Err(e) => {
                    failures += 1;
                    // Log the first failure and then every tenth, not every attempt.
                    if failures == 1 || failures.is_multiple_of(10) {
                        tracing::warn!(error = %ErrorChain(&e), attempt = failures, retry_in_ms = backoff.as_millis() as u64,
                            "RabbitMQ unreachable; webhooks are still stored and will be published when it returns");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}
