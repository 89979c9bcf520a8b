//! Delivering webhooks to the configured target the way each provider does:
//! Mono signs the exact bytes (`Mono-Signature`), Belvo echoes the registered
//! `Authorization` value, Tpaga sends nothing but may use a secret path token.

use std::time::Duration;

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use shared::Secret;

use crate::admin_api::WebhookTarget;
use crate::state::Provider;

/// One logical event, serialised once; every duplicate delivery sends these exact bytes.
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

/// Used to sign forged Mono deliveries (`signed: false`).
const WRONG_MONO_SECRET: &str = "whsec_sandbox_not_the_secret";
const WRONG_BELVO_AUTHORIZATION: &str = "Bearer sandbox-forged-authorization";
const WRONG_TPAGA_TOKEN: &str = "sandbox-forged-token";

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
        target: &WebhookTarget,
        event: &Outgoing,
        count: u32,
        credential: Credential,
    ) -> Vec<u16> {
        let mut codes = Vec::new();
        for _ in 0..count {
            codes.push(self.deliver_once(target, event, credential).await);
        }
        codes
    }

    async fn deliver_once(
        &self,
        target: &WebhookTarget,
        event: &Outgoing,
        credential: Credential,
    ) -> u16 {
        let client = match &self.client {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client: webhook not delivered");
                return 0;
            }
        };
        let Some(url) = url_for(target, event.provider, credential) else {
            tracing::warn!(
                "Tpaga webhook not delivered: the webhook target has no tpaga_path_token \
                 (webhook-api accepts Tpaga webhooks only at /webhooks/tpaga/{{token}})"
            );
            return 0;
        };
        let mut request = client
            .post(&url)
            .header(CONTENT_TYPE.as_str(), "application/json")
            .body(event.body.clone());
        match event.provider {
            Provider::Mono => {
                let secret = match credential {
                    Credential::Genuine => target.mono_secret.clone(),
                    Credential::Forged => Some(WRONG_MONO_SECRET.to_owned()),
                };
                if let Some(secret) = secret {
                    // Signed at the moment of sending, over exactly the bytes sent.
                    let now = chrono::Utc::now().timestamp();
                    let header = shared::providers::mono::signature::sign(
                        &Secret::new(secret),
                        now,
                        &event.body,
                    );
                    request = request.header("Mono-Signature", header);
                }
            }
            Provider::Belvo => {
                let value = match credential {
                    Credential::Genuine => target.belvo_authorization.clone(),
                    Credential::Forged => Some(WRONG_BELVO_AUTHORIZATION.to_owned()),
                };
                if let Some(value) = value {
                    request = request.header(AUTHORIZATION.as_str(), value);
                }
            }
            Provider::Tpaga => {}
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                tracing::info!(provider = event.provider.as_str(), %url, status, "webhook delivered");
                status
            }
            Err(e) => {
                tracing::warn!(provider = event.provider.as_str(), %url, error = %e, "webhook not delivered");
                0
            }
        }
    }
}

/// `{base_url}/webhooks/{provider}`, and for Tpaga always `/webhooks/tpaga/{token}`
/// (as registered in Tpaga's dashboard): `None` when no Tpaga path token is set,
/// since webhook-api answers the bare Tpaga path 404.
pub fn url_for(
    target: &WebhookTarget,
    provider: Provider,
    credential: Credential,
) -> Option<String> {
    let base = target.base_url.trim_end_matches('/');
    let path = format!("{base}/webhooks/{}", provider.as_str());
    match (provider, credential, &target.tpaga_path_token) {
        (Provider::Tpaga, Credential::Forged, _) => Some(format!("{path}/{WRONG_TPAGA_TOKEN}")),
        (Provider::Tpaga, Credential::Genuine, Some(token)) => Some(format!("{path}/{token}")),
        (Provider::Tpaga, Credential::Genuine, None) => None,
        _ => Some(path),
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
    fn urls() {
        let mut t = WebhookTarget {
            base_url: "http://127.0.0.1:8080/".to_owned(),
            ..WebhookTarget::default()
        };
        assert_eq!(
            url_for(&t, Provider::Mono, Credential::Genuine).as_deref(),
            Some("http://127.0.0.1:8080/webhooks/mono")
        );
        // Never the bare Tpaga path: webhook-api answers it 404.
        assert_eq!(url_for(&t, Provider::Tpaga, Credential::Genuine), None);
        t.tpaga_path_token = Some("s3cret".to_owned());
        assert_eq!(
            url_for(&t, Provider::Tpaga, Credential::Genuine).as_deref(),
            Some("http://127.0.0.1:8080/webhooks/tpaga/s3cret")
        );
        assert!(
            url_for(&t, Provider::Tpaga, Credential::Forged)
                .is_some_and(|u| u.ends_with(WRONG_TPAGA_TOKEN))
        );
        assert!(validate_target(&t).is_ok());
        t.tpaga_path_token = Some("a/b".to_owned());
        assert!(validate_target(&t).is_err());
        t.tpaga_path_token = None;
        t.base_url = "ftp://x".to_owned();
        assert!(validate_target(&t).is_err());
    }
}
