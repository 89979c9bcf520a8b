//! Processing one check message: ask the provider, apply what it says.

use shared::db::{checks, inbox};
use shared::providers::check::CheckError;
use shared::queue::message::CheckMessage;

use crate::apply::{self, Applied};
use crate::context::Ctx;

/// What to do with the message after processing.
#[derive(Debug)]
pub enum Disposition {
    /// Processed (changed something or not): ack.
    Done { outcome: String },
    /// Try again after a delay; `retry_after` is the provider's own hint.
    Retry {
        reason: String,
        retry_after: Option<std::time::Duration>,
    },
    /// Never going to succeed: dead-letter it.
    Dead { reason: &'static str, error: String },
}

pub async fn process(ctx: &Ctx, body: &[u8]) -> (Option<CheckMessage>, Disposition) {
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
    let disposition = process_message(ctx, &message).await;
    (Some(message), disposition)
}

fn retry_db(e: shared::db::DbError) -> Disposition {
    Disposition::Retry {
        reason: format!("database: {e}"),
        retry_after: None,
    }
}

async fn process_message(ctx: &Ctx, message: &CheckMessage) -> Disposition {
    let target = &message.target;
    let Some(connector) = ctx.connectors.get(target.provider) else {
        return Disposition::Dead {
            reason: "provider_disabled",
            error: format!("{} is not configured on this reconciler", target.provider),
        };
    };
    let picked_at = chrono::Utc::now();
    if let Some(inbox_id) = message.cause.releases_key()
        && let Err(e) = ctx
            .db
            .run(move |conn| inbox::mark_picked(conn, inbox_id))
            .await
    {
        return retry_db(e);
    }

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
    // A report's calls are stored with its effect (in `apply`); the others now,
    // linked to the order when the object is the one orders register.
    if !matches!(result, Ok(Some(_))) {
        let payment_id = (target.object_type == connector.payment_object_type())
            .then(|| target.object_id.clone());
        let calls = std::mem::take(&mut calls);
        if let Err(e) = ctx
            .db
            .run(move |conn| {
                let link = match &payment_id {
                    Some(id) => checks::OrderLink::Find(id),
                    None => checks::OrderLink::None,
                };
                checks::record(conn, &calls, link, inbox_id)
            })
            .await
        {
            return retry_db(e);
        }
    }

    match result {
        Ok(None) => {
            let done = match inbox_id {
                Some(id) => {
                    ctx.db
                        .run(move |conn| {
                            inbox::mark_processed(conn, id, "not_a_payment", Some(picked_at))
                        })
                        .await
                }
                None => Ok(()),
            };
            match done {
                Ok(()) => Disposition::Done {
                    outcome: "not_a_payment".to_owned(),
                },
                Err(e) => retry_db(e),
            }
        }
        Ok(Some(report)) => {
            let cause = message.cause.clone();
            let expiry = ctx.config.order_expiry;
            let report_for_log = report.clone();
            match ctx
                .db
                .run(move |conn| apply::apply(conn, &report, &cause, expiry, &calls, picked_at))
                .await
            {
                Ok(Applied {
                    outcome,
                    message: announcement,
                    exceptions,
                    ..
                }) => {
                    ctx.relay.publish_now(announcement.into_iter().collect());
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
                Err(e) => retry_db(e),
            }
        }
        Err(CheckError::Retryable {
            reason,
            retry_after,
        }) => Disposition::Retry {
            reason,
            retry_after,
        },
        Err(CheckError::Final { reason }) => Disposition::Dead {
            reason: "final_error",
            error: reason,
        },
    }
}
