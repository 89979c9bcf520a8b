//! Catches what webhooks miss. Every `SWEEP_INTERVAL_SECS` the process that
//! holds a PostgreSQL advisory lock (one at a time across reconcilers) queues
//! a re-check of every open order whose next check is due, and flags orders
//! whose schedule ended without a final status as `stale_pending`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};
use shared::db::DbError;
use shared::db::exceptions::{self, NewException};
use shared::db::flights::{self, Requested};
use shared::db::orders::{self, DueOrder};
use shared::db::outbox::{self, NewMessage, PendingMessage};
use shared::domain::{ExceptionKind, OrderState, Provider};
use shared::providers::webhook::CheckTarget;
use shared::queue::message::{Cause, CheckMessage, Exchange};
use shared::telemetry::ErrorChain;
use tokio::sync::watch;

use crate::context::Ctx;
use crate::schedule;

/// Names the sweeper's advisory lock ("PSE_SWEE").
const SWEEPER_LOCK_KEY: i64 = 0x5053_455f_5357_4545;
/// Orders handled per transaction.
const BATCH: i64 = 500;

pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let mut leader: Option<PgConnection> = None;
    loop {
        // Wait first: a restart does not sweep at once, so many reconcilers
        // restarting together do not all hit the providers in the same second.
        tokio::select! {
            _ = tokio::time::sleep(ctx.config.sweep_interval) => {}
            _ = shutdown.changed() => if *shutdown.borrow() { return },
        }
        leader = keep_leadership(&ctx, leader).await;
        if leader.is_some() {
            match sweep(&ctx).await {
                Ok(SweepSummary { queued, stale, .. }) if queued + stale > 0 => {
                    tracing::info!(queued, stale, "sweep queued re-checks");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %ErrorChain(&e), "sweep failed; will retry next interval")
                }
            }
            crate::attempts::resolve(&ctx).await;
        }
    }
}

/// Keeps (or tries to take) the advisory lock on a dedicated connection: the
/// lock lives as long as that session, so a crashed leader frees it at once.
async fn keep_leadership(ctx: &Ctx, held: Option<PgConnection>) -> Option<PgConnection> {
    let url = ctx.config.database_url.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        if let Some(mut conn) = held {
            if shared::db::ping(&mut conn).is_ok() {
                return Some(conn);
            }
            tracing::warn!("lost the sweeper's database session; re-electing");
        }
        let mut conn = PgConnection::establish(&url).ok()?;
        let locked = shared::db::try_session_lock(&mut conn, SWEEPER_LOCK_KEY).ok()?;
        if locked {
            tracing::info!("this reconciler is the active sweeper");
            Some(conn)
        } else {
            None
        }
    })
    .await
    .ok()
    .flatten()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepSummary {
    /// Re-check messages written.
    pub queued: usize,
    /// Re-checks covered by a check already queued for the object (no message).
    pub coalesced: usize,
    pub stale: usize,
    /// Rows looked at, including finished expired orders that needed no message.
    pub handled: usize,
}

/// Flight rows idle this long are deleted (a later request starts a new one).
const FLIGHT_IDLE: Duration = Duration::from_secs(24 * 3600);

/// Deletes a bounded number of idle flight rows; failures only wait for the next sweep.
async fn prune(ctx: &Ctx) {
    match ctx
        .db
        .run(|conn| flights::prune_idle(conn, FLIGHT_IDLE, 5_000))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::debug!(pruned = n, "idle check flights deleted"),
        Err(e) => tracing::warn!(error = %ErrorChain(&e), "could not prune idle check flights"),
    }
}

/// One sweep: asks for every due re-check (in batches, through the
/// single-flight gate) and nudges the relay.
pub async fn sweep(ctx: &Ctx) -> Result<SweepSummary, DbError> {
    let enabled: Vec<(Provider, &'static str)> = ctx
        .connectors
        .enabled()
        .filter_map(|p| ctx.connectors.get(p).map(|c| (p, c.payment_object_type())))
        .collect();
    let offsets = schedule::offsets(
        ctx.config.pending_recheck_after,
        ctx.config.order_expiry,
        ctx.config.stale_after,
    );
    let grace = ctx.config.pending_recheck_after;
    let mut total = SweepSummary::default();
    loop {
        let (enabled, offsets) = (enabled.clone(), offsets.clone());
        let (batch, messages, coalesced) = ctx
            .db
            .run(move |conn| sweep_batch(conn, &enabled, &offsets, grace, Utc::now()))
            .await?;
        total.queued += batch.queued;
        total.coalesced += batch.coalesced;
        total.stale += batch.stale;
        total.handled += batch.handled;
        ctx.relay.publish_now(messages);
        for (provider, n) in coalesced {
            ctx.metrics
                .checks_coalesced
                .with_label_values(&[provider.as_str()])
                .inc_by(n);
        }
        if batch.handled < BATCH as usize {
            prune(ctx).await;
            return Ok(total);
        }
    }
}

/// Re-checks coalesced per provider in one batch, for `checks_coalesced_total`.
type Coalesced = Vec<(Provider, u64)>;

fn sweep_batch(
    conn: &mut PgConnection,
    enabled: &[(Provider, &'static str)],
    offsets: &[Duration],
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<(SweepSummary, Vec<PendingMessage>, Coalesced), DbError> {
    let providers: Vec<Provider> = enabled.iter().map(|(p, _)| *p).collect();
    conn.transaction(|conn| {
        let due = orders::lock_due(conn, now, &providers, BATCH)?;
        let mut summary = SweepSummary::default();
        let mut messages = Vec::new();
        let at = |d: &DueOrder, offset: Duration| d.created_at + chrono::Duration::from_std(offset).unwrap_or_default();
        summary.handled = due.len();
        // The re-checks due now, asked for in one request (flight rows locked in key order).
        let mut rechecks: Vec<(&DueOrder, usize, CheckTarget)> = Vec::new();
        for order in &due {
            let Ok(provider) = order.provider.parse::<Provider>() else { continue };
            let n = usize::try_from(order.check_count).unwrap_or(0);
            if n < offsets.len() {
                let object_type = enabled
                    .iter()
                    .find(|(p, _)| *p == provider)
                    .map(|(_, t)| *t)
                    .unwrap_or("payment");
                rechecks.push((
                    order,
                    n,
                    CheckTarget {
                        provider,
                        object_type: object_type.to_owned(),
                        object_id: order.provider_payment_id.clone(),
                    },
                ));
            } else {
                // The schedule is over. An order still waiting for a final status
                // needs a person; an expired one simply stays expired.
                let state: Option<OrderState> = order.state.parse().ok();
                if matches!(state, Some(OrderState::Pending | OrderState::Processing)) {
                    exceptions::open(
                        conn,
                        &NewException {
                            order_id: Some(order.id),
                            provider,
                            provider_payment_id: Some(order.provider_payment_id.clone()),
                            kind: ExceptionKind::StalePending,
                            detail: format!(
                                "still {} after {} checks over {}; {} never reported a final status",
                                order.state,
                                offsets.len(),
                                human(offsets.last().copied().unwrap_or_default()),
                                provider
                            ),
                            dedup_key: format!("stale_pending:{}", order.id),
                            expected_amount_minor: None,
                            provider_amount_minor: None,
                            currency: None,
                        },
                    )?;
                    summary.stale += 1;
                }
                orders::end_schedule(conn, order.id)?;
            }
        }
        let targets: Vec<&CheckTarget> = rechecks.iter().map(|(_, _, t)| t).collect();
        let answers = flights::request(conn, &targets)?;
        let mut coalesced: Vec<(Provider, u64)> = Vec::new();
        for ((order, n, target), answer) in rechecks.iter().zip(answers) {
            let provider = target.provider;
            match answer {
                Requested::Queue { ticket } => {
                    let message = CheckMessage {
                        target: target.clone(),
                        event_type: "sweep".to_owned(),
                        cause: Cause::Sweep { order_id: order.id },
                        ticket: Some(ticket),
                    };
                    let pending = outbox::insert(
                        conn,
                        &NewMessage {
                            exchange: Exchange::Events,
                            routing_key: format!("{provider}.sweep"),
                            message_id: format!("sweep-{}-{n}", order.id),
                            payload: serde_json::to_value(&message)?,
                            inbox_id: None,
                        },
                    )?;
                    messages.extend(pending);
                    summary.queued += 1;
                }
                Requested::Coalesced { .. } => {
                    match coalesced.iter_mut().find(|(p, _)| *p == provider) {
                        Some((_, count)) => *count += 1,
                        None => coalesced.push((provider, 1)),
                    }
                    summary.coalesced += 1;
                }
            }
            // The schedule moves on either way: the queued check covers this one.
            // After the last check, one more wake-up (a grace period later) to judge it.
            let next = offsets
                .get(n + 1)
                .map(|o| at(order, *o))
                .unwrap_or_else(|| at(order, offsets[offsets.len() - 1] + grace));
            orders::advance_schedule(conn, order.id, order.check_count + 1, next)?;
        }
        Ok((summary, messages, coalesced))
    })
}

/// `24h`, `90m`, `5s`: the largest whole unit.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
