//! Payment attempts whose outcome is unknown (a process died mid-call, the
//! provider timed out and the merchant never retried) are settled here, on the
//! sweeper's tick: Mono and Tpaga are asked again with the attempt's own
//! idempotency key, which returns the payment if it exists and creates it
//! otherwise, exactly as the merchant's retry would; Belvo, which has no such
//! key, is never called again (docs/ARCHITECTURE.md, "Payment attempts").

use std::time::Duration;

use chrono::Utc;
use shared::db::DbError;
use shared::db::payments::{self, AttemptRow};
use shared::domain::Provider;
use shared::providers::check::RecordedCall;
use shared::providers::create::{AttemptKeys, CreateError, PaymentCreator, Step};

use crate::context::Ctx;

/// Calls per attempt (API requests and sweeps together) before it is abandoned
/// and finance gets a `provider_error` exception.
pub const MAX_ATTEMPTS: i32 = 10;
/// Attempts settled per sweep; the rest wait for the next one.
const BATCH: i64 = 50;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    pub created: usize,
    pub rejected: usize,
    pub abandoned: usize,
    pub still_unknown: usize,
}

/// One pass; failures are logged and wait for the next sweep.
pub async fn resolve(ctx: &Ctx) {
    match resolve_due(ctx).await {
        Ok(r) if r != Resolved::default() => tracing::info!(?r, "payment attempts resolved"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "resolving payment attempts failed"),
    }
}

/// Wait before asking again, after `attempts` calls: 30 s doubling, at most an hour.
fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 8) as u32 - 1;
    Duration::from_secs(30 * 2u64.pow(exp)).min(Duration::from_secs(3600))
}

pub async fn resolve_due(ctx: &Ctx) -> Result<Resolved, DbError> {
    let lease =
        chrono::Duration::from_std(ctx.config.provider_timeout * 3 + Duration::from_secs(5))
            .unwrap_or(chrono::Duration::minutes(1));
    let claimed = ctx
        .db
        .run(move |conn| payments::claim_unresolved(conn, lease, BATCH))
        .await?;
    let mut done = Resolved::default();
    if claimed.is_empty() {
        return Ok(done);
    }
    let creator = PaymentCreator::new(ctx.config.clone())
        .map_err(|e| DbError::Task(format!("cannot build the HTTP client: {e}")))?;
    for row in claimed {
        // One attempt that cannot be stored (its order conflicts) must not
        // stop the others; its calls are bounded, so it ends abandoned.
        let outcome = match resolve_one(ctx, &creator, &row).await {
            Ok(o) => o,
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, reference = %row.reference, "payment attempt not resolved");
                Outcome::Unknown
            }
        };
        let label = match outcome {
            Outcome::Created => {
                done.created += 1;
                "created"
            }
            Outcome::Rejected => {
                done.rejected += 1;
                "rejected"
            }
            Outcome::Abandoned => {
                done.abandoned += 1;
                "abandoned"
            }
            Outcome::Unknown => {
                done.still_unknown += 1;
                "unavailable"
            }
        };
        ctx.metrics
            .payments_created
            .with_label_values(&[row.provider.as_str(), label])
            .inc();
    }
    Ok(done)
}

enum Outcome {
    Created,
    Rejected,
    Abandoned,
    Unknown,
}

async fn store(
    ctx: &Ctx,
    row: &AttemptRow,
    outcome: Outcome,
    reason: String,
    calls: Vec<RecordedCall>,
) -> Result<Outcome, DbError> {
    let id = row.id;
    let next = Utc::now() + chrono::Duration::from_std(backoff(row.attempts)).unwrap_or_default();
    match outcome {
        Outcome::Rejected => {
            ctx.db
                .run(move |c| payments::reject(c, id, &reason, &calls))
                .await?
        }
        Outcome::Abandoned => {
            ctx.db
                .run(move |c| payments::abandon(c, id, &reason, &calls))
                .await?
        }
        Outcome::Unknown => {
            ctx.db
                .run(move |c| payments::mark_unknown(c, id, &reason, next, &calls))
                .await?
        }
        Outcome::Created => {}
    }
    Ok(outcome)
}

async fn resolve_one(
    ctx: &Ctx,
    creator: &PaymentCreator,
    row: &AttemptRow,
) -> Result<Outcome, DbError> {
    let req = row.payment_request()?;
    if req.provider == Provider::Belvo {
        // The link is only requested after the customer id is committed and the
        // request marked: without the mark, nothing payable exists at Belvo.
        return if row.link_requested {
            let reason = "Belvo payment-link call ended without an answer; Belvo has no idempotency key to ask with";
            store(ctx, row, Outcome::Abandoned, reason.to_owned(), Vec::new()).await
        } else {
            store(
                ctx,
                row,
                Outcome::Rejected,
                "no Belvo payment link was requested".to_owned(),
                Vec::new(),
            )
            .await
        };
    }
    if row.attempts > MAX_ATTEMPTS {
        let reason = format!("no usable answer after {MAX_ATTEMPTS} calls");
        return store(ctx, row, Outcome::Abandoned, reason, Vec::new()).await;
    }
    if let Some(reason) = creator.disabled_reason(req.provider) {
        return store(ctx, row, Outcome::Unknown, reason, Vec::new()).await;
    }
    let keys = AttemptKeys {
        idempotency_key: row.idempotency_key.clone(),
        customer_id: row.provider_customer_id.clone(),
    };
    let started = std::time::Instant::now();
    // Every create call the sweeper makes is stored with its outcome (provider_checks).
    let mut calls = Vec::new();
    let result = creator.step(&req, &keys, &mut calls).await;
    ctx.metrics
        .provider_create_seconds
        .with_label_values(&[req.provider.as_str()])
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(Step::Done(created)) => {
            let first_check_at = Utc::now()
                + chrono::Duration::from_std(ctx.config.pending_recheck_after).unwrap_or_default();
            let id = row.id;
            ctx.db
                .run(move |c| payments::complete(c, id, &req, &created, first_check_at, &calls))
                .await?;
            Ok(Outcome::Created)
        }
        Ok(Step::BelvoCustomer(_)) => Ok(Outcome::Unknown),
        Err(e @ CreateError::Rejected { .. }) => {
            store(ctx, row, Outcome::Rejected, e.to_string(), calls).await
        }
        // An earlier call with this key may have created the payment: keep asking.
        Err(e @ (CreateError::Refused { .. } | CreateError::Unavailable { .. })) => {
            store(ctx, row, Outcome::Unknown, e.to_string(), calls).await
        }
        Err(e @ CreateError::Unresolvable { .. }) => {
            store(ctx, row, Outcome::Abandoned, e.to_string(), calls).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(30));
        assert_eq!(backoff(2), Duration::from_secs(60));
        assert_eq!(backoff(8), Duration::from_secs(3600));
        assert_eq!(backoff(i32::MAX), Duration::from_secs(3600));
        assert_eq!(backoff(i32::MIN), Duration::from_secs(30));
    }
}
