//! Belvo's HTTP API: create customer, create payment link (which creates the payment intent),
//! get payment intent, get transaction; HTTP Basic `secret_id:secret_password`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::wire::{bad_request, errors, not_an_object, not_found, unauthorized};
use super::{Belvo, CUSTOMERS, PAYMENT_INTENT, PAYMENT_LINKS, TRANSACTION, validate};
use crate::auth;
use crate::gate;
use crate::registry::Endpoint;
use crate::state::AppState;

fn authorized(belvo: &Belvo, req: &HttpRequest) -> bool {
    auth::basic_matches(req, &belvo.secret_id, &belvo.secret_password)
}

pub async fn create_customer(
    app: web::Data<AppState>,
    belvo: web::Data<Belvo>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let run = async {
        if !authorized(&belvo, &req) {
            return unauthorized();
        }
        let Some(body) = validate::parse_object(&body) else {
            return not_an_object();
        };
        match validate::customer(&body) {
            Ok(c) => HttpResponse::Created().json(belvo.store.lock().create_customer(c)),
            Err(errs) => bad_request(&errs),
        }
    };
    // Not a create in the faults' sense: a customer alone is no payment.
    gate::guarded(&app, belvo.get_ref(), &req, CUSTOMERS, Endpoint::Data, run).await
}

pub async fn create_link(
    app: web::Data<AppState>,
    belvo: web::Data<Belvo>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let run = async {
        if !authorized(&belvo, &req) {
            return unauthorized();
        }
        let Some(body) = validate::parse_object(&body) else {
            return not_an_object();
        };
        let link = match validate::link(&body) {
            Ok(l) => l,
            Err(errs) => return bad_request(&errs),
        };
        match belvo.store.lock().create_link(link) {
            Some(link) => HttpResponse::Created().json(link),
            None => errors(
                400,
                &[(
                    "does_not_exist",
                    "Customer not found.".to_owned(),
                    Some("customer"),
                )],
            ),
        }
    };
    gate::guarded(
        &app,
        belvo.get_ref(),
        &req,
        PAYMENT_LINKS,
        Endpoint::Create,
        run,
    )
    .await
}

pub async fn get_intent(
    app: web::Data<AppState>,
    belvo: web::Data<Belvo>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let run = async {
        if !authorized(&belvo, &req) {
            return unauthorized();
        }
        match belvo.store.lock().intent(id.as_str()) {
            Some(pi) => HttpResponse::Ok().json(pi),
            None => not_found(),
        }
    };
    gate::guarded(
        &app,
        belvo.get_ref(),
        &req,
        PAYMENT_INTENT,
        Endpoint::Data,
        run,
    )
    .await
}

pub async fn get_transaction(
    app: web::Data<AppState>,
    belvo: web::Data<Belvo>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let run = async {
        if !authorized(&belvo, &req) {
            return unauthorized();
        }
        match belvo.store.lock().transaction(id.as_str()) {
            Some(t) => HttpResponse::Ok().json(t),
            None => not_found(),
        }
    };
    gate::guarded(
        &app,
        belvo.get_ref(),
        &req,
        TRANSACTION,
        Endpoint::Data,
        run,
    )
    .await
}
