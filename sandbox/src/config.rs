//! The credentials the fake providers accept.

use std::env;

/// Credentials each fake provider checks, and how long Tpaga access tokens live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub mono_api_key: String,
    pub belvo_secret_id: String,
    pub belvo_secret_password: String,
    pub tpaga_client_id: String,
    pub tpaga_client_secret: String,
    pub tpaga_token_ttl_secs: u64,
}

impl SandboxConfig {
    /// Fixed credentials: mono "sandbox-mono-key"; belvo "sandbox-belvo-id"/"sandbox-belvo-password";
    /// tpaga "sandbox-tpaga-client"/"sandbox-tpaga-secret"; token ttl 3600.
    pub fn for_tests() -> Self {
        Self {
            mono_api_key: "sandbox-mono-key".to_owned(),
            belvo_secret_id: "sandbox-belvo-id".to_owned(),
            belvo_secret_password: "sandbox-belvo-password".to_owned(),
            tpaga_client_id: "sandbox-tpaga-client".to_owned(),
            tpaga_client_secret: "sandbox-tpaga-secret".to_owned(),
            tpaga_token_ttl_secs: 3600,
        }
    }

    /// Reads SANDBOX_MONO_API_KEY, SANDBOX_BELVO_SECRET_ID, SANDBOX_BELVO_SECRET_PASSWORD, SANDBOX_TPAGA_CLIENT_ID,
    /// SANDBOX_TPAGA_CLIENT_SECRET, SANDBOX_TPAGA_TOKEN_TTL_SECS, defaulting to the for_tests() values.
    pub fn from_env() -> Result<Self, String> {
        Self::from_source(|name| env::var(name).ok())
    }

    /// [`Self::from_env`] over any lookup, so the parsing is testable without touching the environment.
    fn from_source(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let d = Self::for_tests();
        let text = |name: &str, default: String| -> Result<String, String> {
            match get(name) {
                None => Ok(default),
                Some(v) if v.trim().is_empty() => Err(format!("{name} is set but empty")),
                Some(v) => Ok(v),
            }
        };
        let ttl = match get("SANDBOX_TPAGA_TOKEN_TTL_SECS") {
            None => d.tpaga_token_ttl_secs,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(format!(
                        "SANDBOX_TPAGA_TOKEN_TTL_SECS={raw:?} is not a positive whole number of seconds"
                    ));
                }
            },
        };
        Ok(Self {
            mono_api_key: text("SANDBOX_MONO_API_KEY", d.mono_api_key)?,
            belvo_secret_id: text("SANDBOX_BELVO_SECRET_ID", d.belvo_secret_id)?,
            belvo_secret_password: text("SANDBOX_BELVO_SECRET_PASSWORD", d.belvo_secret_password)?,
            tpaga_client_id: text("SANDBOX_TPAGA_CLIENT_ID", d.tpaga_client_id)?,
            tpaga_client_secret: text("SANDBOX_TPAGA_CLIENT_SECRET", d.tpaga_client_secret)?,
            tpaga_token_ttl_secs: ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<SandboxConfig, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SandboxConfig::from_source(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_test_credentials() {
        assert_eq!(from(&[]).unwrap(), SandboxConfig::for_tests());
    }

    #[test]
    fn overrides_and_rejects_bad_values() {
        let c = from(&[
            ("SANDBOX_MONO_API_KEY", "k"),
            ("SANDBOX_TPAGA_TOKEN_TTL_SECS", "5"),
        ])
        .unwrap();
        assert_eq!(c.mono_api_key, "k");
        assert_eq!(c.tpaga_token_ttl_secs, 5);
        assert!(from(&[("SANDBOX_TPAGA_TOKEN_TTL_SECS", "x")]).is_err());
        assert!(from(&[("SANDBOX_TPAGA_TOKEN_TTL_SECS", "0")]).is_err());
        assert!(from(&[("SANDBOX_BELVO_SECRET_ID", " ")]).is_err());
    }
}
