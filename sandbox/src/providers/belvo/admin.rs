//! Belvo's own admin route: `POST /_sandbox/payments/belvo/{pi_id}/transactions` records
//! another INFLOW for a payment intent (a payer paying twice) and delivers its webhook.

use actix_web::{HttpResponse, web};

use super::Belvo;
use crate::admin::reply::{Reply, parse, refused, send_all};
use crate::admin_api::{AddedTransaction, NewTransaction};
use crate::registry::Credential;
use crate::state::AppState;
use crate::webhooks::Deliverer;

pub async fn add_transaction(
    app: web::Data<AppState>,
    belvo: web::Data<Belvo>,
    deliverer: web::Data<Deliverer>,
    pi_id: web::Path<String>,
    body: web::Bytes,
) -> Reply {
    let request: NewTransaction = parse(&body, Some(NewTransaction::default()))?;
    let (transaction_id, event) = belvo
        .store
        .lock()
        .add_transaction(&pi_id, request.amount_minor)
        .map_err(refused)?;
    let target = app.lock().webhook_target.clone();
    let (delivered, codes) = send_all(
        &deliverer,
        &app.providers,
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
