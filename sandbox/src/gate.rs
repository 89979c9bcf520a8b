//! What every provider API call goes through: it is counted, delayed by the configured latency
//! and any delay fault, answered with an injected error in the provider's envelope instead of
//! running its handler, or run and then its answer lost (a status, a dropped connection, or
//! silence until the client gives up).

use std::future::Future;

use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse};

use crate::conn;
use crate::faults::{FaultAction, Lost};
use crate::registry::{Endpoint, FakeProvider};
use crate::state::AppState;

/// Runs `handler` for a call to `route` of `provider`, unless a fault answers instead.
pub async fn guarded(
    app: &AppState,
    provider: &dyn FakeProvider,
    req: &HttpRequest,
    route: &'static str,
    endpoint: Endpoint,
    handler: impl Future<Output = HttpResponse>,
) -> HttpResponse {
    let id = provider.id();
    let method = req.method();
    let (latency, fault) = {
        let mut state = app.lock();
        state.record_call(id, method.as_str(), route);
        (state.latency, state.faults.take(id, endpoint))
    };
    tracing::info!(provider = id.as_str(), %method, route, ?fault, "provider call");
    let delay = match fault {
        Some(FaultAction::Delay(extra)) => latency + extra,
        _ => latency,
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(FaultAction::Status(status)) => fault_answer(provider, status, endpoint),
        Some(FaultAction::Lost(lost)) => {
            // Whatever the call stores stays stored; only the answer goes.
            drop(handler.await);
            lose(provider, req, lost, endpoint).await
        }
        Some(FaultAction::Delay(_)) | None => handler.await,
    }
}

/// The answer a lost call gives instead of its own.
async fn lose(
    provider: &dyn FakeProvider,
    req: &HttpRequest,
    lost: Lost,
    endpoint: Endpoint,
) -> HttpResponse {
    let status = match lost {
        Lost::Status(status) => return fault_answer(provider, status, endpoint),
        Lost::Drop => 502,
        Lost::Timeout(silence) => {
            tokio::time::sleep(silence).await;
            504
        }
    };
    if conn::close(req) {
        tracing::info!(
            provider = provider.id().as_str(),
            "answer lost: connection closed"
        );
    } else {
        tracing::warn!("cannot close the connection; answering {status} instead");
    }
    // Never reaches a closed connection; the fallback when it could not be closed.
    fault_answer(provider, status, endpoint)
}

/// The provider's error answer for an injected `status`, with `Retry-After` on 429.
fn fault_answer(provider: &dyn FakeProvider, status: u16, endpoint: Endpoint) -> HttpResponse {
    let mut response = provider.fault_response(status, endpoint);
    if status == 429 {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
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
