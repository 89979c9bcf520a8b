//! One folder per provider, each implementing [`Connector`]. Adding a fourth
//! provider means a new folder implementing the trait, a `Provider` variant,
//! and one arm in [`registration`] (README, "Adding a provider").

pub mod belvo;
pub mod check;
pub mod create;
pub mod mono;
#[cfg(test)]
mod parser_props;
pub mod tpaga;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::Config;
use crate::domain::{AmountLimits, Provider};
use check::{CheckError, PaymentReport, RecordedCall};
use webhook::{AuthError, Authenticated, CheckTarget, Headers, InboundEvent, PayloadError};

/// Everything the product needs from a provider. Webhook handling is split in
/// steps that each provider overrides as its documentation demands; the HTTP
/// layer runs them in order and knows nothing provider-specific.
pub trait Connector: Send + Sync {
    fn provider(&self) -> Provider;

    /// Whether deliveries must carry a secret path segment
    /// (`/webhooks/<p>/{token}`). When true the bare path is no route (404);
    /// when false a path with a token is no route.
    fn requires_path_token(&self) -> bool {
        false
    }

    /// Header names stored on the inbox row (besides content type and user
    /// agent). Never list a credential header.
    fn stored_headers(&self) -> &'static [&'static str] {
        &[]
    }

    /// Step 1, before the body is read: header or path credentials.
    fn verify_request(
        &self,
        _headers: &dyn Headers,
        _path_token: Option<&str>,
    ) -> Result<Option<Authenticated>, AuthError> {
        Ok(None)
    }

    /// Step 2, over the raw body bytes exactly as received (signatures).
    fn verify_body(
        &self,
        _headers: &dyn Headers,
        _body: &[u8],
        _now_unix: i64,
    ) -> Result<Option<Authenticated>, AuthError> {
        Ok(None)
    }

    /// Step 3: what the delivery is about and how to deduplicate it.
    fn parse_webhook(&self, body: &[u8]) -> Result<InboundEvent, PayloadError>;

    /// The object type of the ids orders register, which the sweeper re-checks.
    fn payment_object_type(&self) -> &'static str;

    /// Asks the provider's API about `target`, appending every HTTP call made
    /// to `calls`. `Ok(None)` when the object is not a payment coming in (a
    /// Belvo OUTFLOW transaction).
    fn check<'a>(
        &'a self,
        target: &'a CheckTarget,
        calls: &'a mut Vec<RecordedCall>,
    ) -> BoxFuture<'a, Result<Option<PaymentReport>, CheckError>>;
}

/// Everything the product needs to know about a provider besides its [`Connector`]
/// behaviour: how to build it and what an order for it may carry.
struct Registration {
    connector: fn(&Config, reqwest::Client) -> Arc<dyn Connector>,
    /// Checks the id a merchant registers (collection intent id, payment intent id,
    /// charge token).
    validate_payment_id: fn(&str) -> Result<(), &'static str>,
    /// The product-wide range, narrowed where the provider documents tighter limits.
    amount_limits: AmountLimits,
}

/// The provider registry: one arm per provider. The match is exhaustive, so a new
/// `Provider` variant does not compile until it is registered here.
fn registration(provider: Provider) -> Registration {
    match provider {
        Provider::Mono => Registration {
            connector: |config, http| Arc::new(mono::Mono::new(config.mono.clone(), http)),
            validate_payment_id: mono::validate_payment_id,
            amount_limits: AmountLimits::ORDER,
        },
        Provider::Belvo => Registration {
            connector: |config, http| Arc::new(belvo::Belvo::new(config.belvo.clone(), http)),
            validate_payment_id: belvo::validate_payment_id,
            amount_limits: AmountLimits::ORDER,
        },
        Provider::Tpaga => Registration {
            connector: |config, http| Arc::new(tpaga::Tpaga::new(config.tpaga.clone(), http)),
            validate_payment_id: tpaga::validate_payment_id,
            amount_limits: AmountLimits::ORDER.narrowed(tpaga::AMOUNT_LIMITS),
        },
    }
}

/// The enabled providers, by name.
#[derive(Clone, Default)]
pub struct Connectors {
    by_provider: BTreeMap<Provider, Arc<dyn Connector>>,
}

impl Connectors {
    /// Registers every provider whose configuration is complete; the others
    /// stay disabled. `client` carries the connect and total timeouts.
    pub fn from_config(config: &Config, client: reqwest::Client) -> Self {
        let by_provider = Provider::ALL
            .into_iter()
            .filter(|p| config.provider_enabled(*p))
            .map(|p| (p, (registration(p).connector)(config, client.clone())))
            .collect();
        Self { by_provider }
    }

    pub fn get(&self, provider: Provider) -> Option<&Arc<dyn Connector>> {
        self.by_provider.get(&provider)
    }

    pub fn enabled(&self) -> impl Iterator<Item = Provider> + '_ {
        self.by_provider.keys().copied()
    }
}

/// Checks the id a merchant registers for `provider` (collection intent id,
/// payment intent id or charge token).
pub fn validate_payment_id(provider: Provider, id: &str) -> Result<(), &'static str> {
    (registration(provider).validate_payment_id)(id)
}

/// The amounts an order for `provider` may have: the product-wide range,
/// narrowed where the provider documents tighter limits.
pub fn amount_limits(provider: Provider) -> AmountLimits {
    registration(provider).amount_limits
}
