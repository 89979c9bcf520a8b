//! `API_KEYS`: who may call the API, and as what.

use super::{ConfigError, err};
use crate::secret::Secret;

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

    /// Every configured key (the console re-checks a session against them on each request).
    pub fn iter(&self) -> impl Iterator<Item = &ApiKey> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn parse(raw: &str) -> Result<Self, ConfigError> {
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
