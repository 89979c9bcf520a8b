//! Playing one payment of a scenario: create it the way a merchant does, then move it at the
//! sandbox step by step, checking what webhook-api answered to each delivery.

use std::collections::HashMap;
use std::sync::Arc;

use shared::domain::{OrderState, Provider};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};
use tokio::time::Instant;

use super::plan::{PaymentPlan, Step};
use super::product::{NewOrder, Product, ProductError};
use super::summary::OrderView;
use crate::{AdminClient, Fault, NewPayment, StatusChange, WebhookRequest};

/// The orders of this run as last listed.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    pub(super) orders: HashMap<String, OrderView>,
    /// Listings completed so far.
    pub(super) polls: u64,
    pub(super) last_error: Option<String>,
}

pub(super) struct Ctx {
    pub(super) admin: AdminClient,
    pub(super) product: Product,
    pub(super) run_id: String,
    pub(super) scenario: String,
    pub(super) webhook_url: String,
    pub(super) snapshot: watch::Receiver<Snapshot>,
    pub(super) fault_locks: HashMap<Provider, Arc<Mutex<()>>>,
    pub(super) deadline: Instant,
}

/// What one payment's task did.
#[derive(Debug, Clone)]
pub(super) struct Played {
    pub(super) index: usize,
    pub(super) provider_payment_id: Option<String>,
    /// What went wrong: the scenario fails (the run goes on).
    pub(super) problems: Vec<String>,
    /// What looked odd without failing it (a webhook nobody answered: the sweeper covers it).
    pub(super) warnings: Vec<String>,
}

pub(super) const PAYERS: [(&str, &str); 8] = [
    ("Ana María Gómez", "1033711400"),
    ("Carlos Andrés Restrepo", "79456123"),
    ("Luisa Fernanda Ortiz", "52789456"),
    ("Juan Pablo Herrera", "1020304050"),
    ("Valentina Rojas", "1098765432"),
    ("Santiago Muñoz", "80123456"),
    ("Camila Torres", "43567890"),
    ("Andrés Felipe Castro", "1152698741"),
];

pub(super) fn new_order(plan: &PaymentPlan, ctx: &Ctx, provider_payment_id: &str) -> NewOrder {
    let (name, document) = PAYERS[plan.index % PAYERS.len()];
    let user: String = name
        .split_whitespace()
        .next()
        .unwrap_or("payer")
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_lowercase();
    NewOrder {
        reference: plan.reference(&ctx.run_id),
        provider: plan.provider.as_str().to_owned(),
        provider_payment_id: provider_payment_id.to_owned(),
        amount_minor: plan.amount_minor,
        description: format!(
            "{} {}: {} via {}",
            ctx.scenario,
            ctx.run_id,
            plan.case.name(),
            plan.provider
        ),
        payer_document: document.to_owned(),
        payer_email: format!("{user}.{}@example.com", plan.index),
        payer_name: name.to_owned(),
    }
}

/// Checks what webhook-api answered to the sandbox's deliveries. A refusal of
/// the credentials is fatal (nothing would work); no answer or a 5xx is noted
/// (the sweeper should still catch the change).
pub(super) fn check_deliveries(
    provider: Provider,
    what: &str,
    codes: &[u16],
    webhook_url: &str,
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    for &code in codes {
        match code {
            200..=299 => {}
            401 => {
                let hint = match provider {
                    Provider::Mono => {
                        "the Mono signing secret given to this runner (MONO_WEBHOOK_SECRET) is not one of webhook-api's MONO_WEBHOOK_SECRETS"
                    }
                    Provider::Belvo => {
                        "BELVO_WEBHOOK_AUTH given to this runner is not one of webhook-api's BELVO_WEBHOOK_AUTH"
                    }
                    Provider::Tpaga => {
                        "TPAGA_WEBHOOK_TOKEN given to this runner differs from webhook-api's"
                    }
                };
                return Err(format!(
                    "webhook-api refused a {provider} webhook ({what}) with 401: {hint}"
                ));
            }
            404 => {
                return Err(format!(
                    "webhook-api answered 404 to a {provider} webhook ({what}): {provider} is disabled there \
                     (its credentials or webhook secret are not configured), or {webhook_url} is not webhook-api"
                ));
            }
            0 => notes.push(format!(
                "{what}: a {provider} webhook got no answer from {webhook_url}"
            )),
            c if c >= 500 => notes.push(format!(
                "{what}: webhook-api answered {c} to a {provider} webhook"
            )),
            c => {
                return Err(format!(
                    "webhook-api answered {c} to a {provider} webhook ({what})"
                ));
            }
        }
    }
    Ok(notes)
}

pub(super) fn order_error(e: ProductError, reference: &str) -> String {
    match e.status() {
        Some(401) => {
            "webhook-api refused the merchant key (401): set MERCHANT_KEY / --merchant-key to a merchant key in its API_KEYS".to_owned()
        }
        Some(403) => "the merchant key may not create orders (403): give it the merchant or admin role in API_KEYS".to_owned(),
        _ => format!("registering order {reference}: {e}"),
    }
}

impl Ctx {
    /// Waits until the order satisfies `ok` (Ok) or the deadline passes (Err with the last view).
    async fn wait_for(
        &self,
        reference: &str,
        ok: impl Fn(&OrderView) -> bool,
    ) -> Result<OrderView, Option<OrderView>> {
        let mut rx = self.snapshot.clone();
        loop {
            let current = rx.borrow_and_update().orders.get(reference).cloned();
            if let Some(o) = &current
                && ok(o)
            {
                return Ok(o.clone());
            }
            match tokio::time::timeout_at(self.deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(current),
            }
        }
    }
}

/// Plays one payment. `Err` stops the whole run (a configuration problem).
pub(super) async fn play(ctx: Arc<Ctx>, plan: PaymentPlan) -> Result<Played, String> {
    tokio::time::sleep(plan.start_after).await;
    let provider = plan.provider;
    let reference = plan.reference(&ctx.run_id);
    let id = if plan.register {
        // The merchant's real flow: the product creates the payment at the
        // provider (the sandbox) and registers its order in one step.
        ctx.product
            .create_payment(&new_order(&plan, &ctx, ""))
            .await
            .map_err(|e| order_error(e, &reference))?
            .order
            .provider_payment_id
    } else {
        // A payment no order expects (unknown_payment): made behind the product's back.
        // Tpaga's order_id holds at most 20 characters; the sandbox only shows it.
        let sandbox_reference: String = reference.chars().take(20).collect();
        ctx.admin
            .create_payment_with(&NewPayment {
                provider: provider.as_str().to_owned(),
                amount_minor: plan.amount_minor,
                reference: Some(sandbox_reference),
            })
            .await
            .map_err(|e| format!("creating a {provider} payment at the sandbox: {e}"))?
            .provider_payment_id
    };
    let mut played = Played {
        index: plan.index,
        provider_payment_id: Some(id.clone()),
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let mut _fault_lock: Option<OwnedMutexGuard<()>> = None;
    for step in &plan.steps {
        match step {
            Step::Move {
                status,
                webhooks,
                reported_amount_minor,
            } => {
                let change = StatusChange {
                    status: (*status).to_owned(),
                    reported_amount_minor: *reported_amount_minor,
                    webhooks: Some(*webhooks),
                };
                let changed = ctx
                    .admin
                    .set_status(provider.as_str(), &id, &change)
                    .await
                    .map_err(|e| format!("moving {reference} to {status} at the sandbox: {e}"))?;
                let what = format!("{reference} -> {status}");
                played.warnings.extend(check_deliveries(
                    provider,
                    &what,
                    &changed.webhook_responses,
                    &ctx.webhook_url,
                )?);
            }
            Step::Deliver { claimed, count } => {
                let request = WebhookRequest {
                    claimed_status: claimed.map(str::to_owned),
                    signed: None,
                    count: Some(*count),
                };
                let delivered = ctx
                    .admin
                    .deliver_webhook(provider.as_str(), &id, &request)
                    .await
                    .map_err(|e| format!("delivering a webhook for {reference}: {e}"))?;
                let what = format!("{reference} webhook again");
                played.warnings.extend(check_deliveries(
                    provider,
                    &what,
                    &delivered.responses,
                    &ctx.webhook_url,
                )?);
            }
            Step::Forge { claimed } => {
                let before = ctx
                    .product
                    .order(&reference)
                    .await
                    .map_err(|e| format!("reading {reference}: {e}"))?
                    .and_then(|o| o.last_checked_at);
                let request = WebhookRequest {
                    claimed_status: Some((*claimed).to_owned()),
                    signed: None,
                    count: Some(1),
                };
                let delivered = ctx
                    .admin
                    .deliver_webhook(provider.as_str(), &id, &request)
                    .await
                    .map_err(|e| format!("delivering a forged webhook for {reference}: {e}"))?;
                let what = format!("{reference} forged {claimed}");
                played.warnings.extend(check_deliveries(
                    provider,
                    &what,
                    &delivered.responses,
                    &ctx.webhook_url,
                )?);
                match ctx
                    .wait_for(&reference, |o| o.last_checked_at != before)
                    .await
                {
                    Ok(o) if o.state == OrderState::Paid.as_str() => played.problems.push(format!(
                        "{reference}: a webhook claiming {claimed} paid the order although the {provider} API said {}",
                        o.provider_status.as_deref().unwrap_or("otherwise")
                    )),
                    Ok(_) => {}
                    Err(_) => {
                        played.problems.push(format!(
                            "{reference}: the product never re-checked the {provider} API after a webhook claiming {claimed}"
                        ));
                        return Ok(played);
                    }
                }
            }
            Step::Outage { status, count } => {
                if let Some(lock) = ctx.fault_locks.get(&provider) {
                    _fault_lock = Some(lock.clone().lock_owned().await);
                }
                ctx.admin
                    .fault(&Fault::status(provider.as_str(), *status, *count))
                    .await
                    .map_err(|e| format!("injecting a {provider} outage: {e}"))?;
            }
            Step::ExtraTransaction => {
                let added = ctx
                    .admin
                    .add_belvo_transaction(&id, plan.amount_minor)
                    .await
                    .map_err(|e| format!("adding a transaction for {reference}: {e}"))?;
                let what = format!("{reference} second transaction");
                played.warnings.extend(check_deliveries(
                    provider,
                    &what,
                    &added.webhook_responses,
                    &ctx.webhook_url,
                )?);
            }
            Step::AwaitState(state) => {
                if let Err(last) = ctx
                    .wait_for(&reference, |o| o.state == state.as_str())
                    .await
                {
                    played.problems.push(format!(
                        "{reference}: timed out waiting for the order to become {state} (it is {})",
                        last.map(|o| o.state)
                            .unwrap_or_else(|| "not listed".to_owned())
                    ));
                    return Ok(played);
                }
            }
        }
    }
    Ok(played)
}
