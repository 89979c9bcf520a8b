//! An in-memory fake of the Mono, Belvo and Tpaga HTTP APIs, plus an admin API
//! (`/_sandbox/`) to drive payments through their states and deliver webhooks.
//! Integration tests start it in-process with [`start`]; demos run the
//! `pse-sandbox` binary, whose `scenario` command ([`scenario`]) plays
//! end-to-end scenarios against a running product.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod admin;
pub mod admin_api;
mod auth;
pub mod client;
pub mod config;
mod conn;
mod email;
mod faults;
mod gate;
mod ids;
pub mod money;
mod providers;
mod registry;
pub mod scenario;
mod state;
mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};

pub use admin_api::{
    AddedTransaction, AdminErrorBody, CallCount, CreatedPayment, Delivered, Fault, FoundPayment,
    Latency, NewPayment, NewTransaction, Stats, StatusChange, StatusChanged, WebhookRequest,
    WebhookTarget,
};
pub use client::{AdminClient, AdminError};
pub use config::SandboxConfig;

use registry::Registry;
use state::AppState;
use webhooks::Deliverer;

/// Few workers: tests start many sandboxes, and the fake needs no throughput.
const WORKERS: usize = 2;

/// Registers every route: each registered provider's (their paths do not collide) and the admin API.
fn routes(cfg: &mut web::ServiceConfig, providers: &Registry) {
    for provider in providers.iter() {
        Arc::clone(provider).configure(cfg);
    }
    admin::configure(cfg, providers);
}

/// Unknown paths get a JSON 404 that names the path, to make client typos obvious.
async fn no_route(req: actix_web::HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": "no_route",
        "message": format!("the sandbox has no route {} {}", req.method(), req.path()),
    }))
}

/// A sandbox serving in the background of the current tokio runtime.
/// It stops when the runtime does (end of a `#[tokio::test]`) or on [`RunningSandbox::stop`].
pub struct RunningSandbox {
    addr: SocketAddr,
    config: SandboxConfig,
    handle: ServerHandle,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`: the base URL of all three provider APIs and the admin API.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address (the port the OS picked for `127.0.0.1:0`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The credentials this sandbox accepts.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// A client for this sandbox's admin API.
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(&self.base_url())
    }

    /// Stops accepting connections and waits (at most a second) for in-flight requests.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

/// Binds (use "127.0.0.1:0" for a free port) and starts serving in the background (tokio::spawn the actix Server).
pub async fn start(config: SandboxConfig, addr: &str) -> std::io::Result<RunningSandbox> {
    let addr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr} names no address")))?;
    let listener = shared::listen::bind(addr)?;
    let local = listener.local_addr()?;
    // Fail now rather than on the first webhook if no HTTP client can be built.
    shared::http::client(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(1),
    )
    .map_err(std::io::Error::other)?;
    let providers = providers::all(&config).map_err(std::io::Error::other)?;
    let app_state = web::Data::new(AppState::new(providers.clone()));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            // One webhook client per worker, so each worker's runtime owns its connections.
            .app_data(web::Data::new(Deliverer::new()))
            .configure(|cfg| routes(cfg, &providers))
            .default_service(web::to(no_route))
    })
    .workers(WORKERS)
    .on_connect(conn::remember)
    // The embedding program owns signals (tests must not have Ctrl-C stop a sandbox).
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "sandbox server stopped with an error");
        }
    });
    tracing::info!(addr = %local, "sandbox listening");
    Ok(RunningSandbox {
        addr: local,
        config,
        handle,
    })
}
