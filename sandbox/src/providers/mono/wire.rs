//! Mono's wire shapes (seed 001): the collection intent as create and get return it, with
//! amounts in integer centavos, and the error envelope every failure uses.

use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::{Value, json};

use crate::gate;
use crate::ids;

/// Every `state` Mono documents for a collection intent.
pub const STATES: [&str; 5] = [
    "created",
    "in_progress",
    "approved_in_provider",
    "account_credited",
    "failed",
];

/// Mono's `Money`: integer minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
}

/// The `payment` object of a collection intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub provider: String,
    /// PSE's CUS, a numeric string.
    pub transaction_id: String,
    pub url: String,
    /// Only once the intent failed (docs/PROVIDERS.md, "Mono": the reason is in `data.payment.provider_message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message: Option<String>,
}

/// A collection intent exactly as the create and get endpoints return it (fields in the seed's order).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionIntent {
    pub account_id: String,
    pub amount: Money,
    pub bank_code: String,
    pub id: String,
    pub inserted_at: String,
    pub ip: String,
    pub note: Option<String>,
    pub payer: Value,
    pub payment: Payment,
    pub realtime_transfer: bool,
    pub redirect_url: String,
    pub reference: Option<String>,
    pub state: String,
    pub updated_at: String,
}

/// One entry of the envelope's `errors`.
pub fn error_item(error_code: &str, message: &str, path: Option<&str>) -> Value {
    json!({"error_code": error_code, "message": message, "path": path, "url": null})
}

/// Seed 001's envelope: `{"code":"422 Unprocessable Entity","errors":[…],"id":"log_…","message":…}`.
pub fn envelope(status: u16, errors: Vec<Value>, message: &str) -> HttpResponse {
    gate::with_status(status).json(json!({
        "code": gate::status_line(status),
        "errors": errors,
        "id": format!("log_{}", ids::alnum(22)),
        "message": message,
    }))
}

pub fn unauthorized() -> HttpResponse {
    envelope(
        401,
        vec![error_item(
            "expired_token",
            "The token is expired, inactive, or doesn't exist.",
            None,
        )],
        "Authorization header is missing or invalid.",
    )
}

pub fn not_found() -> HttpResponse {
    envelope(
        404,
        vec![error_item(
            "item_not_found",
            "The requested item was not found.",
            None,
        )],
        "Item not found",
    )
}

pub fn malformed() -> HttpResponse {
    envelope(
        400,
        vec![error_item(
            "validation_error",
            "Generic changeset errors",
            None,
        )],
        "Malformed request",
    )
}

/// An injected fault in Mono's envelope. The docs list 400/401/403/404/422 bodies only;
/// other statuses reuse the envelope with a generic `error_code` (sandbox choice).
pub fn fault_response(status: u16) -> HttpResponse {
    let (code, message) = match status {
        400 | 422 => ("validation_error", "Simulated validation failure"),
        401 => return unauthorized(),
        403 => (
            "not_authorized",
            "Not authorized to have access to this resource.",
        ),
        404 => return not_found(),
        429 => ("too_many_requests", "Too many requests"),
        _ => ("internal_server_error", "Simulated provider failure"),
    };
    envelope(status, vec![error_item(code, message, None)], message)
}
