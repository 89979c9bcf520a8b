//! The abuse budget (README, "Security"): what one unauthenticated request can
//! cost. Each public endpoint is hit the way an attacker would, and the test
//! checks the answer and that nothing was written (no inbox, outbox or order
//! rows) and no provider was called. The provider API URLs point at a
//! listener that counts connections, so any outbound call would show.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use crate::helpers::*;

/// A TCP listener standing in for every provider API: it counts connections.
struct CountingProvider {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl CountingProvider {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { url, connections }
    }

    fn calls(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn spawn_against(provider: &CountingProvider) -> TestApp {
    spawn_with_providers(&[
        ("MONO_API_URL", &provider.url),
        ("BELVO_API_URL", &provider.url),
        ("TPAGA_API_URL", &provider.url),
    ])
    .await
}

async fn code(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].clone())
}

fn count(app: &TestApp, table: &str) -> i64 {
    use diesel::RunQueryDsl;
    let mut conn = app.db.connect();
    diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
        "(SELECT count(*) FROM {table})"
    )))
    .get_result(&mut conn)
    .unwrap()
}

/// Nothing stored, nothing queued, no provider reached.
fn assert_untouched(app: &TestApp, provider: &CountingProvider) {
    for table in [
        "webhook_events",
        "outbox",
        "orders",
        "order_events",
        "reconciliation_exceptions",
        "provider_checks",
    ] {
        assert_eq!(count(app, table), 0, "{table}");
    }
    assert_eq!(provider.calls(), 0, "a provider API was called");
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn forged_webhooks_write_nothing_and_call_no_provider() {
    let provider = CountingProvider::start().await;
    let app = spawn_against(&provider).await;
    let limit = 262_144;
    // The most expensive forgery the budget allows: a body just under the
    // limit, a current timestamp and as many v1 values as accepted.
    let big = {
        let mut b = br#"{"event":{"type":"collection_intent_credited","pad":""#.to_vec();
        b.resize(limit - 3, b'x');
        b.extend_from_slice(br#""}}"#);
        b
    };
    assert_eq!(big.len(), limit);
    let many_v1 = |n: usize| {
        let mut h = format!("t={}", now());
        for i in 0..n {
            h.push_str(&format!(",v1={:064x}", i));
        }
        h
    };
    /// Extra headers, body, expected status and error code.
    type Case<'a> = (Vec<(&'a str, String)>, Vec<u8>, u16, &'a str);
    let mono_cases: Vec<Case> = vec![
        (vec![], big.clone(), 401, "unauthorized"),
        (
            vec![("mono-signature", many_v1(8))],
            big.clone(),
            401,
            "unauthorized",
        ),
        (
            vec![("mono-signature", many_v1(9))],
            big.clone(),
            401,
            "unauthorized",
        ),
        (
            vec![("mono-signature", format!("t=1,v1={}", "ab".repeat(32)))],
            b"{}".to_vec(),
            401,
            "unauthorized",
        ),
        (
            vec![("mono-signature", "x".repeat(4000))],
            b"{}".to_vec(),
            401,
            "unauthorized",
        ),
        (
            vec![("mono-signature", many_v1(1))],
            vec![b' '; limit + 1],
            413,
            "payload_too_large",
        ),
    ];
    for (i, (headers, body, status, error)) in mono_cases.into_iter().enumerate() {
        let mut h: Vec<(&str, &str)> = vec![JSON];
        h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
        let r = app.post_raw("/webhooks/mono", &h, body).await;
        assert_eq!(code(r).await, (status, json!(error)), "mono case {i}");
    }

    let belvo = json!({"webhook_id": "w1", "webhook_type": "TRANSACTIONS",
        "webhook_code": "OBJECT_CREATED", "object_id": "d2e40773-19f6-48d1-93c3-3590ec0c74df", "data": {}})
    .to_string()
    .into_bytes();
    for auth in [
        None,
        Some("Bearer guessed"),
        Some("Bearer belvo-webhook-tokeN"),
        Some("Bearer belvo-webhook-toke"),
    ] {
        let mut h = vec![JSON];
        if let Some(a) = auth {
            h.push(("authorization", a));
        }
        let r = app.post_raw("/webhooks/belvo", &h, belvo.clone()).await;
        assert_eq!(code(r).await, (401, json!("unauthorized")), "{auth:?}");
    }

    let tpaga = json!({"charge_token": "pse-c542f18edadb441d8b4639edbfb566e5"})
        .to_string()
        .into_bytes();
    let wrong_case = TPAGA_TOKEN.to_uppercase();
    let prefix = &TPAGA_TOKEN[..TPAGA_TOKEN.len() - 1];
    for (path, status, error) in [
        ("/webhooks/tpaga".to_owned(), 404, "no_route"),
        (format!("/webhooks/tpaga/{wrong_case}"), 401, "unauthorized"),
        (format!("/webhooks/tpaga/{prefix}"), 401, "unauthorized"),
        (
            format!("/webhooks/tpaga/{TPAGA_TOKEN}x"),
            401,
            "unauthorized",
        ),
        (format!("/webhooks/mono/{TPAGA_TOKEN}"), 404, "no_route"),
        ("/webhooks/stripe".to_owned(), 404, "no_route"),
    ] {
        let r = app.post_raw(&path, &[JSON], tpaga.clone()).await;
        assert_eq!(code(r).await, (status, json!(error)), "{path}");
    }

    assert_untouched(&app, &provider);
    // Still alive and honest afterwards: a genuine delivery is stored.
    assert_eq!(
        app.post_tpaga("pse-c542f18edadb441d8b4639edbfb566e5")
            .await
            .status(),
        200
    );
    assert_eq!(app.inbox_counts(), (1, 1));
}

#[tokio::test]
async fn the_api_with_a_bad_key_writes_nothing_and_calls_no_provider() {
    let provider = CountingProvider::start().await;
    let app = spawn_against(&provider).await;
    let order = order_body("ORD-ABUSE");
    let routes = [
        ("POST", "/v1/orders"),
        ("GET", "/v1/orders"),
        ("GET", "/v1/orders/ORD-ABUSE"),
        (
            "GET",
            "/v1/reports/reconciliation?date=2026-11-21&format=csv",
        ),
        ("GET", "/v1/exceptions"),
        ("POST", "/v1/exceptions/1/resolve"),
        ("GET", "/v1/admin/dead-letters"),
        ("POST", "/v1/admin/dead-letters/replay"),
    ];
    for (method, path) in routes {
        for auth in [
            None,
            Some("Bearer wrong-api-key-guess"),
            Some("Bearer "),
            Some("Basic !!!"),
        ] {
            let mut req = match method {
                "POST" => app.client.post(app.url(path)).json(&order),
                _ => app.client.get(app.url(path)),
            };
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(
                code(r).await,
                (401, json!("unauthorized")),
                "{method} {path} {auth:?}"
            );
        }
    }
    // Operators' endpoints are open but read-only.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let r = app.client.get(app.url(path)).send().await.unwrap();
        assert!(
            [200, 503].contains(&r.status().as_u16()),
            "{path}: {}",
            r.status()
        );
    }
    assert_untouched(&app, &provider);
}
