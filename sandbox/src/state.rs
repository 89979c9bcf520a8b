//! Everything the sandbox remembers, behind one mutex (never held across an `.await`).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::admin_api::{CallCount, WebhookTarget};
use crate::config::SandboxConfig;
use crate::faults::Faults;
use crate::{belvo, mono, tpaga};

/// The three fake providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    Mono,
    Belvo,
    Tpaga,
}

impl Provider {
    /// The lower-case name used in the admin API and webhook paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mono => "mono",
            Self::Belvo => "belvo",
            Self::Tpaga => "tpaga",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "mono" => Some(Self::Mono),
            "belvo" => Some(Self::Belvo),
            "tpaga" => Some(Self::Tpaga),
            _ => None,
        }
    }
}

/// Why an admin operation on a provider object was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such payment: 404 `{"error":"not_found"}`.
    NotFound,
    /// The request makes no sense for this provider: 422 with the message.
    Invalid(String),
}

/// The mutable state of one sandbox.
#[derive(Default)]
pub struct State {
    pub mono: mono::Store,
    pub belvo: belvo::Store,
    pub tpaga: tpaga::Store,
    pub faults: Faults,
    pub latency: Duration,
    /// Calls per (provider, method, route pattern).
    pub calls: BTreeMap<(Provider, String, String), u64>,
    pub webhook_target: Option<WebhookTarget>,
}

impl State {
    /// Forgets payments, faults, latency, stats and tokens; keeps the webhook target
    /// (it describes the system under test, not a scenario).
    pub fn reset(&mut self) {
        let target = self.webhook_target.take();
        *self = Self {
            webhook_target: target,
            ..Self::default()
        };
    }

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

/// Shared by every worker: the credentials and the state.
pub struct AppState {
    pub config: SandboxConfig,
    state: Mutex<State>,
}

impl AppState {
    pub fn new(config: SandboxConfig) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
        }
    }

    /// The state; a panic in another handler must not wedge the sandbox, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
