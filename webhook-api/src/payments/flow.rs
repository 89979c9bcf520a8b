//! One payment creation: record the attempt, call the provider without
//! holding a connection, then register the order and mark the attempt created
//! in one transaction (docs/ARCHITECTURE.md, "Payment attempts").

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use shared::Config;
use shared::db::orders::OrderJson;
use shared::db::payments::{self, AttemptRow, Begin};
use shared::domain::Provider;
use shared::metrics::Metrics;
use shared::providers::check::RecordedCall;
use shared::providers::create::{AttemptKeys, CreateError, PaymentCreator, PaymentRequest, Step};
use shared::providers::tpaga;

use crate::error::ApiError;
use crate::state::AppState;

/// Test-only: set to `1` to abort the process right after a provider created
/// a payment and before the commit, as a crash there would (tests/payments_crash.rs).
pub const ABORT_AFTER_CREATE_ENV: &str = "PSE_TEST_ABORT_AFTER_PROVIDER_CREATE";

pub struct Paid {
    /// `false` when the same request was already answered (200 instead of 201).
    pub created: bool,
    pub order: OrderJson,
    pub payment_url: String,
}

/// How long one request owns an attempt: every call it may make, with margin.
/// A crashed request's lease lapses by itself, and then a retry or the sweeper proceeds.
pub fn lease(config: &Config) -> chrono::Duration {
    chrono::Duration::from_std(config.provider_timeout * 3 + Duration::from_secs(5))
        .unwrap_or(chrono::Duration::minutes(1))
}

/// The idempotency key of a new attempt generation (docs/PROVIDERS.md, "Creating payments").
pub fn key_for(provider: Provider) -> impl Fn(&str, i32) -> String {
    move |reference, generation| match provider {
        Provider::Mono => uuid::Uuid::new_v4().to_string(),
        Provider::Tpaga => tpaga::create::order_id(reference, generation),
        Provider::Belvo => format!("generation-{generation}"),
    }
}

pub async fn pay(state: &AppState, req: PaymentRequest) -> Result<Paid, ApiError> {
    let creator = &state.payments.creator;
    if let Some(reason) = creator.disabled_reason(req.provider) {
        return Err(ApiError::PaymentProviderDisabled(reason));
    }
    let lease = lease(&state.config);
    let key = key_for(req.provider);
    let r = req.clone();
    let begun = state
        .db
        .run(move |conn| payments::begin(conn, &r, &key, lease, lease))
        .await?;
    let count = |outcome: &str| {
        state
            .metrics
            .payments_created
            .with_label_values(&[req.provider.as_str(), outcome])
            .inc();
    };
    let attempt = match begun {
        Begin::Call(a) => *a,
        Begin::Done(order, payment_url) => {
            count("replayed");
            return Ok(Paid {
                created: false,
                order: *order,
                payment_url,
            });
        }
        Begin::Conflict => {
            return Err(conflict(
                "reference_conflict",
                "a payment or order with this reference already exists with a different body",
            ));
        }
        Begin::InProgress => {
            return Err(conflict(
                "payment_in_progress",
                "this payment is being created by another request; send the same request again in a few seconds",
            ));
        }
        Begin::Abandoned(_) => {
            return Err(conflict(
                "payment_abandoned",
                "this payment's outcome at the provider could not be established; finance has a provider_error exception for it",
            ));
        }
    };
    let outcome = run(state, creator, &state.metrics, &req, attempt).await;
    count(match &outcome {
        Ok(_) => "created",
        Err(ApiError::ProviderRejected { .. }) => "rejected",
        Err(ApiError::Conflict { .. }) => "abandoned",
        Err(_) => "unavailable",
    });
    outcome
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::Conflict {
        code,
        message: message.to_owned(),
    }
}

/// The provider calls of one attempt and what each outcome does to it.
async fn run(
    state: &AppState,
    creator: &PaymentCreator,
    metrics: &Arc<Metrics>,
    req: &PaymentRequest,
    attempt: AttemptRow,
) -> Result<Paid, ApiError> {
    let mut keys = AttemptKeys {
        idempotency_key: attempt.idempotency_key.clone(),
        customer_id: attempt.provider_customer_id.clone(),
    };
    let id = attempt.id;
    let mut link_requested = attempt.link_requested;
    let first_call = attempt.attempts == 1;
    // Every provider call of this try, stored with its outcome (provider_checks).
    let mut calls = Vec::new();
    loop {
        if req.provider == Provider::Belvo && keys.customer_id.is_some() {
            if link_requested {
                let reason =
                    "an earlier payment-link call for this attempt ended without an answer";
                return Err(settle(
                    state,
                    id,
                    &keys,
                    false,
                    calls,
                    CreateError::Unresolvable {
                        provider: Provider::Belvo,
                        reason: reason.to_owned(),
                    },
                )
                .await);
            }
            state
                .db
                .run(move |conn| payments::mark_link_requested(conn, id))
                .await?;
            link_requested = true;
        }
        let result = timed_step(creator, metrics, req, &keys, &mut calls).await;
        match result {
            Ok(Step::BelvoCustomer(customer)) => {
                let c = customer.clone();
                state
                    .db
                    .run(move |conn| payments::save_customer(conn, id, &c))
                    .await?;
                keys.customer_id = Some(customer);
            }
            Ok(Step::Done(created)) => {
                if std::env::var(ABORT_AFTER_CREATE_ENV).is_ok_and(|v| v == "1") {
                    std::process::abort();
                }
                let first_check_at = Utc::now()
                    + chrono::Duration::from_std(state.config.pending_recheck_after)
                        .unwrap_or_default();
                let r = req.clone();
                let (order, payment_url) = state
                    .db
                    .run(move |conn| {
                        payments::complete(conn, id, &r, &created, first_check_at, &calls)
                    })
                    .await?;
                tracing::info!(reference = %order.reference, provider = %order.provider, "payment created");
                return Ok(Paid {
                    created: true,
                    order,
                    payment_url,
                });
            }
            Err(e) => return Err(settle(state, id, &keys, first_call, calls, e).await),
        }
    }
}

pub async fn timed_step(
    creator: &PaymentCreator,
    metrics: &Metrics,
    req: &PaymentRequest,
    keys: &AttemptKeys,
    calls: &mut Vec<RecordedCall>,
) -> Result<Step, CreateError> {
    let started = Instant::now();
    let result = creator.step(req, keys, calls).await;
    metrics
        .provider_create_seconds
        .with_label_values(&[req.provider.as_str()])
        .observe(started.elapsed().as_secs_f64());
    result
}

enum Store {
    Reject,
    Abandon,
}

/// Records a failed call on the attempt and says what the merchant gets.
async fn settle(
    state: &AppState,
    id: uuid::Uuid,
    keys: &AttemptKeys,
    first_call: bool,
    calls: Vec<RecordedCall>,
    e: CreateError,
) -> ApiError {
    // The provider's message can echo submitted values: the merchant gets it, the log does not.
    let kind = match &e {
        CreateError::Rejected { .. } => "rejected",
        CreateError::Refused { .. } => "refused",
        CreateError::Unavailable { .. } => "unavailable",
        CreateError::Unresolvable { .. } => "unresolvable",
    };
    tracing::warn!(kind, "payment creation failed");
    let message = e.to_string();
    let next = Utc::now() + lease(&state.config);
    let (stored, answer) = match e {
        CreateError::Rejected {
            provider,
            field,
            message: m,
        } => (
            Store::Reject,
            ApiError::ProviderRejected {
                provider: provider.to_string(),
                field,
                message: m,
            },
        ),
        // Only a first call's refusal proves nothing exists; after that, an
        // earlier call with the same key may have created the payment.
        CreateError::Refused { .. } if first_call => (
            Store::Reject,
            ApiError::ProviderUnavailable {
                timed_out: false,
                message: format!("{message}; nothing was created"),
            },
        ),
        // Belvo has no idempotency: once a link call's outcome is unknown it is never repeated.
        CreateError::Unavailable {
            provider: Provider::Belvo,
            ..
        } if keys.customer_id.is_some() => (
            Store::Abandon,
            conflict(
                "payment_abandoned",
                &format!(
                    "{message}; Belvo cannot say whether the payment link exists, so it is not created again; finance has a provider_error exception for it"
                ),
            ),
        ),
        CreateError::Unresolvable { .. } => (
            Store::Abandon,
            conflict(
                "payment_abandoned",
                &format!("{message}; finance has a provider_error exception for it"),
            ),
        ),
        e @ (CreateError::Unavailable { .. } | CreateError::Refused { .. }) => {
            let timed_out = matches!(
                e,
                CreateError::Unavailable {
                    timed_out: true,
                    ..
                }
            );
            let result = state
                .db
                .run(move |conn| payments::mark_unknown(conn, id, &message, next, &calls))
                .await;
            if let Err(db) = result {
                return db.into();
            }
            return ApiError::ProviderUnavailable {
                timed_out,
                message: "the provider did not answer usably; send the same request again to complete this payment (never a second one)".to_owned(),
            };
        }
    };
    let result = state
        .db
        .run(move |conn| match stored {
            Store::Reject => payments::reject(conn, id, &message, &calls),
            Store::Abandon => payments::abandon(conn, id, &message, &calls),
        })
        .await;
    match result {
        Ok(()) => answer,
        Err(db) => db.into(),
    }
}
