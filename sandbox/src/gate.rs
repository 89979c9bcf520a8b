//! What every provider API call goes through before its handler runs: it is
//! counted, delayed by the configured latency and any delay fault, or answered
//! with an injected error.

use actix_web::HttpResponse;
use actix_web::http::Method;
use actix_web::http::header::RETRY_AFTER;

use crate::faults::FaultAction;
use crate::state::{AppState, Provider};
use crate::{belvo, mono, tpaga};

/// Which kind of endpoint is being called (Tpaga's OAuth endpoints are faulted only on request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Data,
    TpagaOAuth,
}

/// Returns the response to send instead of running the handler, if a status fault applies.
pub async fn gate(
    app: &AppState,
    provider: Provider,
    method: &Method,
    route: &'static str,
    endpoint: Endpoint,
) -> Option<HttpResponse> {
    let (latency, fault) = {
        let mut state = app.lock();
        state.record_call(provider, method.as_str(), route);
        let fault = state
            .faults
            .take(provider, endpoint == Endpoint::TpagaOAuth);
        (state.latency, fault)
    };
    tracing::info!(provider = provider.as_str(), %method, route, ?fault, "provider call");
    let delay = match fault {
        Some(FaultAction::Delay(extra)) => latency + extra,
        _ => latency,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let Some(FaultAction::Status(status)) = fault else {
        return None;
    };
    let mut response = match (provider, endpoint) {
        (Provider::Mono, _) => mono::fault_response(status),
        (Provider::Belvo, _) => belvo::fault_response(status),
        (Provider::Tpaga, Endpoint::Data) => tpaga::fault_response(status),
        (Provider::Tpaga, Endpoint::TpagaOAuth) => tpaga::oauth_fault_response(status),
    };
    if status == 429 {
        response.headers_mut().insert(
            RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("1"),
        );
    }
    Some(response)
}

/// An `HttpResponse` with an arbitrary status code (falls back to 500 if the code is invalid).
pub fn with_status(status: u16) -> actix_web::HttpResponseBuilder {
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(code)
}

/// `"503 Service Unavailable"`: the status line text Mono puts in `code`.
pub fn status_line(status: u16) -> String {
    let reason = actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|c| c.canonical_reason())
        .unwrap_or("Error");
    format!("{status} {reason}")
}
