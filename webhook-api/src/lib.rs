//! webhook-api: receives provider webhooks and serves the orders, reports and admin APIs.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod admin;
pub mod auth;
pub mod body;
pub mod console;
pub mod error;
pub mod evidence;
pub mod exceptions;
pub mod extract;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod orders;
pub mod panic_guard;
pub mod payments;
pub mod reports;
pub mod routes;
pub mod startup;
pub mod state;
pub mod webhooks;

pub use startup::Application;
