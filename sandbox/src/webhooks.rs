//! Delivering webhooks to the configured target. Each provider says where and with which
//! credential its deliveries go ([`FakeProvider::delivery`]): Mono signs the exact bytes
//! (`Mono-Signature`), Belvo echoes the registered `Authorization` value, Tpaga uses a secret
//! path token. This module only sends.

use std::time::Duration;

use actix_web::http::header::CONTENT_TYPE;

use crate::admin_api::WebhookTarget;
use crate::registry::{Credential, FakeProvider, Outgoing};

/// Sends webhooks; one per actix worker, so each worker's runtime owns its connections.
pub struct Deliverer {
    client: Result<reqwest::Client, String>,
}

impl Default for Deliverer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deliverer {
    pub fn new() -> Self {
        // A receiver slower than this is reported as "no response" (0).
        let client = shared::http::client(Duration::from_secs(2), Duration::from_secs(10))
            .map_err(|e| e.to_string());
        Self { client }
    }

    /// Sends `event` `count` times; one status per attempt, 0 when there was no HTTP response.
    pub async fn deliver(
        &self,
        provider: &dyn FakeProvider,
        target: &WebhookTarget,
        event: &Outgoing,
        count: u32,
        credential: Credential,
    ) -> Vec<u16> {
        let mut codes = Vec::new();
        for _ in 0..count {
            codes.push(self.deliver_once(provider, target, event, credential).await);
        }
        codes
    }

    async fn deliver_once(
        &self,
        provider: &dyn FakeProvider,
        target: &WebhookTarget,
        event: &Outgoing,
        credential: Credential,
    ) -> u16 {
        let name = provider.id().as_str();
        let client = match &self.client {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client: webhook not delivered");
                return 0;
            }
        };
        // Prepared per attempt: a signature covers the moment of sending.
        let delivery = match provider.delivery(target, &event.body, credential) {
            Ok(d) => d,
            Err(why) => {
                tracing::warn!(provider = name, why, "webhook not delivered");
                return 0;
            }
        };
        let mut request = client
            .post(&delivery.url)
            .header(CONTENT_TYPE.as_str(), "application/json")
            .body(event.body.clone());
        for (header, value) in delivery.headers {
            request = request.header(header, value);
        }
        // The URL is not logged: Tpaga's carries the secret path token.
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::info!(provider = name, status, "webhook delivered");
                status
            }
            Err(e) => {
                tracing::warn!(provider = name, error = %e.without_url(), "webhook not delivered");
                0
            }
        }
    }
}

/// Checks a target before it is stored: an http(s) base URL and a path-safe Tpaga token.
pub fn validate_target(target: &WebhookTarget) -> Result<(), String> {
    let base = target.base_url.as_str();
    if !(base.starts_with("http://") || base.starts_with("https://"))
        || base.contains(char::is_whitespace)
    {
        return Err(format!(
            "base_url {base:?} must be an http:// or https:// URL"
        ));
    }
    if let Some(token) = &target.tpaga_path_token
        && (token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')))
    {
        return Err(
            "tpaga_path_token must be non-empty letters, digits, '-', '_', '.' or '~'".to_owned(),
        );
    }
    for (name, value) in [
        ("mono_secret", &target.mono_secret),
        ("belvo_authorization", &target.belvo_authorization),
    ] {
        if value
            .as_deref()
            .is_some_and(|v| v.is_empty() || v.contains(['\r', '\n']))
        {
            return Err(format!("{name} must be non-empty and on one line"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked() {
        let mut t = WebhookTarget {
            base_url: "http://127.0.0.1:8080/".to_owned(),
            tpaga_path_token: Some("s3cret".to_owned()),
            ..WebhookTarget::default()
        };
        assert!(validate_target(&t).is_ok());
        t.tpaga_path_token = Some("a/b".to_owned());
        assert!(validate_target(&t).is_err());
        t.tpaga_path_token = None;
        t.mono_secret = Some("two\nlines".to_owned());
        assert!(validate_target(&t).is_err());
        t.mono_secret = None;
        t.base_url = "ftp://x".to_owned();
        assert!(validate_target(&t).is_err());
    }
}
