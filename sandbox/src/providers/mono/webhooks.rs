//! Mono's webhooks: which state changes send which event, the envelope they come in, and how
//! a delivery is signed (`Mono-Signature` over the exact bytes, at the moment of sending).

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::Secret;
use shared::domain::Provider;

use super::wire::CollectionIntent;
use crate::admin_api::WebhookTarget;
use crate::ids;
use crate::registry::{self, Credential, Delivery, Outgoing, Refusal};

/// Used to sign forged Mono deliveries (`signed: false`).
const WRONG_SECRET: &str = "whsec_sandbox_not_the_secret";

/// The event Mono sends when an intent reaches `state`, if any.
pub fn event_type(state: &str) -> Option<&'static str> {
    match state {
        "account_credited" => Some("collection_intent_credited"),
        "failed" => Some("collection_intent_failed"),
        "approved_in_provider" => Some("collection_intent_confirmed"),
        _ => None,
    }
}

/// `{"event": {"type": kind, "data": intent}, "timestamp": …}`.
pub fn event(
    kind: &str,
    intent: &CollectionIntent,
    now: DateTime<Utc>,
) -> Result<Outgoing, Refusal> {
    let body = serde_json::to_vec(&json!({
        "event": {"type": kind, "data": intent},
        "timestamp": ids::micros_z(now),
    }))
    .map_err(|e| Refusal::Invalid(e.to_string()))?;
    Ok(Outgoing {
        provider: Provider::Mono,
        body,
    })
}

/// `{base_url}/webhooks/mono`, signed with the target's secret (a wrong one when forged);
/// unsigned when the target has no secret.
pub fn delivery(target: &WebhookTarget, body: &[u8], credential: Credential) -> Delivery {
    let secret = match credential {
        Credential::Genuine => target.mono_secret.clone(),
        Credential::Forged => Some(WRONG_SECRET.to_owned()),
    };
    let headers = secret
        .map(|secret| {
            let now = Utc::now().timestamp();
            let header = shared::providers::mono::signature::sign(&Secret::new(secret), now, body);
            vec![("Mono-Signature", header)]
        })
        .unwrap_or_default();
    Delivery {
        url: registry::webhook_url(target, Provider::Mono),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_signed_only_with_a_secret() {
        let mut t = WebhookTarget {
            base_url: "http://127.0.0.1:8080/".to_owned(),
            ..WebhookTarget::default()
        };
        let d = delivery(&t, b"{}", Credential::Genuine);
        assert_eq!(d.url, "http://127.0.0.1:8080/webhooks/mono");
        assert!(d.headers.is_empty());
        assert_eq!(delivery(&t, b"{}", Credential::Forged).headers.len(), 1);
        t.mono_secret = Some("whsec_test_secret_value".to_owned());
        assert_eq!(
            delivery(&t, b"{}", Credential::Genuine).headers[0].0,
            "Mono-Signature"
        );
    }
}
