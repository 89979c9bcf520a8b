//! Wire shapes for the document only. The handlers parse bodies by hand (every invalid
//! field reported at once, nothing echoed) and answer with `shared` types, so these
//! structs describe what goes over the wire; they are never (de)serialized. The tests in
//! `openapi::tests` tie the routes and error codes to the code; these field lists follow
//! the parsers in `orders/new_order.rs` and `payments/request.rs` and `shared::db::orders`.
#![allow(dead_code)]

use utoipa::ToSchema;

/// Every error: `{"error": {"code", "message", "fields"?}}`; `code` is stable, `message` is for people.
#[derive(ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(ToSchema)]
pub struct ErrorDetail {
    /// Machine code, e.g. `validation_failed`; each response lists the codes it can carry.
    pub code: String,
    pub message: String,
    /// With `validation_failed` (every invalid field at once) and `provider_rejected`.
    pub fields: Option<Vec<FieldErrorBody>>,
}

#[derive(ToSchema)]
pub struct FieldErrorBody {
    /// JSON path of the field, e.g. `amount.currency`.
    pub field: String,
    pub message: String,
}

/// Integer minor units (centavos): 1 to 10,000,000,000,000; `COP` only.
#[derive(ToSchema)]
pub struct Amount {
    #[schema(minimum = 1, maximum = 10_000_000_000_000_i64)]
    pub amount: i64,
    #[schema(example = "COP")]
    pub currency: String,
}

#[derive(ToSchema)]
pub struct PayerBody {
    /// `CC`, `CE`, `NIT`, `TI`, `PP`, …
    pub document_type: String,
    pub document_number: String,
    pub email: String,
    pub name: String,
    /// Required by some providers for `POST /v1/payments`.
    pub phone: Option<String>,
    /// `natural` or `legal` (`POST /v1/payments`).
    pub person_type: Option<String>,
}

/// `POST /v1/orders`: an expected payment already created at the provider.
#[derive(ToSchema)]
pub struct NewOrderBody {
    #[schema(example = "ORD-1001")]
    pub reference: String,
    /// `mono`, `belvo` or `tpaga`.
    pub provider: String,
    /// Mono collection intent id, Belvo payment intent id or Tpaga charge token.
    pub provider_payment_id: String,
    pub amount: Amount,
    pub description: Option<String>,
    pub payer: Option<PayerBody>,
}

/// `POST /v1/payments`: the order fields (no `provider_payment_id`) and what the provider needs.
#[derive(ToSchema)]
pub struct NewPaymentBody {
    pub reference: String,
    /// `mono`, `belvo` or `tpaga`.
    pub provider: String,
    pub amount: Amount,
    pub description: Option<String>,
    pub payer: PayerBody,
    /// From `GET /v1/banks` (Mono, Tpaga).
    pub bank_code: Option<String>,
    /// The payer's IPv4 address (Mono).
    pub payer_ip: Option<String>,
    /// Where the provider sends the payer back.
    pub redirect_url: Option<String>,
}

#[derive(ToSchema)]
pub struct HistoryEntry {
    pub from: Option<String>,
    pub to: String,
    pub at: String,
    pub cause: String,
}

/// An order with its state, history and exceptions.
#[derive(ToSchema)]
pub struct Order {
    pub id: String,
    pub reference: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub amount: Amount,
    pub description: Option<String>,
    /// `pending`, `processing`, `paid`, `failed`, `expired` or `needs_review`.
    pub state: String,
    pub provider_status: Option<String>,
    pub pse_cus: Option<String>,
    pub bank_code: Option<String>,
    pub last_checked_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub history: Vec<HistoryEntry>,
    pub exceptions: Vec<OrderException>,
    /// Accepted but worth a second look (create only; absent when empty).
    pub warnings: Option<Vec<String>>,
}

/// An exception as listed on its order; `GET /v1/exceptions` has the full record.
#[derive(ToSchema)]
pub struct OrderException {
    pub id: i64,
    pub kind: String,
    pub detail: String,
    pub opened_at: String,
    pub resolved_at: Option<String>,
}

#[derive(ToSchema)]
pub struct OrderPage {
    pub data: Vec<Order>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[derive(ToSchema)]
pub struct PaymentAnswer {
    pub order: Order,
    /// Where to send the payer (Mono `payment.url`, Belvo `payment_url`, Tpaga `bank_url`).
    pub payment_url: String,
    pub warnings: Option<Vec<String>>,
}

#[derive(ToSchema)]
pub struct Bank {
    pub code: String,
    pub name: String,
}

#[derive(ToSchema)]
pub struct WebhookAck {
    pub received: bool,
    pub status: String,
    pub event_id: i64,
}

/// A reconciliation exception (amount mismatch, unknown payment, …).
#[derive(ToSchema)]
pub struct Exception {
    pub id: i64,
    pub kind: String,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub order_reference: Option<String>,
    pub detail: String,
    pub expected_amount: Option<i64>,
    pub provider_amount: Option<i64>,
    pub currency: Option<String>,
    pub opened_at: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    pub resolution_note: Option<String>,
}

#[derive(ToSchema)]
pub struct ExceptionPage {
    pub data: Vec<Exception>,
    pub next_cursor: Option<String>,
}

#[derive(ToSchema)]
pub struct ResolveBody {
    /// What was done; 1 to 2000 characters.
    pub note: String,
}

/// `{"all": true}` for every pending letter, or `{"ids": [..]}` with 1 to 1000 ids.
#[derive(ToSchema)]
pub struct ReplayBody {
    pub all: Option<bool>,
    pub ids: Option<Vec<i64>>,
}

#[derive(ToSchema)]
pub struct ReplayAnswer {
    pub replayed: Vec<i64>,
    /// Replayed, but covered by a check already queued for the same object.
    pub coalesced: Vec<i64>,
    pub skipped: Vec<i64>,
    pub unreplayable: Vec<i64>,
}

#[derive(ToSchema)]
pub struct DeadLetterPage {
    pub data: Vec<serde_json::Value>,
}

#[derive(ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}
