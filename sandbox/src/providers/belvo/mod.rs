//! Fake Belvo Open Payments (Colombia PSE): customers, payment links, payment
//! intents and transactions, HTTP Basic `secret_id:secret_password`, seed 002's
//! wire format (whole pesos: integers on payment intents, integer strings on
//! transactions).

mod admin;
mod handlers;
mod store;
mod validate;
mod webhooks;
pub mod wire;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use shared::domain::Provider;

use crate::admin_api::{FoundPayment, WebhookTarget};
use crate::config::SandboxConfig;
use crate::registry::{
    Credential, Delivery, Endpoint, FakeProvider, Outgoing, Refusal, StatusMoved,
};
use crate::state::Locked;

pub const CUSTOMERS: &str = "/payments/customers/";
pub const PAYMENT_LINKS: &str = "/payments/payment-links/";
pub const PAYMENT_INTENT: &str = "/payments/payment-intents/{id}/";
pub const TRANSACTION: &str = "/payments/transactions/{id}/";

/// The fake Belvo: the Basic credentials it accepts and its objects.
pub struct Belvo {
    secret_id: String,
    secret_password: String,
    store: Locked<store::Store>,
}

impl Belvo {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            secret_id: config.belvo_secret_id.clone(),
            secret_password: config.belvo_secret_password.clone(),
            store: Locked::default(),
        }
    }
}

impl FakeProvider for Belvo {
    fn id(&self) -> Provider {
        Provider::Belvo
    }

    fn configure(self: Arc<Self>, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(self))
            .route(CUSTOMERS, web::post().to(handlers::create_customer))
            .route(PAYMENT_LINKS, web::post().to(handlers::create_link))
            .route(PAYMENT_INTENT, web::get().to(handlers::get_intent))
            .route(TRANSACTION, web::get().to(handlers::get_transaction));
    }

    fn configure_admin(self: Arc<Self>, cfg: &mut web::ServiceConfig) {
        cfg.route(
            "/payments/belvo/{pi_id}/transactions",
            web::post().to(admin::add_transaction),
        );
    }

    fn fault_response(&self, status: u16, _endpoint: Endpoint) -> HttpResponse {
        wire::fault_response(status)
    }

    fn admin_create(
        &self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> Result<(String, String), Refusal> {
        self.store.lock().admin_create(amount_minor, reference)
    }

    fn set_status(
        &self,
        id: &str,
        status: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<StatusMoved, Refusal> {
        self.store
            .lock()
            .set_status(id, status, reported_amount_minor)
    }

    fn forged(&self, id: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal> {
        self.store.lock().forged(id, claimed)
    }

    fn find(&self, reference: &str) -> Vec<FoundPayment> {
        self.store.lock().find(reference)
    }

    fn delivery(
        &self,
        target: &WebhookTarget,
        _body: &[u8],
        credential: Credential,
    ) -> Result<Delivery, &'static str> {
        Ok(webhooks::delivery(target, credential))
    }

    fn reset(&self) {
        *self.store.lock() = store::Store::default();
    }
}
