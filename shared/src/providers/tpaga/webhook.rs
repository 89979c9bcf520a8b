//! Tpaga webhooks: `{"charge_token": "pse-…"}`, sent when a charge reaches a
//! final status (`authorized`, `charge-rejected`, `settled`).
//!
//! Documentation gaps, handled on the safe side:
//! - Tpaga documents no signature or authentication. The body carries nothing
//!   to trust; it only says "look again", and the re-query is the security.
//! - The documented example body is not JSON (`{ {'charge_token': '…'} }`).
//!   Only a JSON object is accepted; if Tpaga really sent that, the sweeper's
//!   polling would still find the charge's status.

use serde_json::Value;

use crate::domain::Provider;
use crate::providers::webhook::{CheckTarget, Dedup, InboundEvent, PayloadError};

pub fn parse(body: &[u8]) -> Result<InboundEvent, PayloadError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| PayloadError::new("the body is not valid JSON"))?;
    let token = v
        .get("charge_token")
        .and_then(Value::as_str)
        .ok_or_else(|| PayloadError::new("`charge_token` (a string) is required"))?;
    super::validate_payment_id(token)
        .map_err(|m| PayloadError::new(format!("`charge_token` {m}")))?;
    Ok(InboundEvent {
        event_type: "charge_token".to_owned(),
        routing_suffix: "charge".to_owned(),
        object_id: Some(token.to_owned()),
        // The same token legitimately arrives again (authorized, then settled):
        // every delivery is stored, and their checks coalesce in the flight gate.
        dedup_key: format!("charge:{token}"),
        dedup: Dedup::PerDelivery,
        check: Some(CheckTarget {
            provider: Provider::Tpaga,
            object_type: "charge".to_owned(),
            object_id: token.to_owned(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_token_is_a_check() {
        let e = parse(br#"{"charge_token": "pse-c542f18edadb441d8b4639edbfb566e5"}"#).unwrap();
        assert_eq!(e.dedup_key, "charge:pse-c542f18edadb441d8b4639edbfb566e5");
        assert_eq!(e.dedup, Dedup::PerDelivery);
        assert_eq!(e.check.unwrap().object_type, "charge");
    }

    #[test]
    fn refuses_what_is_not_a_token() {
        for bad in [
            &b"{ {'charge_token': 'pse-1'} }"[..],
            br#"{"charge_token": ""}"#,
            br#"{"charge_token": "../admin"}"#,
            br#"{"charge_token": 7}"#,
            br#"{}"#,
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
        fn never_panics_on_json_like(s in r#"\{"charge_token":"[ -~]{0,40}"\}"#) {
            let _ = parse(s.as_bytes());
        }
    }
}
