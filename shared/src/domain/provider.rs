//! The payment providers the product speaks to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A provider the product knows. Adding a fourth provider adds a variant here
/// and a module under `providers/` registered in `providers::registration`.
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

    /// "mono, belvo, tpaga": every message that lists the providers says it from here, so
    /// a new variant cannot leave a stale list behind.
    pub fn names() -> String {
        Provider::ALL.map(Provider::as_str).join(", ")
    }

    /// The validation message for a field that takes a provider name.
    pub fn expected() -> String {
        format!("must be one of {}", Provider::names())
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}; expected one of {names}", names = Provider::names())]
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

    /// `ALL` is the list every message and parser derives from: the exhaustive match makes
    /// a new variant a compile error here until it is added to `ALL` as well.
    #[test]
    fn all_lists_every_variant_once() {
        let position = |p: Provider| match p {
            Provider::Mono | Provider::Belvo | Provider::Tpaga => {
                Provider::ALL.iter().position(|q| *q == p)
            }
        };
        for p in [Provider::Mono, Provider::Belvo, Provider::Tpaga] {
            assert!(position(p).is_some(), "{p} missing from Provider::ALL");
        }
        let mut names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Provider::ALL.len());
    }

    #[test]
    fn messages_name_every_provider() {
        assert_eq!(Provider::names(), "mono, belvo, tpaga");
        assert_eq!(Provider::expected(), "must be one of mono, belvo, tpaga");
        let unknown = "stripe".parse::<Provider>().unwrap_err().to_string();
        for p in Provider::ALL {
            assert!(unknown.contains(p.as_str()), "{unknown}");
        }
        assert_eq!(
            unknown,
            "unknown provider \"stripe\"; expected one of mono, belvo, tpaga"
        );
    }
}
