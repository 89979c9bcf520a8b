//! webhook-api integration tests against real PostgreSQL and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod admin;
mod browser;
mod cdp;
mod console;
mod console_browser;
mod evidence;
mod fake_providers;
mod health;
mod helpers;
mod hostile;
mod logs;
mod orders;
mod outage;
mod payments;
mod pools;
mod reports;
mod webhooks;
