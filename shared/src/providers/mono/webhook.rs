//! Mono webhooks: `{"event": {"type": …, "data": {collection intent}}, "timestamp": …}`.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::domain::Provider;
use crate::providers::webhook::{
    CheckTarget, Dedup, InboundEvent, PayloadError, bounded_key, safe_id,
};

/// Event types that make the reconciler re-query the intent. Others (Mono has
/// many) are stored and answered 200 so Mono stops retrying, but not queued.
pub const ACTED_ON: [&str; 3] = [
    "collection_intent_credited",
    "collection_intent_failed",
    "collection_intent_confirmed",
];

fn event_type_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
}

pub fn parse(body: &[u8]) -> Result<InboundEvent, PayloadError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| PayloadError::new("the body is not valid JSON"))?;
    let event = v
        .get("event")
        .and_then(Value::as_object)
        .ok_or_else(|| PayloadError::new("`event` (an object) is required"))?;
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .filter(|s| event_type_ok(s))
        .ok_or_else(|| PayloadError::new("`event.type` (a string) is required"))?;
    let data = event.get("data");
    let field = |name: &str| data.and_then(|d| d.get(name)).and_then(Value::as_str);
    let acted = ACTED_ON.contains(&kind);
    let id = match field("id") {
        Some(id) if safe_id(id) => Some(id),
        Some(_) if acted => {
            return Err(PayloadError::new("`event.data.id` is not a Mono id"));
        }
        _ => None,
    };
    if acted && id.is_none() {
        return Err(PayloadError::new("`event.data.id` (a string) is required"));
    }
    // Mono sends no event id: an event is its type, intent, state and update time.
    // Those two are free text; one holding NUL (which PostgreSQL text refuses)
    // would fail the insert, so such an event is keyed by its body instead.
    let no_nul = |s: &&str| !s.contains('\0');
    let dedup_key = match (
        id,
        field("state").filter(no_nul),
        field("updated_at").filter(no_nul),
    ) {
        (Some(id), Some(state), Some(updated_at)) => format!("{kind}:{id}:{state}:{updated_at}"),
        _ => format!("{kind}:body:{}", hex::encode(Sha256::digest(body))),
    };
    Ok(InboundEvent {
        event_type: kind.to_owned(),
        routing_suffix: kind.to_ascii_lowercase(),
        object_id: id.map(str::to_owned),
        dedup_key: bounded_key(dedup_key),
        dedup: Dedup::Permanent,
        check: acted.then(|| CheckTarget {
            provider: Provider::Mono,
            object_type: "collection_intent".to_owned(),
            object_id: id.unwrap_or_default().to_owned(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn body(kind: &str, state: &str, updated: &str) -> Vec<u8> {
        json!({"event": {"type": kind, "data": {"id": "cint_5dHsMj4uwhhujcVUTuw1OP", "state": state,
               "updated_at": updated, "amount": {"amount": 10000000, "currency": "COP"}}},
               "timestamp": "2023-01-04T17:17:01.101130Z"})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn credited_is_acted_on_with_a_content_key() {
        let e = parse(&body(
            "collection_intent_credited",
            "account_credited",
            "2023-01-04T17:17:01Z",
        ))
        .unwrap();
        assert_eq!(e.routing_suffix, "collection_intent_credited");
        assert_eq!(e.object_id.as_deref(), Some("cint_5dHsMj4uwhhujcVUTuw1OP"));
        assert_eq!(
            e.dedup_key,
            "collection_intent_credited:cint_5dHsMj4uwhhujcVUTuw1OP:account_credited:2023-01-04T17:17:01Z"
        );
        assert_eq!(e.check.unwrap().object_type, "collection_intent");
    }

    #[test]
    fn a_later_update_is_a_different_event() {
        let a = parse(&body("collection_intent_failed", "failed", "T1")).unwrap();
        let b = parse(&body("collection_intent_failed", "failed", "T2")).unwrap();
        assert_ne!(a.dedup_key, b.dedup_key);
    }

    #[test]
    fn a_nul_in_free_text_never_reaches_the_dedup_key() {
        // PostgreSQL text cannot hold NUL (fuzz/: check_event; seed mono-nul-state).
        let e = parse(&body("collection_intent_failed", "fail\u{0}ed", "T1")).unwrap();
        assert!(!e.dedup_key.contains('\0'), "{:?}", e.dedup_key);
        assert!(e.dedup_key.starts_with("collection_intent_failed:body:"));
        let e = parse(&body("collection_intent_failed", "failed", "\u{0}")).unwrap();
        assert!(!e.dedup_key.contains('\0'), "{:?}", e.dedup_key);
    }

    #[test]
    fn other_types_are_stored_not_queued() {
        let e = parse(&body("collection_link_updated", "x", "T")).unwrap();
        assert!(e.check.is_none());
        let e = parse(br#"{"event": {"type": "account_linked"}}"#).unwrap();
        assert!(e.check.is_none());
        assert!(e.dedup_key.starts_with("account_linked:body:"));
    }

    #[test]
    fn missing_required_fields() {
        for bad in [
            &b"not json"[..],
            br#"{"event": 1}"#,
            br#"{"event": {"data": {}}}"#,
            br#"{"event": {"type": "collection_intent_credited", "data": {}}}"#,
            br#"{"event": {"type": "collection_intent_credited", "data": {"id": "../../x"}}}"#,
            br#"{"event": {"type": "bad type!", "data": {}}}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_json_like(s in r#"\{"event":\{"type":"[a-z_]{0,30}","data":\{"id":"[ -~]{0,30}"(,"state":[ -~]{0,10})?\}\}\}"#) {
            let _ = parse(s.as_bytes());
        }
    }
}
