//! The fake providers, one folder each, and the one list that registers them.
//! Each folder depends only downward (registry, gate, state, admin::reply, auth, ids, money);
//! nothing outside this module names a provider.

pub mod belvo;
pub mod mono;
pub mod tpaga;

use std::sync::Arc;

use crate::config::SandboxConfig;
use crate::registry::{FakeProvider, Registry};

/// Every fake provider, in route-registration order. A fourth provider is one line here.
pub fn all(config: &SandboxConfig) -> Result<Registry, String> {
    let providers: Vec<Arc<dyn FakeProvider>> = vec![
        Arc::new(mono::Mono::new(config)),
        Arc::new(belvo::Belvo::new(config)),
        Arc::new(tpaga::Tpaga::new(config)),
    ];
    Registry::new(providers)
}

#[cfg(test)]
mod tests {
    use shared::domain::Provider;

    use super::*;

    /// The product's provider list and the sandbox's must match: a provider the product
    /// speaks to needs a fake for its tests.
    #[test]
    fn every_product_provider_has_one_fake() {
        let registry = all(&SandboxConfig::for_tests()).unwrap();
        for p in Provider::ALL {
            assert_eq!(registry.get(p).map(|f| f.id()), Some(p), "{p}");
        }
        assert_eq!(registry.iter().count(), Provider::ALL.len());
    }
}
