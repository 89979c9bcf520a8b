//! The long-running reconciler: consumer, dead-letter archiver, sweeper,
//! outbox relay and operator endpoints, started together and stopped together.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shared::queue::depth;
use shared::queue::metrics::QueueMetrics;
use shared::{Config, bootstrap};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::commit::Committer;
use crate::context::Ctx;
use crate::pick::Picker;
use crate::{archiver, consumer, ops, retention, sweeper};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Boot(#[from] bootstrap::BootError),
    #[error("cannot listen on {addr}: {source}; set RECONCILER_HTTP_ADDR to a free address")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

pub struct Worker {
    pub ctx: Arc<Ctx>,
    ops_port: u16,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    ops: actix_web::dev::ServerHandle,
}

/// Builds the shared context (also used by the CLI commands).
pub async fn context(config: Config, name: &str) -> Result<Arc<Ctx>, StartError> {
    let parts = bootstrap::start(&config, name).await?;
    let commits = Committer::start(
        parts.db.clone(),
        config.reconciler_writers,
        config.reconciler_batch_max,
        usize::from(config.reconciler_concurrency),
        parts
            .metrics
            .reconciler_batch
            .with_label_values(&["commit"]),
    );
    let picks = Picker::start(
        parts.soft_db.clone(),
        shared::db::flights::lease_for(config.provider_timeout),
        config.reconciler_batch_max,
        usize::from(config.reconciler_concurrency),
        parts.metrics.reconciler_batch.with_label_values(&["lease"]),
    );
    Ok(Arc::new(Ctx {
        config: Arc::new(config),
        db: parts.db,
        broker: parts.broker,
        connectors: parts.connectors,
        queue_metrics: Arc::new(QueueMetrics::register(parts.metrics.registry())),
        metrics: parts.metrics,
        relay: parts.relay,
        commits,
        picks,
    }))
}

impl Worker {
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let addr = config.reconciler_http_addr;
        let listener = shared::listen::bind(addr).map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let ops_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let ctx = context(config, "reconciler").await?;
        let (shutdown, rx) = watch::channel(false);
        let consuming = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        {
            let (ctx, rx, flag) = (ctx.clone(), rx.clone(), consuming.clone());
            tasks.push(tokio::spawn(async move {
                flag.store(true, Ordering::SeqCst);
                consumer::run(ctx, rx).await;
                flag.store(false, Ordering::SeqCst);
            }));
        }
        tasks.push(tokio::spawn(archiver::run(ctx.clone(), rx.clone())));
        tasks.push(tokio::spawn(retention::run(ctx.clone(), rx.clone())));
        tasks.push(tokio::spawn(sweeper::run(ctx.clone(), rx.clone())));
        tasks.push(tokio::spawn(depth::poll(
            ctx.broker.clone(),
            ctx.queue_metrics.clone(),
            rx,
        )));
        let server =
            ops::serve(listener, ops::OpsState::new(ctx.clone(), consuming)).map_err(|source| {
                StartError::Bind {
                    addr: addr.to_string(),
                    source,
                }
            })?;
        let ops = server.handle();
        tokio::spawn(server);
        tracing::info!(
            ops_port,
            concurrency = ctx.config.reconciler_concurrency,
            "reconciler started"
        );
        Ok(Self {
            ctx,
            ops_port,
            shutdown,
            tasks,
            ops,
        })
    }

    pub fn ops_port(&self) -> u16 {
        self.ops_port
    }

    /// Stops taking messages, finishes those in flight, then closes everything.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.ops.stop(true).await;
        self.ctx.broker.close().await;
        tracing::info!("reconciler stopped");
    }
}
