//! What the fuzz targets share: a product configuration with every provider
//! enabled, headers from fuzz input, and the invariants every accepted webhook
//! must satisfy whatever the bytes were.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use shared::config::Config;
use shared::providers::Connectors;
use shared::providers::webhook::{Headers, InboundEvent, safe_id};

/// "Now" for signature checks: fixed, so a crash reproduces whenever it is replayed.
pub const NOW: i64 = 1_800_000_000;
pub const TOLERANCE_SECS: u64 = 300;

// Credentials of the fuzzing configuration. Long enough for any minimum-length
// rule; no commas (the variables are comma-separated lists).
pub const MONO_SECRET: &str = "whsec_fuzzing_secret_0123456789abcdef";
pub const MONO_OLD_SECRET: &str = "whsec_fuzzing_rotated_out_0123456789ab";
pub const BELVO_AUTH: &str = "Bearer fuzzing-belvo-webhook-0123456789abcdef";
pub const TPAGA_TOKEN: &str = "fuzzing-tpaga-path-token-0123456789abcdef";

/// The configuration as the binaries read it (`Config::from_source`), with
/// every provider enabled and the given API base URL for all three.
pub fn config(api_url: &str) -> Config {
    let vars = [
        ("API_KEYS", "admin:fuzzing-admin-key-0123456789"),
        ("MONO_API_URL", api_url),
        ("MONO_API_KEY", "fuzzing-mono-api-key-0123456789"),
        (
            "MONO_WEBHOOK_SECRETS",
            &format!("{MONO_SECRET},{MONO_OLD_SECRET}"),
        ),
        ("MONO_SIGNATURE_TOLERANCE_SECS", "300"),
        ("BELVO_API_URL", api_url),
        ("BELVO_SECRET_ID", "fuzzing-belvo-id-0123456789"),
        ("BELVO_SECRET_PASSWORD", "fuzzing-belvo-password-0123456789"),
        ("BELVO_WEBHOOK_AUTH", BELVO_AUTH),
        ("TPAGA_API_URL", api_url),
        ("TPAGA_CLIENT_ID", "fuzzing-tpaga-client-0123456789"),
        ("TPAGA_CLIENT_SECRET", "fuzzing-tpaga-secret-0123456789"),
        ("TPAGA_WEBHOOK_TOKEN", TPAGA_TOKEN),
    ];
    let source: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    match Config::from_source(&source) {
        Ok(config) => config,
        Err(e) => panic!("the fuzzing configuration is refused: {e}"),
    }
}

pub fn client() -> reqwest::Client {
    match shared::http::client(Duration::from_secs(1), Duration::from_secs(2)) {
        Ok(client) => client,
        Err(e) => panic!("cannot build the HTTP client: {e}"),
    }
}

/// The connectors the webhook endpoints would use (no network is touched by
/// the webhook steps).
pub fn connectors() -> &'static Connectors {
    static CONNECTORS: OnceLock<Connectors> = OnceLock::new();
    CONNECTORS
        .get_or_init(|| Connectors::from_config(&config("https://provider.invalid"), client()))
}

/// A webhook delivery decoded from fuzz input, in a format simple enough to
/// write seeds by hand (`fuzz/corpus/<target>/`):
///
/// ```text
/// byte 0       selector (which provider, for the targets that choose)
/// byte 1       flags: bit 0 = present the configured credential, bit 1 = the rotated-out secret
/// bytes 2..4   signature time relative to NOW, seconds, i16 little-endian
/// lines        `Name: value` headers up to an empty line; `@path: x` is the
///              path token, `@secret: x` adds a secret (targets that take secrets)
/// the rest     the body, raw bytes
/// ```
/// Lines that are not UTF-8 or have no `:` are skipped, as a server would
/// skip a header it cannot read.
#[derive(Debug, Default)]
pub struct Framed<'a> {
    pub selector: u8,
    pub credential: bool,
    pub old_secret: bool,
    pub skew: i16,
    pub headers: Vec<(&'a str, &'a str)>,
    pub path_token: Option<&'a str>,
    pub secrets: Vec<&'a str>,
    pub body: &'a [u8],
}

impl<'a> Framed<'a> {
    pub fn decode(data: &'a [u8]) -> Self {
        let mut control = [0u8; 4];
        let n = data.len().min(4);
        control[..n].copy_from_slice(&data[..n]);
        let mut framed = Framed {
            selector: control[0],
            credential: control[1] & 1 != 0,
            old_secret: control[1] & 2 != 0,
            skew: i16::from_le_bytes([control[2], control[3]]),
            ..Framed::default()
        };
        let mut rest = &data[n..];
        loop {
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                // No blank line: everything left is the body.
                break;
            };
            let line = &rest[..end];
            rest = &rest[end + 1..];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                break;
            }
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.strip_prefix(' ').unwrap_or(value);
            match name {
                "@path" => framed.path_token = Some(value),
                "@secret" => framed.secrets.push(value),
                _ => framed.headers.push((name, value)),
            }
        }
        framed.body = rest;
        framed
    }
}

/// Request headers from fuzz input; lookups are case-insensitive like HTTP's
/// and the first value wins, as `HeaderMap::get` does.
#[derive(Debug, Default)]
pub struct FuzzHeaders(pub Vec<(String, String)>);

impl FuzzHeaders {
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// Puts `name: value` first, so it is the one a lookup finds.
    pub fn put_first(&mut self, name: &str, value: String) {
        self.0.insert(0, (name.to_owned(), value));
    }
}

impl Headers for FuzzHeaders {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What must hold for any event a parser accepted, whatever the body was:
/// the row fits the inbox's constraints, the routing key is a plain AMQP
/// word, and an id the reconciler will put into a provider URL is safe there.
pub fn check_event(event: &InboundEvent) {
    // PostgreSQL `text` cannot hold NUL: such a key would fail the insert (a
    // 503 the provider retries for hours) instead of a 400.
    for (column, value) in [
        ("dedup_key", Some(event.dedup_key.as_str())),
        ("event_type", Some(event.event_type.as_str())),
        ("object_id", event.object_id.as_deref()),
    ] {
        assert!(
            !value.unwrap_or_default().contains('\0'),
            "webhook_events.{column} would contain NUL"
        );
    }
    let key_chars = event.dedup_key.chars().count();
    assert!(
        (1..=512).contains(&key_chars),
        "dedup key of {key_chars} characters breaks webhook_events' CHECK (1..=512)"
    );
    assert!(
        !event.routing_suffix.is_empty()
            && event.routing_suffix.len() <= 200
            && event.routing_suffix.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            }),
        "routing suffix {:?} is not a lowercase routing word",
        event.routing_suffix
    );
    if let Some(id) = &event.object_id {
        assert!(safe_id(id), "object id {id:?} is not URL-safe");
    }
    if let Some(check) = &event.check {
        assert!(
            safe_id(&check.object_id),
            "check target {:?} would be put into a provider URL",
            check.object_id
        );
    }
}
