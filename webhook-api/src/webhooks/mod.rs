//! `POST /webhooks/{provider}` and `POST /webhooks/{provider}/{token}`.
//!
//! The handlers only extract the path and hand the request to [`pipeline`], which owns the
//! order of checks; what each refusal answers is declared in `error.rs`.

pub mod pipeline;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use shared::domain::Provider;

use crate::error::ApiError;
use crate::routes::Mount;
use crate::state::AppState;

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::POST, "/webhooks/{provider}", bare).add(
        Method::POST,
        "/webhooks/{provider}/{token}",
        with_token,
    );
}

#[utoipa::path(
    post,
    path = "/webhooks/{provider}",
    tag = "webhooks",
    description = "Mono (`/webhooks/mono`, signed with `Mono-Signature`) and Belvo (`/webhooks/belvo`, \
        `Authorization` equal to `BELVO_WEBHOOK_AUTH`). The raw body is stored before anything else; \
        a duplicate or an ignored event type also answers 200. Only 5xx makes a provider retry. \
        The bare `/webhooks/tpaga` answers 404: Tpaga uses `/webhooks/tpaga/{token}`.",
    params(("provider" = String, Path, description = "`mono` or `belvo`")),
    request_body(content = Object, content_type = "application/json", description = "The provider's event, as it sends it"),
    security(("mono_signature" = []), ("belvo_authorization" = [])),
    responses(
        (status = 200, description = "Stored (or a duplicate, or ignored)", body = crate::openapi::schemas::WebhookAck),
        (status = 400, description = "`malformed_payload`: not the provider's JSON", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: bad or missing signature or header", body = crate::openapi::ErrorBody),
        (status = 404, description = "`no_route`: unknown provider or path; `provider_disabled`: not enabled here", body = crate::openapi::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the event could not be stored; the provider retries", body = crate::openapi::ErrorBody),
    )
)]
async fn bare(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    receive(req, path.into_inner(), None, payload, state).await
}

#[utoipa::path(
    post,
    path = "/webhooks/{provider}/{token}",
    tag = "webhooks",
    description = "Tpaga: `/webhooks/tpaga/{token}` with `{\"charge_token\": \"…\"}`. The path token is the \
        secret (one of `TPAGA_WEBHOOK_TOKEN`), compared in constant time before the body is read; \
        it never reaches logs. Other providers answer 404 here.",
    params(
        ("provider" = String, Path, description = "`tpaga`"),
        ("token" = String, Path, description = "One of the `TPAGA_WEBHOOK_TOKEN` values"),
    ),
    request_body(content = Object, content_type = "application/json", description = "`{\"charge_token\": \"…\"}`"),
    responses(
        (status = 200, description = "Stored (or a duplicate)", body = crate::openapi::schemas::WebhookAck),
        (status = 400, description = "`malformed_payload`", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: wrong token", body = crate::openapi::ErrorBody),
        (status = 404, description = "`no_route`: unknown provider or a provider without path tokens; `provider_disabled`: no token configured", body = crate::openapi::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the event could not be stored; Tpaga retries", body = crate::openapi::ErrorBody),
    )
)]
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
