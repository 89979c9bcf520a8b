//! Mono's webhook path, function by function: the `Mono-Signature` header
//! parser, the verifier (any secret, any `v1`, the timestamp tolerance) and
//! the envelope parser, with arbitrary header, secrets and body.
//! Input: [`Framed`]; `@secret:` lines are the secrets (up to four); with the
//! credential flag the header is replaced by a genuine signature by the first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pse_fuzz::{Framed, FuzzHeaders, NOW, TOLERANCE_SECS, check_event};
use shared::Secret;
use shared::providers::mono::SIGNATURE_HEADER;
use shared::providers::mono::{signature, webhook};
use shared::providers::webhook::Headers;

fuzz_target!(|data: &[u8]| {
    let i = Framed::decode(data);
    let secrets: Vec<Secret> = i.secrets.iter().take(4).map(|s| Secret::new(*s)).collect();
    let signed_at = NOW + i64::from(i.skew);
    let sign = i.credential;
    let given = FuzzHeaders::from_pairs(&i.headers);
    let header = match (sign, secrets.first()) {
        (true, Some(first)) => signature::sign(first, signed_at, i.body),
        _ => given.get(SIGNATURE_HEADER).unwrap_or_default().to_owned(),
    };

    let parsed = signature::parse_header(&header);
    match signature::verify(&header, i.body, &secrets, NOW, TOLERANCE_SECS) {
        Ok(index) => {
            assert!(
                index < secrets.len(),
                "matched secret {index} of {}",
                secrets.len()
            );
            let Ok(parsed) = parsed else {
                panic!("verified a header the parser refuses");
            };
            assert!(parsed.timestamp.abs_diff(NOW) <= TOLERANCE_SECS);
            let expected = signature::sign(&secrets[index], parsed.timestamp, i.body);
            let expected = signature::parse_header(&expected).map(|h| h.macs);
            assert!(
                expected.is_ok_and(|macs| parsed.macs.iter().any(|m| macs.contains(m))),
                "verified a MAC the reported secret did not make"
            );
        }
        Err(e) => assert!(
            !(sign && !secrets.is_empty() && signed_at.abs_diff(NOW) <= TOLERANCE_SECS),
            "a genuine, timely signature was refused: {e:?}"
        ),
    }

    if let Ok(event) = webhook::parse(i.body) {
        check_event(&event);
    }
});
