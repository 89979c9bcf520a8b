//! Turns a panic in a request handler into a 500 JSON answer.
//!
//! Every parser is meant to be total, but if one is not, the client still gets
//! `{"error": {"code": "internal_error", …}}` instead of a dropped connection,
//! and nothing from the panic message (which may quote request data) is logged
//! here; the process-wide hook in `shared::telemetry` logs only its location.

use std::fmt;
use std::future::{Ready, ready};
use std::panic::AssertUnwindSafe;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::{Error, HttpResponse, ResponseError};
use futures_util::FutureExt as _;
use futures_util::future::LocalBoxFuture;

/// Middleware: `App::new().wrap(PanicGuard)`. It logs the method and route
/// pattern of a request that panicked itself, since the request log, which
/// sees the error rather than a response, does not.
#[derive(Debug, Clone, Copy, Default)]
pub struct PanicGuard;

impl<S, B> Transform<S, ServiceRequest> for PanicGuard
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = PanicGuardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PanicGuardService { service }))
    }
}

pub struct PanicGuardService<S> {
    service: S,
}

/// What a caught panic becomes. Returned as the service's error (actix turns
/// it into the response with [`ResponseError::error_response`]) because the
/// request itself is gone with the panicked future, and holding a clone of it
/// across the call would break the router, which needs sole ownership.
#[derive(Debug)]
struct HandlerPanicked;

impl fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("internal error")
    }
}

impl ResponseError for HandlerPanicked {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError().json(serde_json::json!({
            "error": {"code": "internal_error", "message": "internal error"}
        }))
    }
}

fn panicked(method: &str, route: &str) -> Error {
    tracing::error!(%method, %route, status = 500, "a request handler panicked; answered 500");
    HandlerPanicked.into()
}

impl<S, B> Service<ServiceRequest> for PanicGuardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // The route pattern, never the raw path (Tpaga's carries a secret token).
        let route = req
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let method = req.method().to_string();
        // A panic may come from building the handler's future or from polling it.
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| self.service.call(req))) {
            Ok(future) => future,
            Err(_) => return Box::pin(ready(Err(panicked(&method, &route)))),
        };
        Box::pin(async move {
            match AssertUnwindSafe(future).catch_unwind().await {
                Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
                Err(_) => Err(panicked(&method, &route)),
            }
        })
    }
}
