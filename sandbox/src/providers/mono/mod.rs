//! Fake Mono Colombia collection intents: `POST /v1/collection_intents` and
//! `GET /v1/collection_intents/{id}`, Bearer API key, seed 001's wire format
//! (amounts in integer centavos) and error envelope.

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

pub const INTENTS: &str = "/v1/collection_intents";
pub const INTENT: &str = "/v1/collection_intents/{id}";

/// The fake Mono: the API key it accepts and its intents.
pub struct Mono {
    api_key: String,
    store: Locked<store::Store>,
}

impl Mono {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            api_key: config.mono_api_key.clone(),
            store: Locked::default(),
        }
    }
}

impl FakeProvider for Mono {
    fn id(&self) -> Provider {
        Provider::Mono
    }

    fn configure(self: Arc<Self>, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(self))
            .route(INTENTS, web::post().to(handlers::create))
            .route(INTENT, web::get().to(handlers::get));
    }

    fn fault_response(&self, status: u16, _endpoint: Endpoint) -> HttpResponse {
        wire::fault_response(status)
    }

    fn admin_create(
        &self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> Result<(String, String), Refusal> {
        Ok(self.store.lock().admin_create(amount_minor, reference))
    }

    fn set_status(
        &self,
        id: &str,
        status: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<StatusMoved, Refusal> {
        let mut store = self.store.lock();
        let event = store.set_state(id, status, reported_amount_minor)?;
        Ok(StatusMoved {
            events: Vec::from_iter(event),
            status: store.state_of(id).unwrap_or_default().to_owned(),
            transaction_id: None,
        })
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
        body: &[u8],
        credential: Credential,
    ) -> Result<Delivery, &'static str> {
        Ok(webhooks::delivery(target, body, credential))
    }

    fn reset(&self) {
        *self.store.lock() = store::Store::default();
    }
}
