//! Fake Mono Colombia collection intents: `POST /v1/collection_intents` and
//! `GET /v1/collection_intents/{id}`, Bearer API key, seed 001's wire format
//! (amounts in integer centavos) and error envelope.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::auth;
use crate::gate::{self, Endpoint};
use crate::ids;
use crate::state::{AppState, Provider, Refusal};
use crate::webhooks::Outgoing;

pub const INTENTS: &str = "/v1/collection_intents";
pub const INTENT: &str = "/v1/collection_intents/{id}";

/// Every `state` Mono documents for a collection intent.
pub const STATES: [&str; 5] = [
    "created",
    "in_progress",
    "approved_in_provider",
    "account_credited",
    "failed",
];

/// Sandbox choice (Mono's docs give no example text): the reason put in
/// `payment.provider_message` when an intent fails.
const FAILURE_MESSAGE: &str = "Transacción rechazada por la entidad financiera";

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

/// Mono's part of the sandbox state.
#[derive(Debug, Default)]
pub(crate) struct Store {
    intents: HashMap<String, CollectionIntent>,
    /// `x-idempotency-key` → intent id.
    idempotency: HashMap<String, String>,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(INTENTS, web::post().to(create))
        .route(INTENT, web::get().to(get));
}

/// One entry of the envelope's `errors`.
fn error_item(error_code: &str, message: &str, path: Option<&str>) -> Value {
    json!({"error_code": error_code, "message": message, "path": path, "url": null})
}

/// Seed 001's envelope: `{"code":"422 Unprocessable Entity","errors":[…],"id":"log_…","message":…}`.
fn envelope(status: u16, errors: Vec<Value>, message: &str) -> HttpResponse {
    gate::with_status(status).json(json!({
        "code": gate::status_line(status),
        "errors": errors,
        "id": format!("log_{}", ids::alnum(22)),
        "message": message,
    }))
}

fn unauthorized() -> HttpResponse {
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

fn not_found() -> HttpResponse {
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

fn malformed() -> HttpResponse {
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
pub(crate) fn fault_response(status: u16) -> HttpResponse {
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

fn authorized(app: &AppState, req: &HttpRequest) -> bool {
    auth::bearer(req).is_some_and(|t| auth::matches(&app.config.mono_api_key, t))
}

/// The validated create request.
struct CreateRequest {
    account_id: String,
    amount: i64,
    bank_code: String,
    ip: String,
    note: Option<String>,
    payer: Value,
    redirect_url: String,
    reference: Option<String>,
}

/// `^[A-Za-z]{2,6}_[\w-]{22}$`, the documented id format, checked by the product's own rule.
pub fn valid_id(s: &str) -> bool {
    shared::providers::mono::validate_payment_id(s).is_ok()
}

/// The documented IPv4 pattern: four dot-separated numbers 0–255 of at most three digits.
fn valid_ip(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Collects every problem, each with its JSON pointer path, as Mono reports them.
fn validate(body: &Map<String, Value>) -> Result<CreateRequest, Vec<Value>> {
    let mut errors = Vec::new();
    let missing = |errors: &mut Vec<Value>, path: &str| {
        errors.push(error_item(
            "missing_field",
            "The field is missing on the request body or parameters.",
            Some(path),
        ));
    };
    let invalid = |errors: &mut Vec<Value>, path: &str, message: &str| {
        errors.push(error_item("validation_error", message, Some(path)));
    };
    let required_string = |errors: &mut Vec<Value>, name: &str| -> Option<String> {
        let path = format!("#/{name}");
        match body.get(name) {
            None | Some(Value::Null) => {
                missing(errors, &path);
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => {
                invalid(errors, &path, "must be a non-empty string");
                None
            }
        }
    };

    let account_id = required_string(&mut errors, "account_id");
    if let Some(id) = &account_id
        && !valid_id(id)
    {
        invalid(
            &mut errors,
            "#/account_id",
            "does not match ^[A-Za-z]{2,6}_[\\w-]{22}$",
        );
    }
    let bank_code = required_string(&mut errors, "bank_code");
    let ip = required_string(&mut errors, "ip");
    if let Some(ip) = &ip
        && !valid_ip(ip)
    {
        invalid(&mut errors, "#/ip", "must be an IPv4 address");
    }
    let redirect_url = required_string(&mut errors, "redirect_url");

    let mut amount = None;
    match body.get("amount") {
        None | Some(Value::Null) => missing(&mut errors, "#/amount"),
        Some(Value::Object(money)) => {
            match money.get("amount") {
                None | Some(Value::Null) => missing(&mut errors, "#/amount/amount"),
                Some(v) => match v.as_i64() {
                    Some(n) if n > 0 => amount = Some(n),
                    Some(_) => invalid(&mut errors, "#/amount/amount", "must be greater than 0"),
                    None => invalid(
                        &mut errors,
                        "#/amount/amount",
                        "must be an integer (minor units)",
                    ),
                },
            }
            match money.get("currency") {
                None | Some(Value::Null) => missing(&mut errors, "#/amount/currency"),
                Some(Value::String(c)) if c == "COP" => {}
                Some(_) => invalid(&mut errors, "#/amount/currency", "must be COP"),
            }
        }
        Some(_) => invalid(&mut errors, "#/amount", "must be a Money object"),
    }
    for name in ["payer", "payment"] {
        match body.get(name) {
            None | Some(Value::Null) => missing(&mut errors, &format!("#/{name}")),
            Some(Value::Object(_)) => {}
            Some(_) => invalid(&mut errors, &format!("#/{name}"), "must be an object"),
        }
    }
    let optional_string = |errors: &mut Vec<Value>, name: &str| -> Option<String> {
        match body.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                invalid(errors, &format!("#/{name}"), "must be a string or null");
                None
            }
        }
    };
    let note = optional_string(&mut errors, "note");
    let reference = optional_string(&mut errors, "reference");
    if !matches!(
        body.get("realtime_transfer"),
        None | Some(Value::Null | Value::Bool(_))
    ) {
        invalid(
            &mut errors,
            "#/realtime_transfer",
            "must be a boolean or null",
        );
    }

    match (account_id, amount, bank_code, ip, redirect_url) {
        (Some(account_id), Some(amount), Some(bank_code), Some(ip), Some(redirect_url))
            if errors.is_empty() =>
        {
            Ok(CreateRequest {
                account_id,
                amount,
                bank_code,
                ip,
                note,
                payer: body.get("payer").cloned().unwrap_or_else(|| json!({})),
                redirect_url,
                reference,
            })
        }
        _ => Err(errors),
    }
}

fn new_intent(req: CreateRequest, now: DateTime<Utc>) -> CollectionIntent {
    // Microsecond timestamps: the seed shows whole seconds, but two changes within
    // one second would then share `updated_at`, which receivers use to deduplicate.
    let at = ids::micros_z(now);
    CollectionIntent {
        account_id: req.account_id,
        amount: Money {
            amount: req.amount,
            currency: "COP".to_owned(),
        },
        bank_code: req.bank_code,
        id: format!("cint_{}", ids::alnum(22)),
        inserted_at: at.clone(),
        ip: req.ip,
        note: req.note,
        payer: req.payer,
        payment: Payment {
            provider: "pse".to_owned(),
            transaction_id: ids::digits(10),
            url: format!(
                "https://registro.desarrollo.pse.com.co/PSENF/index.html?enc={}",
                ids::alnum(32)
            ),
            provider_message: None,
        },
        // "Will only be true if the system allows it": the sandbox never does.
        realtime_transfer: false,
        redirect_url: req.redirect_url,
        reference: req.reference,
        state: "created".to_owned(),
        updated_at: at,
    }
}

async fn create(app: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(r) = gate::gate(&app, Provider::Mono, req.method(), INTENTS, Endpoint::Data).await {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return malformed();
    };
    let request = match validate(&fields) {
        Ok(r) => r,
        Err(errors) => return envelope(422, errors, "Validation errors"),
    };
    let key = req
        .headers()
        .get("x-idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut state = app.lock();
    let store = &mut state.mono;
    // Docs: the key makes a retried create return the first intent. They are silent on
    // the status of such a replay; the sandbox answers 201 with the original intent.
    if let Some(existing) = key
        .as_ref()
        .and_then(|k| store.idempotency.get(k))
        .and_then(|id| store.intents.get(id))
    {
        return HttpResponse::Created().json(existing);
    }
    let intent = new_intent(request, Utc::now());
    if let Some(k) = key {
        store.idempotency.insert(k, intent.id.clone());
    }
    store.intents.insert(intent.id.clone(), intent.clone());
    // The seed shows the same body under two response codes and no status; 201 is the sandbox's choice.
    HttpResponse::Created().json(intent)
}

async fn get(app: web::Data<AppState>, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    if let Some(r) = gate::gate(&app, Provider::Mono, req.method(), INTENT, Endpoint::Data).await {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    match app.lock().mono.intents.get(id.as_str()) {
        Some(intent) => HttpResponse::Ok().json(intent),
        None => not_found(),
    }
}

/// The event Mono sends when an intent reaches `state`, if any.
fn event_type(state: &str) -> Option<&'static str> {
    match state {
        "account_credited" => Some("collection_intent_credited"),
        "failed" => Some("collection_intent_failed"),
        "approved_in_provider" => Some("collection_intent_confirmed"),
        _ => None,
    }
}

fn envelope_body(
    kind: &str,
    intent: &CollectionIntent,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, Refusal> {
    serde_json::to_vec(&json!({
        "event": {"type": kind, "data": intent},
        "timestamp": ids::micros_z(now),
    }))
    .map_err(|e| Refusal::Invalid(e.to_string()))
}

fn check_state(state: &str) -> Result<(), Refusal> {
    if STATES.contains(&state) {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "{state:?} is not a Mono state ({})",
            STATES.join(", ")
        )))
    }
}

impl Store {
    /// An intent created through the admin API, as if a merchant had called create.
    pub(crate) fn admin_create(
        &mut self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> (String, String) {
        let request = CreateRequest {
            account_id: format!("acc_{}", ids::alnum(22)),
            amount: amount_minor,
            bank_code: "1007".to_owned(),
            ip: "127.0.0.1".to_owned(),
            note: None,
            payer: json!({
                "document_number": "1099711789",
                "document_type": "CC",
                "email": "payer@example.com",
                "name": "Sandbox Payer",
                "person_type": "natural",
                "phone_number": "+573000000000",
            }),
            redirect_url: "https://merchant.example/return".to_owned(),
            reference,
        };
        let intent = new_intent(request, Utc::now());
        let out = (intent.id.clone(), intent.state.clone());
        self.intents.insert(intent.id.clone(), intent);
        out
    }

    /// Moves an intent to `state`; returns the webhook the move triggers, if any.
    pub(crate) fn set_state(
        &mut self,
        id: &str,
        state: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<Option<Outgoing>, Refusal> {
        check_state(state)?;
        let intent = self.intents.get_mut(id).ok_or(Refusal::NotFound)?;
        let now = Utc::now();
        intent.state = state.to_owned();
        intent.updated_at = ids::micros_z(now);
        intent.payment.provider_message = (state == "failed").then(|| FAILURE_MESSAGE.to_owned());
        if let Some(amount) = reported_amount_minor {
            intent.amount.amount = amount;
        }
        let Some(kind) = event_type(state) else {
            return Ok(None);
        };
        Ok(Some(Outgoing {
            provider: Provider::Mono,
            body: envelope_body(kind, intent, now)?,
        }))
    }

    /// A webhook whose body claims `claimed` (default: the real state) without changing the intent.
    /// States that have no documented event use `collection_intent_updated`, a type the
    /// receiver must accept and ignore.
    pub(crate) fn forged(&self, id: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal> {
        let intent = self.intents.get(id).ok_or(Refusal::NotFound)?;
        let mut shown = intent.clone();
        if let Some(state) = claimed {
            check_state(state)?;
            shown.state = state.to_owned();
            if state == "failed" && shown.payment.provider_message.is_none() {
                shown.payment.provider_message = Some(FAILURE_MESSAGE.to_owned());
            }
        }
        let kind = event_type(&shown.state).unwrap_or("collection_intent_updated");
        Ok(Outgoing {
            provider: Provider::Mono,
            body: envelope_body(kind, &shown, Utc::now())?,
        })
    }

    pub(crate) fn state_of(&self, id: &str) -> Option<&str> {
        self.intents.get(id).map(|i| i.state.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_ip_patterns() {
        assert!(valid_id("acc_5tgliBmzjZ6mpQPRbQjfKj"));
        assert!(valid_id("cint_5dHsMj4uwhhujcVUTuw1OP"));
        assert!(valid_id("ab_abc-def_ghi-jkl_mno-pq"));
        assert!(!valid_id("a_5tgliBmzjZ6mpQPRbQjfKj"));
        assert!(!valid_id("acc_5tgliBmzjZ6mpQPRbQjfK"));
        assert!(!valid_id("ac1_5tgliBmzjZ6mpQPRbQjfKj"));
        assert!(!valid_id("acc_5tgliBmzjZ6mpQPRbQjf!j"));
        assert!(valid_ip("88.221.182.60"));
        assert!(valid_ip("001.0.0.255"));
        assert!(!valid_ip("256.1.1.1"));
        assert!(!valid_ip("1.1.1"));
        assert!(!valid_ip("1.1.1.1234"));
    }

    #[test]
    fn state_changes_trigger_the_documented_events() {
        let mut store = Store::default();
        let (id, state) = store.admin_create(10_000_000, Some("ORD-1".to_owned()));
        assert_eq!(state, "created");
        assert!(valid_id(&id));
        assert!(store.set_state(&id, "in_progress", None).unwrap().is_none());
        let out = store.set_state(&id, "failed", None).unwrap().unwrap();
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(v["event"]["type"], "collection_intent_failed");
        assert_eq!(
            v["event"]["data"]["payment"]["provider_message"],
            FAILURE_MESSAGE
        );
        assert_eq!(store.set_state(&id, "paid", None), Err(Refusal::Invalid(
            "\"paid\" is not a Mono state (created, in_progress, approved_in_provider, account_credited, failed)".to_owned()
        )));
        assert_eq!(
            store.set_state("cint_x", "failed", None),
            Err(Refusal::NotFound)
        );
    }
}
