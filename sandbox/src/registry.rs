//! The seam between the sandbox's core (state, gate, faults, admin API, webhook delivery) and
//! the fake providers: the core knows only [`FakeProvider`], each provider folder implements it,
//! and `providers::all` is the one registration list. So the core never imports a provider,
//! and a fourth fake provider is one folder plus one line there (docs/ARCHITECTURE.md, "Sandbox").

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use shared::domain::Provider;

use crate::admin_api::{FoundPayment, Stats, WebhookTarget};

/// Which kind of endpoint a call hits: faults choose the calls they apply to by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// Reads and other calls that create no payment.
    Data,
    /// The call that creates the payment (Mono intent, Belvo payment link, Tpaga charge):
    /// the only one a "lost answer" or a create-only fault touches.
    Create,
    /// An authentication endpoint (Tpaga's OAuth2): faulted only when a fault asks for it,
    /// so status faults test the data calls rather than the token cache.
    Token,
}

/// Why an admin operation on a provider object was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such payment: 404 `{"error":"not_found"}`.
    NotFound,
    /// The request makes no sense for this provider: 422 with the message.
    Invalid(String),
}

/// One logical webhook event, serialised once; every duplicate delivery sends these exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub provider: Provider,
    pub body: Vec<u8>,
}

/// Whether a delivery carries the genuine credential or a forged one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Genuine,
    Forged,
}

/// Where and with which headers one webhook delivery is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
}

/// What moving a payment to a status produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusMoved {
    /// The webhooks the move triggers, in sending order.
    pub events: Vec<Outgoing>,
    /// The status now reported (normalised, e.g. Belvo upper case).
    pub status: String,
    /// Belvo only: the INFLOW transaction a move into `SUCCEEDED` created.
    pub transaction_id: Option<String>,
}

/// A fake provider: its HTTP API, its in-memory payments and how it sends webhooks.
/// Implementations keep their own state behind their own lock (never held across an `.await`).
pub trait FakeProvider: Send + Sync + 'static {
    /// The provider's identity, shared with the product (`shared::domain::Provider`).
    fn id(&self) -> Provider;

    /// Registers the provider's API routes (paths must not collide with another provider's)
    /// and makes `self` available to its handlers as `web::Data<Self>`.
    fn configure(self: Arc<Self>, cfg: &mut web::ServiceConfig);

    /// Provider-specific admin routes, registered inside the `/_sandbox` scope.
    fn configure_admin(self: Arc<Self>, _cfg: &mut web::ServiceConfig) {}

    /// The answer to an injected error `status` on `endpoint`, in the provider's error envelope.
    fn fault_response(&self, status: u16, endpoint: Endpoint) -> HttpResponse;

    /// Creates a payment in its initial status as if a merchant had called create; returns
    /// its id and status. `reference` is stored where the provider keeps the merchant's.
    fn admin_create(
        &self,
        amount_minor: i64,
        reference: Option<String>,
    ) -> Result<(String, String), Refusal>;

    /// Moves a payment to a provider status and returns the webhooks that move triggers.
    fn set_status(
        &self,
        id: &str,
        status: &str,
        reported_amount_minor: Option<i64>,
    ) -> Result<StatusMoved, Refusal>;

    /// A webhook whose body claims `claimed` (default: the real status), changing nothing.
    fn forged(&self, id: &str, claimed: Option<&str>) -> Result<Outgoing, Refusal>;

    /// The payments created for `reference` (however they were created), oldest first.
    fn find(&self, reference: &str) -> Vec<FoundPayment>;

    /// How a webhook with `body` reaches `target`; `Err` says why it cannot be sent.
    fn delivery(
        &self,
        target: &WebhookTarget,
        body: &[u8],
        credential: Credential,
    ) -> Result<Delivery, &'static str>;

    /// Adds the provider's own counters to the stats.
    fn add_stats(&self, _stats: &mut Stats) {}

    /// Forgets every payment, token and counter.
    fn reset(&self);
}

/// `{base_url}/webhooks/{provider}`: the path webhook-api listens on.
pub fn webhook_url(target: &WebhookTarget, provider: Provider) -> String {
    format!(
        "{}/webhooks/{}",
        target.base_url.trim_end_matches('/'),
        provider.as_str()
    )
}

/// The registered fake providers, in registration order.
#[derive(Clone, Default)]
pub struct Registry {
    providers: Vec<Arc<dyn FakeProvider>>,
}

impl Registry {
    /// Refuses a list that registers one provider twice: routes and lookups would be ambiguous.
    pub fn new(providers: Vec<Arc<dyn FakeProvider>>) -> Result<Self, String> {
        for (i, p) in providers.iter().enumerate() {
            if providers[..i].iter().any(|q| q.id() == p.id()) {
                return Err(format!("provider {} registered twice", p.id()));
            }
        }
        Ok(Self { providers })
    }

    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn FakeProvider>> {
        self.providers.iter().find(|p| p.id() == provider)
    }

    /// The provider an admin request names (`"mono"`…), if it is registered.
    pub fn named(&self, name: &str) -> Option<&Arc<dyn FakeProvider>> {
        self.get(name.parse().ok()?)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn FakeProvider>> {
        self.providers.iter()
    }

    /// "mono, belvo, tpaga": for messages that list what an admin request may name.
    pub fn names(&self) -> String {
        self.providers
            .iter()
            .map(|p| p.id().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
