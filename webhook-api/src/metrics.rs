//! `GET /metrics`, Prometheus text format.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

/// Gauges that need the database are recomputed at most every
/// `METRICS_GAUGE_REFRESH_SECS`, however often this is scraped.
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.set_broker(state.broker.is_connected());
    state.probes.outbox(&state.ingest_db, &state.metrics).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
