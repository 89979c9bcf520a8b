//! Applying a provider report to its order, in one transaction with the order
//! row locked: the state machine, history, exceptions, settlements, the
//! order event for `pse.orders`, and the inbox bookkeeping commit together or
//! not at all.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use shared::db::exceptions::{self, NewException};
use shared::db::models::{NewOrderEvent, OrderRow};
use shared::db::orders::{self, CheckedOrder};
use shared::db::outbox::NewMessage;
use shared::db::{DbError, order_events, settlements};
use shared::domain::money::format_cop;
use shared::domain::reconcile::{Observation, decide};
use shared::domain::{Currency, ExceptionKind, Money, OrderState};
use shared::providers::check::{PaymentReport, RecordedCall};
use shared::queue::message::{Cause, Exchange};

use crate::commit::{Announcement, Later};

/// What applying a report did, for logs, metrics and the inbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub outcome: String,
    pub moved: Option<(OrderState, OrderState)>,
    /// The order event written for `pse.orders`, to publish after the commit.
    pub message: Option<Announcement>,
    pub exceptions: Vec<ExceptionKind>,
}

/// Amounts in exception details are for people, so they read as Colombian
/// pesos (`$ 70.000`, the one formatter `format_cop`); the machine fields
/// (`expected_amount_minor`, `provider_amount_minor`) keep integer centavos.
fn fmt_amount(m: Option<Money>) -> String {
    m.map(|m| match m.currency() {
        Currency::Cop => format_cop(m.minor_units()),
    })
    .unwrap_or_else(|| "no amount".to_owned())
}

/// Applies `report`; `calls` (the provider calls that produced it) are stored
/// in the same transaction, so a recorded check and its effect are one fact
/// (they and the inbox outcome through `later`, written before the commit).
/// Runs in the caller's transaction (the group commit's savepoint for this
/// event, `crate::commit`), which it does not open itself: a nested one would
/// be two more statements per event.
pub fn apply(
    conn: &mut PgConnection,
    report: &PaymentReport,
    cause: &Cause,
    order_expiry: Duration,
    calls: &[RecordedCall],
    picked_at: DateTime<Utc>,
    later: &mut Later,
) -> Result<Applied, DbError> {
    // Lock the order before anything else touches it: anything taking a
    // key-share lock on it first (the calls' foreign key, a settlement's)
    // would make two checks of one order deadlock upgrading to this lock.
    let order = orders::lock_by_payment(conn, report.provider, &report.payment_id)?;
    later.record_calls(calls, order.as_ref().map(|o| o.id), cause.inbox_id());
    let applied = match order {
        None => no_order(conn, report)?,
        Some(order) => with_order(conn, order, report, cause, order_expiry, later)?,
    };
    if let Some(inbox_id) = cause.inbox_id() {
        later.mark_processed(inbox_id, &applied.outcome, Some(picked_at));
    }
    Ok(applied)
}

/// Money reported for an id no order expects is an `unknown_payment`: finance
/// must see it. Anything else about an unknown id is only noted.
fn no_order(conn: &mut PgConnection, report: &PaymentReport) -> Result<Applied, DbError> {
    if report.maps_to != OrderState::Paid {
        return Ok(Applied {
            outcome: "no_order".to_owned(),
            moved: None,
            message: None,
            exceptions: Vec::new(),
        });
    }
    let money_id = report
        .settlement_id
        .as_deref()
        .unwrap_or(&report.payment_id);
    exceptions::open(
        conn,
        &NewException {
            order_id: None,
            provider: report.provider,
            provider_payment_id: Some(report.payment_id.clone()),
            kind: ExceptionKind::UnknownPayment,
            detail: format!(
                "{} reports a successful payment ({}, status {}) for {}, which no order expects",
                report.provider,
                fmt_amount(report.amount),
                report.status,
                money_id
            ),
            // One per provider payment: a Belvo intent's status and its
            // transaction are two reports about the same money.
            dedup_key: format!("unknown_payment:{}:{}", report.provider, report.payment_id),
            expected_amount_minor: None,
            provider_amount_minor: report.amount.map(|m| m.minor_units()),
            currency: report.amount.map(|m| m.currency().code().to_owned()),
        },
    )?;
    if let Some(sid) = &report.settlement_id {
        record_settlement(conn, report, sid, None)?;
    }
    Ok(Applied {
        outcome: "unknown_payment".to_owned(),
        moved: None,
        message: None,
        exceptions: vec![ExceptionKind::UnknownPayment],
    })
}

/// Records a movement of money; true when it was not known before.
fn record_settlement(
    conn: &mut PgConnection,
    report: &PaymentReport,
    settlement_id: &str,
    order_id: Option<uuid::Uuid>,
) -> Result<bool, DbError> {
    settlements::record(
        conn,
        report.provider,
        settlement_id,
        order_id,
        report.amount,
    )
}

fn with_order(
    conn: &mut PgConnection,
    order: OrderRow,
    report: &PaymentReport,
    cause: &Cause,
    order_expiry: Duration,
    later: &mut Later,
) -> Result<Applied, DbError> {
    let now = Utc::now();
    let current: OrderState = order
        .state
        .parse()
        .map_err(|e| DbError::Task(format!("order {}: {e}", order.id)))?;
    let expected = order
        .currency
        .parse::<Currency>()
        .ok()
        .and_then(|c| Money::new(order.amount_minor, c).ok());
    let observation = Observation {
        reported: report.maps_to,
        amount_matches: report.amount.is_some() && report.amount == expected,
        past_expiry: (now - order.created_at).to_std().unwrap_or_default() >= order_expiry,
    };
    let decision = decide(current, &observation);
    if let Some(next) = decision.next
        && !current.can_transition_to(next)
    {
        return Err(DbError::Task(format!(
            "refusing {current} -> {next} for order {}: not an allowed transition",
            order.id
        )));
    }
    let mut raised = decision.exceptions.clone();

    // A second, distinct movement of money for the same order is a duplicate payment.
    if let Some(sid) = &report.settlement_id
        && record_settlement(conn, report, sid, Some(order.id))?
        && settlements::others_for_order(conn, order.id, sid)? > 0
    {
        raised.push(ExceptionKind::DuplicatePayment);
    }

    let state = decision.next.unwrap_or(current);
    let keep_checking = state.is_open();
    // A non-final status read after a final one is stale; it does not replace the status shown.
    let settled = current.is_final() || current == OrderState::NeedsReview;
    let provider_status = if settled && !report.maps_to.is_final() {
        order.provider_status.as_deref()
    } else {
        Some(report.status.as_str())
    };
    let mut updated = orders::record_check(
        conn,
        order.id,
        &CheckedOrder {
            state,
            provider_status,
            pse_cus: report.pse_cus.as_deref().or(order.pse_cus.as_deref()),
            bank_code: report.bank_code.as_deref().or(order.bank_code.as_deref()),
            provider_amount_minor: report
                .amount
                .map(|m| m.minor_units())
                .or(order.provider_amount_minor),
            checked_at: now,
            webhook_inbox_id: cause.inbox_id(),
            next_check_at: if keep_checking {
                order.next_check_at
            } else {
                None
            },
        },
    )?;

    for kind in &raised {
        exceptions::open(
            conn,
            &exception_for(*kind, &order, current, report, expected),
        )?;
    }
    // What the insert trigger just did to the row (or found already done,
    // when the exception was a repeat): the announcement must read them.
    updated.has_exceptions |= !raised.is_empty();

    let moved = decision.next.map(|next| (current, next));
    let mut message = None;
    if let Some((from, to)) = moved {
        let event_id = order_events::append(
            conn,
            &NewOrderEvent {
                order_id: order.id,
                from_state: Some(from.as_str()),
                to_state: to.as_str(),
                cause: &cause.label(),
                provider_status: Some(&report.status),
                webhook_event_id: cause.inbox_id(),
                at: now,
                order_created_at: order.created_at,
            },
        )?;
        // The merchant's other systems hear about it through the outbox, so the
        // announcement commits with the change and is never lost.
        let json = orders::one_with_details(conn, updated)?;
        message = Some(later.announce(NewMessage {
            exchange: Exchange::Orders,
            routing_key: format!("order.{}", to.as_str()),
            message_id: format!("order-{}-{event_id}", order.id),
            payload: serde_json::to_value(&json)?,
            inbox_id: cause.inbox_id(),
        }));
    }
    let outcome = match moved {
        Some((from, to)) => format!("moved:{from}->{to}"),
        None if raised.is_empty() => "unchanged".to_owned(),
        None => format!(
            "flagged:{}",
            raised
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    Ok(Applied {
        outcome,
        moved,
        message,
        exceptions: raised,
    })
}

fn exception_for(
    kind: ExceptionKind,
    order: &OrderRow,
    current: OrderState,
    report: &PaymentReport,
    expected: Option<Money>,
) -> NewException {
    let (detail, dedup_key) = match kind {
        ExceptionKind::AmountMismatch => (
            format!(
                "order expects {}; {} reports {} (status {})",
                fmt_amount(expected),
                report.provider,
                fmt_amount(report.amount),
                report.status
            ),
            format!(
                "amount_mismatch:{}:{}",
                order.id,
                report
                    .amount
                    .map(|m| format!("{}{}", m.minor_units(), m.currency()))
                    .unwrap_or_else(|| "none".to_owned())
            ),
        ),
        ExceptionKind::StatusConflict => (
            format!(
                "order was {current}; {} now reports {}",
                report.provider, report.status
            ),
            format!("status_conflict:{}:{current}:{}", order.id, report.status),
        ),
        ExceptionKind::LateSuccess => (
            format!(
                "{} reports {} ({}) after the order expired",
                report.provider,
                report.status,
                fmt_amount(report.amount)
            ),
            format!("late_success:{}", order.id),
        ),
        ExceptionKind::DuplicatePayment => {
            let sid = report.settlement_id.as_deref().unwrap_or("?");
            (
                format!(
                    "{} reports another payment {sid} ({}) for an order that already has one",
                    report.provider,
                    fmt_amount(report.amount)
                ),
                format!("duplicate_payment:{}:{sid}", report.provider),
            )
        }
        other => (
            format!("{other}: {} reports {}", report.provider, report.status),
            format!("{other}:{}:{}", order.id, report.status),
        ),
    };
    NewException {
        order_id: Some(order.id),
        provider: report.provider,
        provider_payment_id: Some(order.provider_payment_id.clone()),
        kind,
        detail,
        dedup_key,
        expected_amount_minor: Some(order.amount_minor),
        provider_amount_minor: report.amount.map(|m| m.minor_units()),
        currency: Some(order.currency.clone()),
    }
}
