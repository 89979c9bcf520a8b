//! Mono Colombia: collection intents.

pub mod client;
pub mod create;
pub mod signature;
pub mod webhook;

use futures_util::future::BoxFuture;

use crate::config::MonoConfig;
use crate::domain::Provider;
use crate::providers::Connector;
use crate::providers::check::{CheckError, PaymentReport, RecordedCall};
use crate::providers::webhook::{
    AuthError, Authenticated, CheckTarget, Headers, InboundEvent, PayloadError,
};

pub const SIGNATURE_HEADER: &str = "Mono-Signature";

pub struct Mono {
    config: MonoConfig,
    client: reqwest::Client,
}

impl Mono {
    pub fn new(config: MonoConfig, client: reqwest::Client) -> Self {
        Self { config, client }
    }
}

impl Connector for Mono {
    fn provider(&self) -> Provider {
        Provider::Mono
    }

    fn stored_headers(&self) -> &'static [&'static str] {
        &[SIGNATURE_HEADER]
    }

    fn verify_body(
        &self,
        headers: &dyn Headers,
        body: &[u8],
        now: i64,
    ) -> Result<Option<Authenticated>, AuthError> {
        let header = headers.get(SIGNATURE_HEADER).ok_or(AuthError::Missing)?;
        let index = signature::verify(
            header,
            body,
            &self.config.webhook_secrets,
            now,
            self.config.signature_tolerance.as_secs(),
        )?;
        Ok(Some(Authenticated(format!(
            "mono_signature:secret_{}",
            index + 1
        ))))
    }

    fn parse_webhook(&self, body: &[u8]) -> Result<InboundEvent, PayloadError> {
        webhook::parse(body)
    }

    fn payment_object_type(&self) -> &'static str {
        "collection_intent"
    }

    fn check<'a>(
        &'a self,
        target: &'a CheckTarget,
        calls: &'a mut Vec<RecordedCall>,
    ) -> BoxFuture<'a, Result<Option<PaymentReport>, CheckError>> {
        Box::pin(async move {
            let Some(key) = &self.config.api_key else {
                return Err(CheckError::final_("MONO_API_KEY is not configured"));
            };
            client::fetch_intent(
                &self.client,
                &self.config.api_url,
                key,
                &target.object_id,
                calls,
            )
            .await
            .map(Some)
        })
    }
}
/// Mono ids match `^[A-Za-z]{2,6}_[\w-]{22}$` (docs/PROVIDERS.md, "Mono"); a collection
/// intent id looks like `cint_5dHsMj4uwhhujcVUTuw1OP`.
pub fn validate_payment_id(id: &str) -> Result<(), &'static str> {
    let ok = id.split_once('_').is_some_and(|(prefix, rest)| {
        (2..=6).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_alphabetic())
            && rest.len() == 22
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if ok {
        Ok(())
    } else {
        Err("must be a Mono collection intent id like cint_5dHsMj4uwhhujcVUTuw1OP")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_payment_id("cint_5dHsMj4uwhhujcVUTuw1OP").is_ok());
        assert!(validate_payment_id("cint_5dHsMj4uwhhujcVUTuw1O").is_err());
        assert!(validate_payment_id("c_5dHsMj4uwhhujcVUTuw1OP").is_err());
        assert!(validate_payment_id("cint-5dHsMj4uwhhujcVUTuw1OP").is_err());
    }
}
