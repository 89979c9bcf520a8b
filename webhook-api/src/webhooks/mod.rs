//! `POST /webhooks/{provider}` and `POST /webhooks/{provider}/{token}`.
//!
//! The handlers only extract the path and hand the request to [`pipeline`], which owns the
//! order of checks; what each refusal answers is declared in `error.rs`.

pub mod pipeline;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use shared::domain::Provider;

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/{provider}", web::post().to(bare))
        .route("/webhooks/{provider}/{token}", web::post().to(with_token));
}

async fn bare(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    receive(req, path.into_inner(), None, payload, state).await
}

async fn with_token(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (provider, token) = path.into_inner();
    receive(req, provider, Some(token), payload, state).await
}

#[tracing::instrument(name = "webhook", skip_all, fields(provider = %provider_name, inbox_id = tracing::field::Empty))]
async fn receive(
    req: HttpRequest,
    provider_name: String,
    token: Option<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // An unknown name has no metric label to count under: a plain 404.
    let provider: Provider = provider_name.parse().map_err(|_| ApiError::NoRoute)?;
    let outcome = pipeline::run(&state, &req, provider, token.as_deref(), payload).await;
    pipeline::observe(&state.metrics, provider, &outcome);
    let (inbox_id, status) = pipeline::answer(&outcome?);
    tracing::Span::current().record("inbox_id", inbox_id);
    tracing::info!(status, "webhook accepted");
    Ok(HttpResponse::Ok().json(json!({"received": true, "status": status, "event_id": inbox_id})))
}
