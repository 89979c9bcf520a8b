use std::time::Duration;

use serde_json::{Value, json};
use shared::testing::{self, ADMIN_KEY, FINANCE_KEY, MERCHANT_KEY, TestBroker, TestDb};
use webhook_api::Application;

pub struct TestApp {
    pub address: String,
    /// The variables the app was configured with beyond the test defaults.
    pub extra: Vec<(String, String)>,
    pub client: reqwest::Client,
    pub db: TestDb,
    /// Owns the test's broker names; they are deleted when the test ends.
    pub broker: TestBroker,
}

/// Every provider enabled (orders for a disabled provider are refused).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts webhook-api with every provider enabled ([`provider_env`]); `extra`
/// adds or overrides configuration variables (an empty value unsets one).
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let env = provider_env();
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.extend_from_slice(extra);
    spawn_bare(&vars).await
}

/// Every provider disabled, as a deployment without provider credentials.
pub async fn spawn_app_without_providers() -> TestApp {
    spawn_bare(&[]).await
}

/// Starts webhook-api on a free port against a fresh database and a private
/// broker topology; `extra` adds configuration variables to the test defaults.
pub async fn spawn_bare(extra: &[(&str, &str)]) -> TestApp {
    let db = TestDb::create();
    let broker = TestBroker::new(vec![Duration::from_secs(1), Duration::from_secs(2)]);
    broker.declare().await;
    let address = start(&db, &broker, extra).await;
    TestApp {
        address,
        extra: extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        client: shared::http::client(Duration::from_secs(2), Duration::from_secs(10)).unwrap(),
        db,
        broker,
    }
}

/// Starts one more webhook-api process-equivalent on the same database and
/// broker as `app` (another instance behind the same load balancer).
pub async fn start_another(app: &TestApp) -> String {
    let extra: Vec<(&str, &str)> = app
        .extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    start(&app.db, &app.broker, &extra).await
}

async fn start(db: &TestDb, broker: &TestBroker, extra: &[(&str, &str)]) -> String {
    let config = testing::config(db, broker, extra);
    let app = Application::build(config)
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

pub fn order_body(reference: &str) -> Value {
    json!({
        "reference": reference,
        "provider": "mono",
        "provider_payment_id": format!("cint_{:0>22}", reference.replace(['-', '.', ':', '_'], "")),
        "amount": {"amount": 10_000_000, "currency": "COP"},
        "description": "Invoice 1001",
        "payer": {"document_type": "CC", "document_number": "1033711400", "email": "ana@example.com", "name": "Ana"}
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_order_as(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/v1/orders"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_order(&self, body: &Value) -> reqwest::Response {
        self.post_order_as(MERCHANT_KEY, body).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }
}

pub const KEYS: [&str; 3] = [MERCHANT_KEY, FINANCE_KEY, ADMIN_KEY];

pub const MONO_SECRET: &str = "whsec_current_secret";
pub const MONO_OLD_SECRET: &str = "whsec_previous_secret";
pub const BELVO_AUTH: &str = "Bearer belvo-webhook-token";
pub const BELVO_AUTH_2: &str = "Basic YmVsdm86cm90YXRlZA==";
pub const TPAGA_TOKEN: &str = "tpaga-path-secret-123";

/// Every provider enabled, with webhook credentials the tests sign with.
pub fn provider_env() -> Vec<(&'static str, String)> {
    vec![
        ("MONO_API_KEY", "mono-api-key".into()),
        (
            "MONO_WEBHOOK_SECRETS",
            format!("{MONO_SECRET},{MONO_OLD_SECRET}"),
        ),
        ("BELVO_SECRET_ID", "belvo-id".into()),
        ("BELVO_SECRET_PASSWORD", "belvo-password".into()),
        ("BELVO_WEBHOOK_AUTH", format!("{BELVO_AUTH},{BELVO_AUTH_2}")),
        ("TPAGA_CLIENT_ID", "tpaga-id".into()),
        ("TPAGA_CLIENT_SECRET", "tpaga-secret".into()),
        ("TPAGA_WEBHOOK_TOKEN", TPAGA_TOKEN.into()),
    ]
}

pub async fn spawn_with_providers(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(extra).await
}

pub fn mono_body(kind: &str, intent: &str, state: &str, updated_at: &str) -> Vec<u8> {
    json!({"event": {"type": kind, "data": {"id": intent, "state": state, "updated_at": updated_at,
            "amount": {"amount": 10_000_000, "currency": "COP"},
            "payer": {"document_number": "1099711789", "email": "someone@gmail.com"},
            "payment": {"provider": "pse", "transaction_id": "3052043"}}},
           "timestamp": "2023-01-04T17:17:01.101130Z"})
    .to_string()
    .into_bytes()
}

pub fn mono_signature(secret: &str, t: i64, body: &[u8]) -> String {
    shared::providers::mono::signature::sign(&shared::Secret::new(secret), t, body)
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl TestApp {
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    pub async fn post_mono(&self, body: Vec<u8>, secret: &str, t: i64) -> reqwest::Response {
        let sig = mono_signature(secret, t, &body);
        self.post_raw(
            "/webhooks/mono",
            &[
                ("content-type", "application/json"),
                ("mono-signature", &sig),
            ],
            body,
        )
        .await
    }

    pub async fn post_belvo(&self, body: Vec<u8>, auth: &str) -> reqwest::Response {
        self.post_raw(
            "/webhooks/belvo",
            &[
                ("content-type", "application/json"),
                ("authorization", auth),
            ],
            body,
        )
        .await
    }

    pub async fn post_tpaga(&self, token: &str) -> reqwest::Response {
        self.post_raw(
            &format!("/webhooks/tpaga/{TPAGA_TOKEN}"),
            &[("content-type", "application/json")],
            json!({"charge_token": token}).to_string().into_bytes(),
        )
        .await
    }

    /// (rows, sum of delivery counts) in the inbox.
    pub fn inbox_counts(&self) -> (i64, i64) {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            d: i64,
        }
        let mut conn = self.db.connect();
        let r: Row = diesel::sql_query(
            "SELECT count(*) AS n, COALESCE(sum(delivery_count), 0)::bigint AS d FROM webhook_events",
        )
        .get_result(&mut conn)
        .unwrap();
        (r.n, r.d)
    }

    pub fn outbox_count(&self) -> i64 {
        use diesel::RunQueryDsl;
        let mut conn = self.db.connect();
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM outbox)",
        ))
        .get_result(&mut conn)
        .unwrap()
    }

    /// Messages that reach the reconciler's queue (waits for `expect`, then a little longer).
    pub async fn queued_messages(&self, expect: usize) -> Vec<(Option<String>, Value)> {
        let conn = self.broker.connect().await;
        shared::testing::drain(
            &conn,
            &self.broker.topology.events_queue(),
            expect,
            Duration::from_secs(10),
            Duration::from_millis(500),
        )
        .await
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}
