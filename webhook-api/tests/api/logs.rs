//! Secrets and personal data never reach the logs: run the real binary with
//! debug logging, push credentials and PII through every path, read its output.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use shared::testing::{MERCHANT_KEY, TestBroker, TestDb};
use tokio::io::AsyncReadExt;

use crate::helpers::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn no_secret_or_personal_data_is_logged() {
    let db = TestDb::create();
    let broker = TestBroker::new(vec![Duration::from_secs(1)]);
    broker.declare().await;
    let port = free_port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-api"));
    cmd.env_clear()
        .env("DATABASE_URL", &db.url)
        .env("AMQP_URL", &broker.url)
        .env("AMQP_NAME_PREFIX", &broker.prefix)
        .env("RETRY_DELAYS_SECS", "1")
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("API_KEYS", format!("merchant:shop:{MERCHANT_KEY}"))
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in provider_env() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        extra: Vec::new(),
        client: shared::http::client(Duration::from_secs(2), Duration::from_secs(10)).unwrap(),
        db,
        broker,
    };
    let mut up = false;
    for _ in 0..100 {
        if app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "webhook-api binary became ready");

    // Every path that sees a credential or personal data.
    let body = mono_body(
        "collection_intent_credited",
        "cint_5dHsMj4uwhhujcVUTuw1OP",
        "account_credited",
        "T1",
    );
    assert_eq!(
        app.post_mono(body.clone(), MONO_SECRET, now())
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_mono(body, "whsec_attacker_guess", now())
            .await
            .status(),
        401
    );
    let belvo = json!({"webhook_id": "w1", "webhook_type": "TRANSACTIONS", "webhook_code": "OBJECT_CREATED", "object_id": "tx1"});
    assert_eq!(
        app.post_belvo(belvo.to_string().into_bytes(), BELVO_AUTH)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_belvo(belvo.to_string().into_bytes(), "Bearer guessed-belvo-token")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_tpaga("pse-c542f18edadb441d8b4639edbfb566e5")
            .await
            .status(),
        200
    );
    let r = app
        .post_raw(
            "/webhooks/tpaga/guessed-path-token",
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 401);
    let mut order = order_body("ORD-LOG");
    order["payer"] = json!({"document_type": "NIT", "document_number": "890903938-8", "email": "cfo@bancolombia.example", "name": "Ana"});
    assert_eq!(app.post_order(&order).await.status(), 201);
    let mut bad = order_body("ORD-LOG2");
    bad["payer"] =
        json!({"document_type": "NIT", "document_number": "800197268-5", "email": "x@y.example"});
    assert_eq!(app.post_order(&bad).await.status(), 422);
    assert_eq!(
        app.post_order_as("wrong-api-key-guess", &order)
            .await
            .status(),
        401
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    child.start_kill().unwrap();
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .await
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    let logs = format!("{out}{err}");
    assert!(
        logs.contains("webhook accepted"),
        "the logs were captured:\n{logs}"
    );
    for secret in [
        MONO_SECRET,
        MONO_OLD_SECRET,
        "whsec_attacker_guess",
        "belvo-webhook-token",
        "guessed-belvo-token",
        TPAGA_TOKEN,
        "guessed-path-token",
        "tpaga-secret",
        "belvo-password",
        "mono-api-key",
        MERCHANT_KEY,
        "wrong-api-key-guess",
        "1099711789",
        "someone@gmail.com",
        "890903938",
        "800197268",
        "cfo@bancolombia.example",
        "1033711400",
        "ana@example.com",
    ] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs");
    }
}
