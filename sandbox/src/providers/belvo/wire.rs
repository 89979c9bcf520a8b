//! Belvo's wire shapes (seed 002): customers, payment links, payment intents (whole pesos as
//! integers) and transactions (whole pesos as integer strings), and Belvo's error list
//! `[{"request_id","message","code","field"?}]`.

use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::{Value, json};

use crate::gate;
use crate::ids;
use crate::money;

/// Every payment intent `status` Belvo documents.
pub const STATUSES: [&str; 5] = [
    "REQUIRES_PAYMENT_METHOD",
    "REQUIRES_ACTION",
    "PROCESSING",
    "SUCCEEDED",
    "FAILED",
];

/// A customer as `POST /payments/customers/` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Customer {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    pub customer_type: String,
    pub name: String,
    pub address: Option<String>,
    pub country: String,
    pub email: String,
    pub phone: Option<String>,
    pub identifier: String,
    pub identifier_type: String,
}

/// A payment link as `POST /payments/payment-links/` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentLink {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    pub payment_url: String,
    pub payment_intent: String,
    pub access_token: String,
    pub callback_urls: Value,
    pub updated_at: String,
    pub status: String,
    pub expires_in: String,
    pub expires_at: String,
}

/// A payment intent as `GET /payments/payment-intents/{id}/` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    /// Centavos inside; whole pesos (an integer) on the wire.
    #[serde(rename = "amount", serialize_with = "money::ser_whole_pesos")]
    pub amount_minor: i64,
    pub currency: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub metadata: Value,
    pub charges: Vec<Value>,
    pub customer: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    pub description: String,
    #[serde(skip)]
    pub beneficiary: String,
}

/// A transaction as `GET /payments/transactions/{id}/` returns it (it has no status).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transaction {
    pub id: String,
    pub created_at: String,
    pub created_by: String,
    /// Centavos inside; a whole-peso integer string on the wire (`"350000"`).
    #[serde(rename = "amount", serialize_with = "money::ser_whole_pesos_string")]
    pub amount_minor: i64,
    pub currency: String,
    pub description: String,
    pub transaction_type: String,
    pub beneficiary: String,
    pub payer: Value,
    pub payment_intent: String,
    pub customer: String,
}

/// Belvo's error list: `[{"request_id","message","code","field"?}]`.
pub fn errors(status: u16, items: &[(&str, String, Option<&str>)]) -> HttpResponse {
    let request_id = ids::hex(32);
    let body: Vec<Value> = items
        .iter()
        .map(|(code, message, field)| {
            let mut e = json!({"request_id": request_id, "message": message, "code": code});
            if let Some(field) = field {
                e["field"] = json!(field);
            }
            e
        })
        .collect();
    gate::with_status(status).json(body)
}

/// Docs silent on the 401 body; the sandbox uses Belvo's error list with
/// `authentication_failed`.
pub fn unauthorized() -> HttpResponse {
    errors(
        401,
        &[(
            "authentication_failed",
            "Incorrect authentication credentials.".to_owned(),
            None,
        )],
    )
}

/// Docs silent on the 404 body; the sandbox uses Belvo's error list with `not_found`.
pub fn not_found() -> HttpResponse {
    errors(404, &[("not_found", "Not found.".to_owned(), None)])
}

/// An injected fault in Belvo's error-list shape (codes are the sandbox's choice).
pub fn fault_response(status: u16) -> HttpResponse {
    let (code, message) = match status {
        401 => return unauthorized(),
        404 => return not_found(),
        400 | 422 => ("invalid", "Simulated validation failure"),
        403 => (
            "permission_denied",
            "You do not have permission to perform this action.",
        ),
        429 => ("too_many_requests", "Request was throttled."),
        503 => ("service_unavailable", "Service unavailable."),
        _ => (
            "unexpected_error",
            "Belvo is experiencing an unexpected error.",
        ),
    };
    errors(status, &[(code, message.to_owned(), None)])
}

/// One entry of a 400: `(code, message, field)`.
pub type FieldError = (&'static str, String, Option<String>);

pub fn required(field: &str) -> FieldError {
    (
        "required",
        "This field is required.".to_owned(),
        Some(field.to_owned()),
    )
}

pub fn invalid(field: &str, message: impl Into<String>) -> FieldError {
    ("invalid", message.into(), Some(field.to_owned()))
}

pub fn bad_request(errs: &[FieldError]) -> HttpResponse {
    let items: Vec<(&str, String, Option<&str>)> = errs
        .iter()
        .map(|(c, m, f)| (*c, m.clone(), f.as_deref()))
        .collect();
    errors(400, &items)
}

pub fn not_an_object() -> HttpResponse {
    errors(
        400,
        &[(
            "parse_error",
            "The request body is not a JSON object.".to_owned(),
            None,
        )],
    )
}
