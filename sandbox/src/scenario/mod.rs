//! `pse-sandbox scenario NAME`: end-to-end scenarios that drive a running
//! product (webhook-api + reconciler) and a running sandbox the way a merchant
//! and the providers would, then check the reconciliation report.
//!
//! - [`plan`]: what each scenario does and expects (pure, unit-tested);
//! - [`run`]: plays the plans, shows progress, compares the report;
//! - `play`: one payment's task; `progress`: polling and the progress line;
//! - [`summary`]: the report's summary, expected vs observed, printing;
//! - [`product`]: the product's HTTP API;
//! - [`options`]: flags and environment.

mod mix;
pub mod options;
pub mod plan;
mod play;
pub mod product;
mod progress;
pub mod run;
pub mod summary;

pub use options::Options;
pub use plan::{Case, PaymentPlan, ScenarioInfo, Step, scenarios};
pub use run::{Verdict, run};
