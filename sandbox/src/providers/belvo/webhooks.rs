//! Belvo's webhooks: `PAYMENT_INTENTS`/`STATUS_UPDATE` and `TRANSACTIONS`/`OBJECT_CREATED`,
//! unsigned, carrying back the `Authorization` value the merchant registered.

use serde_json::{Value, json};
use shared::domain::Provider;

use super::wire::PaymentIntent;
use crate::admin_api::WebhookTarget;
use crate::ids;
use crate::registry::{self, Credential, Delivery, Outgoing, Refusal};

const WRONG_AUTHORIZATION: &str = "Bearer sandbox-forged-authorization";

fn outgoing(body: &Value) -> Result<Outgoing, Refusal> {
    Ok(Outgoing {
        provider: Provider::Belvo,
        body: serde_json::to_vec(body).map_err(|e| Refusal::Invalid(e.to_string()))?,
    })
}

/// `PAYMENT_INTENTS`/`STATUS_UPDATE` for `pi` claiming `status`; a fresh `webhook_id` per logical event.
pub fn status_update(pi: &PaymentIntent, status: &str) -> Result<Outgoing, Refusal> {
    outgoing(&json!({
        "webhook_id": ids::uuid(),
        "webhook_type": "PAYMENT_INTENTS",
        "webhook_code": "STATUS_UPDATE",
        "object_id": pi.id,
        "data": {
            "status": status,
            "metadata": pi.metadata,
            "failure_code": pi.failure_code,
            "failure_message": pi.failure_message,
        },
    }))
}

/// `TRANSACTIONS`/`OBJECT_CREATED` for a new transaction.
pub fn transaction_created(transaction_id: &str) -> Result<Outgoing, Refusal> {
    outgoing(&json!({
        "webhook_id": ids::uuid(),
        "webhook_type": "TRANSACTIONS",
        "webhook_code": "OBJECT_CREATED",
        "object_id": transaction_id,
        "data": {},
    }))
}

/// `{base_url}/webhooks/belvo` with the registered `Authorization` (a wrong one when forged).
pub fn delivery(target: &WebhookTarget, credential: Credential) -> Delivery {
    let value = match credential {
        Credential::Genuine => target.belvo_authorization.clone(),
        Credential::Forged => Some(WRONG_AUTHORIZATION.to_owned()),
    };
    Delivery {
        url: registry::webhook_url(target, Provider::Belvo),
        headers: value
            .map(|v| vec![("Authorization", v)])
            .unwrap_or_default(),
    }
}
