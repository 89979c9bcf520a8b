//! Starting the product's processes for a phase, configured against the
//! benchmark database and the `bench.` broker names.

use std::net::SocketAddr;
use std::time::Duration;

use crate::procs::{Proc, Spawner, free_port, wait_ready};
use crate::webhooks::{MONO_API_KEY, MONO_SECRET};

/// Retry delays the harness declares and the services are given (the defaults).
pub const RETRY_DELAYS: [u64; 6] = [5, 30, 120, 600, 1800, 3600];

pub fn amqp_url() -> String {
    std::env::var("BENCH_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

pub fn prefix() -> String {
    std::env::var("AMQP_NAME_PREFIX").unwrap_or_else(|_| "bench.".to_owned())
}

/// Log level of the product services: `info`, their production default, so
/// the cost of request logging is part of what is measured.
fn product_log() -> String {
    std::env::var("BENCH_PRODUCT_LOG").unwrap_or_else(|_| "info".to_owned())
}

pub struct Stack {
    pub spawner: Spawner,
    pub db_url: String,
}

fn kv(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}

impl Stack {
    pub fn new(db_url: String) -> Result<Self, String> {
        Ok(Self {
            spawner: Spawner::from_env()?,
            db_url,
        })
    }

    fn product_env(&self, sandbox_url: Option<&str>) -> Vec<(String, String)> {
        let delays: Vec<String> = RETRY_DELAYS.iter().map(u64::to_string).collect();
        let mut env = vec![
            kv("DATABASE_URL", &self.db_url),
            kv("AMQP_URL", amqp_url()),
            kv("AMQP_NAME_PREFIX", prefix()),
            kv("RETRY_DELAYS_SECS", delays.join(",")),
            kv("MONO_WEBHOOK_SECRETS", MONO_SECRET),
            kv("MONO_API_KEY", MONO_API_KEY),
            // Requests are signed before the clock starts; a long full run must not go stale.
            kv("MONO_SIGNATURE_TOLERANCE_SECS", "3600"),
            // The sweeper must not add checks of its own during a measurement.
            kv("SWEEP_INTERVAL_SECS", "3600"),
            kv("RUST_LOG", product_log()),
            kv("LOG_FORMAT", "text"),
        ];
        env.push(kv(
            "MONO_API_URL",
            sandbox_url.unwrap_or("http://127.0.0.1:9"),
        ));
        if let Ok(size) = std::env::var("BENCH_DATABASE_POOL_SIZE") {
            env.push(kv("DATABASE_POOL_SIZE", size));
        }
        env
    }

    pub async fn webhook_api(
        &self,
        sandbox_url: Option<&str>,
    ) -> Result<(Proc, SocketAddr), String> {
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}")
            .parse()
            .map_err(|e| format!("{e}"))?;
        let mut env = self.product_env(sandbox_url);
        env.push(kv("HTTP_ADDR", addr.to_string()));
        let mut p = self
            .spawner
            .spawn("webhook-api", "webhook-api", &[], &env)?;
        wait_ready(
            &mut p,
            &format!("http://{addr}/readyz"),
            Duration::from_secs(60),
        )
        .await?;
        Ok((p, addr))
    }

    /// A reconciler and the base URL of its ops endpoints (`/metrics`).
    pub async fn reconciler(
        &self,
        sandbox_url: &str,
        concurrency: usize,
    ) -> Result<(Proc, String), String> {
        let port = free_port()?;
        let mut env = self.product_env(Some(sandbox_url));
        env.push(kv("RECONCILER_HTTP_ADDR", format!("127.0.0.1:{port}")));
        env.push(kv("RECONCILER_CONCURRENCY", concurrency.to_string()));
        let mut p = self
            .spawner
            .spawn("reconciler", "reconciler", &["run"], &env)?;
        let ops = format!("http://127.0.0.1:{port}");
        wait_ready(&mut p, &format!("{ops}/readyz"), Duration::from_secs(60)).await?;
        Ok((p, ops))
    }

    /// The fake providers as their own process (so their CPU is counted apart).
    pub async fn sandbox(&self) -> Result<(Proc, String), String> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let env = vec![kv("RUST_LOG", "warn")];
        let mut p = self.spawner.spawn(
            "pse-sandbox",
            "pse-sandbox",
            &["serve", "--addr", &addr],
            &env,
        )?;
        let url = format!("http://{addr}");
        wait_ready(
            &mut p,
            &format!("{url}/_sandbox/health"),
            Duration::from_secs(30),
        )
        .await?;
        Ok((p, url))
    }

    /// The bare-HTTP ceiling server (this binary's `echo-server`).
    pub async fn echo(&self) -> Result<(Proc, SocketAddr), String> {
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}")
            .parse()
            .map_err(|e| format!("{e}"))?;
        let mut p = self.spawner.spawn(
            "echo-server",
            "pse-bench",
            &["echo-server", "--addr", &addr.to_string()],
            &[],
        )?;
        wait_ready(
            &mut p,
            &format!("http://{addr}/healthz"),
            Duration::from_secs(30),
        )
        .await?;
        Ok((p, addr))
    }
}

pub const STOP_GRACE: Duration = Duration::from_secs(15);
