use std::future::Future;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use reconciler::Worker;
use sandbox::{AdminClient, RunningSandbox, SandboxConfig, StatusChange, WebhookTarget};
use shared::db::orders::{self, OrderJson};
use shared::domain::{Money, NewOrder, Provider, Reference};
use shared::providers::webhook::CheckTarget;
use shared::queue::message::{Cause, CheckMessage};
use shared::testing::{self, TestBroker, TestDb};

pub const MONO_SECRET: &str = "whsec_sandbox_test";
pub const BELVO_AUTH: &str = "Bearer sandbox-belvo-hook";
pub const TPAGA_TOKEN: &str = "sandbox-tpaga-path";

pub struct Stack {
    pub db: TestDb,
    pub broker: TestBroker,
    /// Keeps the sandbox server alive for the test's duration.
    #[allow(dead_code)]
    pub sandbox: RunningSandbox,
    pub admin: AdminClient,
    pub worker: Option<Worker>,
    pub vars: Vec<(String, String)>,
    /// webhook-api's base URL when started with [`Stack::with_ingress`].
    pub ingress: Option<String>,
}

pub struct Options<'a> {
    pub extra: &'a [(&'a str, &'a str)],
    pub retry_delays: Vec<Duration>,
    pub ingress: bool,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            extra: &[],
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(1),
                Duration::from_secs(1),
            ],
            ingress: false,
        }
    }
}

pub async fn stack() -> Stack {
    stack_with(Options::default()).await
}

pub async fn stack_with(options: Options<'_>) -> Stack {
    let db = TestDb::create();
    let broker = TestBroker::new(options.retry_delays);
    broker.declare().await;
    let sandbox = sandbox::start(SandboxConfig::for_tests(), "127.0.0.1:0")
        .await
        .expect("sandbox starts");
    let url = sandbox.base_url();
    let mut vars: Vec<(String, String)> = [
        ("MONO_API_URL", url.as_str()),
        ("MONO_API_KEY", "sandbox-mono-key"),
        ("MONO_WEBHOOK_SECRETS", MONO_SECRET),
        ("BELVO_API_URL", url.as_str()),
        ("BELVO_SECRET_ID", "sandbox-belvo-id"),
        ("BELVO_SECRET_PASSWORD", "sandbox-belvo-password"),
        ("BELVO_WEBHOOK_AUTH", BELVO_AUTH),
        ("TPAGA_API_URL", url.as_str()),
        ("TPAGA_CLIENT_ID", "sandbox-tpaga-client"),
        ("TPAGA_CLIENT_SECRET", "sandbox-tpaga-secret"),
        ("TPAGA_WEBHOOK_TOKEN", TPAGA_TOKEN),
        ("PROVIDER_TIMEOUT_MS", "3000"),
        ("RECONCILER_CONCURRENCY", "8"),
        // Tests sweep explicitly unless they ask otherwise.
        ("SWEEP_INTERVAL_SECS", "3600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in options.extra {
        vars.retain(|(name, _)| name != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    let admin = sandbox.admin();
    let mut stack = Stack {
        db,
        broker,
        sandbox,
        admin,
        worker: None,
        vars,
        ingress: None,
    };
    stack.worker = Some(
        Worker::start(stack.config())
            .await
            .expect("reconciler starts"),
    );
    if options.ingress {
        stack.start_ingress().await;
    }
    stack
}

impl Stack {
    pub fn config(&self) -> shared::Config {
        let vars: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        testing::config(&self.db, &self.broker, &vars)
    }

    pub fn ctx(&self) -> &reconciler::context::Ctx {
        &self.worker.as_ref().expect("worker running").ctx
    }

    /// Starts webhook-api on the same database and broker and points the sandbox's webhooks at it.
    pub async fn start_ingress(&mut self) {
        let app = webhook_api::Application::build(self.config())
            .await
            .expect("webhook-api starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        self.admin
            .set_webhook_target(&WebhookTarget {
                base_url: base.clone(),
                mono_secret: Some(MONO_SECRET.to_owned()),
                belvo_authorization: Some(BELVO_AUTH.to_owned()),
                tpaga_path_token: Some(TPAGA_TOKEN.to_owned()),
            })
            .await
            .unwrap();
        self.ingress = Some(base);
    }

    /// A payment at the sandbox and the order that expects it.
    pub async fn payment_with_order(&self, provider: &str, amount_minor: i64) -> (String, String) {
        let created = self
            .admin
            .create_payment(provider, amount_minor)
            .await
            .unwrap();
        let reference = format!("ORD-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        self.order(
            &reference,
            provider,
            &created.provider_payment_id,
            amount_minor,
        );
        (reference, created.provider_payment_id)
    }

    pub fn order(&self, reference: &str, provider: &str, payment_id: &str, amount_minor: i64) {
        let new = NewOrder {
            reference: Reference::parse(reference).unwrap(),
            provider: provider.parse().unwrap(),
            provider_payment_id: payment_id.to_owned(),
            amount: Money::cop(amount_minor).unwrap(),
            description: None,
            payer: None,
        };
        let mut conn = self.db.connect();
        orders::create(
            &mut conn,
            &new,
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .unwrap();
    }

    pub async fn set_status(&self, provider: &str, id: &str, status: &str) {
        self.admin
            .set_status(
                provider,
                id,
                &StatusChange {
                    status: status.to_owned(),
                    webhooks: Some(0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }

    /// Publishes a check to `pse.events` exactly as the ingress relay would.
    pub async fn publish(&self, message: &CheckMessage, message_id: &str) {
        self.publish_raw(
            &serde_json::to_vec(message).unwrap(),
            message_id,
            &format!("{}.test", message.target.provider),
        )
        .await;
    }

    pub async fn publish_raw(&self, body: &[u8], message_id: &str, routing_key: &str) {
        let exchange = self.broker.topology.events_exchange();
        self.publish_to(&exchange, routing_key, body, message_id)
            .await;
    }

    /// Publishes `body` with confirms to `exchange` (`""` is the default
    /// exchange, where the routing key names a queue).
    pub async fn publish_to(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        message_id: &str,
    ) {
        let conn = self.broker.connect().await;
        let ch = conn.create_channel().await.unwrap();
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let confirm = ch
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                body,
                BasicProperties::default()
                    .with_message_id(message_id.into())
                    .with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert!(confirm.is_ack());
        let _ = conn.close(200, "sent".into()).await;
    }

    pub async fn check(&self, provider: &str, object_type: &str, object_id: &str) {
        let message = check_message(provider, object_type, object_id);
        self.publish(&message, &format!("test-{}", uuid::Uuid::new_v4()))
            .await;
    }

    pub fn find(&self, reference: &str) -> OrderJson {
        let mut conn = self.db.connect();
        orders::find_by_reference(&mut conn, reference)
            .unwrap()
            .expect("order exists")
    }

    pub async fn wait_state(&self, reference: &str, state: &str) -> OrderJson {
        let mut last = String::new();
        let found = wait_for(Duration::from_secs(20), || {
            let o = self.find(reference);
            last = o.state.clone();
            std::future::ready((o.state == state).then_some(o))
        })
        .await;
        found.unwrap_or_else(|| panic!("{reference} never reached {state}; still {last}"))
    }

    /// Waits until `reference` has been checked `n` times (its provider_checks rows).
    pub async fn wait_checked(&self, reference: &str, at_least: i64) {
        let ok = wait_for(Duration::from_secs(20), || {
            std::future::ready((self.checks_of(reference) >= at_least).then_some(()))
        })
        .await;
        assert!(ok.is_some(), "{reference} was not checked {at_least} times");
    }

    pub fn checks_of(&self, reference: &str) -> i64 {
        self.count(&format!(
            "SELECT count(*) FROM provider_checks c JOIN orders o ON o.id = c.order_id WHERE o.reference = '{reference}'"
        ))
    }

    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.db.connect();
        diesel::sql_query(format!("SELECT ({sql}) AS n"))
            .get_result::<N>(&mut conn)
            .unwrap()
            .n
    }

    pub fn exceptions(&self, kind: &str) -> Vec<(Option<String>, String)> {
        #[derive(QueryableByName)]
        struct E {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            reference: Option<String>,
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        let mut conn = self.db.connect();
        diesel::sql_query(
            "SELECT o.reference, e.detail FROM reconciliation_exceptions e LEFT JOIN orders o ON o.id = e.order_id \
             WHERE e.kind = $1 ORDER BY e.id",
        )
        .bind::<diesel::sql_types::Text, _>(kind)
        .load::<E>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|e| (e.reference, e.detail))
        .collect()
    }

    pub fn transitions(&self, reference: &str) -> Vec<(Option<String>, String, String)> {
        self.find(reference)
            .history
            .into_iter()
            .map(|h| (h.from, h.to, h.cause))
            .collect()
    }

    pub async fn stop(mut self) -> Self {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
        self
    }
}

pub fn check_message(provider: &str, object_type: &str, object_id: &str) -> CheckMessage {
    CheckMessage {
        target: CheckTarget {
            provider: provider.parse::<Provider>().unwrap(),
            object_type: object_type.to_owned(),
            object_id: object_id.to_owned(),
        },
        event_type: "test".to_owned(),
        cause: Cause::Sweep {
            order_id: uuid::Uuid::nil(),
        },
        ticket: None,
    }
}

/// The object type orders of `provider` register.
pub fn payment_type(provider: &str) -> &'static str {
    match provider {
        "mono" => "collection_intent",
        "belvo" => "payment_intent",
        _ => "charge",
    }
}

/// Polls `probe` every 50 ms until it yields `Some` or `within` passes.
pub async fn wait_for<T, F, Fut>(within: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
