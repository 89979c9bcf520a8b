//! The admin API under `/_sandbox/`: tests and demos drive the fake providers
//! through it (create payments, move them, deliver or forge webhooks, inject
//! faults, read call counts). No authentication: it only ever listens locally.

use actix_web::error::InternalError;
use actix_web::{HttpResponse, web};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::admin_api::{
    AddedTransaction, AdminErrorBody, CreatedPayment, Delivered, Fault, Latency, NewPayment,
    NewTransaction, Stats, StatusChange, StatusChanged, WebhookRequest, WebhookTarget,
};
use crate::state::{AppState, Provider, Refusal};
use crate::webhooks::{self, Credential, Deliverer, Outgoing};

pub const PREFIX: &str = "/_sandbox";

/// Most identical deliveries one admin call may ask for.
const MAX_DELIVERIES: u32 = 100;
/// Largest latency accepted (a minute), so a typo cannot stall every call for hours.
const MAX_LATENCY_MS: u64 = 60_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .route("/health", web::get().to(health))
            .route("/reset", web::post().to(reset))
            .route("/webhook-target", web::put().to(set_target))
            .route("/webhook-target", web::delete().to(clear_target))
            .route("/payments", web::post().to(create_payment))
            .route(
                "/payments/belvo/{pi_id}/transactions",
                web::post().to(add_belvo_transaction),
            )
            .route(
                "/payments/{provider}/{id}/status",
                web::post().to(set_status),
            )
            .route(
                "/payments/{provider}/{id}/webhook",
                web::post().to(deliver_webhook),
            )
            .route("/faults", web::post().to(add_fault))
            .route("/faults", web::delete().to(clear_faults))
            .route("/latency", web::put().to(set_latency))
            .route("/stats", web::get().to(stats))
            .route("/tpaga/revoke-tokens", web::post().to(revoke_tpaga_tokens)),
    );
}

fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(AdminErrorBody {
        error: "not_found".to_owned(),
        message: None,
    })
}

/// 422 `{"error":"invalid_request","message":…}`.
fn invalid(message: impl Into<String>) -> actix_web::Error {
    reject(HttpResponse::UnprocessableEntity().json(AdminErrorBody {
        error: "invalid_request".to_owned(),
        message: Some(message.into()),
    }))
}

fn refused(r: Refusal) -> actix_web::Error {
    match r {
        Refusal::NotFound => reject(not_found()),
        Refusal::Invalid(m) => invalid(m),
    }
}

/// Handlers answer `Err` with a ready response so they can use `?`.
type Reply = Result<HttpResponse, actix_web::Error>;

fn reject(response: HttpResponse) -> actix_web::Error {
    InternalError::from_response("admin request refused", response).into()
}

/// Parses a JSON body; an empty body means `empty` (when the endpoint allows it).
fn parse<T: DeserializeOwned>(body: &[u8], empty: Option<T>) -> Result<T, actix_web::Error> {
    if body.iter().all(u8::is_ascii_whitespace)
        && let Some(default) = empty
    {
        return Ok(default);
    }
    serde_json::from_slice(body).map_err(|e| {
        reject(HttpResponse::BadRequest().json(AdminErrorBody {
            error: "invalid_json".to_owned(),
            message: Some(e.to_string()),
        }))
    })
}

fn provider_in_path(name: &str) -> Result<Provider, actix_web::Error> {
    Provider::parse(name).ok_or_else(|| reject(not_found()))
}

fn delivery_count(requested: Option<u32>) -> Result<u32, actix_web::Error> {
    let n = requested.unwrap_or(1);
    if n > MAX_DELIVERIES {
        return Err(invalid(format!(
            "at most {MAX_DELIVERIES} deliveries per call"
        )));
    }
    Ok(n)
}

/// Sends every event `count` times (in order); no target means nothing is sent.
async fn send_all(
    deliverer: &Deliverer,
    target: Option<&WebhookTarget>,
    events: &[Outgoing],
    count: u32,
    credential: Credential,
) -> (u32, Vec<u16>) {
    let Some(target) = target else {
        return (0, Vec::new());
    };
    let mut codes = Vec::new();
    for event in events {
        codes.extend(deliverer.deliver(target, event, count, credential).await);
    }
    let delivered = u32::try_from(codes.iter().filter(|c| **c != 0).count()).unwrap_or(u32::MAX);
    (delivered, codes)
}

async fn health() -> HttpResponse {
    ok()
}

async fn reset(app: web::Data<AppState>) -> HttpResponse {
    app.lock().reset();
    tracing::info!("sandbox reset");
    ok()
}

async fn set_target(app: web::Data<AppState>, body: web::Bytes) -> Reply {
    let target: WebhookTarget = parse(&body, None)?;
    webhooks::validate_target(&target).map_err(invalid)?;
    tracing::info!(base_url = %target.base_url, "webhook target set");
    app.lock().webhook_target = Some(target);
    Ok(ok())
}

async fn clear_target(app: web::Data<AppState>) -> HttpResponse {
    app.lock().webhook_target = None;
    ok()
}

async fn create_payment(app: web::Data<AppState>, body: web::Bytes) -> Reply {
    let request: NewPayment = parse(&body, None)?;
    let provider = Provider::parse(&request.provider).ok_or_else(|| {
        invalid(format!(
            "unknown provider {:?} (mono, belvo or tpaga)",
            request.provider
        ))
    })?;
    if request.amount_minor <= 0 {
        return Err(invalid("amount_minor must be greater than 0"));
    }
    let (id, status) = {
        let mut state = app.lock();
        match provider {
            Provider::Mono => Ok(state
                .mono
                .admin_create(request.amount_minor, request.reference)),
            Provider::Belvo => state
                .belvo
                .admin_create(request.amount_minor, request.reference),
            Provider::Tpaga => state
                .tpaga
                .admin_create(request.amount_minor, request.reference),
        }
    }
    .map_err(refused)?;
    tracing::info!(provider = provider.as_str(), id = %id, "payment created");
    Ok(HttpResponse::Created().json(CreatedPayment {
        provider: provider.as_str().to_owned(),
        provider_payment_id: id,
        status,
    }))
}

async fn set_status(
    app: web::Data<AppState>,
    deliverer: web::Data<Deliverer>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Reply {
    let (provider, id) = path.into_inner();
    let provider = provider_in_path(&provider)?;
    let change: StatusChange = parse(&body, None)?;
    let count = delivery_count(change.webhooks)?;
    if change.reported_amount_minor.is_some_and(|a| a <= 0) {
        return Err(invalid("reported_amount_minor must be greater than 0"));
    }
    let reported = change.reported_amount_minor;
    let (events, transaction_id, status, target) = {
        let mut state = app.lock();
        let (events, transaction_id) = match provider {
            Provider::Mono => state
                .mono
                .set_state(&id, &change.status, reported)
                .map(|e| (Vec::from_iter(e), None)),
            Provider::Belvo => state.belvo.set_status(&id, &change.status, reported),
            Provider::Tpaga => state
                .tpaga
                .set_status(&id, &change.status, reported)
                .map(|e| (Vec::from_iter(e), None)),
        }
        .map_err(refused)?;
        let status = match provider {
            Provider::Mono => state.mono.state_of(&id),
            Provider::Belvo => state.belvo.status_of(&id),
            Provider::Tpaga => state.tpaga.status_of(&id),
        }
        .unwrap_or_default()
        .to_owned();
        (events, transaction_id, status, state.webhook_target.clone())
    };
    tracing::info!(provider = provider.as_str(), id = %id, status = %status, "status changed");
    let (delivered, codes) = send_all(
        &deliverer,
        target.as_ref(),
        &events,
        count,
        Credential::Genuine,
    )
    .await;
    Ok(HttpResponse::Ok().json(StatusChanged {
        provider_payment_id: id,
        status,
        webhooks_delivered: delivered,
        webhook_responses: codes,
        transaction_id,
    }))
}

async fn deliver_webhook(
    app: web::Data<AppState>,
    deliverer: web::Data<Deliverer>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Reply {
    let (provider, id) = path.into_inner();
    let provider = provider_in_path(&provider)?;
    let request: WebhookRequest = parse(&body, Some(WebhookRequest::default()))?;
    let count = delivery_count(request.count)?;
    let credential = if request.signed.unwrap_or(true) {
        Credential::Genuine
    } else {
        Credential::Forged
    };
    let claimed = request.claimed_status.as_deref();
    let (event, target) = {
        let state = app.lock();
        let event = match provider {
            Provider::Mono => state.mono.forged(&id, claimed),
            Provider::Belvo => state.belvo.forged(&id, claimed),
            Provider::Tpaga => state.tpaga.forged(&id, claimed),
        }
        .map_err(refused)?;
        (event, state.webhook_target.clone())
    };
    let (delivered, responses) = send_all(
        &deliverer,
        target.as_ref(),
        std::slice::from_ref(&event),
        count,
        credential,
    )
    .await;
    Ok(HttpResponse::Ok().json(Delivered {
        delivered,
        responses,
    }))
}

async fn add_belvo_transaction(
    app: web::Data<AppState>,
    deliverer: web::Data<Deliverer>,
    pi_id: web::Path<String>,
    body: web::Bytes,
) -> Reply {
    let request: NewTransaction = parse(&body, Some(NewTransaction::default()))?;
    let ((transaction_id, event), target) = {
        let mut state = app.lock();
        let added = state
            .belvo
            .add_transaction(&pi_id, request.amount_minor)
            .map_err(refused)?;
        (added, state.webhook_target.clone())
    };
    let (delivered, codes) = send_all(
        &deliverer,
        target.as_ref(),
        std::slice::from_ref(&event),
        1,
        Credential::Genuine,
    )
    .await;
    Ok(HttpResponse::Created().json(AddedTransaction {
        transaction_id,
        webhooks_delivered: delivered,
        webhook_responses: codes,
    }))
}

async fn add_fault(app: web::Data<AppState>, body: web::Bytes) -> Reply {
    let fault: Fault = parse(&body, None)?;
    app.lock().faults.add(&fault).map_err(invalid)?;
    Ok(ok())
}

async fn clear_faults(app: web::Data<AppState>) -> HttpResponse {
    app.lock().faults.clear();
    ok()
}

async fn set_latency(app: web::Data<AppState>, body: web::Bytes) -> Reply {
    let latency: Latency = parse(&body, None)?;
    if latency.millis > MAX_LATENCY_MS {
        return Err(invalid(format!("millis must be at most {MAX_LATENCY_MS}")));
    }
    app.lock().latency = std::time::Duration::from_millis(latency.millis);
    Ok(ok())
}

async fn stats(app: web::Data<AppState>) -> HttpResponse {
    let state = app.lock();
    HttpResponse::Ok().json(Stats {
        calls: state.call_counts(),
        tpaga_tokens_issued: state.tpaga.tokens_issued,
    })
}

async fn revoke_tpaga_tokens(app: web::Data<AppState>) -> HttpResponse {
    let revoked = app.lock().tpaga.revoke_all();
    HttpResponse::Ok().json(json!({"status": "ok", "revoked": revoked}))
}
