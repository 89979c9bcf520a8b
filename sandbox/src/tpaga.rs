//! Fake Tpaga PSE: OAuth2 client credentials (`/o/token/`), the bank list, and
//! create / query charge, seed 004's wire format (peso amounts as decimal
//! strings with two decimals) and its 422 body `{error_message, field, value}`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::auth;
use crate::gate::{self, Endpoint};
use crate::ids;
use crate::money::{self, DecimalError};
use crate::state::{AppState, Provider, Refusal};
use crate::webhooks::Outgoing;

pub const TOKEN: &str = "/o/token/";
pub const REVOKE_TOKEN: &str = "/o/revoke_token/";
pub const BANKS: &str = "/api/pse/v1/public/banks";
pub const CHARGES: &str = "/api/pse/v1/public/charge";
pub const CHARGE: &str = "/api/pse/v1/public/charge/{token}";

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

/// Seed limits: 1,000.00 to 40,000,000.00 COP, in centavos.
const MIN_AMOUNT_MINOR: i64 = 100_000;
const MAX_AMOUNT_MINOR: i64 = 4_000_000_000;
const AMOUNT_RANGE_MESSAGE: &str =
    "El valor de la transacción debe estar entre 1000.00 y 40000000.00.";

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

/// Tpaga's part of the sandbox state: charges and live access tokens.
#[derive(Debug, Default)]
pub(crate) struct Store {
    charges: HashMap<String, Charge>,
    /// Access token → when it stops working.
    tokens: HashMap<String, Instant>,
    pub(crate) tokens_issued: u64,
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(TOKEN, web::post().to(token))
        .route(REVOKE_TOKEN, web::post().to(revoke_token))
        .route(BANKS, web::get().to(banks))
        .route(CHARGES, web::post().to(create_charge))
        .route(CHARGE, web::get().to(get_charge));
}

/// The documented 422 body.
fn field_error(status: u16, message: &str, field: &str, value: Option<String>) -> HttpResponse {
    gate::with_status(status)
        .json(json!({"error_message": message, "field": field, "value": value}))
}

/// Docs silent on every error body except 422. Tpaga's API is Django REST Framework
/// (`/o/token/`, Spanish DRF messages), so the sandbox answers other errors DRF-style:
/// `{"detail": "…"}`.
fn detail(status: u16, message: &str) -> HttpResponse {
    gate::with_status(status).json(json!({"detail": message}))
}

/// Docs silent on the 401 body; see [`detail`]. The text is the docs' description of a 401.
fn unauthorized() -> HttpResponse {
    detail(401, "Invalid authorization token provided")
}

/// An injected fault on a data endpoint (`{"detail": …}`, see [`detail`]).
pub(crate) fn fault_response(status: u16) -> HttpResponse {
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
pub(crate) fn oauth_fault_response(status: u16) -> HttpResponse {
    let error = match status {
        400 => "invalid_request",
        401 => "invalid_client",
        503 | 429 => "temporarily_unavailable",
        _ => "server_error",
    };
    gate::with_status(status).json(json!({"error": error}))
}

fn oauth_error(status: u16, error: &str) -> HttpResponse {
    gate::with_status(status).json(json!({"error": error}))
}

/// The form fields of both OAuth endpoints.
#[derive(Debug, Deserialize)]
struct OAuthForm {
    grant_type: Option<String>,
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(
    app: web::Data<AppState>,
    req: HttpRequest,
    form: Option<web::Form<OAuthForm>>,
) -> HttpResponse {
    if let Some(r) = gate::gate(
        &app,
        Provider::Tpaga,
        req.method(),
        TOKEN,
        Endpoint::TpagaOAuth,
    )
    .await
    {
        return r;
    }
    let config = &app.config;
    if !auth::basic_matches(&req, &config.tpaga_client_id, &config.tpaga_client_secret) {
        return oauth_error(401, "invalid_client");
    }
    if form.as_ref().and_then(|f| f.grant_type.as_deref()) != Some("client_credentials") {
        return oauth_error(400, "unsupported_grant_type");
    }
    let access_token = ids::alnum(40);
    let ttl = config.tpaga_token_ttl_secs;
    {
        let mut state = app.lock();
        let store = &mut state.tpaga;
        let now = Instant::now();
        store.tokens.retain(|_, expires| *expires > now);
        store
            .tokens
            .insert(access_token.clone(), now + Duration::from_secs(ttl));
        store.tokens_issued += 1;
    }
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": "read write",
    }))
}

/// `POST /o/revoke_token/` as documented: form `token`, `client_id`, `client_secret`; empty 200.
async fn revoke_token(
    app: web::Data<AppState>,
    req: HttpRequest,
    form: Option<web::Form<OAuthForm>>,
) -> HttpResponse {
    if let Some(r) = gate::gate(
        &app,
        Provider::Tpaga,
        req.method(),
        REVOKE_TOKEN,
        Endpoint::TpagaOAuth,
    )
    .await
    {
        return r;
    }
    let Some(form) = form else {
        return oauth_error(400, "invalid_request");
    };
    let config = &app.config;
    let (Some(id), Some(secret)) = (&form.client_id, &form.client_secret) else {
        return oauth_error(400, "invalid_request");
    };
    let id_ok = auth::matches(&config.tpaga_client_id, id);
    let secret_ok = auth::matches(&config.tpaga_client_secret, secret);
    if !(id_ok && secret_ok) {
        return oauth_error(401, "invalid_client");
    }
    let Some(token) = &form.token else {
        return oauth_error(400, "invalid_request");
    };
    if app.lock().tpaga.tokens.remove(token).is_some() {
        HttpResponse::Ok().finish()
    } else {
        // Docs: 404 "The provided token was not found"; body silent, the sandbox sends none.
        HttpResponse::NotFound().finish()
    }
}

/// Whether the request carries a live access token.
fn authorized(app: &AppState, req: &HttpRequest) -> bool {
    let Some(token) = auth::bearer(req) else {
        return false;
    };
    let state = app.lock();
    state
        .tpaga
        .tokens
        .get(token)
        .is_some_and(|expires| *expires > Instant::now())
}

async fn banks(app: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Some(r) = gate::gate(&app, Provider::Tpaga, req.method(), BANKS, Endpoint::Data).await {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    let list: Vec<Value> = BANK_LIST
        .iter()
        .map(|(name, code)| json!({"name": name, "code": code}))
        .collect();
    HttpResponse::Ok().json(list)
}

/// A problem with a create-charge request, reported as one 422 (or 400 when unparseable).
#[derive(Debug, Clone, PartialEq, Eq)]
enum ChargeError {
    Malformed,
    Field {
        message: String,
        field: String,
        value: Option<String>,
    },
}

fn err(message: impl Into<String>, field: &str, value: Option<String>) -> ChargeError {
    ChargeError::Field {
        message: message.into(),
        field: field.to_owned(),
        value,
    }
}

type Fields = HashMap<String, Box<RawValue>>;

/// A character field: a string (numbers are accepted and used as their text, as DRF does),
/// not blank, at most `max` characters.
fn text(fields: &Fields, name: &str, max: usize) -> Result<String, ChargeError> {
    let Some(raw) = fields.get(name) else {
        return Err(err("Este campo es requerido.", name, None));
    };
    let value: Value = serde_json::from_str(raw.get()).map_err(|_| ChargeError::Malformed)?;
    let s = match value {
        Value::Null => return Err(err("Este campo no puede ser nulo.", name, None)),
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(err(
                "No es una cadena válida.",
                name,
                Some(raw.get().to_owned()),
            ));
        }
    };
    if s.trim().is_empty() {
        return Err(err("Este campo no puede estar en blanco.", name, Some(s)));
    }
    if s.chars().count() > max {
        return Err(err(
            format!("Asegúrese de que este campo no tenga más de {max} caracteres."),
            name,
            Some(s),
        ));
    }
    Ok(s)
}

/// A decimal field: a JSON string or number with at most two decimals, read from its raw
/// text so no float ever touches it. Returns centavos and the text as given.
fn decimal(fields: &Fields, name: &str) -> Result<(i64, String), ChargeError> {
    let Some(raw) = fields.get(name) else {
        return Err(err("Este campo es requerido.", name, None));
    };
    let text = match serde_json::from_str::<Value>(raw.get()).map_err(|_| ChargeError::Malformed)? {
        Value::Null => return Err(err("Este campo no puede ser nulo.", name, None)),
        Value::String(s) => s.trim().to_owned(),
        Value::Number(_) => raw.get().trim().to_owned(),
        _ => {
            return Err(err(
                "Se requiere un número válido.",
                name,
                Some(raw.get().to_owned()),
            ));
        }
    };
    match money::parse_decimal_pesos(&text) {
        Ok(minor) => Ok((minor, text)),
        Err(DecimalError::Invalid) => Err(err("Se requiere un número válido.", name, Some(text))),
        Err(DecimalError::TooManyDecimals) => Err(err(
            "Asegúrese de que no haya más de 2 decimales.",
            name,
            Some(text),
        )),
    }
}

fn choice(
    fields: &Fields,
    name: &str,
    max: usize,
    allowed: &[&str],
) -> Result<String, ChargeError> {
    let s = text(fields, name, max)?;
    if allowed.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(err(
            format!("\"{s}\" no es una elección válida."),
            name,
            Some(s),
        ))
    }
}

/// A deliberately simple e-mail check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && !domain.contains('@')
        && !s.contains(char::is_whitespace)
        && labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty())
}

/// Validates a create-charge body in the order of the documented request table.
fn validate_charge(body: &[u8]) -> Result<Charge, ChargeError> {
    let fields: Fields = serde_json::from_slice(body).map_err(|_| ChargeError::Malformed)?;
    let bank_code = text(&fields, "bank_code", 35)?;
    if !BANK_LIST.iter().any(|(_, code)| *code == bank_code) {
        return Err(err(
            format!("Objeto con code={bank_code} no existe."),
            "bank_code",
            Some(bank_code),
        ));
    }
    let order_id = text(&fields, "order_id", 20)?;
    let (amount, amount_text) = decimal(&fields, "amount")?;
    if !(MIN_AMOUNT_MINOR..=MAX_AMOUNT_MINOR).contains(&amount) {
        return Err(err(AMOUNT_RANGE_MESSAGE, "amount", Some(amount_text)));
    }
    let (vat_amount, vat_text) = decimal(&fields, "vat_amount")?;
    if vat_amount < 0 {
        return Err(err(
            "Asegúrese de que este valor sea mayor o igual a 0.",
            "vat_amount",
            Some(vat_text),
        ));
    }
    let description = text(&fields, "description", 80)?;
    let user_type = choice(&fields, "user_type", 10, &["NATURAL", "LEGAL"])?;
    let buyer_email = text(&fields, "buyer_email", 255)?;
    if !valid_email(&buyer_email) {
        return Err(err(
            "Introduzca una dirección de correo electrónico válida.",
            "buyer_email",
            Some(buyer_email),
        ));
    }
    let buyer_full_name = text(&fields, "buyer_full_name", 255)?;
    let document_type = choice(
        &fields,
        "document_type",
        20,
        &["CC", "CE", "NIT", "TI", "PP"],
    )?;
    let document_number = text(&fields, "document_number", 20)?;
    let redirect_url = text(&fields, "redirect_url", 500)?;
    // Validated; the documented response does not echo it, so it is not kept.
    text(&fields, "buyer_phone_number", 20)?;
    // The request table says "Decimal < amount"; the error table's message says "cannot be
    // greater". The sandbox follows the request table: equal is refused too.
    if vat_amount >= amount {
        return Err(err(
            "vat_amount no puede ser mayor a amount.",
            "non_field_errors",
            None,
        ));
    }
    Ok(new_charge(NewCharge {
        order_id,
        amount_minor: amount,
        vat_amount_minor: vat_amount,
        description,
        user_type,
        bank_code,
        buyer_email,
        buyer_full_name,
        document_type,
        document_number,
        redirect_url,
    }))
}

struct NewCharge {
    order_id: String,
    amount_minor: i64,
    vat_amount_minor: i64,
    description: String,
    user_type: String,
    bank_code: String,
    buyer_email: String,
    buyer_full_name: String,
    document_type: String,
    document_number: String,
    redirect_url: String,
}

fn new_charge(c: NewCharge) -> Charge {
    Charge {
        token: format!("pse-{}", ids::hex(32)),
        order_id: c.order_id,
        amount_minor: c.amount_minor,
        vat_amount_minor: c.vat_amount_minor,
        description: c.description,
        user_type: c.user_type,
        bank_code: c.bank_code,
        status: "pending".to_owned(),
        buyer_email: c.buyer_email,
        buyer_full_name: c.buyer_full_name,
        document_type: c.document_type,
        document_number: c.document_number,
        redirect_url: c.redirect_url,
        traceability_code: ids::digits(7),
        return_code: Some("SUCCESS".to_owned()),
        bank_url: Some(format!(
            "https://registro.desarrollo.pse.com.co/PSENF/index.html?enc={}",
            ids::alnum(44)
        )),
        transaction_state: None,
        rejected_reason: None,
    }
}

async fn create_charge(
    app: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(r) = gate::gate(&app, Provider::Tpaga, req.method(), CHARGES, Endpoint::Data).await
    {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    let charge = match validate_charge(&body) {
        Ok(c) => c,
        // Docs list 400 "Your request is invalid" without a body; DRF's parse-error shape.
        Err(ChargeError::Malformed) => return detail(400, "JSON parse error"),
        Err(ChargeError::Field {
            message,
            field,
            value,
        }) => {
            return field_error(422, &message, &field, value);
        }
    };
    let mut state = app.lock();
    let store = &mut state.tpaga;
    // Docs: "408 The charge already exist" (an odd code for it); body silent, the sandbox
    // uses the 422 shape. Keyed on order_id, the merchant's "unique identifier of the charge".
    if store
        .charges
        .values()
        .any(|c| c.order_id == charge.order_id)
    {
        return field_error(
            408,
            "The charge already exist",
            "order_id",
            Some(charge.order_id),
        );
    }
    store.charges.insert(charge.token.clone(), charge.clone());
    HttpResponse::Created().json(charge)
}

async fn get_charge(
    app: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    if let Some(r) = gate::gate(&app, Provider::Tpaga, req.method(), CHARGE, Endpoint::Data).await {
        return r;
    }
    if !authorized(&app, &req) {
        return unauthorized();
    }
    match app.lock().tpaga.charges.get(token.as_str()) {
        Some(charge) => HttpResponse::Ok().json(charge),
        // Docs list no 404 for this endpoint; the sandbox answers DRF's default.
        None => detail(404, "No encontrado."),
    }
}

fn check_status(status: &str) -> Result<(), Refusal> {
    if STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(Refusal::Invalid(format!(
            "{status:?} is not a Tpaga charge status ({})",
            STATUSES.join(", ")
        )))
    }
}

fn webhook(token: &str) -> Result<Outgoing, Refusal> {
    Ok(Outgoing {
        provider: Provider::Tpaga,
        body: serde_json::to_vec(&json!({"charge_token": token}))
            .map_err(|e| Refusal::Invalid(e.to_string()))?,
    })
}

impl Store {
    /// A `pending` charge made through the admin API. `reference` becomes `order_id`.
    pub(crate) fn admin_create(
        &mut self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> Result<(String, String), Refusal> {
        let order_id = reference.unwrap_or_else(|| format!("sbx-{}", ids::hex(12)));
        if order_id.is_empty() || order_id.chars().count() > 20 {
            return Err(Refusal::Invalid(
                "reference must be 1 to 20 characters (Tpaga order_id)".to_owned(),
            ));
        }
        let charge = new_charge(NewCharge {
            order_id,
            amount_minor,
            vat_amount_minor: 0,
            description: "Sandbox payment".to_owned(),
            user_type: "NATURAL".to_owned(),
            bank_code: "1022".to_owned(),
            buyer_email: "payer@example.com".to_owned(),
            buyer_full_name: "Sandbox Payer".to_owned(),
            document_type: "CC".to_owned(),
            document_number: "1018760936".to_owned(),
            redirect_url: "https://merchant.example/return".to_owned(),
        });
        let out = (charge.token.clone(), charge.status.clone());
        self.charges.insert(charge.token.clone(), charge);
        Ok(out)
    }

    /// Moves a charge to `status` (the traceability code is kept); returns the webhook
    /// when the status is final.
    pub(crate) fn set_status(
        &mut self,
        token: &str,
        status: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<Option<Outgoing>, Refusal> {
        check_status(status)?;
        let charge = self.charges.get_mut(token).ok_or(Refusal::NotFound)?;
        charge.status = status.to_owned();
        if let Some(amount) = reported_amount_minor {
            charge.amount_minor = amount;
        }
        // The docs name these fields but not their values per status; the sandbox's choice,
        // using ACH Colombia's own states (OK, NOT_AUTHORIZED, PENDING, FAILED).
        let (transaction_state, rejected_reason) = match status {
            "authorized" | "settled" => (Some("OK"), None),
            "charge-rejected" => (
                Some("NOT_AUTHORIZED"),
                Some("Transacción no concluída en el banco"),
            ),
            "rejected" => (Some("FAILED"), Some("Transacción rechazada por PSE")),
            "failed" => (Some("FAILED"), None),
            _ => (None, None),
        };
        charge.transaction_state = transaction_state.map(str::to_owned);
        charge.rejected_reason = rejected_reason.map(str::to_owned);
        if FINAL_STATUSES.contains(&status) {
            Ok(Some(webhook(token)?))
        } else {
            Ok(None)
        }
    }

    /// A webhook for `token` whatever its status (`claimed` is only checked: the body carries
    /// nothing but the token).
    pub(crate) fn forged(&self, token: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal> {
        if let Some(status) = claimed {
            check_status(status)?;
        }
        if !self.charges.contains_key(token) {
            return Err(Refusal::NotFound);
        }
        webhook(token)
    }

    /// Makes every issued access token invalid; returns how many were live.
    pub(crate) fn revoke_all(&mut self) -> usize {
        let n = self.tokens.len();
        self.tokens.clear();
        n
    }

    pub(crate) fn status_of(&self, token: &str) -> Option<&str> {
        self.charges.get(token).map(|c| c.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(overrides: &[(&str, Value)]) -> Vec<u8> {
        let mut v = json!({
            "bank_code": "1022",
            "order_id": "abc-123",
            "amount": "10000.0",
            "vat_amount": "10.0",
            "description": "Compra de producto ABC",
            "user_type": "NATURAL",
            "buyer_email": "demo@demo.com",
            "buyer_full_name": "Miguel Rodriguez",
            "document_type": "CE",
            "document_number": "987654321",
            "redirect_url": "http://where-to-go-after-finish-payment-at-pse.com",
            "buyer_phone_number": "3057788996"
        });
        for (k, val) in overrides {
            v[*k] = val.clone();
        }
        serde_json::to_vec(&v).unwrap()
    }

    fn field_of(r: Result<Charge, ChargeError>) -> (String, String, Option<String>) {
        match r {
            Err(ChargeError::Field {
                message,
                field,
                value,
            }) => (field, message, value),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn the_seed_request_is_valid() {
        let c = validate_charge(&body(&[])).unwrap();
        assert_eq!((c.amount_minor, c.vat_amount_minor), (1_000_000, 1_000));
        assert!(c.token.starts_with("pse-") && c.token.len() == 36);
    }

    #[test]
    fn the_seed_error_table() {
        let cases = [
            (
                "user_type",
                json!("INVALID"),
                "user_type",
                "\"INVALID\" no es una elección válida.",
            ),
            (
                "buyer_email",
                json!("invalidemail.co"),
                "buyer_email",
                "Introduzca una dirección de correo electrónico válida.",
            ),
            (
                "amount",
                json!("12c"),
                "amount",
                "Se requiere un número válido.",
            ),
            (
                "bank_code",
                json!("XXXX"),
                "bank_code",
                "Objeto con code=XXXX no existe.",
            ),
            (
                "vat_amount",
                json!("20000"),
                "non_field_errors",
                "vat_amount no puede ser mayor a amount.",
            ),
            (
                "amount",
                json!(40_000_001.0),
                "amount",
                AMOUNT_RANGE_MESSAGE,
            ),
            ("amount", json!(999), "amount", AMOUNT_RANGE_MESSAGE),
            (
                "amount",
                json!("10.005"),
                "amount",
                "Asegúrese de que no haya más de 2 decimales.",
            ),
            (
                "order_id",
                json!("x".repeat(21)),
                "order_id",
                "Asegúrese de que este campo no tenga más de 20 caracteres.",
            ),
            (
                "description",
                json!(null),
                "description",
                "Este campo no puede ser nulo.",
            ),
        ];
        for (key, value, field, message) in cases {
            let (f, m, _) = field_of(validate_charge(&body(&[(key, value)])));
            assert_eq!((f.as_str(), m.as_str()), (field, message), "{key}");
        }
        let (_, _, value) = field_of(validate_charge(&body(&[("amount", json!(999))])));
        assert_eq!(value.as_deref(), Some("999"));
        assert_eq!(validate_charge(b"[1]").unwrap_err(), ChargeError::Malformed);
    }

    #[test]
    fn emails() {
        assert!(valid_email("demo@demo.com"));
        assert!(!valid_email("invalidemail.co"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.co"));
        assert!(!valid_email("@c.co"));
        assert!(!valid_email("a@.co"));
    }

    #[test]
    fn only_final_statuses_send_webhooks() {
        let mut s = Store::default();
        let (token, status) = s.admin_create(1_000_000, None).unwrap();
        assert_eq!(status, "pending");
        assert!(s.set_status(&token, "failed", None).unwrap().is_none());
        assert!(
            s.set_status(&token, "settled", Some(999_900))
                .unwrap()
                .is_some()
        );
        let c = serde_json::to_value(&s.charges[&token]).unwrap();
        assert_eq!(c["amount"], "9999.00");
        assert_eq!(c["transaction_state"], "OK");
        assert!(s.set_status(&token, "paid", None).is_err());
        assert!(s.admin_create(1, Some("x".repeat(21))).is_err());
    }
}
