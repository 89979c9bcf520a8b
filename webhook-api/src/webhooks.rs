//! `POST /webhooks/{provider}` and `POST /webhooks/{provider}/{token}`.
//!
//! The order of checks matters: a disabled provider is 404 (on every path, so
//! a guessed Tpaga token learns nothing); the wrong path shape for the
//! provider (bare Tpaga, a token for Mono or Belvo) is 404; a declared body
//! over the limit is 413 before anything is read; credentials in headers or
//! the path are checked before the body is read, signatures right after; only
//! an authenticated body is parsed; the answer is 200 only after the inbox row
//! and its outbox message are committed.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use shared::db::inbox::{Delivery, Stored};
use shared::domain::Provider;
use shared::providers::webhook::{AuthError, Headers};

use crate::body::{check_declared_length, read_limited, require_json};
use crate::error::ApiError;
use crate::state::AppState;

/// A slow sender must not hold a connection forever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/{provider}", web::post().to(bare))
        .route("/webhooks/{provider}/{token}", web::post().to(with_token));
}

struct RequestHeaders<'a>(&'a HttpRequest);

impl Headers for RequestHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.headers().get(name).and_then(|v| v.to_str().ok())
    }
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
    let Ok(provider) = provider_name.parse::<Provider>() else {
        return Err(ApiError::NoRoute);
    };
    let m = &state.metrics;
    let reject = |reason: &str| {
        m.webhooks_rejected
            .with_label_values(&[provider.as_str(), reason])
            .inc()
    };
    let Some(connector) = state.connectors.get(provider) else {
        reject("provider_disabled");
        return Err(ApiError::ProviderDisabled(provider.to_string()));
    };
    // Tpaga only at /webhooks/tpaga/{token}, the others only without a token.
    if token.is_some() != connector.requires_path_token() {
        reject("no_route");
        return Err(ApiError::NoRoute);
    }
    m.webhooks_received
        .with_label_values(&[provider.as_str()])
        .inc();
    let limit = state.config.webhook_body_limit;
    let headers = RequestHeaders(&req);
    let unauthorized = |e: AuthError| {
        reject(e.reason());
        tracing::warn!(
            reason = e.reason(),
            "webhook refused: authentication failed"
        );
        ApiError::Unauthorized
    };

    check_declared_length(&req, limit).inspect_err(|_| reject("too_large"))?;
    let auth_headers = connector
        .verify_request(&headers, token.as_deref())
        .map_err(unauthorized)?;
    let body = tokio::time::timeout(BODY_READ_TIMEOUT, read_limited(&req, payload, limit))
        .await
        .map_err(|_| ApiError::MalformedPayload("the body was not received in time".to_owned()))
        .and_then(|r| r)
        .inspect_err(|e| {
            reject(if matches!(e, ApiError::PayloadTooLarge { .. }) {
                "too_large"
            } else {
                "unreadable"
            })
        })?;
    let auth_body = connector
        .verify_body(&headers, &body, chrono::Utc::now().timestamp())
        .map_err(unauthorized)?;
    require_json(&req, true).inspect_err(|_| reject("unsupported_media_type"))?;
    let event = connector.parse_webhook(&body).map_err(|e| {
        reject("malformed_payload");
        ApiError::MalformedPayload(e.0)
    })?;

    let auth_result = auth_body
        .or(auth_headers)
        .map(|a| a.0)
        .unwrap_or_else(|| "none".to_owned());
    let mut stored_headers = Map::new();
    for name in ["content-type", "user-agent"]
        .into_iter()
        .chain(connector.stored_headers().iter().copied())
    {
        if let Some(v) = headers.get(name) {
            stored_headers.insert(name.to_ascii_lowercase(), Value::String(v.to_owned()));
        }
    }
    let outcome = state
        .inbox
        .store(Delivery {
            provider,
            event,
            body: body.to_vec(),
            headers: Value::Object(stored_headers),
            auth_result,
        })
        .await
        .map_err(|e| {
            reject("storage_unavailable");
            tracing::error!(error = %e, "webhook could not be stored; answering 503 so the provider retries");
            ApiError::Unavailable("the event could not be stored".to_owned())
        })?;

    let (inbox_id, status) = match outcome {
        Stored::New {
            inbox_id,
            queued: true,
        } => {
            m.webhooks_stored
                .with_label_values(&[provider.as_str()])
                .inc();
            (inbox_id, "queued")
        }
        Stored::New {
            inbox_id,
            queued: false,
        } => {
            m.webhooks_stored
                .with_label_values(&[provider.as_str()])
                .inc();
            m.webhooks_ignored
                .with_label_values(&[provider.as_str()])
                .inc();
            (inbox_id, "ignored")
        }
        Stored::Duplicate { inbox_id } => {
            m.webhooks_duplicate
                .with_label_values(&[provider.as_str()])
                .inc();
            (inbox_id, "duplicate")
        }
    };
    tracing::Span::current().record("inbox_id", inbox_id);
    tracing::info!(status, "webhook accepted");
    Ok(HttpResponse::Ok().json(json!({"received": true, "status": status, "event_id": inbox_id})))
}
