//! One webhook delivery, from path to inbox: route → verify → read → parse → store.
//!
//! The order of checks matters: a disabled provider is 404 (on every path, so
//! a guessed Tpaga token learns nothing); the wrong path shape for the
//! provider (bare Tpaga, a token for Mono or Belvo) is 404; a declared body
//! over the limit is 413 before anything is read; credentials in headers or
//! the path are checked before the body is read, signatures right after; only
//! an authenticated body is parsed; the answer is 200 only after the inbox row
//! and its outbox message are committed.
//!
//! Each refusal is one [`Rejection`] variant carrying its metric label; its HTTP answer is
//! declared with every other one in `error.rs`, and every counter is bumped in [`observe`],
//! so a new refusal cannot be answered without also being counted.

use std::time::Duration;

use actix_web::{HttpRequest, web};
use serde_json::{Map, Value};
use shared::db::DbError;
use shared::db::inbox::{Delivery, Stored};
use shared::domain::Provider;
use shared::metrics::Metrics;
use shared::providers::webhook::{AuthError, Headers, PayloadError};
use shared::telemetry::ErrorChain;

use crate::body::{BodyError, check_declared_length, read_limited, require_json};
use crate::state::AppState;

/// A slow sender must not hold a connection forever.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a delivery was not stored. The metric label of each is part of the contract
/// (`webhooks_rejected_total{reason}`); the HTTP answer is `From<Rejection> for ApiError`.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The provider has no credentials on this deployment.
    #[error("provider disabled")]
    ProviderDisabled(Provider),
    /// Tpaga without its path token, or another provider with one.
    #[error("no route")]
    NoRoute,
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// Broken or too slow a body.
    #[error("{0}")]
    Unreadable(String),
    #[error("the body is not JSON")]
    UnsupportedMediaType,
    #[error(transparent)]
    Malformed(#[from] PayloadError),
    /// Answered 503 so the provider retries.
    #[error("the event could not be stored")]
    StorageUnavailable(#[source] DbError),
}

impl Rejection {
    /// The `reason` label of `webhooks_rejected_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Rejection::ProviderDisabled(_) => "provider_disabled",
            Rejection::NoRoute => "no_route",
            Rejection::TooLarge { .. } => "too_large",
            Rejection::Unauthorized(e) => e.reason(),
            Rejection::Unreadable(_) => "unreadable",
            Rejection::UnsupportedMediaType => "unsupported_media_type",
            Rejection::Malformed(_) => "malformed_payload",
            Rejection::StorageUnavailable(_) => "storage_unavailable",
        }
    }

    /// Whether the delivery got past routing: only those count as received.
    fn routed(&self) -> bool {
        !matches!(self, Rejection::ProviderDisabled(_) | Rejection::NoRoute)
    }
}

impl From<BodyError> for Rejection {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => Rejection::TooLarge { limit },
            BodyError::Unreadable(message) => Rejection::Unreadable(message),
            BodyError::NotJson => Rejection::UnsupportedMediaType,
        }
    }
}

struct RequestHeaders<'a>(&'a HttpRequest);

impl Headers for RequestHeaders<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.headers().get(name).and_then(|v| v.to_str().ok())
    }
}

/// Runs the provider's checks in order and stores the delivery. Counts nothing: see [`observe`].
pub async fn run(
    state: &AppState,
    req: &HttpRequest,
    provider: Provider,
    token: Option<&str>,
    payload: web::Payload,
) -> Result<Stored, Rejection> {
    let connector = state
        .connectors
        .get(provider)
        .ok_or(Rejection::ProviderDisabled(provider))?;
    if token.is_some() != connector.requires_path_token() {
        return Err(Rejection::NoRoute);
    }
    let limit = state.config.webhook_body_limit;
    let headers = RequestHeaders(req);

    check_declared_length(req, limit)?;
    let auth_headers = connector.verify_request(&headers, token)?;
    let body = tokio::time::timeout(BODY_READ_TIMEOUT, read_limited(req, payload, limit))
        .await
        .map_err(|_| Rejection::Unreadable("the body was not received in time".to_owned()))??;
    let auth_body = connector.verify_body(&headers, &body, chrono::Utc::now().timestamp())?;
    require_json(req, true)?;
    let event = connector.parse_webhook(&body)?;

    let auth_result = auth_body
        .or(auth_headers)
        .map(|a| a.0)
        .unwrap_or_else(|| "none".to_owned());
    let delivery = Delivery {
        provider,
        event,
        body: body.to_vec(),
        headers: stored_headers(&headers, connector.stored_headers()),
        auth_result,
    };
    state
        .inbox
        .store(delivery)
        .await
        .map_err(Rejection::StorageUnavailable)
}

/// The headers kept on the inbox row: content type, user agent and what the provider
/// asks for (never a credential: `Connector::stored_headers`).
fn stored_headers(headers: &dyn Headers, provider_headers: &[&str]) -> Value {
    let mut stored = Map::new();
    for name in ["content-type", "user-agent"]
        .into_iter()
        .chain(provider_headers.iter().copied())
    {
        if let Some(v) = headers.get(name) {
            stored.insert(name.to_ascii_lowercase(), Value::String(v.to_owned()));
        }
    }
    Value::Object(stored)
}

/// Every webhook counter and the refusal logs, in one place.
pub fn observe(m: &Metrics, provider: Provider, outcome: &Result<Stored, Rejection>) {
    let p = provider.as_str();
    if outcome.as_ref().map_or_else(Rejection::routed, |_| true) {
        m.webhooks_received.with_label_values(&[p]).inc();
    }
    match outcome {
        Ok(Stored::New { queued, .. }) => {
            m.webhooks_stored.with_label_values(&[p]).inc();
            if !queued {
                m.webhooks_ignored.with_label_values(&[p]).inc();
            }
        }
        Ok(Stored::Duplicate { .. }) => m.webhooks_duplicate.with_label_values(&[p]).inc(),
        Err(rejection) => {
            m.webhooks_rejected
                .with_label_values(&[p, rejection.label()])
                .inc();
            match rejection {
                Rejection::Unauthorized(e) => tracing::warn!(
                    reason = e.reason(),
                    "webhook refused: authentication failed"
                ),
                Rejection::StorageUnavailable(e) => tracing::error!(
                    error = %ErrorChain(e),
                    "webhook could not be stored; answering 503 so the provider retries"
                ),
                _ => {}
            }
        }
    }
}

/// The inbox id and the `status` the provider is answered with.
pub fn answer(stored: &Stored) -> (i64, &'static str) {
    match *stored {
        Stored::New {
            inbox_id,
            queued: true,
        } => (inbox_id, "queued"),
        Stored::New {
            inbox_id,
            queued: false,
        } => (inbox_id, "ignored"),
        Stored::Duplicate { inbox_id } => (inbox_id, "duplicate"),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;

    use super::*;
    use crate::error::ApiError;

    /// The labels and answers are a contract with dashboards and providers' retry logic.
    #[test]
    fn each_rejection_has_its_label_status_and_code() {
        let cases = [
            (
                Rejection::ProviderDisabled(Provider::Belvo),
                "provider_disabled",
                404,
                "provider_disabled",
            ),
            (Rejection::NoRoute, "no_route", 404, "no_route"),
            (
                Rejection::TooLarge { limit: 10 },
                "too_large",
                413,
                "payload_too_large",
            ),
            (
                Rejection::Unauthorized(AuthError::Missing),
                "missing_credentials",
                401,
                "unauthorized",
            ),
            (
                Rejection::Unauthorized(AuthError::StaleTimestamp),
                "stale_timestamp",
                401,
                "unauthorized",
            ),
            (
                Rejection::Unreadable("slow".into()),
                "unreadable",
                400,
                "malformed_payload",
            ),
            (
                Rejection::UnsupportedMediaType,
                "unsupported_media_type",
                415,
                "unsupported_media_type",
            ),
            (
                Rejection::Malformed(PayloadError::new("no id")),
                "malformed_payload",
                400,
                "malformed_payload",
            ),
            (
                Rejection::StorageUnavailable(DbError::Task("down".into())),
                "storage_unavailable",
                503,
                "unavailable",
            ),
        ];
        for (rejection, label, status, code) in cases {
            assert_eq!(rejection.label(), label);
            let routed = rejection.routed();
            let api = ApiError::from(rejection);
            assert_eq!(api.status_code().as_u16(), status, "{label}");
            assert_eq!(api.code(), code, "{label}");
            assert_eq!(routed, !matches!(label, "provider_disabled" | "no_route"));
        }
    }

    #[test]
    fn answers_name_what_happened_to_the_delivery() {
        let new = |queued| Stored::New {
            inbox_id: 7,
            queued,
        };
        assert_eq!(answer(&new(true)), (7, "queued"));
        assert_eq!(answer(&new(false)), (7, "ignored"));
        assert_eq!(answer(&Stored::Duplicate { inbox_id: 8 }), (8, "duplicate"));
    }
}
