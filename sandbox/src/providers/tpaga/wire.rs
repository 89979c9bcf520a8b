//! Tpaga's wire shapes (seed 004): the charge with peso amounts as two-decimal strings, the
//! bank list, and the error bodies (the documented 422 `{error_message, field, value}`,
//! DRF-style `{"detail": …}` elsewhere, OAuth2's `{"error": …}` on the token endpoints).

use actix_web::HttpResponse;
use serde::Serialize;
use serde_json::json;

use crate::gate;
use crate::money;

/// Every charge `status` Tpaga documents.
pub const STATUSES: [&str; 6] = [
    "pending",
    "rejected",
    "failed",
    "authorized",
    "charge-rejected",
    "settled",
];

/// The final statuses: only these trigger the webhook.
pub const FINAL_STATUSES: [&str; 3] = ["authorized", "charge-rejected", "settled"];

/// The seed's first banks plus the staging test bank it names ("BANCO UNION COLOMBIANO")
/// and a few real PSE codes.
pub const BANK_LIST: [(&str, &str); 11] = [
    ("ALIANZA FIDUCIARIA S A", "5016"),
    ("BAN100", "1558"),
    ("BANCAMIA", "1059"),
    ("BANCO AGRARIO", "1040"),
    ("BANCO AGRARIO DESARROLLO", "1081"),
    ("BANCO AGRARIO QA DEFECTOS", "1080"),
    ("BANCO DE BOGOTA", "1001"),
    ("BANCO UNION COLOMBIANO", "1022"),
    ("BANCOLOMBIA", "1007"),
    ("BANCO DAVIVIENDA", "1051"),
    ("NEQUI", "1507"),
];

/// A charge as create and query return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    pub token: String,
    pub order_id: String,
    /// Centavos inside; `"10000.00"` on the wire.
    #[serde(rename = "amount", serialize_with = "money::ser_decimal_pesos")]
    pub amount_minor: i64,
    #[serde(rename = "vat_amount", serialize_with = "money::ser_decimal_pesos")]
    pub vat_amount_minor: i64,
    pub description: String,
    pub user_type: String,
    pub bank_code: String,
    pub status: String,
    pub buyer_email: String,
    pub buyer_full_name: String,
    pub document_type: String,
    pub document_number: String,
    pub redirect_url: String,
    pub traceability_code: String,
    pub return_code: Option<String>,
    pub bank_url: Option<String>,
    pub transaction_state: Option<String>,
    pub rejected_reason: Option<String>,
}

/// The documented 422 body.
pub fn field_error(status: u16, message: &str, field: &str, value: Option<String>) -> HttpResponse {
    gate::with_status(status)
        .json(json!({"error_message": message, "field": field, "value": value}))
}

/// Docs silent on every error body except 422. Tpaga's API is Django REST Framework
/// (`/o/token/`, Spanish DRF messages), so the sandbox answers other errors DRF-style:
/// `{"detail": "…"}`.
pub fn detail(status: u16, message: &str) -> HttpResponse {
    gate::with_status(status).json(json!({"detail": message}))
}

/// Docs silent on the 401 body; see [`detail`]. The text is the docs' description of a 401.
pub fn unauthorized() -> HttpResponse {
    detail(401, "Invalid authorization token provided")
}

/// An injected fault on a data endpoint (`{"detail": …}`, see [`detail`]).
pub fn fault_response(status: u16) -> HttpResponse {
    let message = match status {
        401 => "Invalid authorization token provided",
        403 => "You do not have enough permissions to perform this action",
        404 => "No encontrado.",
        429 => "Solicitud fue regulada (throttled).",
        _ => "Simulated provider failure",
    };
    detail(status, message)
}

/// An injected fault on the OAuth endpoints, in OAuth2's `{"error": …}` shape (RFC 6749 §5.2).
pub fn oauth_fault_response(status: u16) -> HttpResponse {
    let error = match status {
        400 => "invalid_request",
        401 => "invalid_client",
        503 | 429 => "temporarily_unavailable",
        _ => "server_error",
    };
    gate::with_status(status).json(json!({"error": error}))
}

pub fn oauth_error(status: u16, error: &str) -> HttpResponse {
    gate::with_status(status).json(json!({"error": error}))
}
