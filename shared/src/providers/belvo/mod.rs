//! Belvo Open Payments: payment intents and transactions.

pub mod client;
pub mod create;
pub mod webhook;

use futures_util::future::BoxFuture;

use crate::config::BelvoConfig;
use crate::domain::Provider;
use crate::providers::Connector;
use crate::providers::check::{CheckError, PaymentReport, RecordedCall};
use crate::providers::webhook::{
    AuthError, Authenticated, CheckTarget, Headers, InboundEvent, PayloadError,
};

pub struct Belvo {
    config: BelvoConfig,
    client: reqwest::Client,
}

impl Belvo {
    pub fn new(config: BelvoConfig, client: reqwest::Client) -> Self {
        Self { config, client }
    }
}

impl Connector for Belvo {
    fn provider(&self) -> Provider {
        Provider::Belvo
    }

    /// Belvo does not sign webhooks: it sends back the `Authorization` value the
    /// merchant registered. Every configured value is compared, in constant time.
    fn verify_request(
        &self,
        headers: &dyn Headers,
        _path_token: Option<&str>,
    ) -> Result<Option<Authenticated>, AuthError> {
        let presented = headers.get("Authorization").ok_or(AuthError::Missing)?;
        let mut matched = None;
        for (i, accepted) in self.config.webhook_auth.iter().enumerate() {
            if accepted.matches(presented.as_bytes()) && matched.is_none() {
                matched = Some(i);
            }
        }
        matched
            .map(|i| {
                Some(Authenticated(format!(
                    "belvo_authorization:value_{}",
                    i + 1
                )))
            })
            .ok_or(AuthError::Mismatch)
    }

    fn parse_webhook(&self, body: &[u8]) -> Result<InboundEvent, PayloadError> {
        webhook::parse(body)
    }

    fn payment_object_type(&self) -> &'static str {
        "payment_intent"
    }

    fn check<'a>(
        &'a self,
        target: &'a CheckTarget,
        calls: &'a mut Vec<RecordedCall>,
    ) -> BoxFuture<'a, Result<Option<PaymentReport>, CheckError>> {
        Box::pin(async move {
            match target.object_type.as_str() {
                "payment_intent" => client::fetch_payment_intent(
                    &self.client,
                    &self.config,
                    &target.object_id,
                    calls,
                )
                .await
                .map(Some),
                "transaction" => {
                    client::fetch_transaction(&self.client, &self.config, &target.object_id, calls)
                        .await
                }
                other => Err(CheckError::final_(format!(
                    "Belvo has no object type {other:?}"
                ))),
            }
        })
    }
}

/// Belvo object ids are UUIDs (`b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2`).
pub fn validate_payment_id(id: &str) -> Result<(), &'static str> {
    if id.len() == 36 && uuid::Uuid::parse_str(id).is_ok() {
        Ok(())
    } else {
        Err("must be a Belvo payment intent id (a UUID)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_payment_id("b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2").is_ok());
        assert!(validate_payment_id("b7dd85b1671e45c7aba6b4b37a8fc0c2").is_err());
        assert!(validate_payment_id("pse-1").is_err());
    }
}
