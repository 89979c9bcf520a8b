//! Random identifiers and timestamps in the shapes each provider uses.
//!
//! Randomness comes from UUID v4 (already a dependency) rather than a new RNG crate.

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_bytes() -> impl Iterator<Item = u8> {
    std::iter::repeat_with(|| Uuid::new_v4().into_bytes()).flatten()
}

/// `n` random ASCII letters and digits (Mono's id suffixes, opaque tokens).
pub fn alnum(n: usize) -> String {
    random_bytes()
        .take(n)
        .map(|b| char::from(ALNUM[usize::from(b) % ALNUM.len()]))
        .collect()
}

/// `n` random lower-case hex digits (Tpaga charge tokens, request ids).
pub fn hex(n: usize) -> String {
    let bytes: Vec<u8> = random_bytes().take(n.div_ceil(2)).collect();
    let mut s = hex::encode(bytes);
    s.truncate(n);
    s
}

/// A random numeric string of `n` digits without a leading zero (PSE's CUS / traceability codes).
pub fn digits(n: usize) -> String {
    random_bytes()
        .take(n)
        .enumerate()
        .map(|(i, b)| {
            let d = if i == 0 { 1 + b % 9 } else { b % 10 };
            char::from(b'0' + d)
        })
        .collect()
}

/// A fresh UUID v4 as Belvo writes them (lower case, hyphenated).
pub fn uuid() -> String {
    Uuid::new_v4().to_string()
}

/// `2022-01-01T01:00:00.123456Z`: RFC 3339 in UTC with microseconds.
pub fn micros_z(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `2020-04-23T21:30:20.336854+00:00`: the offset form Belvo's transaction seed shows.
pub fn micros_offset(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let a = alnum(22);
        assert_eq!(a.len(), 22);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, alnum(22));
        let h = hex(32);
        assert_eq!(h.len(), 32);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(hex(5).len(), 5);
        let d = digits(10);
        assert_eq!(d.len(), 10);
        assert!(d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'));
        let t = DateTime::parse_from_rfc3339("2020-04-23T21:30:20.336854Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(micros_z(t), "2020-04-23T21:30:20.336854Z");
        assert_eq!(micros_offset(t), "2020-04-23T21:30:20.336854+00:00");
    }
}
