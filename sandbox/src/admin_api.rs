//! The admin API's JSON bodies, shared by the server ([`crate::admin`]) and
//! [`crate::AdminClient`] so the two cannot drift apart.

use serde::{Deserialize, Serialize};

/// `PUT /_sandbox/webhook-target`: where and how webhooks are delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookTarget {
    /// `http://host:port`; deliveries go to `{base_url}/webhooks/{provider}`.
    pub base_url: String,
    /// Signs Mono deliveries (`Mono-Signature`); without it they carry no signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mono_secret: Option<String>,
    /// Sent verbatim as `Authorization` on Belvo deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub belvo_authorization: Option<String>,
    /// Tpaga deliveries go to `{base_url}/webhooks/tpaga/{token}`; without a
    /// token they are not sent (webhook-api has no bare Tpaga webhook path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpaga_path_token: Option<String>,
}

/// `POST /_sandbox/payments`: create a provider object directly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPayment {
    pub provider: String,
    pub amount_minor: i64,
    /// Mono `reference`, Belvo `metadata.reference`, Tpaga `order_id` (≤ 20 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The answer to [`NewPayment`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedPayment {
    pub provider: String,
    pub provider_payment_id: String,
    /// The provider's initial status string.
    pub status: String,
}

/// One entry of `GET /_sandbox/payments?provider=…&reference=…`: a payment the provider holds
/// for that reference, however it was created (admin API or the provider's own create call).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundPayment {
    pub provider: String,
    pub provider_payment_id: String,
    pub status: String,
    /// What the provider's API reports as the amount, in centavos.
    pub amount_minor: i64,
    /// Mono `reference`, Belvo `metadata.reference`, Tpaga `order_id`.
    pub reference: String,
}

/// `POST /_sandbox/payments/{provider}/{id}/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The provider's own status string (`account_credited`, `SUCCEEDED`, `settled`…).
    pub status: String,
    /// What the API reports as the amount from now on (amount-mismatch scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_amount_minor: Option<i64>,
    /// Identical deliveries of each resulting webhook; default 1, 0 = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<u32>,
}

impl StatusChange {
    /// A change to `status` with one delivery and the real amount.
    pub fn to(status: &str) -> Self {
        Self {
            status: status.to_owned(),
            ..Self::default()
        }
    }
}

/// The answer to [`StatusChange`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChanged {
    pub provider_payment_id: String,
    pub status: String,
    /// Deliveries that got an HTTP response (any status).
    pub webhooks_delivered: u32,
    /// One entry per attempt; 0 means no HTTP response (refused, timed out).
    pub webhook_responses: Vec<u16>,
    /// Belvo only: the INFLOW transaction created by a move to `SUCCEEDED`.
    pub transaction_id: Option<String>,
}

/// `POST /_sandbox/payments/{provider}/{id}/webhook`: deliver without changing API state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRequest {
    /// The status the body claims; default the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_status: Option<String>,
    /// Default true. `false` forges the credential: Mono signs with a wrong secret
    /// (and Belvo sends a wrong `Authorization`, Tpaga a wrong path token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<bool>,
    /// Identical deliveries; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// The answer to [`WebhookRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivered {
    pub delivered: u32,
    pub responses: Vec<u16>,
}

/// `POST /_sandbox/payments/belvo/{pi_id}/transactions`: another INFLOW for that intent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTransaction {
    /// Default: the payment intent's (reported) amount. Must be whole pesos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
}

/// The answer to [`NewTransaction`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedTransaction {
    pub transaction_id: String,
    pub webhooks_delivered: u32,
    #[serde(default)]
    pub webhook_responses: Vec<u16>,
}

/// `POST /_sandbox/faults`: make the next `count` calls to a provider fail, stall, or (on the
/// calls that create a payment) succeed and then lose their answer.
///
/// - `{"kind":"status","status":503}`: answer 503 in the provider's error body; nothing runs.
/// - `{"kind":"delay","delay_ms":2000}`: answer normally, 2 s late.
/// - `{"kind":"lost","lost_as":"status","status":502}`: create the payment, answer 502.
/// - `{"kind":"lost","lost_as":"drop"}`: create the payment, close the connection unanswered.
/// - `{"kind":"lost","lost_as":"timeout","delay_ms":5000}`: create the payment, say nothing for
///   5 s, then close the connection unanswered (a client with a shorter timeout gives up first).
///
/// "Create" is Mono `POST /v1/collection_intents`, Belvo `POST /payments/payment-links/` and
/// Tpaga `POST /api/pse/v1/public/charge`; `lost` faults apply only to those, and
/// `create_only: true` restricts a `status` or `delay` fault to them too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub provider: String,
    /// `"status"`, `"delay"` or `"lost"`.
    pub kind: String,
    /// For `"status"` and `lost_as: "status"`: the HTTP status to answer (400–599).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For `"delay"`: how long to wait before answering normally; for `lost_as: "timeout"`:
    /// how long to stay silent before closing the connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For `"lost"`: `"status"`, `"drop"` or `"timeout"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_as: Option<String>,
    #[serde(default = "one")]
    pub count: u32,
    /// Tpaga only: whether `/o/token/` is affected too.
    #[serde(default)]
    pub include_token_endpoint: bool,
    /// Only the calls that create a payment (always so for `"lost"`).
    #[serde(default)]
    pub create_only: bool,
}

fn one() -> u32 {
    1
}

impl Default for Fault {
    /// One 500 from Mono; set the fields you need.
    fn default() -> Self {
        Self::status("mono", 500, 1)
    }
}

impl Fault {
    fn new(provider: &str, kind: &str, count: u32) -> Self {
        Self {
            provider: provider.to_owned(),
            kind: kind.to_owned(),
            status: None,
            delay_ms: None,
            lost_as: None,
            count,
            include_token_endpoint: false,
            create_only: false,
        }
    }

    /// The next `count` calls to `provider` answer `status`.
    pub fn status(provider: &str, status: u16, count: u32) -> Self {
        Self {
            status: Some(status),
            ..Self::new(provider, "status", count)
        }
    }

    /// The next `count` calls to `provider` are answered normally after `delay_ms`.
    pub fn delay(provider: &str, delay_ms: u64, count: u32) -> Self {
        Self {
            delay_ms: Some(delay_ms),
            ..Self::new(provider, "delay", count)
        }
    }

    /// The next `count` creates at `provider` store the payment, then answer `status`.
    pub fn lost_with_status(provider: &str, status: u16, count: u32) -> Self {
        Self {
            status: Some(status),
            lost_as: Some("status".to_owned()),
            ..Self::new(provider, "lost", count)
        }
    }

    /// The next `count` creates at `provider` store the payment, then close the connection.
    pub fn lost_by_drop(provider: &str, count: u32) -> Self {
        Self {
            lost_as: Some("drop".to_owned()),
            ..Self::new(provider, "lost", count)
        }
    }

    /// The next `count` creates at `provider` store the payment, stay silent `delay_ms`, then
    /// close the connection.
    pub fn lost_by_timeout(provider: &str, delay_ms: u64, count: u32) -> Self {
        Self {
            delay_ms: Some(delay_ms),
            lost_as: Some("timeout".to_owned()),
            ..Self::new(provider, "lost", count)
        }
    }

    /// This fault, applied only to the calls that create a payment.
    #[must_use]
    pub fn on_create(self) -> Self {
        Self {
            create_only: true,
            ..self
        }
    }
}

/// `PUT /_sandbox/latency`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub millis: u64,
}

/// `GET /_sandbox/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub calls: Vec<CallCount>,
    pub tpaga_tokens_issued: u64,
}

/// Calls to one route of one provider (faulted and refused ones included).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCount {
    pub provider: String,
    pub method: String,
    /// The route pattern, e.g. `/v1/collection_intents/{id}`.
    pub route: String,
    pub count: u64,
}

impl Stats {
    /// Calls to `route` of `provider`, all methods together.
    pub fn calls_to(&self, provider: &str, route: &str) -> u64 {
        self.calls
            .iter()
            .filter(|c| c.provider == provider && c.route == route)
            .map(|c| c.count)
            .sum()
    }
}

/// The body of every admin error: `{"error": "not_found"}` or
/// `{"error": "invalid_request", "message": "…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
