//! What the sandbox's core remembers (faults, latency, call counts, the webhook target) behind
//! one mutex, next to the registry of fake providers, which keep their payments themselves.
//! No lock is ever held across an `.await`, and no two locks are held at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use shared::domain::Provider;

use crate::admin_api::{CallCount, WebhookTarget};
use crate::faults::Faults;
use crate::registry::{FakeProvider, Registry};

/// The core's mutable state.
#[derive(Default)]
pub struct State {
    pub faults: Faults,
    pub latency: Duration,
    /// Calls per (provider, method, route pattern).
    pub calls: BTreeMap<(Provider, String, String), u64>,
    pub webhook_target: Option<WebhookTarget>,
}

impl State {
    pub fn record_call(&mut self, provider: Provider, method: &str, route: &str) {
        *self
            .calls
            .entry((provider, method.to_owned(), route.to_owned()))
            .or_default() += 1;
    }

    /// The counters as the stats endpoint reports them.
    pub fn call_counts(&self) -> Vec<CallCount> {
        self.calls
            .iter()
            .map(|((provider, method, route), count)| CallCount {
                provider: provider.as_str().to_owned(),
                method: method.clone(),
                route: route.clone(),
                count: *count,
            })
            .collect()
    }
}

/// Shared by every worker: the core state and the fake providers (which hold their credentials).
pub struct AppState {
    pub providers: Registry,
    state: Mutex<State>,
}

impl AppState {
    pub fn new(providers: Registry) -> Self {
        Self {
            providers,
            state: Mutex::new(State::default()),
        }
    }

    /// The core state; a panic in another handler must not wedge the sandbox, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The registered provider an admin request names.
    pub fn provider(&self, name: &str) -> Option<&Arc<dyn FakeProvider>> {
        self.providers.named(name)
    }

    /// Forgets payments, faults, latency, stats and tokens; keeps the webhook target
    /// (it describes the system under test, not a scenario).
    pub fn reset(&self) {
        {
            let mut state = self.lock();
            let target = state.webhook_target.take();
            *state = State {
                webhook_target: target,
                ..State::default()
            };
        }
        for provider in self.providers.iter() {
            provider.reset();
        }
    }
}

/// A provider's own store behind its own mutex, with the same poisoning rule as [`AppState::lock`].
#[derive(Debug, Default)]
pub struct Locked<T>(Mutex<T>);

impl<T> Locked<T> {
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
