//! reconciler: consumes webhook events, re-queries providers, moves orders
//! through the state machine, retries, dead-letters and sweeps.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod apply;
pub mod archiver;
pub mod attempts;
pub mod batch;
pub mod cli;
pub mod commit;
pub mod consumer;
pub mod context;
pub mod handle;
pub mod ops;
pub mod pick;
pub mod retention;
pub mod schedule;
pub mod sweeper;
pub mod worker;

pub use worker::Worker;
