//! The reconciler's message handling on the in-memory transport (no broker),
//! plus the broker-level checks of what the seam promises on RabbitMQ.

use std::sync::Arc;
use std::time::Duration;

use reconciler::consumer::{self, ATTEMPT_HEADER, DEAD_REASON_HEADER, Ended, Settings};
use reconciler::context::Ctx;
use sandbox::{AdminClient, Fault, RunningSandbox, SandboxConfig, StatusChange};
use shared::db::orders;
use shared::domain::{Money, NewOrder, Reference};
use shared::queue::memory::MemoryTransport;
use shared::queue::{Header, Message};
use shared::testing::{self, TestBroker, TestDb, ToggleProxy};
use tokio::sync::watch;

use crate::harness::{check_message, wait_for};

struct Fixture {
    db: TestDb,
    _broker: TestBroker,
    _sandbox: RunningSandbox,
    admin: AdminClient,
    ctx: Arc<Ctx>,
    memory: MemoryTransport,
    /// Stands between the reconciler and PostgreSQL, to take the database away.
    db_proxy: ToggleProxy,
    /// The AMQP URL leads nowhere: nothing here may need a broker.
    _no_broker: ToggleProxy,
}

/// Two one-second retry delays: attempt 2 is the last.
async fn fixture() -> Fixture {
    let db = TestDb::create();
    let broker = TestBroker::new(vec![Duration::from_secs(1), Duration::from_secs(1)]);
    let sandbox = sandbox::start(SandboxConfig::for_tests(), "127.0.0.1:0")
        .await
        .expect("sandbox starts");
    let url = sandbox.base_url();
    let no_broker = ToggleProxy::start("127.0.0.1:5672", false).await;
    let pg = reqwest::Url::parse(&db.url).unwrap();
    let db_proxy = ToggleProxy::start(
        &format!("{}:{}", pg.host_str().unwrap(), pg.port().unwrap_or(5432)),
        true,
    )
    .await;
    let mut proxied = pg.clone();
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(db_proxy.addr.port())).unwrap();
    let amqp = no_broker.amqp_url();
    let vars = [
        ("DATABASE_URL", proxied.as_str()),
        ("AMQP_URL", amqp.as_str()),
        ("MONO_API_URL", url.as_str()),
        ("MONO_API_KEY", "sandbox-mono-key"),
        ("MONO_WEBHOOK_SECRETS", crate::harness::MONO_SECRET),
        ("PROVIDER_TIMEOUT_MS", "3000"),
        ("RECONCILER_CONCURRENCY", "4"),
    ];
    let config = testing::config(&db, &broker, &vars);
    let ctx = reconciler::worker::context(config, "seam-test")
        .await
        .expect("context builds without a broker");
    Fixture {
        admin: sandbox.admin(),
        db,
        _broker: broker,
        _sandbox: sandbox,
        ctx,
        memory: MemoryTransport::new(),
        db_proxy,
        _no_broker: no_broker,
    }
}

impl Fixture {
    fn topology(&self) -> &shared::queue::Topology {
        self.ctx.broker.topology()
    }

    /// A Mono payment at the sandbox with its order, and the check message for it.
    async fn payment(&self, status: Option<&str>) -> (String, Message) {
        let created = self.admin.create_payment("mono", 150_000).await.unwrap();
        let id = created.provider_payment_id;
        let reference = format!("ORD-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let new = NewOrder {
            reference: Reference::parse(&reference).unwrap(),
            provider: "mono".parse().unwrap(),
            provider_payment_id: id.clone(),
            amount: Money::cop(150_000).unwrap(),
            description: None,
            payer: None,
        };
        orders::create(
            &mut self.db.connect(),
            &new,
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .unwrap();
        if let Some(status) = status {
            let change = StatusChange {
                status: status.to_owned(),
                webhooks: Some(0),
                ..Default::default()
            };
            self.admin.set_status("mono", &id, &change).await.unwrap();
        }
        let check = check_message("mono", "collection_intent", &id);
        let mut message = Message::new(serde_json::to_vec(&check).unwrap());
        message.routing_key = "mono.test".to_owned();
        message.message_id = Some(format!("test-{}", uuid::Uuid::new_v4()));
        (reference, message)
    }

    fn state(&self, reference: &str) -> String {
        orders::find_by_reference(&mut self.db.connect(), reference)
            .unwrap()
            .expect("order exists")
            .state
    }

    /// Runs the reconciler's consumer loop on the in-memory transport.
    fn consume(&self) -> (watch::Sender<bool>, tokio::task::JoinHandle<Ended>) {
        let (stop, mut rx) = watch::channel(false);
        let (memory, ctx) = (self.memory.clone(), self.ctx.clone());
        let settings = Settings::events(&ctx);
        let task = tokio::spawn(async move {
            consumer::serve(&memory, &settings, &mut rx, consumer::checks_handler(ctx))
                .await
                .expect("in-memory session")
        });
        (stop, task)
    }

    async fn wait_in(&self, queue: &str, count: usize) -> Vec<Message> {
        wait_for(Duration::from_secs(15), || {
            let got = self.memory.messages(queue);
            std::future::ready((got.len() >= count).then_some(got))
        })
        .await
        .unwrap_or_else(|| panic!("{queue} never held {count} message(s)"))
    }

    async fn wait_acked(&self, count: usize) {
        wait_for(Duration::from_secs(15), || {
            std::future::ready((self.memory.acked() >= count).then_some(()))
        })
        .await
        .unwrap_or_else(|| panic!("never acked {count}; acked {}", self.memory.acked()));
    }
}

#[tokio::test]
async fn a_check_is_acked_only_after_its_effect_is_committed() {
    let f = fixture().await;
    let (reference, message) = f.payment(Some("account_credited")).await;
    f.memory.push(&f.topology().events_queue(), message);
    let (_stop, _task) = f.consume();
    f.wait_acked(1).await;
    assert_eq!(f.state(&reference), "paid", "the ack came after the commit");
    assert!(f.memory.messages(&f.topology().dead_queue()).is_empty());
    assert!(
        f.memory
            .messages(&f.topology().retry_queue(0).unwrap())
            .is_empty()
    );
    assert_eq!(f.memory.unsettled(), 0);
}

#[tokio::test]
async fn a_failed_check_goes_to_its_delay_queue_counting_the_attempt() {
    let f = fixture().await;
    let (reference, message) = f.payment(None).await;
    f.admin
        .fault(&Fault::status("mono", 503, 100))
        .await
        .unwrap();
    f.memory.push(&f.topology().events_queue(), message);
    let (_stop, _task) = f.consume();
    let retried = f.wait_in(&f.topology().retry_queue(0).unwrap(), 1).await;
    f.wait_acked(1).await;
    assert_eq!(retried[0].header_i64(ATTEMPT_HEADER), Some(1));
    assert_eq!(
        retried[0].header_str(consumer::ROUTING_KEY_HEADER),
        Some("mono.test"),
        "the original routing key travels with the retry"
    );
    assert_eq!(f.state(&reference), "pending");
}

#[tokio::test]
async fn the_last_attempt_dead_letters_and_a_malformed_message_too() {
    let f = fixture().await;
    let (_, message) = f.payment(None).await;
    f.admin
        .fault(&Fault::status("mono", 503, 100))
        .await
        .unwrap();
    let events = f.topology().events_queue();
    f.memory
        .push(&events, message.with_header(ATTEMPT_HEADER, Header::Int(2)));
    f.memory.push(&events, Message::new(&b"{not json"[..]));
    let (_stop, _task) = f.consume();
    let dead = f.wait_in(&f.topology().dead_queue(), 2).await;
    f.wait_acked(2).await;
    let mut reasons: Vec<_> = dead
        .iter()
        .map(|m| {
            m.header_str(DEAD_REASON_HEADER)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons, ["retries_exhausted", "unparseable"]);
    assert!(
        f.memory
            .messages(&f.topology().retry_queue(1).unwrap())
            .is_empty()
    );
}

#[tokio::test]
async fn the_archiver_holds_a_dead_letter_while_the_database_is_down() {
    let f = fixture().await;
    let (_, message) = f.payment(None).await;
    let message = message
        .with_header(DEAD_REASON_HEADER, Header::Text("final_error".to_owned()))
        .with_header(ATTEMPT_HEADER, Header::Int(3));
    f.db_proxy.set_up(false);
    f.memory.push(&f.topology().dead_queue(), message);
    let (stop, mut rx) = watch::channel(false);
    let (memory, ctx) = (f.memory.clone(), f.ctx.clone());
    let task = tokio::spawn(async move {
        reconciler::archiver::drain(&ctx, &memory, &mut rx)
            .await
            .is_ok()
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(f.memory.requeued(), 0, "held, not requeued in a loop");
    assert_eq!(f.memory.acked(), 0);
    f.db_proxy.set_up(true);
    f.wait_acked(1).await;
    let archived: i64 = {
        use diesel::prelude::*;
        shared::db::schema::dead_letters::table
            .count()
            .get_result(&mut f.db.connect())
            .unwrap()
    };
    assert_eq!(archived, 1);
    stop.send(true).unwrap();
    assert!(task.await.unwrap());
}

#[tokio::test]
async fn on_rabbitmq_a_panicking_handler_sends_its_delivery_to_retry() {
    use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use shared::queue::amqp::AmqpTransport;
    use shared::queue::{Broker, Topology};

    let broker = TestBroker::new(vec![Duration::from_secs(60)]);
    broker.declare().await;
    let supervised = Broker::start(
        shared::secret::Secret::new(broker.url.clone()),
        broker.topology.clone(),
        "panic-test",
    );
    assert!(supervised.connected(Duration::from_secs(10)).await);
    let topology: Topology = broker.topology.clone();
    let settings = Settings {
        queue: topology.events_queue(),
        prefetch: 1,
        concurrency: 1,
        tag: "panic-test".to_owned(),
        topology: topology.clone(),
        metrics: Arc::new(shared::queue::metrics::QueueMetrics::register(
            shared::metrics::Metrics::new().registry(),
        )),
    };
    let (stop, mut rx) = watch::channel(false);
    let transport = AmqpTransport::new(supervised.clone());
    let (s, t) = (settings.clone(), transport.clone());
    let session = tokio::spawn(async move {
        let panicking =
            |_: Message, _: usize| -> futures_util::future::BoxFuture<'static, consumer::Route> {
                Box::pin(async { panic!("handler bug") })
            };
        consumer::serve(&t, &s, &mut rx, panicking).await.is_ok()
    });

    let conn = broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    // Two messages through a prefetch of one: a held delivery would block the second.
    for body in [&b"{}"[..], &b"[]"[..]] {
        ch.basic_publish(
            "".into(),
            topology.events_queue().as_str().into(),
            BasicPublishOptions::default(),
            body,
            lapin::BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let retry = topology.retry_queue(0).unwrap();
    let moved = wait_for(Duration::from_secs(10), || {
        let ch = ch.clone();
        let retry = retry.clone();
        async move {
            let q = ch
                .queue_declare(retry.as_str().into(), passive, FieldTable::default())
                .await
                .unwrap();
            (q.message_count() == 2).then_some(())
        }
    })
    .await;
    assert!(moved.is_some(), "both deliveries went to the retry queue");
    let panics = settings
        .metrics
        .handler_panics
        .with_label_values(&[&settings.queue])
        .get();
    assert_eq!(panics, 2);
    stop.send(true).unwrap();
    assert!(session.await.unwrap());
    supervised.close().await;
}
