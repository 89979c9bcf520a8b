//! `GET /metrics`, Prometheus text format.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};

use crate::routes::Mount;
use crate::state::AppState;

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/metrics", metrics);
}

/// Gauges that need the database are recomputed at most every
/// `METRICS_GAUGE_REFRESH_SECS`, however often this is scraped.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    description = "Prometheus text format; meant for the internal network (see SECURITY.md).",
    responses((status = 200, description = "Metrics", content_type = "text/plain; version=0.0.4", body = String)))]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.set_broker(state.broker.is_connected());
    state.probes.outbox(&state.ingest_db, &state.metrics).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
