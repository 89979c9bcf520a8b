//! Building and running the HTTP server; tests start it the same way on port 0.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service as _};
use actix_web::{App, HttpResponse, HttpServer, web};
use shared::Config;
use shared::bootstrap;
use shared::db::Db;
use shared::health::Probes;
use shared::queue::Broker;

use crate::error::ApiError;
use crate::ingest::InboxWriter;
use crate::openapi::Document;
use crate::panic_guard::PanicGuard;
use crate::routes::Mount;
use crate::state::{AppState, ReportSlots};
use crate::{
    admin, console, evidence, exceptions, health, metrics, openapi, orders, payments, reports,
    webhooks,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Boot(#[from] bootstrap::BootError),
    #[error(
        "cannot listen on {addr}: {source}; is another process using the port? (set HTTP_ADDR)"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot render the OpenAPI document: {0}")]
    OpenApi(#[source] serde_json::Error),
}

/// Every route the server serves. The server mounts them; the OpenAPI tests list them
/// (with [`crate::routes::Listing`]) and fail when one is missing from `/openapi.json`.
pub fn mount_all<M: Mount>(m: &mut M) {
    health::routes(m);
    orders::routes(m);
    payments::routes(m);
    webhooks::routes(m);
    admin::routes(m);
    reports::routes(m);
    exceptions::routes(m);
    evidence::routes(m);
    metrics::routes(m);
    openapi::routes(m);
    console::routes(m);
}

pub struct Application {
    port: u16,
    server: Server,
    broker: Broker,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        // Bind first: a port in use fails at once, before migrations run.
        let listener =
            shared::listen::bind(config.http_addr).map_err(|source| StartupError::Bind {
                addr: config.http_addr.to_string(),
                source,
            })?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let parts = bootstrap::start(&config, "webhook-api").await?;
        let inbox = InboxWriter::start(
            parts.ingest_db.clone(),
            parts.relay.clone(),
            config.ingress_writers,
            config.ingress_batch_max,
            parts.metrics.clone(),
        );
        let broker = parts.broker.clone();
        // Reports get connections of their own, one per slot, with the long
        // statement timeout, on the replica when one is configured; the API
        // pool keeps its short one.
        let report_db = Db::with_limits(
            config.report_database_url().expose(),
            config.ops.report_concurrency,
            Duration::from_secs(3),
            config.ops.report_limits,
        );
        let reports = ReportSlots::new(
            report_db,
            config.ops.report_concurrency,
            parts.metrics.clone(),
        );
        let probes = Probes::new(config.ops.gauge_refresh);
        let console =
            console::ConsoleState::new(config.console_session_secret.as_ref().map(|s| s.expose()));
        let config = Arc::new(config);
        let payments = payments::Payments::new(config.clone())?;
        let state = web::Data::new(AppState {
            config,
            db: parts.db,
            ingest_db: parts.ingest_db,
            broker: parts.broker,
            connectors: parts.connectors,
            relay: parts.relay,
            inbox,
            metrics: parts.metrics,
            reports,
            probes,
            payments,
            console,
        });
        // Rendered once; every request is served the same bytes.
        let document = web::Data::new(Document::build().map_err(StartupError::OpenApi)?);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(document.clone())
                // A panicking handler answers 500 JSON instead of dropping the connection.
                .wrap(PanicGuard)
                .wrap_fn(|req, srv| {
                    // The route pattern, never the raw path: Tpaga's path carries a secret token.
                    let route = req
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".to_owned());
                    let method = req.method().to_string();
                    let started = Instant::now();
                    let span = tracing::info_span!("http", %method, %route);
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        let _enter = span.enter();
                        tracing::info!(
                            status = res.status().as_u16(),
                            latency_us = started.elapsed().as_micros() as u64,
                            "request"
                        );
                        Ok(res)
                    }
                })
                .configure(mount_all::<web::ServiceConfig>)
                .default_service(web::to(no_route))
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: "listener".to_owned(),
            source,
        })?
        .shutdown_timeout(10)
        .run();
        Ok(Self {
            port,
            server,
            broker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, finishing in-flight requests, then closes the broker.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.broker.close().await;
        result
    }
}

async fn no_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute)
}
