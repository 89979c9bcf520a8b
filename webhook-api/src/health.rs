//! Liveness and readiness.

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, web};
use serde_json::json;
use shared::health::Readiness;

use crate::routes::Mount;
use crate::state::AppState;

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/healthz", healthz)
        .add(Method::GET, "/readyz", readyz);
}

/// The process is up and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = crate::openapi::schemas::Health)))]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when webhooks can be stored durably: the ingestion pool's database
/// answers. The broker is reported but does not decide: while RabbitMQ is
/// away, webhooks still land in the inbox and the outbox, and the relay
/// publishes them when it returns; pulling ingress would only lose deliveries.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    description = "Ready when the database that stores webhooks answers; the broker and the outbox are reported, not decisive.",
    responses(
        (status = 200, description = "Ready, with each check", body = Object),
        (status = 503, description = "Not ready (not an error body: the same checks, one failing)", body = Object),
    ))]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let broker = state.broker.is_connected();
    state.metrics.set_broker(broker);
    let database = state.probes.database(&state.ingest_db).await;
    let outbox = state.probes.outbox(&state.ingest_db, &state.metrics).await;
    let readiness = Readiness::new()
        .check("database", database)
        .info("broker", broker)
        .detail("outbox", shared::health::outbox_detail(outbox));
    respond(&readiness)
}

/// 200 or 503 with the checks as JSON.
fn respond(readiness: &Readiness) -> HttpResponse {
    let status =
        StatusCode::from_u16(readiness.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).json(readiness.body())
}
