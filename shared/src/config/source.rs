//! Where configuration values come from, and how each kind of value is read
//! and checked.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ConfigError, MIN_WEBHOOK_CREDENTIAL_LEN, err};
use crate::secret::Secret;

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

pub(super) struct Reader<'a>(pub(super) &'a dyn Source);

impl Reader<'_> {
    /// A set, non-blank value.
    pub(super) fn opt(&self, name: &'static str) -> Option<String> {
        self.0
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn string(&self, name: &'static str, default: &str) -> String {
        self.opt(name).unwrap_or_else(|| default.to_owned())
    }

    pub(super) fn secret(&self, name: &'static str) -> Option<Secret> {
        self.opt(name).map(Secret::new)
    }

    pub(super) fn secrets(&self, name: &'static str) -> Vec<Secret> {
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
    pub(super) fn webhook_credentials(
        &self,
        name: &'static str,
    ) -> Result<Vec<Secret>, ConfigError> {
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
    pub(super) fn path_tokens(&self, name: &'static str) -> Result<Vec<Secret>, ConfigError> {
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

    pub(super) fn number<T>(
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

    pub(super) fn seconds(
        &self,
        name: &'static str,
        default: u64,
    ) -> Result<Duration, ConfigError> {
        self.number(name, default, 1..=30 * 24 * 3600)
            .map(Duration::from_secs)
    }

    /// A provider API base URL. Requests to it carry our credentials and
    /// bring back the statuses money moves on, so plain `http://` is refused
    /// unless the host is loopback (tests, a local sandbox) or
    /// `ALLOW_INSECURE_PROVIDER_URLS=1` says so (the sandbox on a private
    /// container network).
    pub(super) fn provider_url(
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
    pub(super) fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
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
