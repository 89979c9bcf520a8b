//! The reconciler's operator endpoints: `/healthz`, `/readyz`, `/metrics`.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use shared::db::orders as orders_db;
use shared::health::{Cached, Probes, Readiness, outbox_detail};

use crate::context::Ctx;

pub struct OpsState {
    pub ctx: Arc<Ctx>,
    /// Set while the consumer task runs.
    pub consuming: Arc<AtomicBool>,
    pub probes: Probes,
    /// Orders by state is a scan of every order: recomputed at most every
    /// `METRICS_GAUGE_REFRESH_SECS`, not on each scrape.
    pub orders_gauge: Cached<()>,
}

impl OpsState {
    pub fn new(ctx: Arc<Ctx>, consuming: Arc<AtomicBool>) -> Self {
        let refresh = ctx.config.ops.gauge_refresh;
        Self {
            ctx,
            consuming,
            probes: Probes::new(refresh),
            orders_gauge: Cached::new(refresh),
        }
    }
}

pub fn serve(listener: TcpListener, state: OpsState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route(
                "/healthz",
                web::get().to(|| async { HttpResponse::Ok().json(json!({"status": "ok"})) }),
            )
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// Ready when the database answers, the broker connection is up and the
/// consumer runs: unlike webhook-api, the reconciler can do nothing useful
/// without the broker. The outbox figures come along as detail.
async fn readyz(state: web::Data<OpsState>) -> HttpResponse {
    let ctx = &state.ctx;
    let broker = ctx.broker.is_connected();
    ctx.metrics.set_broker(broker);
    let readiness = Readiness::new()
        .check("database", state.probes.database(&ctx.db).await)
        .check("broker", broker)
        .check("consumer", state.consuming.load(Ordering::SeqCst))
        .detail(
            "outbox",
            outbox_detail(state.probes.outbox(&ctx.db, &ctx.metrics).await),
        );
    let status = actix_web::http::StatusCode::from_u16(readiness.status())
        .unwrap_or(actix_web::http::StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).json(readiness.body())
}

async fn metrics(state: web::Data<OpsState>) -> HttpResponse {
    let ctx = &state.ctx;
    let m = ctx.metrics.clone();
    m.set_broker(ctx.broker.is_connected());
    state.probes.outbox(&ctx.db, &m).await;
    let metrics = &*m;
    state
        .orders_gauge
        .get(move || async move {
            let counts = ctx.db.run(|conn| orders_db::counts_by_state(conn)).await;
            if let Ok(counts) = counts {
                for state in shared::domain::OrderState::ALL {
                    let n = counts
                        .iter()
                        .find(|(s, _)| s == state.as_str())
                        .map(|(_, n)| *n)
                        .unwrap_or(0);
                    metrics
                        .orders_by_state
                        .with_label_values(&[state.as_str()])
                        .set(n);
                }
            }
        })
        .await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render())
}
