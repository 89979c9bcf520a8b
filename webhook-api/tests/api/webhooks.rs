use serde_json::{Value, json};

use crate::helpers::*;

const INTENT: &str = "cint_5dHsMj4uwhhujcVUTuw1OP";
const PI: &str = "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2";
const TX: &str = "d2e40773-19f6-48d1-93c3-3590ec0c74df";
const CHARGE: &str = "pse-c542f18edadb441d8b4639edbfb566e5";

fn belvo_body(webhook_id: &str, kind: &str, code: &str, object_id: &str) -> Vec<u8> {
    json!({"webhook_id": webhook_id, "webhook_type": kind, "webhook_code": code, "object_id": object_id, "data": {}})
        .to_string()
        .into_bytes()
}

async fn status_and_code(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].clone())
}

// ---------- valid deliveries: stored once, published once ----------

#[tokio::test]
async fn mono_valid_delivery_is_stored_and_published_once() {
    let app = spawn_with_providers(&[]).await;
    let body = mono_body(
        "collection_intent_credited",
        INTENT,
        "account_credited",
        "2026-11-21T10:00:00Z",
    );
    let r = app.post_mono(body, MONO_SECRET, now()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "queued");
    assert_eq!(app.inbox_counts(), (1, 1));
    let msgs = app.queued_messages(1).await;
    assert_eq!(msgs.len(), 1);
    let (id, payload) = &msgs[0];
    assert_eq!(
        id.as_deref(),
        Some(format!("inbox-{}", v["event_id"]).as_str())
    );
    assert_eq!(
        payload["target"],
        json!({"provider": "mono", "object_type": "collection_intent", "object_id": INTENT})
    );
    assert_eq!(
        payload["cause"],
        json!({"kind": "webhook", "inbox_id": v["event_id"]})
    );
}

#[tokio::test]
async fn belvo_valid_delivery_is_stored_and_published_once() {
    let app = spawn_with_providers(&[]).await;
    let r = app
        .post_belvo(
            belvo_body(
                "3b9a69f7-0f0a-455b-832d-49ad6fd4905c",
                "TRANSACTIONS",
                "OBJECT_CREATED",
                TX,
            ),
            BELVO_AUTH,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.inbox_counts(), (1, 1));
    let msgs = app.queued_messages(1).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1["target"]["object_type"], "transaction");
}

#[tokio::test]
async fn tpaga_valid_delivery_is_stored_and_published_once() {
    let app = spawn_with_providers(&[]).await;
    assert_eq!(app.post_tpaga(CHARGE).await.status(), 200);
    assert_eq!(app.inbox_counts(), (1, 1));
    let msgs = app.queued_messages(1).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].1["target"]["object_id"], CHARGE);
}

// ---------- authentication ----------

#[tokio::test]
async fn mono_bad_or_missing_signature_is_401_and_stores_nothing() {
    let app = spawn_with_providers(&[]).await;
    let body = mono_body(
        "collection_intent_credited",
        INTENT,
        "account_credited",
        "T1",
    );
    let r = app.post_mono(body.clone(), "whsec_wrong", now()).await;
    assert_eq!(status_and_code(r).await, (401, json!("unauthorized")));
    let r = app
        .post_raw(
            "/webhooks/mono",
            &[("content-type", "application/json")],
            body.clone(),
        )
        .await;
    assert_eq!(r.status(), 401);
    // Signed, then the body is altered (or re-serialised) on the way.
    let sig = mono_signature(MONO_SECRET, now(), &body);
    let altered = String::from_utf8(body)
        .unwrap()
        .replace("10000000", "99999999")
        .into_bytes();
    let r = app
        .post_raw(
            "/webhooks/mono",
            &[
                ("content-type", "application/json"),
                ("mono-signature", &sig),
            ],
            altered,
        )
        .await;
    assert_eq!(r.status(), 401);
    let r = app
        .post_raw(
            "/webhooks/mono",
            &[("mono-signature", "t=abc,v1=zz")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(app.inbox_counts(), (0, 0));
    assert_eq!(app.outbox_count(), 0);
}

#[tokio::test]
async fn mono_stale_or_future_timestamp_is_401() {
    let app = spawn_with_providers(&[]).await;
    let body = mono_body(
        "collection_intent_credited",
        INTENT,
        "account_credited",
        "T1",
    );
    assert_eq!(
        app.post_mono(body.clone(), MONO_SECRET, now() - 301)
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_mono(body.clone(), MONO_SECRET, now() + 301)
            .await
            .status(),
        401
    );
    assert_eq!(app.inbox_counts(), (0, 0));
    assert_eq!(
        app.post_mono(body, MONO_SECRET, now() - 250).await.status(),
        200
    );
}

#[tokio::test]
async fn a_second_secret_verifies_during_rotation() {
    let app = spawn_with_providers(&[]).await;
    let body = mono_body(
        "collection_intent_credited",
        INTENT,
        "account_credited",
        "T1",
    );
    assert_eq!(
        app.post_mono(body, MONO_OLD_SECRET, now()).await.status(),
        200
    );
    let body = belvo_body("w-rot", "TRANSACTIONS", "OBJECT_CREATED", TX);
    assert_eq!(app.post_belvo(body, BELVO_AUTH_2).await.status(), 200);
    assert_eq!(app.inbox_counts(), (2, 2));
}

#[tokio::test]
async fn belvo_wrong_or_missing_authorization_is_401() {
    let app = spawn_with_providers(&[]).await;
    let body = belvo_body("w1", "TRANSACTIONS", "OBJECT_CREATED", TX);
    assert_eq!(
        app.post_belvo(body.clone(), "Bearer nope").await.status(),
        401
    );
    let r = app
        .post_raw(
            "/webhooks/belvo",
            &[("content-type", "application/json")],
            body,
        )
        .await;
    let (status, code) = status_and_code(r).await;
    assert_eq!((status, code), (401, json!("unauthorized")));
    assert_eq!(app.inbox_counts(), (0, 0));
}

#[tokio::test]
async fn tpaga_is_accepted_only_at_its_token_path() {
    let app = spawn_with_providers(&[]).await;
    let body = json!({"charge_token": CHARGE}).to_string().into_bytes();
    let h = [("content-type", "application/json")];
    // The bare path is no route, even with Tpaga enabled.
    let r = app.post_raw("/webhooks/tpaga", &h, body.clone()).await;
    assert_eq!(status_and_code(r).await, (404, json!("no_route")));
    let r = app
        .post_raw("/webhooks/tpaga/wrong-token-guessed-0001", &h, body.clone())
        .await;
    assert_eq!(status_and_code(r).await, (401, json!("unauthorized")));
    assert_eq!(app.inbox_counts(), (0, 0));
    // Path tokens are only for Tpaga.
    assert_eq!(
        app.post_raw(&format!("/webhooks/mono/{TPAGA_TOKEN}"), &h, body)
            .await
            .status(),
        404
    );
    assert_eq!(app.outbox_count(), 0);
}

#[tokio::test]
async fn every_configured_tpaga_token_is_accepted_and_recorded_by_position() {
    let app = spawn_with_providers(&[(
        "TPAGA_WEBHOOK_TOKEN",
        "tpaga-new-token-000001,tpaga-path-secret-123",
    )])
    .await;
    let h = [("content-type", "application/json")];
    for (token, charge) in [
        ("tpaga-new-token-000001", "pse-1"),
        ("tpaga-path-secret-123", "pse-2"),
    ] {
        let body = json!({"charge_token": charge}).to_string().into_bytes();
        let r = app
            .post_raw(&format!("/webhooks/tpaga/{token}"), &h, body)
            .await;
        assert_eq!(r.status(), 200, "{token}");
    }
    let mut conn = app.db.connect();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        auth_result: String,
    }
    let rows: Vec<Row> = diesel::RunQueryDsl::load(
        diesel::sql_query("SELECT auth_result FROM webhook_events ORDER BY id"),
        &mut conn,
    )
    .unwrap();
    let verdicts: Vec<&str> = rows.iter().map(|r| r.auth_result.as_str()).collect();
    assert_eq!(
        verdicts,
        ["tpaga_path_token:token_1", "tpaga_path_token:token_2"]
    );
}

/// Fail closed: Tpaga's API client alone does not open its webhook endpoint.
#[tokio::test]
async fn tpaga_without_a_token_configured_answers_404_provider_disabled() {
    let app = spawn_with_providers(&[("TPAGA_WEBHOOK_TOKEN", "")]).await;
    let body = json!({"charge_token": CHARGE}).to_string().into_bytes();
    let h = [("content-type", "application/json")];
    for path in [
        "/webhooks/tpaga".to_owned(),
        "/webhooks/tpaga/guess".to_owned(),
        format!("/webhooks/tpaga/{TPAGA_TOKEN}"),
    ] {
        let r = app.post_raw(&path, &h, body.clone()).await;
        assert_eq!(
            status_and_code(r).await,
            (404, json!("provider_disabled")),
            "{path}"
        );
    }
    assert_eq!(app.inbox_counts(), (0, 0));
    assert_eq!(app.outbox_count(), 0);
}

#[tokio::test]
async fn a_disabled_provider_answers_404_provider_disabled() {
    let app = spawn_app_without_providers().await;
    for p in ["mono", "belvo", "tpaga"] {
        let r = app
            .post_raw(
                &format!("/webhooks/{p}"),
                &[("content-type", "application/json")],
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(
            status_and_code(r).await,
            (404, json!("provider_disabled")),
            "{p}"
        );
    }
    let r = app.post_raw("/webhooks/stripe", &[], b"{}".to_vec()).await;
    assert_eq!(r.status(), 404);
}

// ---------- duplicates ----------

#[tokio::test]
async fn ten_identical_deliveries_make_one_row_and_one_message() {
    let app = spawn_with_providers(&[]).await;
    let mono = mono_body(
        "collection_intent_credited",
        INTENT,
        "account_credited",
        "T1",
    );
    let belvo = belvo_body("w-dup", "PAYMENT_INTENTS", "STATUS_UPDATE", PI);
    for _ in 0..10 {
        // Mono retries re-sign with a fresh timestamp; the content is what identifies the event.
        let r = app.post_mono(mono.clone(), MONO_SECRET, now()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            app.post_belvo(belvo.clone(), BELVO_AUTH).await.status(),
            200
        );
    }
    let tpaga = futures_util::future::join_all((0..10).map(|_| app.post_tpaga(CHARGE))).await;
    assert!(tpaga.iter().all(|r| r.status() == 200));
    // Nothing identifies a Tpaga event: each delivery is a row, and their
    // checks coalesce into the one queued for the charge.
    assert_eq!(
        app.inbox_counts(),
        (12, 30),
        "one Mono row, one Belvo row, ten Tpaga rows; thirty deliveries counted"
    );
    let msgs = app.queued_messages(3).await;
    assert_eq!(msgs.len(), 3, "{msgs:?}");
}

#[tokio::test]
async fn a_tpaga_token_queues_a_new_check_once_the_queued_one_is_picked_up() {
    use shared::db::flights::{Picked, pick};
    let app = spawn_with_providers(&[]).await;
    assert_eq!(app.post_tpaga(CHARGE).await.status(), 200);
    assert_eq!(app.post_tpaga(CHARGE).await.status(), 200);
    assert_eq!(app.inbox_counts(), (2, 2));
    let first = app.queued_messages(1).await;
    assert_eq!(first.len(), 1, "the second delivery coalesced: {first:?}");
    // The reconciler picks the queued check up: later deliveries (e.g. settled
    // after authorized) must queue a fresh check, and only one.
    let ticket = first[0].1["ticket"].as_i64();
    let target: shared::providers::webhook::CheckTarget =
        serde_json::from_value(first[0].1["target"].clone()).unwrap();
    let mut conn = app.db.connect();
    let picked = pick(
        &mut conn,
        &target,
        ticket,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert!(matches!(picked, Picked::Run { .. }));
    assert_eq!(app.post_tpaga(CHARGE).await.status(), 200);
    assert_eq!(app.post_tpaga(CHARGE).await.status(), 200);
    assert_eq!(app.inbox_counts(), (4, 4));
    assert_eq!(app.queued_messages(1).await.len(), 1);
}

// ---------- bad input ----------

#[tokio::test]
async fn malformed_oversized_and_wrong_type_bodies_get_their_codes() {
    let app = spawn_with_providers(&[("WEBHOOK_BODY_LIMIT_BYTES", "2048")]).await;
    // Malformed JSON, correctly signed: 400 malformed_payload.
    let r = app
        .post_mono(b"{\"event\": ".to_vec(), MONO_SECRET, now())
        .await;
    assert_eq!(status_and_code(r).await, (400, json!("malformed_payload")));
    // Valid JSON missing a required field.
    let r = app
        .post_belvo(br#"{"webhook_type": "TRANSACTIONS"}"#.to_vec(), BELVO_AUTH)
        .await;
    assert_eq!(status_and_code(r).await, (400, json!("malformed_payload")));
    let r = app
        .post_raw(
            &format!("/webhooks/tpaga/{TPAGA_TOKEN}"),
            &[("content-type", "application/json")],
            b"{ {'charge_token': 'pse-1'} }".to_vec(),
        )
        .await;
    assert_eq!(status_and_code(r).await, (400, json!("malformed_payload")));
    // Over the limit: 413, signed or not.
    let big = vec![b' '; 4096];
    let r = app.post_mono(big.clone(), MONO_SECRET, now()).await;
    assert_eq!(status_and_code(r).await, (413, json!("payload_too_large")));
    let r = app.post_belvo(big, "Bearer wrong").await;
    assert_eq!(r.status(), 413);
    // Wrong content type after authentication: 415.
    let body = belvo_body("w-ct", "TRANSACTIONS", "OBJECT_CREATED", TX);
    let r = app
        .post_raw(
            "/webhooks/belvo",
            &[
                ("content-type", "text/plain"),
                ("authorization", BELVO_AUTH),
            ],
            body,
        )
        .await;
    assert_eq!(
        status_and_code(r).await,
        (415, json!("unsupported_media_type"))
    );
    assert_eq!(app.inbox_counts(), (0, 0));
    assert_eq!(app.outbox_count(), 0);
}

#[tokio::test]
async fn a_chunked_body_growing_past_the_limit_is_413() {
    let app = spawn_with_providers(&[("WEBHOOK_BODY_LIMIT_BYTES", "2048")]).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..10).map(|_| Ok(vec![b'x'; 1024])).collect();
    let r = app
        .client
        .post(app.url("/webhooks/belvo"))
        .header("authorization", BELVO_AUTH)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn an_unknown_event_type_is_200_stored_and_not_queued() {
    let app = spawn_with_providers(&[]).await;
    let body = mono_body("collection_link_updated", INTENT, "x", "T1");
    let r = app.post_mono(body, MONO_SECRET, now()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ignored");
    let r = app
        .post_belvo(
            belvo_body("w-ba", "BANK_ACCOUNTS", "OBJECT_CREATED", TX),
            BELVO_AUTH,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.inbox_counts(), (2, 2));
    assert_eq!(app.outbox_count(), 0);
    assert!(app.queued_messages(0).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_database_is_503_never_2xx() {
    let app = spawn_with_providers(&[]).await;
    // Take the database away under the running service.
    let mut admin =
        <diesel::PgConnection as diesel::Connection>::establish(&shared::testing::admin_url())
            .unwrap();
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("DROP DATABASE {} WITH (FORCE)", app.db.name)),
        &mut admin,
    )
    .unwrap();
    let body = mono_body(
        "collection_intent_credited",
        INTENT,
        "account_credited",
        "T1",
    );
    let r = app.post_mono(body, MONO_SECRET, now()).await;
    assert_eq!(status_and_code(r).await, (503, json!("unavailable")));
    let r = app.post_tpaga(CHARGE).await;
    assert_eq!(r.status(), 503);
}

// ---------- observability ----------

#[tokio::test]
async fn metrics_count_received_rejected_duplicate_stored_and_published() {
    let app = spawn_with_providers(&[]).await;
    let body = mono_body(
        "collection_intent_credited",
        INTENT,
        "account_credited",
        "T1",
    );
    app.post_mono(body.clone(), MONO_SECRET, now()).await;
    app.post_mono(body.clone(), MONO_SECRET, now()).await;
    app.post_mono(body, "whsec_wrong", now()).await;
    app.queued_messages(1).await;
    let m = app.metrics().await;
    for line in [
        r#"webhooks_received_total{provider="mono"} 3"#,
        r#"webhooks_rejected_total{provider="mono",reason="bad_credentials"} 1"#,
        r#"webhooks_duplicate_total{provider="mono"} 1"#,
        r#"webhooks_stored_total{provider="mono"} 1"#,
        r#"outbox_published_total{exchange="events",prefix="mono"} 1"#,
    ] {
        assert!(m.contains(line), "missing {line}\n{m}");
    }
}

#[tokio::test]
async fn concurrent_deliveries_are_committed_in_groups_and_each_stored_once() {
    let app = spawn_with_providers(&[]).await;
    let unique = (0..150).map(|i| {
        let body = mono_body(
            "collection_intent_credited",
            &format!("cint_{i:0>22}"),
            "account_credited",
            "T1",
        );
        app.post_mono(body, MONO_SECRET, now())
    });
    let dup_body = mono_body("collection_intent_failed", INTENT, "failed", "T9");
    let dups = (0..10).map(|_| app.post_mono(dup_body.clone(), MONO_SECRET, now()));
    let (a, b) = futures_util::future::join(
        futures_util::future::join_all(unique),
        futures_util::future::join_all(dups),
    )
    .await;
    assert!(a.iter().chain(b.iter()).all(|r| r.status() == 200));
    assert_eq!(app.inbox_counts(), (151, 160));
    assert_eq!(app.queued_messages(151).await.len(), 151);
    let m = app.metrics().await;
    let line = m
        .lines()
        .find(|l| l.starts_with("ingress_batch_size_count"))
        .unwrap();
    let batches: f64 = line.split_whitespace().last().unwrap().parse().unwrap();
    assert!(
        batches < 160.0,
        "requests shared transactions: {batches} batches for 160 deliveries"
    );
}

#[tokio::test]
async fn one_bad_row_in_a_group_fails_alone() {
    use shared::db::inbox::{Delivery, Saved, Stored, store_batch};
    use shared::providers::webhook::{Dedup, InboundEvent};
    let app = spawn_app().await;
    let delivery = |key: String| Delivery {
        provider: shared::domain::Provider::Belvo,
        event: InboundEvent {
            event_type: "BANK_ACCOUNTS.OBJECT_CREATED".into(),
            routing_suffix: "bank_accounts.object_created".into(),
            object_id: None,
            dedup_key: key,
            dedup: Dedup::Permanent,
            check: None,
        },
        body: b"{}".to_vec(),
        headers: json!({}),
        auth_result: "test".into(),
    };
    // The schema refuses dedup keys over 512 characters.
    let batch = vec![
        delivery("a".into()),
        delivery("x".repeat(600)),
        delivery("b".into()),
        delivery("a".into()),
    ];
    let mut conn = app.db.connect();
    let results = store_batch(&mut conn, &batch).unwrap();
    assert!(matches!(
        results[0],
        Ok(Saved {
            stored: Stored::New { .. },
            ..
        })
    ));
    assert!(results[1].is_err());
    assert!(matches!(
        results[2],
        Ok(Saved {
            stored: Stored::New { .. },
            ..
        })
    ));
    assert!(
        matches!(
            results[3],
            Ok(Saved {
                stored: Stored::Duplicate { .. },
                ..
            })
        ),
        "a duplicate within the same group"
    );
    assert_eq!(app.inbox_counts(), (2, 3));
}
