//! Fake Belvo Open Payments (Colombia PSE): customers, payment links, payment
//! intents and transactions, HTTP Basic `secret_id:secret_password`, seed 002's
//! wire format (whole pesos: integers on payment intents, integer strings on
//! transactions).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::auth;
use crate::gate::{self, Endpoint};
use crate::ids;
use crate::money;
use crate::state::{AppState, Provider, Refusal};
use crate::webhooks::Outgoing;

pub const CUSTOMERS: &str = "/payments/customers/";
pub const PAYMENT_LINKS: &str = "/payments/payment-links/";
pub const PAYMENT_INTENT: &str = "/payments/payment-intents/{id}/";
pub const TRANSACTION: &str = "/payments/transactions/{id}/";

/// Every payment intent `status` Belvo documents.
pub const STATUSES: [&str; 5] = [
    "REQUIRES_PAYMENT_METHOD",
    "REQUIRES_ACTION",
    "PROCESSING",
    "SUCCEEDED",
    "FAILED",
];

/// The API user every object is `created_by` (one fixed sandbox user).
const SANDBOX_USER: &str = "62053a72-e2d5-4c95-a578-6b16616900ac";
/// The merchant's bank account used for intents made through the admin API.
const SANDBOX_BENEFICIARY: &str = "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc";
/// Belvo documents `failure_code`/`failure_message` but not their values; the sandbox's choice.
const FAILURE_CODE: &str = "payment_rejected";
const FAILURE_MESSAGE: &str = "The payer's bank rejected the payment.";

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
    description: String,
    #[serde(skip)]
    beneficiary: String,
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

/// Belvo's part of the sandbox state.
#[derive(Debug, Default)]
pub(crate) struct Store {
    customers: HashMap<String, Customer>,
    links: HashMap<String, PaymentLink>,
    intents: HashMap<String, PaymentIntent>,
    transactions: HashMap<String, Transaction>,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(CUSTOMERS, web::post().to(create_customer))
        .route(PAYMENT_LINKS, web::post().to(create_link))
        .route(PAYMENT_INTENT, web::get().to(get_intent))
        .route(TRANSACTION, web::get().to(get_transaction));
}

/// Belvo's error list: `[{"request_id","message","code","field"?}]`.
fn errors(status: u16, items: &[(&str, String, Option<&str>)]) -> HttpResponse {
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
fn unauthorized() -> HttpResponse {
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
fn not_found() -> HttpResponse {
    errors(404, &[("not_found", "Not found.".to_owned(), None)])
}

/// An injected fault in Belvo's error-list shape (codes are the sandbox's choice).
pub(crate) fn fault_response(status: u16) -> HttpResponse {
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

fn authorized(app: &AppState, req: &HttpRequest) -> bool {
    auth::basic_matches(
        req,
        &app.config.belvo_secret_id,
        &app.config.belvo_secret_password,
    )
}

fn required(field: &str) -> (&'static str, String, Option<String>) {
    (
        "required",
        "This field is required.".to_owned(),
        Some(field.to_owned()),
    )
}

fn invalid(field: &str, message: impl Into<String>) -> (&'static str, String, Option<String>) {
    ("invalid", message.into(), Some(field.to_owned()))
}

type FieldError = (&'static str, String, Option<String>);

fn bad_request(errs: Vec<FieldError>) -> HttpResponse {
    let items: Vec<(&str, String, Option<&str>)> = errs
        .iter()
        .map(|(c, m, f)| (*c, m.clone(), f.as_deref()))
        .collect();
    errors(400, &items)
}

fn parse_object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn not_an_object() -> HttpResponse {
    errors(
        400,
        &[(
            "parse_error",
            "The request body is not a JSON object.".to_owned(),
            None,
        )],
    )
}

fn string_field(
    body: &Map<String, Value>,
    name: &str,
    errs: &mut Vec<FieldError>,
) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => {
            errs.push(required(name));
            None
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => {
            errs.push(invalid(name, "Not a valid string."));
            None
        }
    }
}

fn optional_string(
    body: &Map<String, Value>,
    name: &str,
    errs: &mut Vec<FieldError>,
) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errs.push(invalid(name, "Not a valid string."));
            None
        }
    }
}

async fn create_customer(
    app: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = gate::gate(
        &app,
        Provider::Belvo,
        req.method(),
        CUSTOMERS,
        Endpoint::Data,
    )
    .await
    {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    let Some(body) = parse_object(&body) else {
        return not_an_object();
    };
    let mut errs = Vec::new();
    let customer_type = string_field(&body, "customer_type", &mut errs);
    if let Some(t) = &customer_type
        && !matches!(t.as_str(), "INDIVIDUAL" | "BUSINESS")
    {
        errs.push(invalid(
            "customer_type",
            format!("\"{t}\" is not a valid choice."),
        ));
    }
    let country = string_field(&body, "country", &mut errs);
    if let Some(c) = &country
        && c != "COL"
    {
        errs.push(invalid(
            "country",
            format!("\"{c}\" is not a valid choice."),
        ));
    }
    let name = string_field(&body, "name", &mut errs);
    let email = string_field(&body, "email", &mut errs);
    if let Some(e) = &email
        && !crate::tpaga::valid_email(e)
    {
        errs.push(invalid("email", "Enter a valid email address."));
    }
    let identifier_type = string_field(&body, "identifier_type", &mut errs);
    let identifier = string_field(&body, "identifier", &mut errs);
    let address = optional_string(&body, "address", &mut errs);
    let phone = optional_string(&body, "phone", &mut errs);
    let (
        Some(customer_type),
        Some(country),
        Some(name),
        Some(email),
        Some(identifier_type),
        Some(identifier),
    ) = (
        customer_type,
        country,
        name,
        email,
        identifier_type,
        identifier,
    )
    else {
        return bad_request(errs);
    };
    if !errs.is_empty() {
        return bad_request(errs);
    }
    let customer = Customer {
        id: ids::uuid(),
        created_at: ids::micros_z(Utc::now()),
        created_by: SANDBOX_USER.to_owned(),
        customer_type,
        name,
        address,
        country,
        email,
        phone,
        identifier,
        identifier_type,
    };
    app.lock()
        .belvo
        .customers
        .insert(customer.id.clone(), customer.clone());
    HttpResponse::Created().json(customer)
}

/// `amount`: whole pesos as an integer or an integer string; anything with decimals is refused.
fn parse_amount(v: Option<&Value>) -> Result<i64, FieldError> {
    let pesos = match v {
        None | Some(Value::Null) => return Err(required("amount")),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().ok()
        }
        Some(_) => None,
    };
    match pesos.and_then(|p| p.checked_mul(100)) {
        Some(minor) if minor > 0 => Ok(minor),
        _ => Err(invalid(
            "amount",
            "Only whole numbers (integers) greater than zero are allowed, without decimal points.",
        )),
    }
}

/// `"7d"`, `"24h"`, `"30m"`: the link lifetime.
fn parse_expires_in(s: &str) -> Option<Duration> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n > 0)?;
    match unit {
        'd' => Duration::try_days(n),
        'h' => Duration::try_hours(n),
        'm' => Duration::try_minutes(n),
        _ => None,
    }
}

async fn create_link(app: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(r) = gate::gate(
        &app,
        Provider::Belvo,
        req.method(),
        PAYMENT_LINKS,
        Endpoint::Data,
    )
    .await
    {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    let Some(body) = parse_object(&body) else {
        return not_an_object();
    };
    let mut errs = Vec::new();
    let amount = parse_amount(body.get("amount"))
        .map_err(|e| errs.push(e))
        .ok();
    let customer = string_field(&body, "customer", &mut errs);
    let description = string_field(&body, "description", &mut errs);
    match body.get("allowed_payment_method_types") {
        None | Some(Value::Null) => errs.push(required("allowed_payment_method_types")),
        Some(Value::Array(types)) if types.iter().any(|t| t == "pse") => {}
        Some(_) => errs.push(invalid(
            "allowed_payment_method_types",
            "Must be a list containing \"pse\".",
        )),
    }
    let beneficiary = match body
        .get("payment_method_details")
        .and_then(|d| d.pointer("/pse/beneficiary_bank_account"))
    {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Value::Null) => {
            errs.push(required(
                "payment_method_details.pse.beneficiary_bank_account",
            ));
            None
        }
        Some(_) => {
            errs.push(invalid(
                "payment_method_details.pse.beneficiary_bank_account",
                "Not a valid string.",
            ));
            None
        }
    };
    let callback_urls = match body.get("callback_urls") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            errs.push(invalid("callback_urls", "Must be an object."));
            Value::Null
        }
    };
    let metadata = match body.get("metadata") {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            errs.push(invalid("metadata", "Must be an object."));
            json!({})
        }
    };
    let expires_in =
        optional_string(&body, "expires_in", &mut errs).unwrap_or_else(|| "7d".to_owned());
    let lifetime = parse_expires_in(&expires_in);
    if lifetime.is_none() {
        errs.push(invalid(
            "expires_in",
            "Use a number followed by d, h or m (e.g. \"7d\").",
        ));
    }
    let mut state = app.lock();
    let store = &mut state.belvo;
    if let Some(c) = &customer
        && !store.customers.contains_key(c)
    {
        errs.push((
            "does_not_exist",
            "Customer not found.".to_owned(),
            Some("customer".to_owned()),
        ));
    }
    let (Some(amount), Some(customer), Some(description), Some(beneficiary), Some(lifetime), true) = (
        amount,
        customer,
        description,
        beneficiary,
        lifetime,
        errs.is_empty(),
    ) else {
        return bad_request(errs);
    };
    let now = Utc::now();
    let intent = store.new_intent(amount, customer, description, beneficiary, metadata, now);
    let token = ids::alnum(43);
    let link = PaymentLink {
        id: ids::uuid(),
        created_at: ids::micros_z(now),
        created_by: SANDBOX_USER.to_owned(),
        payment_url: format!("https://pay.belvo.io/{token}"),
        payment_intent: intent,
        access_token: token,
        callback_urls,
        updated_at: ids::micros_z(now),
        status: "ACTIVE".to_owned(),
        expires_in,
        expires_at: ids::micros_z(now + lifetime),
    };
    store.links.insert(link.id.clone(), link.clone());
    HttpResponse::Created().json(link)
}

async fn get_intent(
    app: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = gate::gate(
        &app,
        Provider::Belvo,
        req.method(),
        PAYMENT_INTENT,
        Endpoint::Data,
    )
    .await
    {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    match app.lock().belvo.intents.get(id.as_str()) {
        Some(pi) => HttpResponse::Ok().json(pi),
        None => not_found(),
    }
}

async fn get_transaction(
    app: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = gate::gate(
        &app,
        Provider::Belvo,
        req.method(),
        TRANSACTION,
        Endpoint::Data,
    )
    .await
    {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    match app.lock().belvo.transactions.get(id.as_str()) {
        Some(t) => HttpResponse::Ok().json(t),
        None => not_found(),
    }
}

/// `PAYMENT_INTENTS`/`STATUS_UPDATE` for `pi` claiming `status`; a fresh `webhook_id` per logical event.
fn status_update(pi: &PaymentIntent, status: &str) -> Result<Outgoing, Refusal> {
    let body = json!({
        "webhook_id": ids::uuid(),
        "webhook_type": "PAYMENT_INTENTS",
        "webhook_code": "STATUS_UPDATE",
        "object_id": pi.id,
        "data": {
            "status": status,
            "metadata": pi.metadata,
            "failure_code": pi.failure_code,
            "failure_message": pi.failure_message,
        },
    });
    outgoing(&body)
}

fn outgoing(body: &Value) -> Result<Outgoing, Refusal> {
    Ok(Outgoing {
        provider: Provider::Belvo,
        body: serde_json::to_vec(body).map_err(|e| Refusal::Invalid(e.to_string()))?,
    })
}

/// Belvo amounts are whole pesos: centavos that are not a multiple of 100 cannot be shown.
fn whole_pesos_amount(minor: i64, what: &str) -> Result<i64, Refusal> {
    if minor > 0 && money::whole_pesos(minor).is_some() {
        Ok(minor)
    } else {
        Err(Refusal::Invalid(format!(
            "{what} must be a positive multiple of 100 (Belvo amounts are whole pesos)"
        )))
    }
}

/// Upper-cases and checks a status (Belvo has been seen in both cases).
fn normalise_status(status: &str) -> Result<String, Refusal> {
    let upper = status.to_ascii_uppercase();
    if STATUSES.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(Refusal::Invalid(format!(
            "{status:?} is not a Belvo payment intent status ({})",
            STATUSES.join(", ")
        )))
    }
}

impl Store {
    fn new_intent(
        &mut self,
        amount_minor: i64,
        customer: String,
        description: String,
        beneficiary: String,
        metadata: Value,
        now: DateTime<Utc>,
    ) -> String {
        let pi = PaymentIntent {
            id: ids::uuid(),
            status: "REQUIRES_PAYMENT_METHOD".to_owned(),
            amount_minor,
            currency: "COP".to_owned(),
            failure_code: None,
            failure_message: None,
            metadata,
            charges: Vec::new(),
            customer,
            created_at: ids::micros_z(now),
            updated_at: ids::micros_z(now),
            description,
            beneficiary,
        };
        let id = pi.id.clone();
        self.intents.insert(id.clone(), pi);
        id
    }

    /// A payment intent made through the admin API (with its own sandbox customer).
    pub(crate) fn admin_create(
        &mut self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> Result<(String, String), Refusal> {
        whole_pesos_amount(amount_minor, "amount_minor")?;
        let now = Utc::now();
        let customer = Customer {
            id: ids::uuid(),
            created_at: ids::micros_z(now),
            created_by: SANDBOX_USER.to_owned(),
            customer_type: "INDIVIDUAL".to_owned(),
            name: "Sandbox Payer".to_owned(),
            address: None,
            country: "COL".to_owned(),
            email: "payer@example.com".to_owned(),
            phone: None,
            identifier: "1018760936".to_owned(),
            identifier_type: "CC".to_owned(),
        };
        let customer_id = customer.id.clone();
        self.customers.insert(customer_id.clone(), customer);
        let metadata = match reference {
            Some(r) => json!({"reference": r}),
            None => json!({}),
        };
        let id = self.new_intent(
            amount_minor,
            customer_id,
            "Sandbox payment".to_owned(),
            SANDBOX_BENEFICIARY.to_owned(),
            metadata,
            now,
        );
        Ok((id, "REQUIRES_PAYMENT_METHOD".to_owned()))
    }

    /// Records an INFLOW transaction for `pi_id`; returns its id and its `TRANSACTIONS` webhook.
    pub(crate) fn add_transaction(
        &mut self,
        pi_id: &str,
        amount_minor: Option<i64>,
    ) -> Result<(String, Outgoing), Refusal> {
        let pi = self.intents.get(pi_id).ok_or(Refusal::NotFound)?;
        let amount_minor =
            whole_pesos_amount(amount_minor.unwrap_or(pi.amount_minor), "amount_minor")?;
        let transaction = Transaction {
            id: ids::uuid(),
            created_at: ids::micros_offset(Utc::now()),
            created_by: SANDBOX_USER.to_owned(),
            amount_minor,
            currency: "COP".to_owned(),
            description: pi.description.clone(),
            transaction_type: "INFLOW".to_owned(),
            beneficiary: pi.beneficiary.clone(),
            payer: json!({"bank_account": ids::uuid()}),
            payment_intent: pi.id.clone(),
            customer: pi.customer.clone(),
        };
        let body = json!({
            "webhook_id": ids::uuid(),
            "webhook_type": "TRANSACTIONS",
            "webhook_code": "OBJECT_CREATED",
            "object_id": transaction.id,
            "data": {},
        });
        let id = transaction.id.clone();
        self.transactions.insert(id.clone(), transaction);
        Ok((id, outgoing(&body)?))
    }

    /// Moves a payment intent to `status`. Returns its `STATUS_UPDATE` webhook and, on a move
    /// into `SUCCEEDED`, the new INFLOW transaction's id and `TRANSACTIONS` webhook.
    pub(crate) fn set_status(
        &mut self,
        id: &str,
        status: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<(Vec<Outgoing>, Option<String>), Refusal> {
        let status = normalise_status(status)?;
        if let Some(amount) = reported_amount_minor {
            whole_pesos_amount(amount, "reported_amount_minor")?;
        }
        let pi = self.intents.get_mut(id).ok_or(Refusal::NotFound)?;
        let entering_success = status == "SUCCEEDED" && pi.status != "SUCCEEDED";
        pi.status.clone_from(&status);
        pi.updated_at = ids::micros_z(Utc::now());
        if let Some(amount) = reported_amount_minor {
            pi.amount_minor = amount;
        }
        let failed = status == "FAILED";
        pi.failure_code = failed.then(|| FAILURE_CODE.to_owned());
        pi.failure_message = failed.then(|| FAILURE_MESSAGE.to_owned());
        let mut events = vec![status_update(pi, &status)?];
        let mut transaction_id = None;
        if entering_success {
            let (tid, event) = self.add_transaction(id, None)?;
            transaction_id = Some(tid);
            events.push(event);
        }
        Ok((events, transaction_id))
    }

    /// A `STATUS_UPDATE` claiming `claimed` (default: the real status) without changing anything.
    pub(crate) fn forged(&self, id: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal> {
        let pi = self.intents.get(id).ok_or(Refusal::NotFound)?;
        let status = match claimed {
            Some(s) => normalise_status(s)?,
            None => pi.status.clone(),
        };
        let mut shown = pi.clone();
        if status == "FAILED" && shown.failure_code.is_none() {
            shown.failure_code = Some(FAILURE_CODE.to_owned());
            shown.failure_message = Some(FAILURE_MESSAGE.to_owned());
        }
        status_update(&shown, &status)
    }

    pub(crate) fn status_of(&self, id: &str) -> Option<&str> {
        self.intents.get(id).map(|pi| pi.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_pesos() {
        assert_eq!(parse_amount(Some(&json!(1000))), Ok(100_000));
        assert_eq!(parse_amount(Some(&json!("350000"))), Ok(35_000_000));
        assert!(parse_amount(Some(&json!(1000.5))).is_err());
        assert!(parse_amount(Some(&json!("1000.00"))).is_err());
        assert!(parse_amount(Some(&json!(0))).is_err());
        assert!(parse_amount(Some(&json!(-5))).is_err());
        assert_eq!(parse_amount(None).unwrap_err().0, "required");
    }

    #[test]
    fn expiry() {
        assert_eq!(parse_expires_in("7d"), Duration::try_days(7));
        assert_eq!(parse_expires_in("30m"), Duration::try_minutes(30));
        assert_eq!(parse_expires_in("7"), None);
        assert_eq!(parse_expires_in("0d"), None);
        assert_eq!(parse_expires_in(""), None);
    }

    #[test]
    fn success_creates_one_transaction_and_serialises_pesos() {
        let mut store = Store::default();
        assert!(store.admin_create(10_000_050, None).is_err());
        let (id, _) = store.admin_create(10_000_000, None).unwrap();
        let (events, tid) = store.set_status(&id, "succeeded", None).unwrap();
        assert_eq!(events.len(), 2);
        let tid = tid.unwrap();
        let t = serde_json::to_value(&store.transactions[&tid]).unwrap();
        assert_eq!(t["amount"], "100000");
        assert_eq!(t["payment_intent"], id.as_str());
        let pi = serde_json::to_value(&store.intents[&id]).unwrap();
        assert_eq!(pi["amount"], 100_000);
        assert_eq!(pi["status"], "SUCCEEDED");
        // Already SUCCEEDED: no second transaction.
        let (events, tid) = store.set_status(&id, "SUCCEEDED", None).unwrap();
        assert_eq!((events.len(), tid), (1, None));
        assert_eq!(store.set_status(&id, "DONE", None).unwrap_err(), Refusal::Invalid(
            "\"DONE\" is not a Belvo payment intent status (REQUIRES_PAYMENT_METHOD, REQUIRES_ACTION, PROCESSING, SUCCEEDED, FAILED)".to_owned()
        ));
    }
}
