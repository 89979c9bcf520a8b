//! The payment providers the product speaks to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A provider the product knows. Adding a fourth provider adds a variant here
/// and a module under `providers/` registered in `providers::registry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Mono,
    Belvo,
    Tpaga,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Mono, Provider::Belvo, Provider::Tpaga];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Mono => "mono",
            Provider::Belvo => "belvo",
            Provider::Tpaga => "tpaga",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}; expected one of mono, belvo, tpaga")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lowercase_names_only() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        assert!("Mono".parse::<Provider>().is_err());
        assert!("stripe".parse::<Provider>().is_err());
    }
}
