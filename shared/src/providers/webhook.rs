//! The provider-independent shape of an incoming webhook.

use crate::domain::Provider;

/// Read-only access to request headers, so providers need no HTTP framework.
pub trait Headers {
    /// The value of `name` (case-insensitive), if present and valid UTF-8.
    fn get(&self, name: &str) -> Option<&str>;
}

/// Why a delivery was refused before it was parsed. The HTTP answer is a bare
/// 401 whatever the reason; the reason is for metrics and logs only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("credentials missing")]
    Missing,
    #[error("credentials do not match")]
    Mismatch,
    #[error("signature header is malformed")]
    MalformedSignature,
    #[error("signature timestamp is outside the tolerance")]
    StaleTimestamp,
}

impl AuthError {
    pub fn reason(self) -> &'static str {
        match self {
            AuthError::Missing => "missing_credentials",
            AuthError::Mismatch => "bad_credentials",
            AuthError::MalformedSignature => "malformed_signature",
            AuthError::StaleTimestamp => "stale_timestamp",
        }
    }
}

/// A body that authenticated but cannot be understood (HTTP 400 `malformed_payload`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PayloadError(pub String);

impl PayloadError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// How the delivery proved itself, recorded on the inbox row (never the credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated(pub String);

/// What a dedup key identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// The key identifies the event forever (Belvo `webhook_id`, Mono content):
    /// a redelivery is a duplicate and adds nothing.
    Permanent,
    /// Nothing in the body identifies the event (Tpaga's `{"charge_token"}`
    /// legitimately arrives again, authorized then settled), so each delivery
    /// is stored as its own row (the key gets a unique suffix). A flood stays
    /// cheap because the single-flight gate (`db::flights`) coalesces the
    /// checks: at most one queued per charge, however many deliveries.
    PerDelivery,
}

/// What the reconciler must ask the provider about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckTarget {
    pub provider: Provider,
    /// Provider-defined: `collection_intent`, `payment_intent`, `transaction`, `charge`.
    pub object_type: String,
    pub object_id: String,
}

/// A parsed, authenticated delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEvent {
    /// The provider's event type as stored (`collection_intent_credited`, `TRANSACTIONS.OBJECT_CREATED`).
    pub event_type: String,
    /// Routing key suffix on `pse.events`: `<provider>.<this>`. Lowercase words.
    pub routing_suffix: String,
    /// The provider object the event refers to, when it names one.
    pub object_id: Option<String>,
    pub dedup_key: String,
    pub dedup: Dedup,
    /// `None` for event types the product stores but does not act on.
    pub check: Option<CheckTarget>,
}

/// Ids end up in URL paths of provider API calls and in logs: accept only a
/// conservative charset so a body can never steer a request elsewhere.
pub fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// A dedup key bounded in length: readable when short, hashed when long.
pub fn bounded_key(raw: String) -> String {
    use sha2::{Digest, Sha256};
    if raw.len() <= 200 {
        raw
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(raw.as_bytes())))
    }
}
