//! `GET /metrics`, Prometheus text format.

use actix_web::{HttpResponse, web};
use shared::db::outbox;

use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(backlog) = state.db.run(|conn| outbox::backlog(conn)).await {
        state
            .metrics
            .outbox_backlog
            .with_label_values(&[] as &[&str])
            .set(backlog);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
