//! Totality of every provider-facing parser over arbitrary input: the
//! `Mono-Signature` header and each provider's webhook body. (The API response
//! parsers have theirs next to them, in each `client.rs`.)

use proptest::prelude::*;
use serde_json::Value;

use super::mono::signature::{parse_header, sign, verify};
use super::webhook::{bounded_key, safe_id};
use super::{belvo, mono, tpaga};
use crate::domain::Provider;
use crate::fuzz_support::{any_bytes, any_text, json_value};
use crate::secret::Secret;

const WEBHOOK_KEYS: &[&str] = &[
    "event",
    "type",
    "data",
    "id",
    "state",
    "updated_at",
    "timestamp",
    "webhook_id",
    "webhook_type",
    "webhook_code",
    "object_id",
    "charge_token",
    "collection_intent_credited",
    "PAYMENT_INTENTS",
    "STATUS_UPDATE",
];

/// Headers shaped like real ones, with arbitrary pieces mixed in.
fn header_like() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "t=[0-9]{0,14}",
        "v1=[0-9a-f]{0,70}",
        "v0=[0-9a-f]{0,10}",
        any_text().prop_map(|t| format!("v1={t}")),
        any_text().prop_map(|t| format!("t={t}")),
        any_text(),
    ];
    proptest::collection::vec(part, 0..8).prop_map(|parts| parts.join(","))
}

fn every_webhook_parser(body: &[u8]) {
    let parsed = [
        mono::webhook::parse(body),
        belvo::webhook::parse(body),
        tpaga::webhook::parse(body),
    ];
    // What a parse lets through is safe to put in a request path.
    for check in parsed.into_iter().flatten().filter_map(|e| e.check) {
        assert!(safe_id(&check.object_id), "{:?}", check.object_id);
    }
}

proptest! {
    #[test]
    fn signature_header_parser_is_total_on_any_text(s in any_text()) {
        if let Ok(h) = parse_header(&s) {
            prop_assert!(!h.macs.is_empty());
            prop_assert!(h.macs.iter().all(|m| m.len() == 32));
        }
    }

    #[test]
    fn signature_header_parser_is_total_on_any_bytes(bytes in any_bytes(256)) {
        let _ = parse_header(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn verify_is_total_on_header_like_input(h in header_like(), body in any_bytes(64), now in any::<i64>()) {
        let _ = verify(&h, &body, &[Secret::new("whsec_a"), Secret::new("")], now, u64::MAX);
        let _ = verify(&h, &body, &[Secret::new("whsec_a")], now, 0);
    }

    #[test]
    fn extreme_timestamps_never_panic(t in any::<i64>(), now in any::<i64>()) {
        let s = Secret::new("whsec_t");
        let header = sign(&s, t, b"{}");
        let _ = verify(&header, b"{}", std::slice::from_ref(&s), now, 300);
    }

    #[test]
    fn webhook_parsers_are_total_on_any_bytes(bytes in any_bytes(512)) {
        every_webhook_parser(&bytes);
    }

    #[test]
    fn webhook_parsers_are_total_on_any_json(v in json_value(WEBHOOK_KEYS)) {
        every_webhook_parser(v.to_string().as_bytes());
    }

    /// The documented shapes with arbitrary values where the strings go.
    #[test]
    fn webhook_parsers_are_total_on_documented_shapes_with_any_values(
        a in json_value(WEBHOOK_KEYS),
        b in any_text(),
        c in any_text(),
    ) {
        let shapes: [Value; 5] = [
            serde_json::json!({"event": {"type": "collection_intent_credited", "data": {"id": b, "state": c, "updated_at": a}}}),
            serde_json::json!({"event": {"type": b, "data": a}}),
            serde_json::json!({"webhook_id": b, "webhook_type": "TRANSACTIONS", "webhook_code": "OBJECT_CREATED", "object_id": c, "data": a}),
            serde_json::json!({"webhook_id": "w", "webhook_type": b, "webhook_code": c, "object_id": a}),
            serde_json::json!({"charge_token": b, "extra": a}),
        ];
        for shape in shapes {
            every_webhook_parser(shape.to_string().as_bytes());
        }
    }

    #[test]
    fn id_validators_are_total(s in any_text()) {
        for p in Provider::ALL {
            if super::validate_payment_id(p, &s).is_ok() {
                prop_assert!(safe_id(&s), "{p} accepted {s:?}");
            }
        }
        let key = bounded_key(s);
        prop_assert!(key.len() <= 200 || key.starts_with("sha256:"));
    }
}
