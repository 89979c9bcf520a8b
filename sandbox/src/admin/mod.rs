//! The admin API under `/_sandbox/`: tests and demos drive the fake providers
//! through it (create payments, move them, deliver or forge webhooks, inject
//! faults, read call counts). No authentication: it only ever listens locally.
//! Every handler reaches a provider through the registry, never by name.

pub mod reply;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::admin_api::{
    CreatedPayment, Delivered, Fault, Latency, NewPayment, Stats, StatusChange, StatusChanged,
    WebhookRequest, WebhookTarget,
};
use crate::registry::{Credential, FakeProvider, Registry};
use crate::state::AppState;
use crate::webhooks::{self, Deliverer};
use reply::{Reply, invalid, not_found, ok, parse, refused, reject, send_all};

pub const PREFIX: &str = "/_sandbox";

/// Most identical deliveries one admin call may ask for.
const MAX_DELIVERIES: u32 = 100;
/// Largest latency accepted (a minute), so a typo cannot stall every call for hours.
const MAX_LATENCY_MS: u64 = 60_000;

/// The core admin routes, then each provider's own (under the same scope: actix stops at the
/// first scope whose prefix matches).
pub fn configure(cfg: &mut web::ServiceConfig, providers: &Registry) {
    let mut scope = web::scope(PREFIX)
        .route("/health", web::get().to(health))
        .route("/reset", web::post().to(reset))
        .route("/webhook-target", web::put().to(set_target))
        .route("/webhook-target", web::delete().to(clear_target))
        .route("/payments", web::post().to(create_payment))
        .route("/payments", web::get().to(find_payments))
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
        .route("/stats", web::get().to(stats));
    for provider in providers.iter() {
        let provider = Arc::clone(provider);
        scope = scope.configure(move |cfg| provider.configure_admin(cfg));
    }
    cfg.service(scope);
}

fn provider_in_path<'a>(
    app: &'a AppState,
    name: &str,
) -> Result<&'a Arc<dyn FakeProvider>, actix_web::Error> {
    app.provider(name).ok_or_else(|| reject(not_found()))
}

fn provider_in_body<'a>(
    app: &'a AppState,
    name: &str,
) -> Result<&'a Arc<dyn FakeProvider>, actix_web::Error> {
    app.provider(name).ok_or_else(|| {
        invalid(format!(
            "unknown provider {name:?} ({})",
            app.providers.names()
        ))
    })
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

async fn health() -> HttpResponse {
    ok()
}

async fn reset(app: web::Data<AppState>) -> HttpResponse {
    app.reset();
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
    let provider = provider_in_body(&app, &request.provider)?;
    if request.amount_minor <= 0 {
        return Err(invalid("amount_minor must be greater than 0"));
    }
    let (id, status) = provider
        .admin_create(request.amount_minor, request.reference)
        .map_err(refused)?;
    let name = provider.id().as_str();
    tracing::info!(provider = name, id = %id, "payment created");
    Ok(HttpResponse::Created().json(CreatedPayment {
        provider: name.to_owned(),
        provider_payment_id: id,
        status,
    }))
}

/// `GET /_sandbox/payments?provider=…&reference=…`.
#[derive(Debug, Deserialize)]
struct FindQuery {
    provider: String,
    reference: String,
}

async fn find_payments(app: web::Data<AppState>, query: web::Query<FindQuery>) -> Reply {
    let provider = provider_in_body(&app, &query.provider)?;
    Ok(HttpResponse::Ok().json(provider.find(&query.reference)))
}

async fn set_status(
    app: web::Data<AppState>,
    deliverer: web::Data<Deliverer>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Reply {
    let (name, id) = path.into_inner();
    let provider = provider_in_path(&app, &name)?;
    let change: StatusChange = parse(&body, None)?;
    let count = delivery_count(change.webhooks)?;
    if change.reported_amount_minor.is_some_and(|a| a <= 0) {
        return Err(invalid("reported_amount_minor must be greater than 0"));
    }
    let moved = provider
        .set_status(&id, &change.status, change.reported_amount_minor)
        .map_err(refused)?;
    tracing::info!(provider = %name, id = %id, status = %moved.status, "status changed");
    let target = app.lock().webhook_target.clone();
    let (delivered, codes) = send_all(
        &deliverer,
        &app.providers,
        target.as_ref(),
        &moved.events,
        count,
        Credential::Genuine,
    )
    .await;
    Ok(HttpResponse::Ok().json(StatusChanged {
        provider_payment_id: id,
        status: moved.status,
        webhooks_delivered: delivered,
        webhook_responses: codes,
        transaction_id: moved.transaction_id,
    }))
}

async fn deliver_webhook(
    app: web::Data<AppState>,
    deliverer: web::Data<Deliverer>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Reply {
    let (name, id) = path.into_inner();
    let provider = provider_in_path(&app, &name)?;
    let request: WebhookRequest = parse(&body, Some(WebhookRequest::default()))?;
    let count = delivery_count(request.count)?;
    let credential = if request.signed.unwrap_or(true) {
        Credential::Genuine
    } else {
        Credential::Forged
    };
    let event = provider
        .forged(&id, request.claimed_status.as_deref())
        .map_err(refused)?;
    let target = app.lock().webhook_target.clone();
    let (delivered, responses) = send_all(
        &deliverer,
        &app.providers,
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
    let mut stats = Stats {
        calls: app.lock().call_counts(),
        ..Stats::default()
    };
    for provider in app.providers.iter() {
        provider.add_stats(&mut stats);
    }
    HttpResponse::Ok().json(stats)
}
