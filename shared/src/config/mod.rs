//! Configuration from the environment variables in the README, "Configuration" (docs/ARCHITECTURE.md, "Contract").
//!
//! Every value is parsed at startup; a malformed one stops the process with a
//! message naming the variable, so a typo never turns into a silent default.
//! Submodules: [`keys`] (`API_KEYS`), [`ops`] (pools, timeouts, retention), [`providers`] (each provider's settings),
//! [`source`] (where values come from and how each kind is read).

mod keys;
mod ops;
mod providers;
mod source;

use std::net::SocketAddr;
use std::time::Duration;

use crate::domain::Provider;
use crate::secret::Secret;

pub use keys::{ApiKey, ApiKeys, Role};
pub use ops::{OpsConfig, RetentionConfig, SessionLimits};
pub use providers::{BelvoConfig, MIN_WEBHOOK_CREDENTIAL_LEN, MonoConfig, TpagaConfig};
use source::Reader;
pub use source::{Env, Source};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/pse";
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    /// Where reports read (`DATABASE_REPORT_URL`): a streaming replica, so a
    /// day's export costs the primary nothing. Unset: `database_url`.
    pub report_database_url: Option<Secret>,
    pub database_pool_size: u32,
    pub amqp_url: Secret,
    /// Prefix for every exchange and queue name; empty in production. Lets two
    /// stacks (or parallel tests) share one broker without seeing each other.
    pub amqp_name_prefix: String,
    pub http_addr: SocketAddr,
    pub api_keys: ApiKeys,
    /// Signs the finance console's session cookies (`CONSOLE_SESSION_SECRET`, at least 32
    /// bytes). Unset: webhook-api draws a random one at startup (SECURITY.md, "Finance console").
    pub console_session_secret: Option<Secret>,
    pub mono: MonoConfig,
    pub belvo: BelvoConfig,
    pub tpaga: TpagaConfig,
    pub webhook_body_limit: usize,
    /// Most webhook deliveries committed in one transaction (group commit); 1 = one transaction each.
    pub ingress_batch_max: usize,
    /// Concurrent group-commit writers in one webhook-api process. Two keep
    /// one batch collecting while another commits; more make smaller batches
    /// and cost CPU per webhook (measured on 2 cores: see BENCHMARKS.md).
    pub ingress_writers: usize,
    pub reconciler_concurrency: u16,
    /// Most checks' outcomes the reconciler commits in one transaction, each
    /// under its own savepoint (group commit); 1 = one transaction each.
    pub reconciler_batch_max: usize,
    /// Concurrent group-commit writers in one reconciler process, each holding
    /// a database connection while it commits.
    pub reconciler_writers: usize,
    pub sweep_interval: Duration,
    pub pending_recheck_after: Duration,
    pub order_expiry: Duration,
    /// Age at which the sweeper stops re-checking an order; one still not
    /// final by then gets a `stale_pending` exception.
    pub stale_after: Duration,
    /// Where the reconciler serves `/healthz`, `/readyz` and `/metrics`.
    pub reconciler_http_addr: SocketAddr,
    /// Delays between attempts of a retryable provider failure.
    pub retry_delays: Vec<Duration>,
    pub provider_connect_timeout: Duration,
    pub provider_timeout: Duration,
    pub log_filter: String,
    pub log_format: LogFormat,
    /// Pools, timeouts, the report cap, relay pace, gauge caching, retention.
    pub ops: OpsConfig,
}

/// `url` if it names a PostgreSQL server (the only scheme libpq and diesel take here).
fn postgres_url(name: &'static str, url: String) -> Result<String, ConfigError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url)
    } else {
        Err(err(name, "must start with postgres:// or postgresql://"))
    }
}

impl Config {
    /// The database reports read: `DATABASE_REPORT_URL`, else `DATABASE_URL`.
    pub fn report_database_url(&self) -> &Secret {
        self.report_database_url
            .as_ref()
            .unwrap_or(&self.database_url)
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Env)
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let r = Reader(source);
        let database_url = postgres_url(
            "DATABASE_URL",
            r.string("DATABASE_URL", DEFAULT_DATABASE_URL),
        )?;
        let report_database_url = r
            .opt("DATABASE_REPORT_URL")
            .map(|url| postgres_url("DATABASE_REPORT_URL", url))
            .transpose()?;
        let amqp_url = r.string("AMQP_URL", DEFAULT_AMQP_URL);
        if !(amqp_url.starts_with("amqp://") || amqp_url.starts_with("amqps://")) {
            return Err(err("AMQP_URL", "must start with amqp:// or amqps://"));
        }
        let http_addr_raw = r.string("HTTP_ADDR", "0.0.0.0:8080");
        let http_addr = http_addr_raw.parse().map_err(|_| {
            err(
                "HTTP_ADDR",
                format!("{http_addr_raw:?} is not an address like 0.0.0.0:8080"),
            )
        })?;
        let prefix = r.string("AMQP_NAME_PREFIX", "");
        if !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(err(
                "AMQP_NAME_PREFIX",
                "may contain only letters, digits, '.', '-' and '_'",
            ));
        }
        let log_format = match r.string("LOG_FORMAT", "text").as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(err("LOG_FORMAT", format!("{other:?} is not text or json")));
            }
        };
        let allow_insecure = r.flag("ALLOW_INSECURE_PROVIDER_URLS")?;
        let retry_delays = match r.opt("RETRY_DELAYS_SECS") {
            None => [5, 30, 120, 600, 1800, 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            Some(raw) => parse_delays(&raw)?,
        };
        Ok(Self {
            database_url: Secret::new(database_url),
            report_database_url: report_database_url.map(Secret::new),
            database_pool_size: r.number("DATABASE_POOL_SIZE", 16, 1..=512)?,
            amqp_url: Secret::new(amqp_url),
            amqp_name_prefix: prefix,
            http_addr,
            api_keys: ApiKeys::parse(&r.string("API_KEYS", ""))?,
            console_session_secret: match r.secret("CONSOLE_SESSION_SECRET") {
                Some(s) if s.expose().len() < 32 => {
                    return Err(err(
                        "CONSOLE_SESSION_SECRET",
                        "must be at least 32 bytes (e.g. openssl rand -hex 32)",
                    ));
                }
                other => other,
            },
            mono: MonoConfig {
                api_url: r.provider_url(
                    "MONO_API_URL",
                    "https://api.cert.monoban.co",
                    allow_insecure,
                )?,
                api_key: r.secret("MONO_API_KEY"),
                webhook_secrets: r.webhook_credentials("MONO_WEBHOOK_SECRETS")?,
                signature_tolerance: Duration::from_secs(r.number(
                    "MONO_SIGNATURE_TOLERANCE_SECS",
                    300,
                    1..=86_400,
                )?),
                account_id: r.opt("MONO_ACCOUNT_ID"),
            },
            belvo: BelvoConfig {
                api_url: r.provider_url(
                    "BELVO_API_URL",
                    "https://sandbox.belvo.com",
                    allow_insecure,
                )?,
                secret_id: r.secret("BELVO_SECRET_ID"),
                secret_password: r.secret("BELVO_SECRET_PASSWORD"),
                webhook_auth: r.webhook_credentials("BELVO_WEBHOOK_AUTH")?,
                beneficiary_account: r.opt("BELVO_BENEFICIARY_ACCOUNT"),
            },
            tpaga: TpagaConfig {
                api_url: r.provider_url(
                    "TPAGA_API_URL",
                    "https://staging.apiv2.tpaga.co",
                    allow_insecure,
                )?,
                client_id: r.secret("TPAGA_CLIENT_ID"),
                client_secret: r.secret("TPAGA_CLIENT_SECRET"),
                webhook_tokens: r.path_tokens("TPAGA_WEBHOOK_TOKEN")?,
            },
            webhook_body_limit: r.number("WEBHOOK_BODY_LIMIT_BYTES", 262_144, 1_024..=16 << 20)?,
            ingress_batch_max: r.number("INGRESS_BATCH_MAX", 64, 1..=1_000)?,
            ingress_writers: r.number("INGRESS_WRITERS", 2, 1..=64)?,
            reconciler_concurrency: r.number("RECONCILER_CONCURRENCY", 32, 1..=4_096)?,
            reconciler_batch_max: r.number("RECONCILER_BATCH_MAX", 32, 1..=1_000)?,
            reconciler_writers: r.number("RECONCILER_WRITERS", 4, 1..=64)?,
            sweep_interval: r.seconds("SWEEP_INTERVAL_SECS", 60)?,
            pending_recheck_after: r.seconds("PENDING_RECHECK_AFTER_SECS", 300)?,
            order_expiry: r.seconds("ORDER_EXPIRY_SECS", 3600)?,
            stale_after: r.seconds("STALE_AFTER_SECS", 86_400)?,
            // Loopback by default: its /metrics is unauthenticated. A container
            // sets 0.0.0.0:9100 explicitly (docker-compose.yml, Dockerfile).
            reconciler_http_addr: {
                let raw = r.string("RECONCILER_HTTP_ADDR", "127.0.0.1:9100");
                raw.parse().map_err(|_| {
                    err(
                        "RECONCILER_HTTP_ADDR",
                        format!("{raw:?} is not an address like 127.0.0.1:9100"),
                    )
                })?
            },
            retry_delays,
            provider_connect_timeout: Duration::from_millis(r.number(
                "PROVIDER_CONNECT_TIMEOUT_MS",
                3_000,
                1..=60_000,
            )?),
            provider_timeout: Duration::from_millis(r.number(
                "PROVIDER_TIMEOUT_MS",
                10_000,
                1..=120_000,
            )?),
            log_filter: r.string("RUST_LOG", "info"),
            log_format,
            ops: OpsConfig::read(&r)?,
        })
    }

    /// Why a provider is disabled, naming the missing variables; `None` when enabled.
    ///
    /// A provider is all or nothing: its webhook credential is required like
    /// its API credentials. In particular Tpaga without `TPAGA_WEBHOOK_TOKEN`
    /// is disabled entirely (webhooks 404 `provider_disabled`, no orders, no
    /// re-queries) even with its API client set: Tpaga sends no credential of
    /// its own, so without a path token every webhook would be anonymous.
    pub fn provider_disabled_reason(&self, provider: Provider) -> Option<String> {
        let missing: Vec<&str> = match provider {
            Provider::Mono => [
                ("MONO_API_KEY", self.mono.api_key.is_none()),
                ("MONO_WEBHOOK_SECRETS", self.mono.webhook_secrets.is_empty()),
            ]
            .into_iter()
            .filter_map(|(n, m)| m.then_some(n))
            .collect(),
            Provider::Belvo => [
                ("BELVO_SECRET_ID", self.belvo.secret_id.is_none()),
                (
                    "BELVO_SECRET_PASSWORD",
                    self.belvo.secret_password.is_none(),
                ),
                ("BELVO_WEBHOOK_AUTH", self.belvo.webhook_auth.is_empty()),
            ]
            .into_iter()
            .filter_map(|(n, m)| m.then_some(n))
            .collect(),
            Provider::Tpaga => [
                ("TPAGA_CLIENT_ID", self.tpaga.client_id.is_none()),
                ("TPAGA_CLIENT_SECRET", self.tpaga.client_secret.is_none()),
                ("TPAGA_WEBHOOK_TOKEN", self.tpaga.webhook_tokens.is_empty()),
            ]
            .into_iter()
            .filter_map(|(n, m)| m.then_some(n))
            .collect(),
        };
        (!missing.is_empty()).then(|| format!("missing {}", missing.join(", ")))
    }

    pub fn provider_enabled(&self, provider: Provider) -> bool {
        self.provider_disabled_reason(provider).is_none()
    }

    /// Logs which providers are enabled and why the others are not (never a secret).
    pub fn log_providers(&self) {
        for provider in Provider::ALL {
            match self.provider_disabled_reason(provider) {
                None => tracing::info!(%provider, "provider enabled"),
                Some(reason) => tracing::warn!(
                    %provider,
                    %reason,
                    "provider disabled: its webhooks answer 404 provider_disabled, its orders are refused \
                     and the reconciler never calls it"
                ),
            }
        }
        if self.api_keys.is_empty() {
            tracing::warn!("API_KEYS is empty: the /v1 API answers 401 to every request");
        }
    }
}

fn parse_delays(raw: &str) -> Result<Vec<Duration>, ConfigError> {
    const VAR: &str = "RETRY_DELAYS_SECS";
    let delays = raw
        .split(',')
        .map(str::trim)
        .map(|s| {
            s.parse::<u64>()
                .ok()
                .filter(|v| (1..=86_400).contains(v))
                .map(Duration::from_secs)
                .ok_or_else(|| {
                    err(
                        VAR,
                        format!("{s:?} is not a number of seconds between 1 and 86400"),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if delays.is_empty() || delays.len() > 20 {
        return Err(err(VAR, "give between 1 and 20 comma-separated delays"));
    }
    Ok(delays)
}

#[cfg(test)]
mod tests;
