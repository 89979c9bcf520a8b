//! Processing one check message: take the object's flight lease, ask the
//! provider, apply what it says and end the flight in the same transaction
//! (a group commit shared with other checks' outcomes: `crate::commit`).
//! The single-flight rules are in `shared::db::flights`.

use shared::db::flights::{self, Finish, Finished, Picked};
use shared::db::{DbError, orders};
use shared::providers::check::{CheckError, RecordedCall};
use shared::queue::message::CheckMessage;
use shared::telemetry::ErrorChain;

use crate::apply::{self, Applied};
use crate::commit::Later;
use crate::consumer::retry_tier;
use crate::context::Ctx;

/// What to do with the message after processing.
#[derive(Debug)]
pub enum Disposition {
    /// Processed (changed something or not), or superseded: ack.
    Done { outcome: String },
    /// Try again from the delay queue `tier` (index into the retry delays).
    Retry { reason: String, tier: usize },
    /// Never going to succeed, or out of attempts: dead-letter it.
    Dead { reason: &'static str, error: String },
    /// Another process is checking the object right now: put the message back
    /// on the first delay queue without spending an attempt. The lease that
    /// blocks it expires if its holder died, so it never waits forever.
    Deferred,
}

/// Processes a first delivery (attempt 0).
pub async fn process(ctx: &Ctx, body: &[u8]) -> (Option<CheckMessage>, Disposition) {
    process_attempt(ctx, body, 0).await
}

/// Processes a delivery that has already been retried `attempt` times: once
/// the retry delays are used up, a retryable failure is dead-lettered.
pub async fn process_attempt(
    ctx: &Ctx,
    body: &[u8],
    attempt: usize,
) -> (Option<CheckMessage>, Disposition) {
    let message: CheckMessage = match serde_json::from_slice(body) {
        Ok(m) => m,
        Err(e) => {
            return (
                None,
                Disposition::Dead {
                    reason: "unparseable",
                    error: format!("not a check message: {e}"),
                },
            );
        }
    };
    let disposition = process_message(ctx, &message, attempt).await;
    (Some(message), disposition)
}

/// Where a retryable failure goes: a delay queue, or the dead letters once
/// the attempts are used up.
enum Next {
    Retry {
        tier: usize,
        hold: std::time::Duration,
    },
    Exhausted,
}

fn next_step(ctx: &Ctx, attempt: usize, retry_after: Option<std::time::Duration>) -> Next {
    let delays = ctx.broker.topology().retry_delays();
    if attempt >= delays.len() {
        return Next::Exhausted;
    }
    let tier = retry_tier(delays, attempt, retry_after);
    Next::Retry {
        tier,
        hold: delays[tier] + flights::QUEUE_GRACE,
    }
}

fn disposition_for(next: Next, reason: String, attempt: usize) -> Disposition {
    match next {
        Next::Retry { tier, .. } => Disposition::Retry { reason, tier },
        Next::Exhausted => Disposition::Dead {
            reason: "retries_exhausted",
            error: format!("{reason}; gave up after {attempt} retries"),
        },
    }
}

/// A database failure: retry like a provider failure. A lease already taken
/// stays until it expires (the database is what failed to end it).
fn retry_db(ctx: &Ctx, attempt: usize, e: DbError) -> Disposition {
    disposition_for(
        next_step(ctx, attempt, None),
        format!("database: {}", ErrorChain(&e)),
        attempt,
    )
}

async fn process_message(ctx: &Ctx, message: &CheckMessage, attempt: usize) -> Disposition {
    let target = &message.target;
    let Some(connector) = ctx.connectors.get(target.provider) else {
        return Disposition::Dead {
            reason: "provider_disabled",
            error: format!("{} is not configured on this reconciler", target.provider),
        };
    };
    let picked_at = chrono::Utc::now();
    let ticket = message.ticket;
    let token = match ctx.picks.pick(target, ticket).await {
        Ok(Picked::Run { token }) => token,
        Ok(Picked::Busy) => return Disposition::Deferred,
        Err(e) => return retry_db(ctx, attempt, e),
    };

    let mut calls = Vec::new();
    let result = connector.check(target, &mut calls).await;
    for call in &calls {
        let status = call
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "error".to_owned());
        ctx.metrics
            .provider_calls
            .with_label_values(&[call.provider.as_str(), status.as_str()])
            .observe(call.latency.as_secs_f64());
    }
    let inbox_id = message.cause.inbox_id();
    // The calls are stored with the check's effect, and the flight ends in
    // the same transaction; a report's calls are stored by `apply`, the others
    // here, linked to the order when the object is the one orders register.
    let payment_id =
        (target.object_type == connector.payment_object_type()).then(|| target.object_id.clone());
    let provider = target.provider;
    let record = move |conn: &mut diesel::PgConnection,
                       later: &mut Later,
                       calls: &[RecordedCall]|
          -> Result<(), DbError> {
        let order_id = match &payment_id {
            Some(id) if !calls.is_empty() => orders::id_by_payment(conn, provider, id)?,
            _ => None,
        };
        later.record_calls(calls, order_id, inbox_id);
        Ok(())
    };
    let target_owned = target.clone();
    let flight_key = format!(
        "{}\u{0}{}\u{0}{}",
        target.provider, target.object_type, target.object_id
    );

    match result {
        Ok(None) => {
            let done = ctx
                .commits
                .run(flight_key.clone(), move |conn, later| {
                    record(conn, later, &calls)?;
                    if let Some(id) = inbox_id {
                        later.mark_processed(id, "not_a_payment", Some(picked_at));
                    }
                    later.release(&target_owned, token);
                    Ok(())
                })
                .await;
            match done {
                Ok(_) => Disposition::Done {
                    outcome: "not_a_payment".to_owned(),
                },
                Err(e) => retry_db(ctx, attempt, e),
            }
        }
        Ok(Some(report)) => {
            let cause = message.cause.clone();
            let expiry = ctx.config.order_expiry;
            let report_for_log = report.clone();
            let applied = ctx
                .commits
                .run(flight_key.clone(), move |conn, later| {
                    let applied =
                        apply::apply(conn, &report, &cause, expiry, &calls, picked_at, later)?;
                    later.release(&target_owned, token);
                    Ok(applied)
                })
                .await;
            match applied {
                Ok(Applied {
                    outcome,
                    message: announcement,
                    exceptions,
                    ..
                }) => {
                    ctx.relay
                        .publish_now(announcement.and_then(|a| a.written()).into_iter().collect());
                    tracing::info!(
                        provider = %report_for_log.provider,
                        payment_id = %report_for_log.payment_id,
                        provider_status = %report_for_log.status,
                        %outcome,
                        exceptions = ?exceptions,
                        cause = %message.cause.label(),
                        "check applied"
                    );
                    Disposition::Done { outcome }
                }
                Err(e) => retry_db(ctx, attempt, e),
            }
        }
        Err(CheckError::Retryable {
            reason,
            retry_after,
        }) => {
            let next = next_step(ctx, attempt, retry_after);
            let how = match next {
                Next::Retry { hold, .. } => Finish::Retry { ticket, hold },
                Next::Exhausted => Finish::Released,
            };
            let finished = ctx
                .commits
                .run(flight_key.clone(), move |conn, later| {
                    record(conn, later, &calls)?;
                    // This finish is read at once, so it cannot wait for the
                    // batch's end: what is gathered so far is written first,
                    // keeping the lock order (an order's rows before a flight).
                    later.flush(conn)?;
                    flights::finish(conn, &target_owned, token, how)
                })
                .await;
            match finished {
                Ok(Finished::RetrySuperseded { by }) => {
                    tracing::info!(
                        provider = %target.provider,
                        %reason,
                        queued_ticket = by,
                        "provider check failed; a check queued since then retries it"
                    );
                    ctx.metrics
                        .checks_coalesced
                        .with_label_values(&[target.provider.as_str()])
                        .inc();
                    Disposition::Done {
                        outcome: "superseded".to_owned(),
                    }
                }
                Ok(_) => disposition_for(next, reason, attempt),
                Err(e) => retry_db(ctx, attempt, e),
            }
        }
        Err(CheckError::Final { reason }) => {
            let finished = ctx
                .commits
                .run(flight_key.clone(), move |conn, later| {
                    record(conn, later, &calls)?;
                    later.release(&target_owned, token);
                    Ok(())
                })
                .await;
            match finished {
                Ok(_) => Disposition::Dead {
                    reason: "final_error",
                    error: reason,
                },
                Err(e) => retry_db(ctx, attempt, e),
            }
        }
    }
}
