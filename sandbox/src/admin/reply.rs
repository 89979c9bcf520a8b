//! The admin API's answers and body parsing, shared by the core's handlers and the
//! provider-specific admin routes (which a provider registers itself).

use actix_web::HttpResponse;
use actix_web::error::InternalError;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::admin_api::{AdminErrorBody, WebhookTarget};
use crate::registry::{Credential, Outgoing, Registry};
use crate::webhooks::Deliverer;

/// Handlers answer `Err` with a ready response so they can use `?`.
pub type Reply = Result<HttpResponse, actix_web::Error>;

pub fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(AdminErrorBody {
        error: "not_found".to_owned(),
        message: None,
    })
}

pub fn reject(response: HttpResponse) -> actix_web::Error {
    InternalError::from_response("admin request refused", response).into()
}

/// 422 `{"error":"invalid_request","message":…}`.
pub fn invalid(message: impl Into<String>) -> actix_web::Error {
    reject(HttpResponse::UnprocessableEntity().json(AdminErrorBody {
        error: "invalid_request".to_owned(),
        message: Some(message.into()),
    }))
}

pub fn refused(r: crate::registry::Refusal) -> actix_web::Error {
    match r {
        crate::registry::Refusal::NotFound => reject(not_found()),
        crate::registry::Refusal::Invalid(m) => invalid(m),
    }
}

/// Parses a JSON body; an empty body means `empty` (when the endpoint allows it).
pub fn parse<T: DeserializeOwned>(body: &[u8], empty: Option<T>) -> Result<T, actix_web::Error> {
    if body.iter().all(u8::is_ascii_whitespace)
        && let Some(default) = empty
    {
        return Ok(default);
    }
    serde_json::from_slice(body).map_err(|e| {
        reject(HttpResponse::BadRequest().json(AdminErrorBody {
            error: "invalid_json".to_owned(),
            message: Some(e.to_string()),
        }))
    })
}

/// Sends every event `count` times (in order); no target means nothing is sent.
pub async fn send_all(
    deliverer: &Deliverer,
    providers: &Registry,
    target: Option<&WebhookTarget>,
    events: &[Outgoing],
    count: u32,
    credential: Credential,
) -> (u32, Vec<u16>) {
    let Some(target) = target else {
        return (0, Vec::new());
    };
    let mut codes = Vec::new();
    for event in events {
        let Some(provider) = providers.get(event.provider) else {
            continue;
        };
        codes.extend(
            deliverer
                .deliver(provider.as_ref(), target, event, count, credential)
                .await,
        );
    }
    let delivered = u32::try_from(codes.iter().filter(|c| **c != 0).count()).unwrap_or(u32::MAX);
    (delivered, codes)
}
