//! The whole webhook path as the HTTP layer runs it, for every provider:
//! `verify_request` (headers, path token) → `verify_body` (raw bytes) →
//! `parse_webhook`, through `Connectors::from_config`.
//!
//! Input: [`Framed`] (selector = provider). Inputs with the credential flag carry the configured credential (the harness signs the body
//! for Mono, sets Belvo's `Authorization`, uses Tpaga's path token) so the
//! parsers behind authentication are reached; the others are forgeries,
//! and any of them that authenticates without presenting the credential is a
//! crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pse_fuzz::{
    BELVO_AUTH, Framed, FuzzHeaders, MONO_OLD_SECRET, MONO_SECRET, NOW, TOLERANCE_SECS,
    TPAGA_TOKEN, check_event, connectors,
};
use shared::Secret;
use shared::domain::Provider;
use shared::providers::mono::{SIGNATURE_HEADER, signature};

fuzz_target!(|data: &[u8]| {
    let d = Framed::decode(data);
    let provider = Provider::ALL[usize::from(d.selector) % Provider::ALL.len()];
    let Some(connector) = connectors().get(provider) else {
        panic!("{provider:?} is not enabled by the fuzzing configuration");
    };
    let mut headers = FuzzHeaders::from_pairs(&d.headers);
    let mut path_token = d.path_token;
    let signed_at = NOW + i64::from(d.skew);
    if d.credential {
        match provider {
            Provider::Mono => {
                let secret = if d.old_secret {
                    MONO_OLD_SECRET
                } else {
                    MONO_SECRET
                };
                headers.put_first(
                    SIGNATURE_HEADER,
                    signature::sign(&Secret::new(secret), signed_at, d.body),
                );
            }
            Provider::Belvo => headers.put_first("Authorization", BELVO_AUTH.to_owned()),
            Provider::Tpaga => path_token = Some(TPAGA_TOKEN),
        }
    }

    let request = connector.verify_request(&headers, path_token);
    if request.is_ok() {
        match provider {
            Provider::Belvo => assert_eq!(
                shared::providers::webhook::Headers::get(&headers, "Authorization"),
                Some(BELVO_AUTH),
                "Belvo accepted an Authorization value that is not configured"
            ),
            Provider::Tpaga => assert_eq!(
                path_token,
                Some(TPAGA_TOKEN),
                "Tpaga accepted a path token that is not configured"
            ),
            Provider::Mono => {}
        }
    }
    if request.is_err() {
        return;
    }

    let body_check = connector.verify_body(&headers, d.body, NOW);
    if provider == Provider::Mono {
        let header = shared::providers::webhook::Headers::get(&headers, SIGNATURE_HEADER);
        match &body_check {
            Ok(_) => assert_mono_signature_genuine(header.unwrap_or_default(), d.body),
            Err(e) => assert!(
                !(d.credential && signed_at.abs_diff(NOW) <= TOLERANCE_SECS),
                "a genuine, timely Mono signature was refused: {e:?}"
            ),
        }
    }
    if body_check.is_err() {
        return;
    }

    if let Ok(event) = connector.parse_webhook(d.body) {
        check_event(&event);
        if let Some(check) = &event.check {
            assert_eq!(check.provider, provider, "a check for another provider");
        }
    }
});

/// An accepted Mono header must carry, within the tolerance, the MAC of
/// `"<t>." + body` under one of the configured secrets.
fn assert_mono_signature_genuine(header: &str, body: &[u8]) {
    let parsed = match signature::parse_header(header) {
        Ok(parsed) => parsed,
        Err(e) => panic!("accepted a Mono header its own parser refuses: {e:?}"),
    };
    assert!(
        parsed.timestamp.abs_diff(NOW) <= TOLERANCE_SECS,
        "accepted a Mono signature outside the tolerance"
    );
    let genuine = [MONO_SECRET, MONO_OLD_SECRET].iter().any(|secret| {
        let expected = signature::sign(&Secret::new(*secret), parsed.timestamp, body);
        let expected = signature::parse_header(&expected).map(|h| h.macs);
        expected.is_ok_and(|macs| parsed.macs.iter().any(|m| macs.contains(m)))
    });
    assert!(
        genuine,
        "accepted a Mono signature no configured secret made"
    );
}
