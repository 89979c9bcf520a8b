//! Integration-test support: a fresh PostgreSQL database and a private set of
//! RabbitMQ names per test, so tests run in parallel against the real services.
//!
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! names the server and a database to connect to for `CREATE DATABASE`;
//! `TEST_AMQP_URL` (default the product's `AMQP_URL` default) names the broker.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::config::{Config, DEFAULT_AMQP_URL};
use crate::db::{Db, run_migrations};
use crate::queue::Topology;

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A database created for one test, migrated, and dropped when the value drops.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn create() -> Self {
        let db = Self::create_empty();
        run_migrations(&db.url).expect("migrations apply to a fresh database");
        db
    }

    /// A database with no schema at all (for testing migrations themselves).
    pub fn create_empty() -> Self {
        let admin = admin_url();
        let name = format!("pse_test_{}", short_id());
        let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at TEST_DATABASE_URL ({e}); run scripts/services.sh first"
            )
        });
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("CREATE DATABASE");
        let mut url = reqwest::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            name,
            url: url.to_string(),
        }
    }

    pub fn db(&self) -> Db {
        Db::new(&self.url, 8, Duration::from_secs(5))
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&admin_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// A topology under a unique name prefix; deleted from the broker on drop.
pub struct TestBroker {
    pub url: String,
    pub prefix: String,
    pub topology: Topology,
}

impl TestBroker {
    pub fn new(retry_delays: Vec<Duration>) -> Self {
        let prefix = format!("t{}.", short_id());
        Self {
            url: amqp_url(),
            topology: Topology::new(prefix.clone(), retry_delays),
            prefix,
        }
    }

    /// Declares the topology now, so queues exist before anything publishes.
    pub async fn declare(&self) {
        let conn = self.connect().await;
        self.topology
            .declare(&conn)
            .await
            .expect("declare topology");
        let _ = conn.close(200, "declared".into()).await;
    }

    /// A plain connection for a test to inspect queues with.
    pub async fn connect(&self) -> lapin::Connection {
        lapin::Connection::connect(&self.url, lapin::ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| {
                panic!("cannot reach RabbitMQ ({e}); run scripts/services.sh first")
            })
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let url = self.url.clone();
        let topology = self.topology.clone();
        // Drop cannot await; clean up on a private runtime and wait for it.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(conn) =
                    lapin::Connection::connect(&url, lapin::ConnectionProperties::default()).await
                    && let Ok(ch) = conn.create_channel().await
                {
                    let _ = topology.delete(&ch).await;
                    let _ = conn.close(200, "test done".into()).await;
                }
            });
        })
        .join();
    }
}

/// API keys every test configuration carries.
pub const MERCHANT_KEY: &str = "merchant-test-key-0001";
pub const FINANCE_KEY: &str = "finance-test-key-0001";
pub const ADMIN_KEY: &str = "admin-test-key-0001";

/// A configuration pointing at the test database and broker, with API keys set;
/// `extra` overrides or adds variables (provider URLs and secrets).
pub fn config(db: &TestDb, broker: &TestBroker, extra: &[(&str, &str)]) -> Config {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        vars.insert(k.to_owned(), v.to_owned());
    };
    set("DATABASE_URL", &db.url);
    set("AMQP_URL", &broker.url);
    set("AMQP_NAME_PREFIX", &broker.prefix);
    let delays: Vec<String> = broker
        .topology
        .retry_delays()
        .iter()
        .map(|d| d.as_secs().to_string())
        .collect();
    if !delays.is_empty() {
        set("RETRY_DELAYS_SECS", &delays.join(","));
    }
    set("HTTP_ADDR", "127.0.0.1:0");
    set("RECONCILER_HTTP_ADDR", "127.0.0.1:0");
    set(
        "API_KEYS",
        &format!("merchant:shop:{MERCHANT_KEY},finance:ana:{FINANCE_KEY},admin:ops:{ADMIN_KEY}"),
    );
    for (k, v) in extra {
        set(k, v);
    }
    Config::from_source(&vars).expect("test configuration is valid")
}

/// A TCP forwarder that can be switched off and on, to take a service away
/// from one test (and give it back) without touching the shared server.
/// Switching off refuses new connections and cuts the open ones.
pub struct ToggleProxy {
    pub addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::broadcast::Sender<()>,
}

impl ToggleProxy {
    pub async fn start(target: &str, up: bool) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(up));
        let (cut, _) = tokio::sync::broadcast::channel(4);
        let target = target.to_owned();
        let (flag, cut_tx) = (state.clone(), cut.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut_rx = cut_tx.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.recv() => {}
                    }
                });
            }
        });
        Self {
            addr,
            up: state,
            cut,
        }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            let _ = self.cut.send(());
        }
    }

    /// An AMQP URL through this proxy.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }
}

/// Takes every message that arrives on `queue` until `count` have, then keeps
/// listening for `settle` to catch extras. Returns (message id, body) pairs.
pub async fn drain(
    conn: &lapin::Connection,
    queue: &str,
    count: usize,
    within: Duration,
    settle: Duration,
) -> Vec<(Option<String>, serde_json::Value)> {
    use lapin::options::BasicGetOptions;
    let ch = conn.create_channel().await.expect("channel");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + within;
    let mut settle_until: Option<std::time::Instant> = None;
    loop {
        let now = std::time::Instant::now();
        if got.len() >= count && settle_until.is_none() {
            settle_until = Some(now + settle);
        }
        if settle_until.is_some_and(|t| now >= t) || (settle_until.is_none() && now >= deadline) {
            break;
        }
        match ch
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get")
        {
            Some(m) => got.push((
                m.delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string()),
                serde_json::from_slice(&m.delivery.data).unwrap_or(serde_json::Value::Null),
            )),
            None => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    got
}
