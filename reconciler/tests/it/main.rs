//! Reconciler integration tests: real PostgreSQL and RabbitMQ, providers faked
//! by the in-process sandbox speaking their documented wire formats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod concurrency;
mod end_to_end;
mod evidence_cli;
mod exceptions;
mod failures;
mod fault;
mod flights;
mod group_commit;
mod mapping;
mod payments;
mod picks;
mod prepared;
mod report_cli;
mod retention;
mod seam;
mod sweeper;
