//! One function per phase; each returns the JSON record `main` prints. The phases live in
//! one file per group (ingress sweeps, latency, reconciler and its curve, end to end,
//! report, scale-out); the helpers they share are here.

mod e2e;
mod ingress;
mod latency;
mod reconcile;
mod report;
mod scaleout;

pub use e2e::e2e;
pub use ingress::{ceiling, ingress, pgbench_phase};
pub use latency::{latency, rate_from_results, read_results};
pub use reconcile::reconciler;
pub use report::report;
pub use scaleout::scale_out;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cpu::{round1, round2};
use crate::procs::Usage;
use crate::stack::Stack;
use crate::{broker, db};

fn progress(msg: impl AsRef<str>) {
    eprintln!("    {}", msg.as_ref());
}

fn work_dir() -> Result<PathBuf, String> {
    let d = PathBuf::from(
        std::env::var("BENCH_WORK_DIR").unwrap_or_else(|_| "target/bench".to_owned()),
    );
    std::fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    Ok(d)
}

fn mb(kb: u64) -> f64 {
    round1(kb as f64 / 1024.0)
}

fn usage_json(u: &Usage) -> Value {
    json!({"peak_rss_kb": u.peak_rss_kb, "peak_rss_mb": mb(u.peak_rss_kb), "cpu_secs": round2(u.cpu_secs)})
}

/// A fresh database and broker topology for a phase.
async fn fresh() -> Result<Stack, String> {
    broker::delete_topology().await?;
    let url = db::recreate().await?;
    Stack::new(url)
}

/// How often a phase polls PostgreSQL while the system under test is busy.
const POLL_UNDER_LOAD: Duration = Duration::from_millis(500);

const TRUNCATE_INBOX: &str = "TRUNCATE webhook_events, outbox RESTART IDENTITY CASCADE";
