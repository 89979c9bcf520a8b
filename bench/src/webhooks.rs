//! Signed Mono webhooks, generated before any clock starts so signing never
//! loads the generator while it measures.

use serde_json::json;
use shared::Secret;
use shared::providers::mono::signature;

/// The signing secret webhook-api is started with.
pub const MONO_SECRET: &str = "whsec_pse_bench_0001";
/// The sandbox's Mono API key (`SandboxConfig::for_tests`).
pub const MONO_API_KEY: &str = "sandbox-mono-key";
/// Target size of a webhook body: a real Mono delivery is about 1 KB.
pub const BODY_BYTES: usize = 1024;

/// A Mono collection-intent id (`cint_` + 22 characters) unique per `run` and `n`.
pub fn intent_id(run: &str, n: u64) -> String {
    let run: String = run
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(6)
        .collect();
    format!("cint_{run:A>6}{n:016}")
}

/// A `collection_intent_credited` delivery as Mono sends it (the sandbox's
/// shape: the whole intent under `event.data`), padded to about 1 KB with the
/// intent's `note`. `seq` makes `updated_at`, hence the dedup key, unique.
pub fn credited_body(intent_id: &str, amount_minor: i64, seq: u64) -> Vec<u8> {
    mono_body(CREDITED, intent_id, amount_minor, seq)
}

/// The event type the phases send by default: acted on (inbox + outbox + relay).
pub const CREDITED: &str = "collection_intent_credited";

/// [`credited_body`] with another event type (e.g. `collection_link_updated`,
/// which webhook-api stores without an outbox row: the inbox-only cost).
pub fn mono_body(event_type: &str, intent_id: &str, amount_minor: i64, seq: u64) -> Vec<u8> {
    let updated_at = format!(
        "2026-11-20T15:{:02}:{:02}.{:06}Z",
        (seq / 60) % 60,
        seq % 60,
        seq % 1_000_000
    );
    let build = |note: &str| {
        json!({
            "event": {
                "type": event_type,
                "data": {
                    "account_id": "acc_5tgliBmzjZ6mpQPRbQjfKj",
                    "amount": {"amount": amount_minor, "currency": "COP"},
                    "bank_code": "1007",
                    "id": intent_id,
                    "inserted_at": "2026-11-20T15:00:00.000000Z",
                    "ip": "181.49.12.34",
                    "note": note,
                    "payer": {
                        "document_number": "1099711789",
                        "document_type": "CC",
                        "email": "payer@example.com",
                        "name": "Ana María Rodríguez",
                        "person_type": "natural",
                        "phone_number": "+573001234567"
                    },
                    "payment": {
                        "provider": "pse",
                        "transaction_id": format!("{:010}", seq % 10_000_000_000),
                        "url": "https://registro.desarrollo.pse.com.co/PSENF/index.html?enc=tnPcJHMKlSnmRpHM8fAbu4sTRkRsSmoeOd3IqVJf5gRvnp1Q"
                    },
                    "realtime_transfer": false,
                    "redirect_url": "https://merchant.example/checkout/return",
                    "reference": format!("ORD-{seq}"),
                    "state": "account_credited",
                    "updated_at": updated_at
                }
            },
            "timestamp": updated_at
        })
        .to_string()
        .into_bytes()
    };
    let bare = build("");
    let pad = BODY_BYTES.saturating_sub(bare.len());
    build(
        &"Factura electrónica de venta "
            .chars()
            .cycle()
            .take(pad)
            .collect::<String>(),
    )
}

/// A complete `POST /webhooks/mono` request, signed at `timestamp`.
pub fn signed_request(host: &str, secret: &Secret, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let sig = signature::sign(secret, timestamp, body);
    crate::http::post(host, "/webhooks/mono", &[("Mono-Signature", &sig)], body)
}

/// `count` unique signed credited webhooks for fresh intent ids (`run`, from `first`).
pub fn unique_requests(host: &str, run: &str, first: u64, count: usize) -> Vec<Vec<u8>> {
    unique_requests_of(CREDITED, host, run, first, count)
}

/// [`unique_requests`] of any Mono event type.
pub fn unique_requests_of(
    event_type: &str,
    host: &str,
    run: &str,
    first: u64,
    count: usize,
) -> Vec<Vec<u8>> {
    let secret = Secret::new(MONO_SECRET);
    let now = chrono::Utc::now().timestamp();
    (0..count as u64)
        .map(|k| {
            let n = first + k;
            let body = mono_body(event_type, &intent_id(run, n), 10_000_000, n);
            signed_request(host, &secret, now, &body)
        })
        .collect()
}

/// A short random tag for this run's ids (from the clock; uniqueness only
/// matters within one database, which each phase creates anew).
pub fn run_tag() -> String {
    let nanos = chrono::Utc::now().timestamp_subsec_nanos() as u64 ^ std::process::id() as u64;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = nanos
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..6)
        .map(|_| {
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51afd7ed558ccd);
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::providers::mono::webhook;

    #[test]
    fn bodies_are_about_1kb_valid_unique_and_signed() {
        let a = credited_body(&intent_id("run1", 1), 10_000_000, 1);
        let b = credited_body(&intent_id("run1", 2), 10_000_000, 2);
        assert!(
            (BODY_BYTES..BODY_BYTES + 40).contains(&a.len()),
            "{}",
            a.len()
        );
        let ea = webhook::parse(&a).unwrap();
        let eb = webhook::parse(&b).unwrap();
        assert_ne!(ea.dedup_key, eb.dedup_key);
        assert_eq!(ea.event_type, "collection_intent_credited");
        assert!(
            ea.check.is_some(),
            "credited events are queued for the reconciler"
        );
        assert_eq!(ea.object_id.as_deref(), Some("cint_AArun10000000000000001"));
        assert_eq!(intent_id("run1", 1).len(), "cint_".len() + 22);

        let secret = Secret::new(MONO_SECRET);
        let req = signed_request("h", &secret, 1_700_000_000, &a);
        let text = String::from_utf8(req).unwrap();
        let header = text
            .lines()
            .find_map(|l| l.strip_prefix("Mono-Signature: "))
            .unwrap();
        assert_eq!(
            signature::verify(header, &a, &[secret], 1_700_000_000, 300),
            Ok(0)
        );
        assert!(text.ends_with(std::str::from_utf8(&a).unwrap()));
    }

    #[test]
    fn unique_requests_differ_and_tags_are_ids() {
        let r = unique_requests("h", "t", 0, 3);
        let ignored = unique_requests_of("collection_link_updated", "h", "t", 0, 1);
        let body = &ignored[0][ignored[0].len() - BODY_BYTES..];
        assert!(String::from_utf8_lossy(body).contains("collection_link_updated"));
        assert_eq!(r.len(), 3);
        assert_ne!(r[0], r[1]);
        let tag = run_tag();
        assert_eq!(tag.len(), 6);
        assert!(tag.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
