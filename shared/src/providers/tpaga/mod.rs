//! Tpaga PSE charges.

pub mod client;
pub mod webhook;

use futures_util::future::BoxFuture;

use crate::config::TpagaConfig;
use crate::domain::{AmountLimits, Provider};
use crate::providers::Connector;
use crate::providers::check::{CheckError, PaymentReport, RecordedCall};
use crate::providers::webhook::{
    AuthError, Authenticated, CheckTarget, Headers, InboundEvent, PayloadError,
};

pub struct Tpaga {
    config: TpagaConfig,
    client: reqwest::Client,
    tokens: client::TokenCache,
}

impl Tpaga {
    pub fn new(config: TpagaConfig, client: reqwest::Client) -> Self {
        Self {
            config,
            client,
            tokens: client::TokenCache::default(),
        }
    }
}

impl Connector for Tpaga {
    fn provider(&self) -> Provider {
        Provider::Tpaga
    }

    fn accepts_path_token(&self) -> bool {
        true
    }

    /// With `TPAGA_WEBHOOK_TOKEN` set, only `/webhooks/tpaga/{token}` with that
    /// token is accepted; without it, only the bare path (Tpaga itself sends no
    /// credentials, so the operator's path secret is the only gate available).
    fn verify_request(
        &self,
        _headers: &dyn Headers,
        path_token: Option<&str>,
    ) -> Result<Option<Authenticated>, AuthError> {
        match (&self.config.webhook_token, path_token) {
            (Some(expected), Some(given)) if expected.matches(given.as_bytes()) => {
                Ok(Some(Authenticated("tpaga_path_token".to_owned())))
            }
            (Some(_), Some(_)) => Err(AuthError::Mismatch),
            (Some(_), None) => Err(AuthError::Missing),
            (None, Some(_)) => Err(AuthError::Mismatch),
            (None, None) => Ok(Some(Authenticated("none_configured".to_owned()))),
        }
    }

    fn parse_webhook(&self, body: &[u8]) -> Result<InboundEvent, PayloadError> {
        webhook::parse(body)
    }

    fn payment_object_type(&self) -> &'static str {
        "charge"
    }

    fn check<'a>(
        &'a self,
        target: &'a CheckTarget,
        calls: &'a mut Vec<RecordedCall>,
    ) -> BoxFuture<'a, Result<Option<PaymentReport>, CheckError>> {
        Box::pin(async move {
            client::fetch_charge(
                &self.client,
                &self.config,
                &self.tokens,
                &target.object_id,
                calls,
            )
            .await
            .map(Some)
        })
    }
}

/// Tpaga documents the charge token only as "String - max 255 characters"
/// (example `pse-c542f18edadb441d8b4639edbfb566e5`). It goes into a URL path,
/// so the safe rule is a URL-safe charset rather than an exact shape.
pub fn validate_payment_id(id: &str) -> Result<(), &'static str> {
    if !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err("must be a Tpaga charge token (1 to 255 letters, digits, '-' or '_')")
    }
}

/// Tpaga documents charges from 1,000.00 to 40,000,000.00 COP; an order
/// outside that range could never be paid through it (docs/PROVIDERS.md).
pub const AMOUNT_LIMITS: AmountLimits = AmountLimits {
    min_minor: 100_000,
    max_minor: 4_000_000_000,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_payment_id("pse-c542f18edadb441d8b4639edbfb566e5").is_ok());
        assert!(validate_payment_id("pse/../x").is_err());
        assert!(validate_payment_id("").is_err());
    }
}
