//! Tpaga's webhook: `{"charge_token": …}` with no signature, sent to the path registered in
//! Tpaga's dashboard, which carries the merchant's secret token.

use serde_json::json;
use shared::domain::Provider;

use crate::admin_api::WebhookTarget;
use crate::registry::{self, Credential, Delivery, Outgoing, Refusal};

const WRONG_TOKEN: &str = "sandbox-forged-token";

pub fn event(token: &str) -> Result<Outgoing, Refusal> {
    Ok(Outgoing {
        provider: Provider::Tpaga,
        body: serde_json::to_vec(&json!({"charge_token": token}))
            .map_err(|e| Refusal::Invalid(e.to_string()))?,
    })
}

/// Always `/webhooks/tpaga/{token}`: webhook-api answers the bare Tpaga path 404, so without
/// a path token nothing is sent.
pub fn delivery(target: &WebhookTarget, credential: Credential) -> Result<Delivery, &'static str> {
    let path = registry::webhook_url(target, Provider::Tpaga);
    let url = match (credential, &target.tpaga_path_token) {
        (Credential::Forged, _) => format!("{path}/{WRONG_TOKEN}"),
        (Credential::Genuine, Some(token)) => format!("{path}/{token}"),
        (Credential::Genuine, None) => {
            return Err(
                "the webhook target has no tpaga_path_token (webhook-api accepts Tpaga webhooks only at /webhooks/tpaga/{token})",
            );
        }
    };
    Ok(Delivery {
        url,
        headers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_path_token() {
        let mut t = WebhookTarget {
            base_url: "http://127.0.0.1:8080/".to_owned(),
            ..WebhookTarget::default()
        };
        assert!(delivery(&t, Credential::Genuine).is_err());
        t.tpaga_path_token = Some("s3cret".to_owned());
        assert_eq!(
            delivery(&t, Credential::Genuine).unwrap().url,
            "http://127.0.0.1:8080/webhooks/tpaga/s3cret"
        );
        assert!(
            delivery(&t, Credential::Forged)
                .unwrap()
                .url
                .ends_with(WRONG_TOKEN)
        );
    }
}
