//! Tpaga PSE charges.

pub mod client;
pub mod create;
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

    fn requires_path_token(&self) -> bool {
        true
    }

    /// Tpaga sends no credential of its own, so the operator's secret path
    /// token is the only gate: a delivery must carry one of the configured
    /// tokens (several during a rotation). Every token is compared, in
    /// constant time, and the verdict names which one matched, never its value.
    /// The connector exists only when a token is configured, so there is no
    /// "no token" branch to fail open through.
    fn verify_request(
        &self,
        _headers: &dyn Headers,
        path_token: Option<&str>,
    ) -> Result<Option<Authenticated>, AuthError> {
        let given = path_token.ok_or(AuthError::Missing)?;
        let mut matched = None;
        for (i, accepted) in self.config.webhook_tokens.iter().enumerate() {
            if accepted.matches(given.as_bytes()) && matched.is_none() {
                matched = Some(i);
            }
        }
        matched
            .map(|i| Some(Authenticated(format!("tpaga_path_token:token_{}", i + 1))))
            .ok_or(AuthError::Mismatch)
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
    use crate::secret::Secret;

    struct NoHeaders;
    impl Headers for NoHeaders {
        fn get(&self, _: &str) -> Option<&str> {
            None
        }
    }

    fn tpaga(tokens: &[&str]) -> Tpaga {
        Tpaga::new(
            TpagaConfig {
                api_url: "https://staging.apiv2.tpaga.co".to_owned(),
                client_id: None,
                client_secret: None,
                webhook_tokens: tokens.iter().map(|t| Secret::new(*t)).collect(),
            },
            crate::http::client(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(1),
            )
            .unwrap(),
        )
    }

    #[test]
    fn path_token_must_match_one_configured_token() {
        let t = tpaga(&["current-token-000001", "previous-token-00002"]);
        assert_eq!(
            t.verify_request(&NoHeaders, Some("previous-token-00002")),
            Ok(Some(Authenticated("tpaga_path_token:token_2".to_owned())))
        );
        assert_eq!(
            t.verify_request(&NoHeaders, Some("current-token-000001")),
            Ok(Some(Authenticated("tpaga_path_token:token_1".to_owned())))
        );
        for wrong in ["current-token-000002", "current-token-00000", "", "x"] {
            assert_eq!(
                t.verify_request(&NoHeaders, Some(wrong)),
                Err(AuthError::Mismatch),
                "{wrong}"
            );
        }
        assert_eq!(t.verify_request(&NoHeaders, None), Err(AuthError::Missing));
        // No configured token accepts nothing (the connector is never built so).
        assert_eq!(
            tpaga(&[]).verify_request(&NoHeaders, Some("anything")),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn ids() {
        assert!(validate_payment_id("pse-c542f18edadb441d8b4639edbfb566e5").is_ok());
        assert!(validate_payment_id("pse/../x").is_err());
        assert!(validate_payment_id("").is_err());
    }
}
