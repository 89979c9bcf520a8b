//! Domain types, configuration, database, queue topology and provider clients
//! shared by `webhook-api` and `reconciler`.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod bootstrap;
pub mod config;
pub mod db;
pub mod domain;
pub mod evidence;
#[cfg(test)]
pub(crate) mod fuzz_support;
pub mod health;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod providers;
pub mod queue;
pub mod report;
pub mod secret;
pub mod telemetry;
pub mod time;

pub use config::Config;
pub use secret::Secret;
#[cfg(feature = "testing")]
pub mod testing;
