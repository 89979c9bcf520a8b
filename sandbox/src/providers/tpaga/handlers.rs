//! Tpaga's PSE data endpoints: the bank list, create charge and query charge (Bearer token
//! from `/o/token/`).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::oauth::authorized;
use super::validate::{ChargeError, validate_charge};
use super::wire::{BANK_LIST, detail, field_error, unauthorized};
use super::{BANKS, CHARGE, CHARGES, Tpaga};
use crate::gate;
use crate::registry::Endpoint;
use crate::state::AppState;

pub async fn banks(
    app: web::Data<AppState>,
    tpaga: web::Data<Tpaga>,
    req: HttpRequest,
) -> HttpResponse {
    let run = async {
        if !authorized(&tpaga, &req) {
            return unauthorized();
        }
        let list: Vec<Value> = BANK_LIST
            .iter()
            .map(|(name, code)| json!({"name": name, "code": code}))
            .collect();
        HttpResponse::Ok().json(list)
    };
    gate::guarded(&app, tpaga.get_ref(), &req, BANKS, Endpoint::Data, run).await
}

pub async fn create_charge(
    app: web::Data<AppState>,
    tpaga: web::Data<Tpaga>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let run = async {
        if !authorized(&tpaga, &req) {
            return unauthorized();
        }
        create(&tpaga, &body)
    };
    gate::guarded(&app, tpaga.get_ref(), &req, CHARGES, Endpoint::Create, run).await
}

fn create(tpaga: &Tpaga, body: &[u8]) -> HttpResponse {
    let request = match validate_charge(body) {
        Ok(c) => c,
        // Docs list 400 "Your request is invalid" without a body; DRF's parse-error shape.
        Err(ChargeError::Malformed) => return detail(400, "JSON parse error"),
        Err(ChargeError::Field {
            message,
            field,
            value,
        }) => return field_error(422, &message, &field, value),
    };
    match tpaga.store.lock().create(request) {
        Ok(charge) => HttpResponse::Created().json(charge),
        // Docs: "408 The charge already exist" (an odd code for it); body silent, the sandbox
        // uses the 422 shape. Keyed on order_id, the merchant's "unique identifier of the charge".
        Err(order_id) => field_error(408, "The charge already exist", "order_id", Some(order_id)),
    }
}

pub async fn get_charge(
    app: web::Data<AppState>,
    tpaga: web::Data<Tpaga>,
    req: HttpRequest,
    token: web::Path<String>,
) -> HttpResponse {
    let run = async {
        if !authorized(&tpaga, &req) {
            return unauthorized();
        }
        match tpaga.store.lock().get(token.as_str()) {
            Some(charge) => HttpResponse::Ok().json(charge),
            // Docs list no 404 for this endpoint; the sandbox answers DRF's default.
            None => detail(404, "No encontrado."),
        }
    };
    gate::guarded(&app, tpaga.get_ref(), &req, CHARGE, Endpoint::Data, run).await
}
