//! Mono's HTTP API: create and get a collection intent, Bearer API key.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::validate::validate;
use super::wire::{envelope, error_item, malformed, not_found, unauthorized};
use super::{INTENT, INTENTS, Mono};
use crate::auth;
use crate::gate;
use crate::registry::Endpoint;
use crate::state::AppState;

fn authorized(mono: &Mono, req: &HttpRequest) -> bool {
    auth::bearer(req).is_some_and(|t| auth::matches(&mono.api_key, t))
}

pub async fn create(
    app: web::Data<AppState>,
    mono: web::Data<Mono>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let run = create_intent(&mono, &req, &body);
    gate::guarded(&app, mono.get_ref(), &req, INTENTS, Endpoint::Create, run).await
}

async fn create_intent(mono: &Mono, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    if !authorized(mono, req) {
        return unauthorized();
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return malformed();
    };
    let request = match validate(&fields) {
        Ok(r) => r,
        Err(errors) => return envelope(422, errors, "Validation errors"),
    };
    let key = match idempotency_key(req) {
        Ok(key) => key,
        Err(error) => return envelope(422, vec![error], "Validation errors"),
    };
    // Docs: the key makes a retried create return the first intent. They are silent on
    // the status of such a replay; the sandbox answers 201 with the original intent, as it
    // does for the first create (the seed shows the body under two codes and no status).
    let intent = mono.store.lock().create(request, key);
    HttpResponse::Created().json(intent)
}

/// The `x-idempotency-key`, which Mono documents as a UUID ("UUID v4 format"). The sandbox
/// refuses anything else with a 422 naming the header (the docs are silent on that error), so
/// a client that derives its key some other way finds out here, not in production.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, Value> {
    let Some(value) = req.headers().get("x-idempotency-key") else {
        return Ok(None);
    };
    match value
        .to_str()
        .ok()
        .filter(|k| uuid::Uuid::parse_str(k).is_ok())
    {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(error_item(
            "validation_error",
            "must be a UUID",
            Some("x-idempotency-key"),
        )),
    }
}

pub async fn get(
    app: web::Data<AppState>,
    mono: web::Data<Mono>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let run = async {
        if !authorized(&mono, &req) {
            return unauthorized();
        }
        match mono.store.lock().get(id.as_str()) {
            Some(intent) => HttpResponse::Ok().json(intent),
            None => not_found(),
        }
    };
    gate::guarded(&app, mono.get_ref(), &req, INTENT, Endpoint::Data, run).await
}
