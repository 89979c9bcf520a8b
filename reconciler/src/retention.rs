//! The retention job: every `RETENTION_INTERVAL_SECS`, removes published
//! outbox rows after `RETENTION_OUTBOX_PUBLISHED_SECS` and raw evidence
//! (webhook bodies, provider answers) after `RETENTION_EVIDENCE_DAYS`, in
//! batches of `RETENTION_BATCH` so no statement holds locks for long. Several
//! reconcilers may run it at once: batches skip each other's rows.

use std::sync::Arc;
use std::time::Duration;

use diesel::PgConnection;
use shared::config::RetentionConfig;
use shared::db::{Db, DbError, retention};
use shared::metrics::Metrics;
use tokio::sync::watch;

use crate::context::Ctx;

/// Batches in one run per table, so a huge backlog (the first run on an old
/// database) is worked off over several intervals instead of in one go.
const MAX_BATCHES: usize = 1_000;

type Step = fn(&mut PgConnection, Duration, i64) -> Result<usize, DbError>;

pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let config = ctx.config.ops.retention.clone();
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
        if let Err(e) = run_once(&ctx.db, &ctx.metrics, &config).await {
            tracing::warn!(error = %e, "retention run failed; will retry next interval");
        }
    }
}

/// One pass over every table; returns the rows removed per table.
pub async fn run_once(
    db: &Db,
    metrics: &Metrics,
    config: &RetentionConfig,
) -> Result<[(&'static str, usize); 3], DbError> {
    let steps: [(&'static str, Duration, Step, bool); 3] = [
        (
            "outbox",
            config.outbox_published,
            retention::delete_published_outbox,
            false,
        ),
        (
            "provider_checks",
            config.evidence,
            retention::delete_provider_checks,
            false,
        ),
        (
            "webhook_events",
            config.evidence,
            retention::redact_webhook_events,
            true,
        ),
    ];
    let mut done = [("", 0); 3];
    for (i, (table, after, step, redacts)) in steps.into_iter().enumerate() {
        let mut total = 0;
        for _ in 0..MAX_BATCHES {
            let batch = config.batch;
            let n = db.run(move |conn| step(conn, after, batch)).await?;
            total += n;
            let counter = if redacts {
                &metrics.retention_redacted
            } else {
                &metrics.retention_deleted
            };
            counter.with_label_values(&[table]).inc_by(n as u64);
            if (n as i64) < batch {
                break;
            }
        }
        if total > 0 {
            tracing::info!(table, rows = total, "retention removed old rows");
        }
        done[i] = (table, total);
    }
    Ok(done)
}
