//! Configuration from the environment variables in the README, "Configuration" (docs/ARCHITECTURE.md, "Contract").
//!
//! Every value is parsed at startup; a malformed one stops the process with a
//! message naming the variable, so a typo never turns into a silent default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::domain::Provider;
use crate::secret::Secret;

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

/// What an API key may do (docs/ARCHITECTURE.md, "API roles": merchant creates and reads, finance reads, admin anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Merchant,
    Finance,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Merchant => "merchant",
            Role::Finance => "finance",
            Role::Admin => "admin",
        }
    }
}

/// One entry of `API_KEYS`: `role:key`, or `role:name:key` to name who holds it
/// (the name is recorded when that key resolves an exception).
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub role: Role,
    pub name: String,
    pub key: Secret,
}

#[derive(Debug, Clone, Default)]
pub struct ApiKeys(Vec<ApiKey>);

impl ApiKeys {
    pub fn new(keys: Vec<ApiKey>) -> Self {
        Self(keys)
    }

    /// Finds the key in constant time per entry, checking every entry so the
    /// time taken does not reveal which one matched.
    pub fn find(&self, presented: &str) -> Option<&ApiKey> {
        let mut found = None;
        for key in &self.0 {
            if key.key.matches(presented.as_bytes()) && found.is_none() {
                found = Some(key);
            }
        }
        found
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn parse(raw: &str) -> Result<Self, ConfigError> {
        const VAR: &str = "API_KEYS";
        let mut keys = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parts: Vec<&str> = entry.splitn(3, ':').collect();
            let (role, name, key) = match parts.as_slice() {
                [role, key] => (*role, None, *key),
                [role, name, key] => (*role, Some(*name), *key),
                _ => {
                    return Err(err(
                        VAR,
                        "each entry must be role:key or role:name:key (roles: merchant, finance, admin)",
                    ));
                }
            };
            let role = match role {
                "merchant" => Role::Merchant,
                "finance" => Role::Finance,
                "admin" => Role::Admin,
                other => {
                    return Err(err(
                        VAR,
                        format!("unknown role {other:?}; use merchant, finance or admin"),
                    ));
                }
            };
            if key.len() < 8 {
                return Err(err(
                    VAR,
                    format!("the {} key is shorter than 8 characters", role.as_str()),
                ));
            }
            let name = match name {
                Some(n) if !n.is_empty() => n.to_owned(),
                _ => format!("{}-key-{}", role.as_str(), keys.len() + 1),
            };
            keys.push(ApiKey {
                role,
                name,
                key: Secret::new(key),
            });
        }
        Ok(Self(keys))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct MonoConfig {
    pub api_url: String,
    pub api_key: Option<Secret>,
    pub webhook_secrets: Vec<Secret>,
    pub signature_tolerance: Duration,
}

#[derive(Debug, Clone)]
pub struct BelvoConfig {
    pub api_url: String,
    pub secret_id: Option<Secret>,
    pub secret_password: Option<Secret>,
    pub webhook_auth: Vec<Secret>,
}

#[derive(Debug, Clone)]
pub struct TpagaConfig {
    pub api_url: String,
    pub client_id: Option<Secret>,
    pub client_secret: Option<Secret>,
    /// Accepted path tokens of `/webhooks/tpaga/{token}`; several during a rotation.
    pub webhook_tokens: Vec<Secret>,
}

/// Shortest accepted webhook credential (each `MONO_WEBHOOK_SECRETS` secret,
/// `BELVO_WEBHOOK_AUTH` value and `TPAGA_WEBHOOK_TOKEN` token). These are the
/// only thing between the internet and an inbox row plus a provider call, so
/// a short one is a configuration mistake, not a choice: 16 random characters
/// are beyond guessing, and Mono's own `whsec_…` secrets are much longer.
pub const MIN_WEBHOOK_CREDENTIAL_LEN: usize = 16;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    pub database_pool_size: u32,
    pub amqp_url: Secret,
    /// Prefix for every exchange and queue name; empty in production. Lets two
    /// stacks (or parallel tests) share one broker without seeing each other.
    pub amqp_name_prefix: String,
    pub http_addr: SocketAddr,
    pub api_keys: ApiKeys,
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
}

/// Where configuration values come from; the environment in production, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct Env;

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Source for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

struct Reader<'a>(&'a dyn Source);

impl Reader<'_> {
    /// A set, non-blank value.
    fn opt(&self, name: &'static str) -> Option<String> {
        self.0
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn string(&self, name: &'static str, default: &str) -> String {
        self.opt(name).unwrap_or_else(|| default.to_owned())
    }

    fn secret(&self, name: &'static str) -> Option<Secret> {
        self.opt(name).map(Secret::new)
    }

    fn secrets(&self, name: &'static str) -> Vec<Secret> {
        self.opt(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(Secret::new)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A comma-separated list of webhook credentials, each at least
    /// [`MIN_WEBHOOK_CREDENTIAL_LEN`] characters. Errors name the variable and
    /// the position of the offending value, never the value.
    fn webhook_credentials(&self, name: &'static str) -> Result<Vec<Secret>, ConfigError> {
        let values = self.secrets(name);
        let count = values.len();
        for (i, value) in values.iter().enumerate() {
            if value.expose().chars().count() < MIN_WEBHOOK_CREDENTIAL_LEN {
                return Err(err(
                    name,
                    format!(
                        "value {} of {count} is shorter than {MIN_WEBHOOK_CREDENTIAL_LEN} characters; \
                         use a long random value",
                        i + 1
                    ),
                ));
            }
        }
        Ok(values)
    }

    /// `TPAGA_WEBHOOK_TOKEN`: webhook credentials that travel in a URL path,
    /// so only RFC 3986 unreserved characters (never percent-encoded or
    /// normalised by a proxy on the way).
    fn path_tokens(&self, name: &'static str) -> Result<Vec<Secret>, ConfigError> {
        let tokens = self.webhook_credentials(name)?;
        for (i, token) in tokens.iter().enumerate() {
            if !token
                .expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
            {
                return Err(err(
                    name,
                    format!(
                        "token {} of {} may contain only letters, digits, '-', '_', '.' and '~' \
                         (it is part of the webhook URL path)",
                        i + 1,
                        tokens.len()
                    ),
                ));
            }
        }
        Ok(tokens)
    }

    fn number<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(raw) = self.opt(name) else {
            return Ok(default);
        };
        let value: T = raw.parse().map_err(|_| {
            err(
                name,
                format!("{raw:?} is not a whole number (default {default})"),
            )
        })?;
        if !range.contains(&value) {
            return Err(err(
                name,
                format!(
                    "{value} is out of range; use {}..={}",
                    range.start(),
                    range.end()
                ),
            ));
        }
        Ok(value)
    }

    fn seconds(&self, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
        self.number(name, default, 1..=30 * 24 * 3600)
            .map(Duration::from_secs)
    }

    /// A provider API base URL. Requests to it carry our credentials and
    /// bring back the statuses money moves on, so plain `http://` is refused
    /// unless the host is loopback (tests, a local sandbox) or
    /// `ALLOW_INSECURE_PROVIDER_URLS=1` says so (the sandbox on a private
    /// container network).
    fn provider_url(
        &self,
        name: &'static str,
        default: &str,
        allow_insecure: bool,
    ) -> Result<String, ConfigError> {
        let value = self.string(name, default);
        let parsed = reqwest::Url::parse(&value)
            .map_err(|e| err(name, format!("{value:?} is not a URL: {e}")))?;
        match parsed.scheme() {
            "https" => {}
            "http" if allow_insecure || is_loopback(&parsed) => {}
            "http" => {
                return Err(err(
                    name,
                    "http:// is accepted only for a loopback host (127.0.0.0/8, ::1, localhost); \
                     use https://, or set ALLOW_INSECURE_PROVIDER_URLS=1 for a sandbox on a private network",
                ));
            }
            _ => return Err(err(name, "must be an https:// URL")),
        }
        Ok(value.trim_end_matches('/').to_owned())
    }

    /// `1`/`true`/`yes` or `0`/`false`/`no`; anything else is an error.
    fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        match self.opt(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("0" | "false" | "no") => Ok(false),
            Some("1" | "true" | "yes") => Ok(true),
            Some(_) => Err(err(name, "must be 1 or 0 (true/false, yes/no)")),
        }
    }
}

/// `localhost`, 127.0.0.0/8 or ::1 (the URL parser has already normalised
/// the host: `127.1` reads as `127.0.0.1`, IPv6 comes bracketed).
fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Env)
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let r = Reader(source);
        let database_url = r.string("DATABASE_URL", DEFAULT_DATABASE_URL);
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(err(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
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
            database_pool_size: r.number("DATABASE_POOL_SIZE", 16, 1..=512)?,
            amqp_url: Secret::new(amqp_url),
            amqp_name_prefix: prefix,
            http_addr,
            api_keys: ApiKeys::parse(&r.string("API_KEYS", ""))?,
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
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_design() {
        let c = Config::from_source(&source(&[])).unwrap();
        assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
        assert_eq!(c.amqp_url.expose(), DEFAULT_AMQP_URL);
        assert_eq!(c.http_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(c.webhook_body_limit, 262_144);
        assert_eq!(c.reconciler_concurrency, 32);
        assert_eq!(c.sweep_interval, Duration::from_secs(60));
        assert_eq!(c.pending_recheck_after, Duration::from_secs(300));
        assert_eq!(c.order_expiry, Duration::from_secs(3600));
        assert_eq!(c.mono.signature_tolerance, Duration::from_secs(300));
        assert_eq!(c.mono.api_url, "https://api.cert.monoban.co");
        assert_eq!(c.belvo.api_url, "https://sandbox.belvo.com");
        assert_eq!(c.tpaga.api_url, "https://staging.apiv2.tpaga.co");
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(c.api_keys.is_empty());
        for p in Provider::ALL {
            assert!(!c.provider_enabled(p));
        }
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (var, value) in [
            ("WEBHOOK_BODY_LIMIT_BYTES", "lots"),
            ("RECONCILER_CONCURRENCY", "0"),
            ("HTTP_ADDR", "localhost"),
            ("LOG_FORMAT", "xml"),
            ("MONO_API_URL", "not a url"),
            ("API_KEYS", "boss:abcdefghij"),
            ("DATABASE_URL", "mysql://x"),
            ("RETRY_DELAYS_SECS", "5,x"),
            ("SWEEP_INTERVAL_SECS", "-1"),
        ] {
            let e = Config::from_source(&source(&[(var, value)])).unwrap_err();
            assert_eq!(e.variable, var, "{e}");
        }
    }

    #[test]
    fn api_keys_with_roles_and_names() {
        let c = Config::from_source(&source(&[(
            "API_KEYS",
            "merchant:mkey-12345, finance:ana:fkey-12345,admin:akey-12345",
        )]))
        .unwrap();
        let k = c.api_keys.find("fkey-12345").unwrap();
        assert_eq!((k.role, k.name.as_str()), (Role::Finance, "ana"));
        assert_eq!(c.api_keys.find("mkey-12345").unwrap().role, Role::Merchant);
        assert!(c.api_keys.find("nope").is_none());
        assert!(!format!("{c:?}").contains("fkey-12345"));
    }

    #[test]
    fn providers_enable_when_credentials_are_complete() {
        let c = Config::from_source(&source(&[
            ("MONO_API_KEY", "k"),
            (
                "MONO_WEBHOOK_SECRETS",
                "whsec_aaaaaaaaaaaaaaaa, whsec_bbbbbbbbbbbbbbbb",
            ),
            ("BELVO_SECRET_ID", "id"),
            ("TPAGA_CLIENT_ID", "id"),
            ("TPAGA_CLIENT_SECRET", "s"),
            (
                "TPAGA_WEBHOOK_TOKEN",
                "tpaga-token-000000001,tpaga-token-000000002",
            ),
        ]))
        .unwrap();
        assert!(c.provider_enabled(Provider::Mono));
        assert_eq!(c.mono.webhook_secrets.len(), 2);
        assert_eq!(
            c.provider_disabled_reason(Provider::Belvo).unwrap(),
            "missing BELVO_SECRET_PASSWORD, BELVO_WEBHOOK_AUTH"
        );
        assert!(c.provider_enabled(Provider::Tpaga));
        assert_eq!(c.tpaga.webhook_tokens.len(), 2);
    }

    /// Tpaga's API client alone does not enable it: without a path token its
    /// webhooks would be anonymous (fail closed).
    #[test]
    fn tpaga_without_a_webhook_token_is_disabled_and_says_why() {
        let c = Config::from_source(&source(&[
            ("TPAGA_CLIENT_ID", "id"),
            ("TPAGA_CLIENT_SECRET", "s"),
        ]))
        .unwrap();
        assert!(!c.provider_enabled(Provider::Tpaga));
        assert_eq!(
            c.provider_disabled_reason(Provider::Tpaga).unwrap(),
            "missing TPAGA_WEBHOOK_TOKEN"
        );
    }

    #[test]
    fn short_webhook_credentials_stop_startup_without_printing_them() {
        for (var, value) in [
            ("MONO_WEBHOOK_SECRETS", "whsec_long_enough_1,whsec_short"),
            ("BELVO_WEBHOOK_AUTH", "Bearer tiny"),
            ("TPAGA_WEBHOOK_TOKEN", "fifteen-chars-x"),
        ] {
            let e = Config::from_source(&source(&[(var, value)])).unwrap_err();
            assert_eq!(e.variable, var, "{e}");
            assert!(e.message.contains("shorter than 16"), "{e}");
            for part in value.split(',') {
                assert!(!e.to_string().contains(part), "{e}");
            }
        }
        // Exactly the minimum is enough.
        let c =
            Config::from_source(&source(&[("TPAGA_WEBHOOK_TOKEN", "sixteen-chars-xx")])).unwrap();
        assert_eq!(c.tpaga.webhook_tokens.len(), 1);
    }

    #[test]
    fn tpaga_tokens_must_be_path_safe() {
        for bad in [
            "sixteen/chars/xx",
            "with space inside",
            "percent%2Fencoded",
            "accented-tokén-00",
            "query?string=1234",
        ] {
            let e = Config::from_source(&source(&[("TPAGA_WEBHOOK_TOKEN", bad)])).unwrap_err();
            assert_eq!(e.variable, "TPAGA_WEBHOOK_TOKEN", "{bad}");
            assert!(!e.to_string().contains(bad), "{e}");
        }
        let c = Config::from_source(&source(&[(
            "TPAGA_WEBHOOK_TOKEN",
            "Az09-_.~Az09-_.~, second_token_0123",
        )]))
        .unwrap();
        assert_eq!(c.tpaga.webhook_tokens.len(), 2);
    }

    #[test]
    fn provider_urls_need_https_unless_loopback_or_allowed() {
        for var in ["MONO_API_URL", "BELVO_API_URL", "TPAGA_API_URL"] {
            for ok in [
                "https://api.example.com",
                "http://127.0.0.1:9999",
                "http://127.3.4.5",
                "http://localhost:8000/",
                "http://[::1]:9999",
            ] {
                let c = Config::from_source(&source(&[(var, ok)]));
                assert!(c.is_ok(), "{var}={ok}: {:?}", c.err());
            }
            for bad in [
                "http://sandbox:9999",
                "http://10.0.0.1",
                "http://api.example.com",
                "http://localhost.example.com",
                "ftp://127.0.0.1",
            ] {
                let e = Config::from_source(&source(&[(var, bad)])).unwrap_err();
                assert_eq!(e.variable, var, "{bad}");
            }
            let c = Config::from_source(&source(&[
                (var, "http://sandbox:9999"),
                ("ALLOW_INSECURE_PROVIDER_URLS", "1"),
            ]));
            assert!(c.is_ok(), "{var}: {:?}", c.err());
        }
        let e =
            Config::from_source(&source(&[("ALLOW_INSECURE_PROVIDER_URLS", "maybe")])).unwrap_err();
        assert_eq!(e.variable, "ALLOW_INSECURE_PROVIDER_URLS");
    }

    #[test]
    fn the_reconciler_ops_port_is_loopback_by_default() {
        let c = Config::from_source(&source(&[])).unwrap();
        assert_eq!(c.reconciler_http_addr.to_string(), "127.0.0.1:9100");
    }
}
