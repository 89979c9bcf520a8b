//! Every error the API can answer, with its status and machine-readable code
//! declared here, in one place. Bodies look like
//! `{"error": {"code": "validation_failed", "message": "…", "fields": [...]}}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use shared::telemetry::ErrorChain;

use crate::body::BodyError;
use crate::webhooks::pipeline::Rejection;

/// One invalid field of a request: its JSON path (`amount.currency`) and what is wrong.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Deliberately says nothing about why.
    #[error("authentication required")]
    Unauthorized,
    #[error("this API key may not {0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("no route for this method and path")]
    NoRoute,
    #[error("{0} webhooks are not enabled on this deployment")]
    ProviderDisabled(String),
    /// An order for a provider this deployment cannot query: it could never be
    /// reconciled. 422, unlike the webhook's 404, because the route exists.
    #[error("{0} is not enabled on this deployment; orders for it are refused")]
    OrderProviderDisabled(String),
    #[error("{0}")]
    MalformedPayload(String),
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("{0}; retry later")]
    Unavailable(String),
    /// `REPORT_CONCURRENCY` reports are already running in this process.
    #[error("too many reports are being computed; retry later")]
    ReportsBusy,
    /// `POST /v1/payments` for a provider this deployment cannot create payments with.
    #[error("{0}")]
    PaymentProviderDisabled(String),
    /// The provider refused the payment's content; nothing was created.
    #[error("{provider} refused the payment: {message}")]
    ProviderRejected {
        provider: String,
        field: Option<String>,
        message: String,
    },
    /// The provider's answer was lost or refused us; the same request again is safe.
    #[error("{message}")]
    ProviderUnavailable { timed_out: bool, message: String },
    /// A provider without a published list of PSE banks.
    #[error("{0}")]
    NoBankList(String),
    /// The cause is logged once, with its chain, when the response is built; the caller
    /// learns nothing of it.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::NoRoute => "no_route",
            ApiError::ProviderDisabled(_) | ApiError::OrderProviderDisabled(_) => {
                "provider_disabled"
            }
            ApiError::MalformedPayload(_) => "malformed_payload",
            ApiError::Validation(_) => "validation_failed",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::ReportsBusy => "reports_busy",
            ApiError::PaymentProviderDisabled(_) => "provider_disabled",
            ApiError::ProviderRejected { .. } => "provider_rejected",
            ApiError::ProviderUnavailable { .. } => "provider_unavailable",
            ApiError::NoBankList(_) => "bank_list_not_published",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
}

impl From<shared::db::DbError> for ApiError {
    fn from(e: shared::db::DbError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable("the database is unavailable".to_owned())
        } else {
            ApiError::Internal(Box::new(e))
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit } => ApiError::PayloadTooLarge { limit },
            BodyError::Unreadable(message) => ApiError::MalformedPayload(message),
            BodyError::NotJson => ApiError::UnsupportedMediaType,
        }
    }
}

/// What a refused webhook answers. Providers retry on 5xx only, so only a storage
/// failure is one; every authentication failure is the same bare 401.
impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        match r {
            Rejection::ProviderDisabled(p) => ApiError::ProviderDisabled(p.to_string()),
            Rejection::NoRoute => ApiError::NoRoute,
            Rejection::TooLarge { limit } => ApiError::PayloadTooLarge { limit },
            Rejection::Unauthorized(_) => ApiError::Unauthorized,
            Rejection::Unreadable(message) => ApiError::MalformedPayload(message),
            Rejection::UnsupportedMediaType => ApiError::UnsupportedMediaType,
            Rejection::Malformed(e) => ApiError::MalformedPayload(e.0),
            Rejection::StorageUnavailable(_) => {
                ApiError::Unavailable("the event could not be stored".to_owned())
            }
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute | ApiError::ProviderDisabled(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::MalformedPayload(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_)
            | ApiError::OrderProviderDisabled(_)
            | ApiError::PaymentProviderDisabled(_)
            | ApiError::ProviderRejected { .. }
            | ApiError::NoBankList(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ProviderUnavailable {
                timed_out: true, ..
            } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::ProviderUnavailable { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::ReportsBusy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(_) = self {
            // The detail is for operators, not callers.
            tracing::error!(error = %ErrorChain(self), "internal error");
        }
        let provider_field;
        let fields = match self {
            ApiError::Validation(f) => Some(f.as_slice()),
            // The provider's own field path and message, as it gave them.
            ApiError::ProviderRejected {
                field: Some(field),
                message,
                ..
            } => {
                provider_field = [FieldError {
                    field: field.clone(),
                    message: message.clone(),
                }];
                Some(provider_field.as_slice())
            }
            _ => None,
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unavailable(_) | ApiError::ProviderUnavailable { .. } => {
                response.insert_header(("Retry-After", "5"));
            }
            // A report takes seconds to minutes; asking again at once would be refused again.
            ApiError::ReportsBusy => {
                response.insert_header(("Retry-After", "30"));
            }
            // Says which schemes work (Basic lets a browser prompt for a key), nothing about why.
            ApiError::Unauthorized => {
                response.insert_header((
                    "WWW-Authenticate",
                    "Basic realm=\"pse\", Bearer realm=\"pse\"",
                ));
            }
            _ => {}
        }
        response.json(Body {
            error: Inner {
                code: self.code(),
                message: self.to_string(),
                fields,
            },
        })
    }
}

/// What a finance console page answers instead of the API's JSON: an HTML page with a
/// message a person can act on, or the redirect to the login page.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// No valid session cookie: 303 to `/console/login`.
    #[error("sign in to use the finance console")]
    LoginRequired,
    /// A query string or form the console cannot use; says which field and why.
    #[error("{0}")]
    BadRequest(String),
    /// A wrong or missing CSRF token, a cross-site request, or a key the console refuses.
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    #[error("too many failed sign-ins from this address; wait a minute and try again")]
    TooManyAttempts,
    #[error("too many reports are being computed; retry in a moment")]
    ReportsBusy,
    #[error("the database is unavailable; retry in a moment")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::ReportsBusy => ConsoleError::ReportsBusy,
            ApiError::Unavailable(_) => ConsoleError::Unavailable,
            ApiError::NotFound(what) => ConsoleError::NotFound(what),
            ApiError::Internal(source) => ConsoleError::Internal(source),
            other => ConsoleError::Internal(Box::new(other)),
        }
    }
}

impl From<shared::db::DbError> for ConsoleError {
    fn from(e: shared::db::DbError) -> Self {
        ApiError::from(e).into()
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::LoginRequired => StatusCode::SEE_OTHER,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::ReportsBusy | ConsoleError::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::Internal(_) = self {
            tracing::error!(error = %ErrorChain(self), "internal error in the console");
        }
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        match self {
            ConsoleError::LoginRequired => {
                return response
                    .insert_header(("Location", "/console/login"))
                    .finish();
            }
            ConsoleError::TooManyAttempts => {
                response.insert_header(("Retry-After", "60"));
            }
            ConsoleError::ReportsBusy => {
                response.insert_header(("Retry-After", "30"));
            }
            ConsoleError::Unavailable => {
                response.insert_header(("Retry-After", "5"));
            }
            _ => {}
        }
        crate::console::pages::html(
            &mut response,
            crate::console::pages::error_page(status, &self.to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_keep_their_cause_and_tell_the_caller_nothing() {
        let e = ApiError::from(shared::db::DbError::Task("disk on fire".into()));
        assert_eq!(e.to_string(), "internal error");
        assert_eq!(e.code(), "internal_error");
        assert_eq!(
            std::error::Error::source(&e).map(ToString::to_string),
            Some("database task failed: disk on fire".to_owned())
        );
        assert_eq!(
            ErrorChain(&e).to_string(),
            "internal error: database task failed: disk on fire"
        );
        assert_eq!(
            e.error_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
