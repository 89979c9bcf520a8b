//! `Mono-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`: HMAC-SHA256, keyed
//! with the secret string exactly as the dashboard shows it (`whsec_…`, not
//! base64-decoded), over `"<t>." + raw body bytes`, lower-case hex.
//!
//! Verification runs before anyone is authenticated, so its cost is what an
//! attacker can make us spend: one HMAC pass over the body per configured
//! secret, however many `v1` values the header offers. Each offered tag is
//! then compared with those few MACs in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::providers::webhook::AuthError;
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 tag.
pub type Tag = [u8; 32];

/// The parsed header: one timestamp and every well-formed `v1` tag offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub macs: Vec<Tag>,
}

/// Headers longer than this are refused unparsed. A real one is ~80 bytes
/// (one `v1`); [`MAX_V1_VALUES`] tags of 68 bytes each plus `t=` fit (~560).
pub const MAX_HEADER_LEN: usize = 768;

/// More `v1` values than this are refused: Mono sends one per active secret,
/// and each costs a comparison per configured secret.
pub const MAX_V1_VALUES: usize = 8;

pub fn parse_header(value: &str) -> Result<SignatureHeader, AuthError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(AuthError::MalformedSignature);
    }
    let mut timestamp = None;
    let mut macs = Vec::new();
    let mut v1_seen = 0usize;
    for part in value.split(',') {
        let Some((key, val)) = part.trim().split_once('=') else {
            return Err(AuthError::MalformedSignature);
        };
        match key.trim() {
            "t" => {
                let val = val.trim();
                if timestamp.is_some()
                    || val.is_empty()
                    || val.len() > 12
                    || !val.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(AuthError::MalformedSignature);
                }
                timestamp = Some(
                    val.parse::<i64>()
                        .map_err(|_| AuthError::MalformedSignature)?,
                );
            }
            // An undecodable v1 cannot match; skip it rather than reject the
            // header, so one bad value during a rotation does not hide a good
            // one. It still counts towards the cap.
            "v1" => {
                v1_seen += 1;
                if v1_seen > MAX_V1_VALUES {
                    return Err(AuthError::MalformedSignature);
                }
                let mut tag = [0u8; 32];
                if hex::decode_to_slice(val.trim(), &mut tag).is_ok() {
                    macs.push(tag);
                }
            }
            // Other schemes (v0, future ones) are ignored, as Stripe-style headers intend.
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !macs.is_empty() => Ok(SignatureHeader { timestamp, macs }),
        _ => Err(AuthError::MalformedSignature),
    }
}

/// The one HMAC pass over the body for `secret`.
pub fn tag_for(secret: &Secret, timestamp: i64, body: &[u8]) -> Option<Tag> {
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().into())
}

/// The header value Mono would send for `body` at `timestamp` (tests and the sandbox sign with it).
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let hex = tag_for(secret, timestamp, body)
        .map(hex::encode)
        .unwrap_or_default();
    format!("t={timestamp},v1={hex}")
}

/// Verifies `header` for `body` against any of `secrets` at time `now`.
/// Returns the index of the secret that matched (to watch a rotation finish).
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[Secret],
    now: i64,
    tolerance_secs: u64,
) -> Result<usize, AuthError> {
    let parsed = parse_header(header)?;
    if parsed.timestamp.abs_diff(now) > tolerance_secs {
        return Err(AuthError::StaleTimestamp);
    }
    matching_secret(&parsed, secrets, |secret| {
        tag_for(secret, parsed.timestamp, body)
    })
    .ok_or(AuthError::Mismatch)
}

/// Computes each secret's tag once with `tag` (the body pass) and compares it
/// with every offered tag in constant time, without stopping at the first
/// match so timing does not reveal which secret or which `v1` matched. Taking
/// the MAC as a function makes the number of body passes testable.
fn matching_secret(
    parsed: &SignatureHeader,
    secrets: &[Secret],
    mut tag: impl FnMut(&Secret) -> Option<Tag>,
) -> Option<usize> {
    let mut matched = None;
    for (index, secret) in secrets.iter().enumerate() {
        let Some(expected) = tag(secret) else {
            continue;
        };
        let mut hit = subtle::Choice::from(0);
        for offered in &parsed.macs {
            hit |= expected.ct_eq(offered);
        }
        if bool::from(hit) && matched.is_none() {
            matched = Some(index);
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &[u8] =
        br#"{"event":{"type":"collection_intent_credited","data":{"id":"cint_1"}}}"#;

    #[test]
    fn known_vector() {
        // Computed independently: python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'whsec_test', b'1700000000.{}', hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(&Secret::new("whsec_test"), 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn verifies_with_any_secret_and_any_v1() {
        let old = Secret::new("whsec_old");
        let new = Secret::new("whsec_new");
        let t = 1_700_000_000;
        let signed_old = sign(&old, t, BODY);
        assert_eq!(
            verify(&signed_old, BODY, &[new.clone(), old.clone()], t, 300),
            Ok(1)
        );
        // Several v1 values: a bogus one first, then the real one.
        let both = format!(
            "t={t},v1={},{}",
            "00".repeat(32),
            sign(&new, t, BODY).split(',').nth(1).unwrap()
        );
        assert_eq!(
            verify(&both, BODY, std::slice::from_ref(&new), t, 300),
            Ok(0)
        );
    }

    #[test]
    fn rejects_tampering_staleness_and_garbage() {
        let s = Secret::new("whsec_x");
        let t = 1_700_000_000;
        let h = sign(&s, t, BODY);
        let keys = std::slice::from_ref(&s);
        assert_eq!(verify(&h, b"{}", keys, t, 300), Err(AuthError::Mismatch));
        assert_eq!(
            verify(&h, BODY, keys, t + 301, 300),
            Err(AuthError::StaleTimestamp)
        );
        assert_eq!(
            verify(&h, BODY, keys, t - 301, 300),
            Err(AuthError::StaleTimestamp)
        );
        assert_eq!(verify(&h, BODY, keys, t + 300, 300), Ok(0));
        assert_eq!(
            verify(&h, BODY, &[Secret::new("whsec_y")], t, 300),
            Err(AuthError::Mismatch)
        );
        for bad in [
            "",
            "t=1",
            "v1=ab",
            "t=x,v1=00",
            "t=1,t=2,v1=00",
            "garbage",
            "t=1,v1=zz",
        ] {
            assert!(verify(bad, BODY, keys, t, 300).is_err(), "{bad}");
        }
        // A re-serialised body (spaces) is not the signed body.
        let reformatted =
            br#"{"event": {"type": "collection_intent_credited", "data": {"id": "cint_1"}}}"#;
        assert_eq!(
            verify(&h, reformatted, keys, t, 300),
            Err(AuthError::Mismatch)
        );
    }

    /// A forged header offering many tags must not cost a body pass per tag:
    /// the MAC is computed once per secret, whatever the header offers.
    #[test]
    fn one_body_pass_per_secret_whatever_the_header_offers() {
        let secrets = [
            Secret::new("whsec_current_secret"),
            Secret::new("whsec_previous_secret"),
        ];
        let t = 1_700_000_000;
        let forged = SignatureHeader {
            timestamp: t,
            macs: vec![[7u8; 32]; MAX_V1_VALUES],
        };
        let mut passes = 0;
        let matched = matching_secret(&forged, &secrets, |s| {
            passes += 1;
            tag_for(s, t, BODY)
        });
        assert_eq!(matched, None);
        assert_eq!(passes, secrets.len());

        // The genuine tag last among decoys still matches, with the same cost.
        let mut offered = vec![[7u8; 32]; MAX_V1_VALUES - 1];
        offered.extend(tag_for(&secrets[1], t, BODY));
        let genuine = SignatureHeader {
            timestamp: t,
            macs: offered,
        };
        let mut passes = 0;
        let matched = matching_secret(&genuine, &secrets, |s| {
            passes += 1;
            tag_for(s, t, BODY)
        });
        assert_eq!((matched, passes), (Some(1), secrets.len()));
    }

    #[test]
    fn too_many_v1_values_or_too_long_a_header_is_malformed() {
        let s = Secret::new("whsec_x");
        let t = 1_700_000_000;
        let good = sign(&s, t, BODY);
        let tag = good.split_once(",v1=").unwrap().1;
        let decoys = |n: usize| {
            std::iter::repeat_n(format!(",v1={}", "00".repeat(32)), n).collect::<String>()
        };
        // The cap holds exactly: seven decoys and the real tag verify...
        let at_cap = format!("t={t}{},v1={tag}", decoys(MAX_V1_VALUES - 1));
        assert!(at_cap.len() <= MAX_HEADER_LEN);
        assert_eq!(
            verify(&at_cap, BODY, std::slice::from_ref(&s), t, 300),
            Ok(0)
        );
        // ...one more v1 (even undecodable) is refused before any MAC is computed.
        let over = format!("t={t},v1=zz{}", decoys(MAX_V1_VALUES));
        assert_eq!(parse_header(&over), Err(AuthError::MalformedSignature));
        let over = format!("t={t}{},v1={tag}", decoys(MAX_V1_VALUES));
        assert_eq!(
            verify(&over, BODY, std::slice::from_ref(&s), t, 300),
            Err(AuthError::MalformedSignature)
        );
        let long = format!("{good},v0={}", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(parse_header(&long), Err(AuthError::MalformedSignature));
    }

    proptest! {
        #[test]
        fn header_parser_never_panics(s in "\\PC*") {
            let _ = parse_header(&s);
        }

        #[test]
        fn header_parser_never_panics_on_header_like_input(s in "(t|v1|v0|x)=[0-9a-f,=]{0,80}(,(t|v1)=[0-9a-fA-F]{0,70}){0,4}") {
            let _ = verify(&s, b"{}", &[Secret::new("k")], 0, 300);
        }

        #[test]
        fn a_valid_signature_verifies_for_any_body(body in proptest::collection::vec(any::<u8>(), 0..512), t in 0i64..4_000_000_000) {
            let s = Secret::new("whsec_p");
            let h = sign(&s, t, &body);
            prop_assert_eq!(verify(&h, &body, std::slice::from_ref(&s), t, 0), Ok(0));
        }
    }
}
