//! Belvo webhooks: `{"webhook_id", "webhook_type", "webhook_code", "object_id", "data"}`.

use serde_json::Value;

use crate::domain::Provider;
use crate::providers::webhook::{CheckTarget, Dedup, InboundEvent, PayloadError, safe_id};

fn word_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What an event asks the reconciler to look up. Belvo has been seen sending
/// types in either case, so the comparison ignores case.
fn object_type(webhook_type: &str, webhook_code: &str) -> Option<&'static str> {
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if is(webhook_type, "PAYMENT_INTENTS") && is(webhook_code, "STATUS_UPDATE") {
        Some("payment_intent")
    } else if is(webhook_type, "TRANSACTIONS") && is(webhook_code, "OBJECT_CREATED") {
        Some("transaction")
    } else {
        None
    }
}

pub fn parse(body: &[u8]) -> Result<InboundEvent, PayloadError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| PayloadError::new("the body is not valid JSON"))?;
    let text = |name: &str| v.get(name).and_then(Value::as_str);
    let webhook_id = text("webhook_id")
        .filter(|s| safe_id(s))
        .ok_or_else(|| PayloadError::new("`webhook_id` (a string id) is required"))?;
    let webhook_type = text("webhook_type")
        .filter(|s| word_ok(s))
        .ok_or_else(|| PayloadError::new("`webhook_type` (a string) is required"))?;
    let webhook_code = text("webhook_code")
        .filter(|s| word_ok(s))
        .ok_or_else(|| PayloadError::new("`webhook_code` (a string) is required"))?;
    let acted = object_type(webhook_type, webhook_code);
    let object_id = match text("object_id") {
        Some(id) if safe_id(id) => Some(id.to_owned()),
        Some(_) if acted.is_some() => {
            return Err(PayloadError::new("`object_id` is not a Belvo id"));
        }
        _ => None,
    };
    if acted.is_some() && object_id.is_none() {
        return Err(PayloadError::new("`object_id` (a string) is required"));
    }
    Ok(InboundEvent {
        event_type: format!("{webhook_type}.{webhook_code}"),
        routing_suffix: format!("{webhook_type}.{webhook_code}").to_ascii_lowercase(),
        check: acted.map(|t| CheckTarget {
            provider: Provider::Belvo,
            object_type: t.to_owned(),
            object_id: object_id.clone().unwrap_or_default(),
        }),
        object_id,
        // Belvo gives every delivery of one event the same webhook_id.
        dedup_key: webhook_id.to_owned(),
        dedup: Dedup::Permanent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_documented_transactions_event() {
        let body = br#"{"webhook_id": "3b9a69f7-0f0a-455b-832d-49ad6fd4905c", "webhook_type": "TRANSACTIONS",
            "webhook_code": "OBJECT_CREATED", "object_id": "d2e40773-19f6-48d1-93c3-3590ec0c74df", "data": {}}"#;
        let e = parse(body).unwrap();
        assert_eq!(e.dedup_key, "3b9a69f7-0f0a-455b-832d-49ad6fd4905c");
        assert_eq!(e.routing_suffix, "transactions.object_created");
        let c = e.check.unwrap();
        assert_eq!(
            (c.object_type.as_str(), c.object_id.as_str()),
            ("transaction", "d2e40773-19f6-48d1-93c3-3590ec0c74df")
        );
    }

    #[test]
    fn payment_intent_updates_in_any_case() {
        let body = br#"{"webhook_id": "w1", "webhook_type": "payment_intents", "webhook_code": "status_update",
            "object_id": "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2", "data": {"status": "SUCCEEDED"}}"#;
        assert_eq!(
            parse(body).unwrap().check.unwrap().object_type,
            "payment_intent"
        );
    }

    #[test]
    fn bank_accounts_are_stored_not_queued() {
        let body = br#"{"webhook_id": "w2", "webhook_type": "BANK_ACCOUNTS", "webhook_code": "OBJECT_CREATED", "object_id": "x"}"#;
        assert!(parse(body).unwrap().check.is_none());
    }

    #[test]
    fn required_fields() {
        for bad in [
            &br#"{"webhook_type": "TRANSACTIONS", "webhook_code": "OBJECT_CREATED", "object_id": "x"}"#[..],
            br#"{"webhook_id": "w", "webhook_code": "OBJECT_CREATED"}"#,
            br#"{"webhook_id": "w", "webhook_type": "TRANSACTIONS", "webhook_code": "OBJECT_CREATED"}"#,
            br#"{"webhook_id": 5, "webhook_type": "TRANSACTIONS", "webhook_code": "OBJECT_CREATED", "object_id": "x"}"#,
            b"[]",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }
    }
}
