//! The process dies between the provider's answer and the commit: the real
//! `webhook-api` binary runs as a child with the test-only fail point
//! `PSE_TEST_ABORT_AFTER_PROVIDER_CREATE=1`, which aborts right after Mono
//! created the intent. Restarted without it, the same request completes the
//! same intent: the provider saw exactly one creation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "api/fake_providers.rs"]
#[allow(dead_code)]
mod fake_providers;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::testing::{ADMIN_KEY, FINANCE_KEY, MERCHANT_KEY, TestBroker, TestDb};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(env: &[(String, String)], abort_after_create: bool) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_webhook-api"));
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if abort_after_create {
        cmd.env(webhook_api::payments::flow::ABORT_AFTER_CREATE_ENV, "1");
    }
    cmd.spawn().unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("webhook-api did not start");
}

#[tokio::test]
async fn a_crash_between_the_provider_answer_and_the_commit_still_makes_one_payment() {
    let db = TestDb::create();
    let broker = TestBroker::new(vec![Duration::from_secs(1)]);
    broker.declare().await;
    let fake = fake_providers::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut env: Vec<(String, String)> = [
        ("DATABASE_URL", db.url.as_str()),
        ("AMQP_URL", broker.url.as_str()),
        ("AMQP_NAME_PREFIX", broker.prefix.as_str()),
        ("HTTP_ADDR", &format!("127.0.0.1:{port}")),
        ("ALLOW_INSECURE_PROVIDER_URLS", "1"),
        ("MONO_API_KEY", "mono-api-key"),
        ("MONO_WEBHOOK_SECRETS", "whsec_current_secret_long_enough"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.push((
        "API_KEYS".into(),
        format!("merchant:shop:{MERCHANT_KEY},finance:ana:{FINANCE_KEY},admin:ops:{ADMIN_KEY}"),
    ));
    env.extend(fake.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    let client = shared::http::client(Duration::from_secs(2), Duration::from_secs(10)).unwrap();
    let body = json!({"reference": "PAY-CRASH-1", "provider": "mono",
        "amount": {"amount": 10_000_000, "currency": "COP"}, "bank_code": "1022",
        "payer_ip": "88.221.182.60", "redirect_url": "https://shop.example/done",
        "payer": {"document_type": "CC", "document_number": "1033711400", "email": "ana@example.com",
                  "name": "Ana", "phone": "3000000000", "person_type": "natural"}});
    let pay = || {
        client
            .post(format!("{base}/v1/payments"))
            .bearer_auth(MERCHANT_KEY)
            .json(&body)
            .send()
    };

    let mut child = spawn(&env, true);
    wait_ready(&client, &base).await;
    assert!(pay().await.is_err(), "the process died before answering");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "aborted");
    assert_eq!(
        fake.created(),
        1,
        "Mono created the intent before the crash"
    );
    {
        let mut conn = db.connect();
        let attempt = shared::db::payments::find(&mut conn, "PAY-CRASH-1")
            .unwrap()
            .unwrap();
        assert_eq!(
            attempt.state, "calling",
            "recorded before the call, never completed"
        );
    }

    let _child = spawn(&env, false);
    wait_ready(&client, &base).await;
    // The dead request's lease must lapse first; until then the answer is "in progress".
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer: Value = loop {
        let r = pay().await.unwrap();
        let status = r.status().as_u16();
        let answer: Value = r.json().await.unwrap();
        if status == 201 {
            break answer;
        }
        assert_eq!(answer["error"]["code"], "payment_in_progress", "{answer}");
        assert!(Instant::now() < deadline, "never completed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let created = fake.seen.lock().unwrap().created.clone();
    assert_eq!(created.len(), 1, "exactly one intent at Mono");
    assert_eq!(answer["order"]["provider_payment_id"], created[0]["id"]);
    assert_eq!(
        fake.calls(),
        2,
        "the retry asked with the same idempotency key"
    );
}
