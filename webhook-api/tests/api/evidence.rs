//! `GET /v1/orders/{reference}/evidence`: every record behind an order, sealed.

use serde_json::{Value, json};
use shared::db::exceptions::{self, NewException};
use shared::domain::{ExceptionKind, Provider};
use shared::testing::{ADMIN_KEY, FINANCE_KEY, MERCHANT_KEY};

use crate::helpers::*;

const REFERENCE: &str = "ORD-EVIDENCE-1";

fn hostile_mono_body(intent: &str) -> Vec<u8> {
    json!({"event": {"type": "collection_intent_credited", "data": {"id": intent,
            "state": "account_credited", "updated_at": "2026-11-21T10:00:00Z",
            "amount": {"amount": 10_000_000, "currency": "COP"},
            "description": "</pre><script>alert('x')</script>"}},
           "timestamp": "2026-11-21T10:00:01.000000Z"})
    .to_string()
    .into_bytes()
}

/// An order with a webhook signed with the second Mono secret and a resolved exception.
async fn order_with_history(app: &TestApp) -> (String, i64) {
    let order = order_body(REFERENCE);
    let intent = order["provider_payment_id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_order(&order).await.status(), 201);
    let t = now();
    let r = app
        .post_mono(hostile_mono_body(&intent), MONO_OLD_SECRET, t)
        .await;
    assert_eq!(r.status(), 200);
    let mut conn = app.db.connect();
    let order_id = shared::db::evidence::for_reference(&mut conn, REFERENCE)
        .unwrap()
        .unwrap()
        .order
        .id;
    let id = exceptions::open(
        &mut conn,
        &NewException {
            order_id: Some(order_id),
            provider: Provider::Mono,
            provider_payment_id: Some(intent.clone()),
            kind: ExceptionKind::AmountMismatch,
            detail: "provider said 9,000,000".to_owned(),
            dedup_key: format!("amount_mismatch:{intent}"),
            expected_amount_minor: Some(10_000_000),
            provider_amount_minor: Some(9_000_000),
            currency: Some("COP".to_owned()),
        },
    )
    .unwrap()
    .unwrap();
    exceptions::resolve(&mut conn, id, "finance:ana", "refunded the difference").unwrap();
    (intent, t)
}

/// The whole bundle in the same canonical form (serde_json's map is sorted here).
fn canonical_with_seal(bundle: &Value) -> String {
    serde_json::to_string(bundle).unwrap()
}

async fn evidence(app: &TestApp, key: &str, query: &str) -> reqwest::Response {
    app.get_as(key, &format!("/v1/orders/{REFERENCE}/evidence{query}"))
        .await
}

#[tokio::test]
async fn the_bundle_holds_every_record_in_time_order_and_its_digest_checks() {
    let app = spawn_with_providers(&[]).await;
    let (intent, t) = order_with_history(&app).await;

    let r = evidence(&app, FINANCE_KEY, "").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let text = r.text().await.unwrap();
    let bundle: Value = serde_json::from_str(&text).unwrap();

    // The digest, recomputed here from the documented rule: SHA-256 of the
    // canonical bundle without `digest`.
    let mut without = bundle.clone();
    let seal = without.as_object_mut().unwrap().remove("digest").unwrap();
    assert_eq!(seal["algorithm"], "sha256");
    let canonical = serde_json::to_string(&without).unwrap(); // BTreeMap: sorted, compact
    use sha2::Digest as _;
    let expected = hex::encode(sha2::Sha256::digest(canonical.as_bytes()));
    assert_eq!(seal["value"], expected.as_str());
    assert!(shared::evidence::verify(&text));
    // The served text is the canonical form itself.
    assert_eq!(text, canonical_with_seal(&bundle));

    assert_eq!(bundle["order"]["reference"], REFERENCE);
    assert_eq!(bundle["order"]["amount"], 10_000_000);
    let timeline = bundle["timeline"].as_array().unwrap();
    let ats: Vec<&str> = timeline.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort();
    assert_eq!(ats, sorted, "oldest first");
    let webhook = timeline.iter().find(|e| e["kind"] == "webhook").unwrap();
    assert_eq!(webhook["auth_result"], "mono_signature:secret_2");
    assert_eq!(webhook["signature_timestamp"], t);
    assert_eq!(webhook["body"]["encoding"], "utf8");
    let raw: Value = serde_json::from_str(webhook["body"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(raw["event"]["data"]["id"], intent.as_str());
    let exception = timeline.iter().find(|e| e["kind"] == "exception").unwrap();
    assert_eq!(exception["exception"], "amount_mismatch");
    assert_eq!(exception["resolved_by"], "finance:ana");
    assert!(exception["resolved_at"].is_string());
    // Secrets never appear: neither webhook secret nor any credential header.
    assert!(
        bundle["order"].get("payer").is_none(),
        "the API never returns the payer"
    );
    for secret in [
        MONO_SECRET,
        MONO_OLD_SECRET,
        "mono-api-key",
        "authorization",
        "1033711400",
    ] {
        assert!(
            !text.to_lowercase().contains(&secret.to_lowercase()),
            "{secret}"
        );
    }

    // Admin gets the same bytes; a one-byte change breaks the seal.
    let again = evidence(&app, ADMIN_KEY, "?format=json")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(again, text);
    let tampered = text.replacen("10000000", "10000001", 1);
    assert_ne!(tampered, text);
    assert!(!shared::evidence::verify(&tampered));
}

#[tokio::test]
async fn a_redacted_body_shows_as_redacted_not_missing() {
    let app = spawn_with_providers(&[]).await;
    order_with_history(&app).await;
    {
        use diesel::RunQueryDsl as _;
        let mut conn = app.db.connect();
        diesel::sql_query(
            "UPDATE webhook_events SET body = '\\x'::bytea, headers = '{}'::jsonb, redacted_at = now()",
        )
        .execute(&mut conn)
        .unwrap();
    }
    let bundle: Value = evidence(&app, FINANCE_KEY, "").await.json().await.unwrap();
    let webhook = bundle["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "webhook")
        .unwrap()
        .clone();
    assert_eq!(webhook["body"]["encoding"], "redacted");
    assert!(webhook["body"]["redacted_at"].is_string());
    assert!(webhook["body"].get("content").is_none());
}

#[tokio::test]
async fn the_html_timeline_escapes_hostile_bodies_and_is_self_contained() {
    let app = spawn_with_providers(&[]).await;
    order_with_history(&app).await;
    let r = evidence(&app, FINANCE_KEY, "?format=html").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("<ol class=\"timeline\">"));
    assert!(html.contains("<pre>"));
    assert!(html.contains("mono_signature:secret_2"));
    assert!(html.contains("finance:ana"));
    assert!(
        !html.contains("<script"),
        "hostile markup must come out escaped"
    );
    assert!(!html.contains("</pre><script"));
    assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
}

#[tokio::test]
async fn unknown_orders_are_404_and_merchants_are_403() {
    let app = spawn_with_providers(&[]).await;
    order_with_history(&app).await;
    let r = evidence(&app, MERCHANT_KEY, "").await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let r = app
        .get_as(FINANCE_KEY, "/v1/orders/ORD-NOPE/evidence")
        .await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let r = evidence(&app, FINANCE_KEY, "?format=pdf").await;
    assert_eq!(r.status(), 422);
    let r = app
        .client
        .get(app.url(&format!("/v1/orders/{REFERENCE}/evidence")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
