//! The evidence timeline: each stored record as one entry, in time order.

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::db::evidence::{OrderRecords, WebhookRow};

/// One thing that happened to the order. `Debug` shows kinds and times only:
/// bodies carry payer data.
#[derive(Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Webhook {
        at: String,
        id: i64,
        provider: String,
        event_type: String,
        /// Which credential authenticated the delivery, by position
        /// (`mono_signature:secret_2`), never its value.
        auth_result: String,
        /// Mono only: the `t=` of `Mono-Signature`, Unix seconds.
        signature_timestamp: Option<i64>,
        /// Stored headers minus anything that could be a credential.
        headers: serde_json::Value,
        body: Body,
        delivery_count: i32,
        processed_at: Option<String>,
        outcome: Option<String>,
    },
    ProviderQuery {
        at: String,
        id: i64,
        provider: String,
        method: String,
        path: String,
        status_code: Option<i32>,
        response_body: Option<String>,
        error: Option<String>,
        duration_ms: i32,
        webhook_event_id: Option<i64>,
    },
    Transition {
        at: String,
        id: i64,
        from_state: Option<String>,
        to_state: String,
        cause: String,
        provider_status: Option<String>,
        webhook_event_id: Option<i64>,
    },
    Exception {
        at: String,
        id: i64,
        exception: String,
        detail: String,
        expected_amount: Option<i64>,
        provider_amount: Option<i64>,
        currency: Option<String>,
        resolved_at: Option<String>,
        resolved_by: Option<String>,
        resolution_note: Option<String>,
    },
    PaymentAttempt {
        at: String,
        id: String,
        state: String,
        idempotency_key: String,
        provider_payment_id: Option<String>,
        provider_error: Option<String>,
        attempts: i32,
        updated_at: String,
    },
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Entry({} at {})", self.kind(), self.at())
    }
}

impl Entry {
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Webhook { .. } => "webhook",
            Entry::ProviderQuery { .. } => "provider_query",
            Entry::Transition { .. } => "transition",
            Entry::Exception { .. } => "exception",
            Entry::PaymentAttempt { .. } => "payment_attempt",
        }
    }

    pub fn at(&self) -> &str {
        match self {
            Entry::Webhook { at, .. }
            | Entry::ProviderQuery { at, .. }
            | Entry::Transition { at, .. }
            | Entry::Exception { at, .. }
            | Entry::PaymentAttempt { at, .. } => at,
        }
    }
}

/// A raw webhook body. Text when the bytes are UTF-8 (nearly always: they are
/// JSON), base64 otherwise, so a non-UTF-8 body is kept exactly rather than
/// mangled; retention erases bodies, which shows as `redacted`, not as missing.
#[derive(Clone, Serialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum Body {
    Utf8 { content: String },
    Base64 { content: String },
    Redacted { redacted_at: String },
}

impl Body {
    fn of(row: &WebhookRow) -> Self {
        if let Some(at) = row.redacted_at {
            return Body::Redacted {
                redacted_at: instant(at),
            };
        }
        match std::str::from_utf8(&row.body) {
            Ok(text) => Body::Utf8 {
                content: text.to_owned(),
            },
            Err(_) => Body::Base64 {
                content: base64::engine::general_purpose::STANDARD.encode(&row.body),
            },
        }
    }

    /// What a human reads: the text, the base64, or a note.
    pub fn display(&self) -> String {
        match self {
            Body::Utf8 { content } => content.clone(),
            Body::Base64 { content } => format!("(not UTF-8; base64) {content}"),
            Body::Redacted { redacted_at } => {
                format!("(body erased by retention at {redacted_at})")
            }
        }
    }
}

/// Timestamps as RFC 3339 UTC with microseconds (PostgreSQL's precision), one
/// fixed spelling so the digest does not depend on a formatter's choices.
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Header names that could carry a credential. Ingest stores none of them
/// (`Connector::stored_headers`); evidence drops them again so a future change
/// at ingest cannot put a secret in a bundle.
fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "secret",
        "api-key",
        "apikey",
        "password",
    ]
    .iter()
    .any(|word| name.contains(word))
}

fn safe_headers(stored: &serde_json::Value) -> serde_json::Value {
    match stored {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(name, _)| !is_credential(name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        _ => serde_json::Value::Object(serde_json::Map::new()),
    }
}

/// The `t=` of a stored `Mono-Signature` header (`t=1700000000,v1=…`).
fn signature_timestamp(headers: &serde_json::Value) -> Option<i64> {
    let map = headers.as_object()?;
    let value = map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(crate::providers::mono::SIGNATURE_HEADER))?
        .1
        .as_str()?;
    value
        .split(',')
        .find_map(|part| part.trim().strip_prefix("t="))
        .and_then(|t| t.parse().ok())
}

/// Every record as an entry, sorted by time; ties keep a fixed order (kind,
/// then id) so the same records always give the same bundle.
pub(super) fn build(r: &OrderRecords) -> Vec<Entry> {
    let mut keyed: Vec<(DateTime<Utc>, u8, String, Entry)> = Vec::new();
    for w in &r.webhooks {
        keyed.push((w.received_at, 0, format!("{:020}", w.id), webhook(w)));
    }
    for c in &r.checks {
        let entry = Entry::ProviderQuery {
            at: instant(c.requested_at),
            id: c.id,
            provider: c.provider.clone(),
            method: c.method.clone(),
            path: c.path.clone(),
            status_code: c.status_code,
            response_body: c.response_body.clone(),
            error: c.error.clone(),
            duration_ms: c.latency_ms,
            webhook_event_id: c.webhook_event_id,
        };
        keyed.push((c.requested_at, 1, format!("{:020}", c.id), entry));
    }
    for e in &r.transitions {
        let entry = Entry::Transition {
            at: instant(e.at),
            id: e.id,
            from_state: e.from_state.clone(),
            to_state: e.to_state.clone(),
            cause: e.cause.clone(),
            provider_status: e.provider_status.clone(),
            webhook_event_id: e.webhook_event_id,
        };
        keyed.push((e.at, 2, format!("{:020}", e.id), entry));
    }
    for x in &r.exceptions {
        let entry = Entry::Exception {
            at: instant(x.opened_at),
            id: x.id,
            exception: x.kind.clone(),
            detail: x.detail.clone(),
            expected_amount: x.expected_amount_minor,
            provider_amount: x.provider_amount_minor,
            currency: x.currency.clone(),
            resolved_at: x.resolved_at.map(instant),
            resolved_by: x.resolved_by.clone(),
            resolution_note: x.resolution_note.clone(),
        };
        keyed.push((x.opened_at, 3, format!("{:020}", x.id), entry));
    }
    for a in &r.attempts {
        let entry = Entry::PaymentAttempt {
            at: instant(a.created_at),
            id: a.id.to_string(),
            state: a.state.clone(),
            idempotency_key: a.idempotency_key.clone(),
            provider_payment_id: a.provider_payment_id.clone(),
            provider_error: a.provider_error.clone(),
            attempts: a.attempts,
            updated_at: instant(a.updated_at),
        };
        keyed.push((a.created_at, 4, a.id.to_string(), entry));
    }
    keyed.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
    keyed.into_iter().map(|(_, _, _, e)| e).collect()
}

fn webhook(w: &WebhookRow) -> Entry {
    Entry::Webhook {
        at: instant(w.received_at),
        id: w.id,
        provider: w.provider.clone(),
        event_type: w.event_type.clone(),
        auth_result: w.auth_result.clone(),
        signature_timestamp: signature_timestamp(&w.headers),
        headers: safe_headers(&w.headers),
        body: Body::of(w),
        delivery_count: w.delivery_count,
        processed_at: w.processed_at.map(instant),
        outcome: w.outcome.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credential_headers_never_survive() {
        let stored = json!({"content-type": "application/json", "Authorization": "Bearer x",
            "x-api-key": "k", "mono-signature": "t=1,v1=ab"});
        let kept = safe_headers(&stored);
        assert_eq!(
            kept,
            json!({"content-type": "application/json", "mono-signature": "t=1,v1=ab"})
        );
    }

    #[test]
    fn mono_signature_timestamp_is_read_from_the_stored_header() {
        let h = json!({"Mono-Signature": "t=1700000000, v1=abcdef"});
        assert_eq!(signature_timestamp(&h), Some(1_700_000_000));
        assert_eq!(
            signature_timestamp(&json!({"mono-signature": "v1=ab"})),
            None
        );
        assert_eq!(signature_timestamp(&json!({})), None);
        assert_eq!(signature_timestamp(&json!({"mono-signature": "t=x"})), None);
    }
}
