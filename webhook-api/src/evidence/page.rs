//! The evidence as a self-contained HTML timeline (askama: compile-time
//! template, HTML auto-escaping, so provider bodies cannot inject markup).

use askama::Template;
use shared::evidence::{Entry, Sealed};

use crate::error::ApiError;

/// One timeline row, flattened so the template needs no knowledge of entry kinds.
struct Row {
    at: String,
    kind: &'static str,
    details: Vec<(&'static str, String)>,
    body: Option<String>,
}

#[derive(Template)]
#[template(path = "evidence.html")]
struct Page<'a> {
    reference: &'a str,
    order: Vec<(&'static str, String)>,
    rows: Vec<Row>,
    truncated: bool,
    digest: &'a str,
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "—".to_owned(), T::to_string)
}

fn row(e: &Entry) -> Row {
    let (details, body): (Vec<(&'static str, String)>, Option<String>) = match e {
        Entry::Webhook {
            id,
            provider,
            event_type,
            auth_result,
            signature_timestamp,
            headers,
            body,
            delivery_count,
            processed_at,
            outcome,
            ..
        } => (
            vec![
                ("id", id.to_string()),
                ("provider", provider.clone()),
                ("event type", event_type.clone()),
                ("authentication", auth_result.clone()),
                ("signature timestamp", opt(signature_timestamp)),
                ("headers", headers.to_string()),
                ("deliveries", delivery_count.to_string()),
                ("processed at", opt(processed_at)),
                ("outcome", opt(outcome)),
            ],
            Some(body.display()),
        ),
        Entry::ProviderQuery {
            id,
            provider,
            method,
            path,
            status_code,
            response_body,
            error,
            duration_ms,
            webhook_event_id,
            ..
        } => (
            vec![
                ("id", id.to_string()),
                ("provider", provider.clone()),
                ("request", format!("{method} {path}")),
                ("status", opt(status_code)),
                ("duration", format!("{duration_ms} ms")),
                ("error", opt(error)),
                ("webhook", opt(webhook_event_id)),
            ],
            response_body.clone(),
        ),
        Entry::Transition {
            id,
            from_state,
            to_state,
            cause,
            provider_status,
            webhook_event_id,
            ..
        } => (
            vec![
                ("id", id.to_string()),
                ("from", opt(from_state)),
                ("to", to_state.clone()),
                ("cause", cause.clone()),
                ("provider status", opt(provider_status)),
                ("webhook", opt(webhook_event_id)),
            ],
            None,
        ),
        Entry::Exception {
            id,
            exception,
            detail,
            expected_amount,
            provider_amount,
            currency,
            resolved_at,
            resolved_by,
            resolution_note,
            ..
        } => (
            vec![
                ("id", id.to_string()),
                ("exception", exception.clone()),
                ("detail", detail.clone()),
                ("expected amount (minor units)", opt(expected_amount)),
                ("provider amount (minor units)", opt(provider_amount)),
                ("currency", opt(currency)),
                ("resolved at", opt(resolved_at)),
                ("resolved by", opt(resolved_by)),
                ("note", opt(resolution_note)),
            ],
            None,
        ),
        Entry::PaymentAttempt {
            id,
            state,
            idempotency_key,
            provider_payment_id,
            provider_error,
            attempts,
            updated_at,
            ..
        } => (
            vec![
                ("id", id.clone()),
                ("state", state.clone()),
                ("idempotency key", idempotency_key.clone()),
                ("provider payment id", opt(provider_payment_id)),
                ("provider error", opt(provider_error)),
                ("calls", attempts.to_string()),
                ("updated at", updated_at.clone()),
            ],
            None,
        ),
    };
    Row {
        at: e.at().to_owned(),
        kind: e.kind(),
        details,
        body,
    }
}

pub(crate) fn render(sealed: &Sealed) -> Result<String, ApiError> {
    let o = &sealed.bundle.order;
    let page = Page {
        reference: &o.reference,
        order: vec![
            ("provider", o.provider.clone()),
            ("provider payment id", o.provider_payment_id.clone()),
            (
                "amount (minor units)",
                format!("{} {}", o.amount, o.currency),
            ),
            ("state", o.state.clone()),
            ("provider status", opt(&o.provider_status)),
            ("provider amount (minor units)", opt(&o.provider_amount)),
            ("PSE CUS", opt(&o.pse_cus)),
            ("bank", opt(&o.bank_code)),
            ("created at", o.created_at.clone()),
            ("updated at", o.updated_at.clone()),
        ],
        rows: sealed.bundle.timeline.iter().map(row).collect(),
        truncated: sealed.bundle.truncated,
        digest: &sealed.digest,
    };
    page.render().map_err(|e| ApiError::Internal(Box::new(e)))
}
