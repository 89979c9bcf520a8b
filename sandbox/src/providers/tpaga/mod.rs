//! Fake Tpaga PSE: OAuth2 client credentials (`/o/token/`), the bank list, and
//! create / query charge, seed 004's wire format (peso amounts as decimal
//! strings with two decimals) and its 422 body `{error_message, field, value}`.

mod handlers;
mod oauth;
mod store;
mod validate;
mod webhooks;
pub mod wire;

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde_json::json;
use shared::domain::Provider;

use crate::admin_api::{FoundPayment, Stats, WebhookTarget};
use crate::config::SandboxConfig;
use crate::registry::{
    Credential, Delivery, Endpoint, FakeProvider, Outgoing, Refusal, StatusMoved,
};
use crate::state::Locked;

pub const TOKEN: &str = "/o/token/";
pub const REVOKE_TOKEN: &str = "/o/revoke_token/";
pub const BANKS: &str = "/api/pse/v1/public/banks";
pub const CHARGES: &str = "/api/pse/v1/public/charge";
pub const CHARGE: &str = "/api/pse/v1/public/charge/{token}";

/// The fake Tpaga: the client credentials it accepts, its token lifetime, charges and tokens.
pub struct Tpaga {
    client_id: String,
    client_secret: String,
    token_ttl_secs: u64,
    store: Locked<store::Store>,
}

impl Tpaga {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            client_id: config.tpaga_client_id.clone(),
            client_secret: config.tpaga_client_secret.clone(),
            token_ttl_secs: config.tpaga_token_ttl_secs,
            store: Locked::default(),
        }
    }
}

/// `POST /_sandbox/tpaga/revoke-tokens`: every access token stops working (token-expiry tests).
async fn revoke_all(tpaga: web::Data<Tpaga>) -> HttpResponse {
    let revoked = tpaga.store.lock().revoke_all();
    HttpResponse::Ok().json(json!({"status": "ok", "revoked": revoked}))
}

impl FakeProvider for Tpaga {
    fn id(&self) -> Provider {
        Provider::Tpaga
    }

    fn configure(self: Arc<Self>, cfg: &mut web::ServiceConfig) {
        cfg.app_data(web::Data::from(self))
            .route(TOKEN, web::post().to(oauth::token))
            .route(REVOKE_TOKEN, web::post().to(oauth::revoke_token))
            .route(BANKS, web::get().to(handlers::banks))
            .route(CHARGES, web::post().to(handlers::create_charge))
            .route(CHARGE, web::get().to(handlers::get_charge));
    }

    fn configure_admin(self: Arc<Self>, cfg: &mut web::ServiceConfig) {
        cfg.route("/tpaga/revoke-tokens", web::post().to(revoke_all));
    }

    fn fault_response(&self, status: u16, endpoint: Endpoint) -> HttpResponse {
        match endpoint {
            Endpoint::Token => wire::oauth_fault_response(status),
            Endpoint::Data | Endpoint::Create => wire::fault_response(status),
        }
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
        let mut store = self.store.lock();
        let event = store.set_status(id, status, reported_amount_minor)?;
        Ok(StatusMoved {
            events: Vec::from_iter(event),
            status: store.status_of(id).unwrap_or_default().to_owned(),
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
        _body: &[u8],
        credential: Credential,
    ) -> Result<Delivery, &'static str> {
        webhooks::delivery(target, credential)
    }

    fn add_stats(&self, stats: &mut Stats) {
        stats.tpaga_tokens_issued = self.store.lock().tokens_issued;
    }

    fn reset(&self) {
        *self.store.lock() = store::Store::default();
    }
}
