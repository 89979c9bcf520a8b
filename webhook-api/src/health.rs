//! Liveness and readiness.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;
use shared::health::Readiness;

use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

/// The process is up and serving HTTP.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready when the database answers and the broker connection is up.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let readiness = Readiness::new()
        .check("database", state.db.ping().await.is_ok())
        .check("broker", state.broker.is_connected());
    respond(&readiness)
}

/// 200 or 503 with the checks as JSON.
fn respond(readiness: &Readiness) -> HttpResponse {
    let status =
        StatusCode::from_u16(readiness.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    HttpResponse::build(status).json(readiness.body())
}
