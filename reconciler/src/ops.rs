//! The reconciler's operator endpoints: `/healthz`, `/readyz`, `/metrics`.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use shared::db::{orders, outbox};
use shared::health::Readiness;

use crate::context::Ctx;

pub struct OpsState {
    pub ctx: Arc<Ctx>,
    /// Set while the consumer task runs.
    pub consuming: Arc<AtomicBool>,
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

/// Ready when the database answers, the broker connection is up and the consumer runs.
async fn readyz(state: web::Data<OpsState>) -> HttpResponse {
    let readiness = Readiness::new()
        .check("database", state.ctx.db.ping().await.is_ok())
        .check("broker", state.ctx.broker.is_connected())
        .check("consumer", state.consuming.load(Ordering::SeqCst));
    let status = actix_web::http::StatusCode::from_u16(readiness.status())
        .unwrap_or(actix_web::http::StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).json(readiness.body())
}

async fn metrics(state: web::Data<OpsState>) -> HttpResponse {
    let m = state.ctx.metrics.clone();
    let refreshed = state
        .ctx
        .db
        .run(|conn| Ok((orders::counts_by_state(conn)?, outbox::backlog(conn)?)))
        .await;
    if let Ok((counts, backlog)) = refreshed {
        for state in shared::domain::OrderState::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| s == state.as_str())
                .map(|(_, n)| *n)
                .unwrap_or(0);
            m.orders_by_state
                .with_label_values(&[state.as_str()])
                .set(n);
        }
        m.outbox_backlog
            .with_label_values(&[] as &[&str])
            .set(backlog);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render())
}
