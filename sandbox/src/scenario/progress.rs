//! Watching a run: polling the orders, the progress line, and deciding when everything settled.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use shared::domain::Provider;
use tokio::sync::watch;
use tokio::time::Instant;

use super::options::Options;
use super::plan::PaymentPlan;
use super::play::Snapshot;
use super::product::Product;
use super::run::{POLL_EVERY, STARTUP_WAIT};
use super::summary;
use crate::AdminClient;

/// Lists this run's orders every second and publishes them.
pub(super) async fn poll(
    product: Product,
    run_id: String,
    since: String,
    tx: watch::Sender<Snapshot>,
) {
    let prefix = format!("{run_id}-");
    let mut ticker = tokio::time::interval(POLL_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let listed = product.orders_since(&since).await;
        tx.send_modify(|s| match listed {
            Ok(orders) => {
                s.orders = orders
                    .into_iter()
                    .filter(|o| o.reference.starts_with(&prefix))
                    .map(|o| (o.reference.clone(), o))
                    .collect();
                s.polls += 1;
                s.last_error = None;
            }
            Err(e) => s.last_error = Some(e.to_string()),
        });
        if tx.is_closed() {
            return;
        }
    }
}

/// The progress line: `[ 42/60 settled ] paid 30 · failed 8 · pending 4 · review 3 · 12s`.
pub(super) fn progress_line(
    plans: &[PaymentPlan],
    run_id: &str,
    snap: &Snapshot,
    orphans: (usize, usize),
    elapsed: Duration,
) -> String {
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    let mut settled = 0;
    let mut total = 0;
    for p in plans {
        let Some(want) = p.expect.state else { continue };
        total += 1;
        if let Some(o) = snap.orders.get(&p.reference(run_id)) {
            let bucket = match o.state.as_str() {
                "processing" => "pending",
                "needs_review" => "review",
                s => s,
            };
            *states.entry(bucket).or_insert(0) += 1;
            if o.matches(want, &p.expect.exceptions) {
                settled += 1;
            }
        }
    }
    let mut parts: Vec<String> = ["paid", "failed", "pending", "expired", "review"]
        .iter()
        .map(|s| format!("{s} {}", states.get(s).copied().unwrap_or(0)))
        .collect();
    if orphans.1 > 0 {
        parts.push(format!("unknown payments {}/{}", orphans.0, orphans.1));
    }
    let mut line = format!(
        "[ {settled:>width$}/{total} settled ] {} · {}s",
        parts.join(" · "),
        elapsed.as_secs(),
        width = total.to_string().len()
    );
    if let Some(e) = &snap.last_error {
        line.push_str(&format!(" (listing orders failed: {e})"));
    }
    line
}

pub(super) fn all_settled(plans: &[PaymentPlan], run_id: &str, snap: &Snapshot) -> bool {
    plans.iter().all(|p| match p.expect.state {
        None => true,
        Some(want) => snap
            .orders
            .get(&p.reference(run_id))
            .is_some_and(|o| o.matches(want, &p.expect.exceptions)),
    })
}

/// How many of the unknown payments (by provider payment id) the report shows as an `unknown_payment`.
pub(super) fn orphans_seen(report: &summary::Report, ids: &HashSet<String>) -> usize {
    report
        .rows
        .iter()
        .filter(|r| r.reference.is_none() && r.exception_kinds().any(|k| k == "unknown_payment"))
        .filter_map(|r| r.provider_payment_id.as_ref())
        .filter(|id| ids.contains(*id))
        .collect::<HashSet<_>>()
        .len()
}

/// A one-line spinner on stderr, hidden when stderr is not a terminal.
pub(super) fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{msg}") {
        bar.set_style(style);
    }
    bar
}

pub(super) async fn wait_until_up(admin: &AdminClient, product: &Product) -> Result<(), String> {
    let until = Instant::now() + STARTUP_WAIT;
    let bar = progress_bar();
    loop {
        let sandbox = admin.health().await;
        let api = product.ready().await;
        match (&sandbox, &api) {
            (Ok(()), Ok(())) => {
                bar.finish_and_clear();
                return Ok(());
            }
            _ if Instant::now() >= until => {
                let mut why = Vec::new();
                if let Err(e) = sandbox {
                    why.push(format!("the sandbox at {}: {e}", admin.base_url()));
                }
                if let Err(e) = api {
                    why.push(format!("webhook-api at {}: {e}", product.base()));
                }
                bar.finish_and_clear();
                return Err(format!(
                    "not ready after {}s: {}",
                    STARTUP_WAIT.as_secs(),
                    why.join("; ")
                ));
            }
            _ => {
                bar.set_message("waiting for the sandbox and webhook-api to be ready…");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Describes the orders that did not reach what their plan expects.
pub(super) fn unsettled(plans: &[PaymentPlan], run_id: &str, snap: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for p in plans {
        let Some(want) = p.expect.state else { continue };
        let reference = p.reference(run_id);
        let want_ex: Vec<&str> = p.expect.exceptions.iter().map(|k| k.as_str()).collect();
        match snap.orders.get(&reference) {
            Some(o) if o.matches(want, &p.expect.exceptions) => {}
            Some(o) => out.push(format!(
                "{reference} ({} {}): expected {want} [{}], is {} [{}] (provider status {})",
                p.provider,
                o.provider_payment_id,
                want_ex.join(", "),
                o.state,
                o.exception_kinds().join(", "),
                o.provider_status.as_deref().unwrap_or("none")
            )),
            None => out.push(format!(
                "{reference} ({}): expected {want} [{}], but it is not in GET /v1/orders",
                p.provider,
                want_ex.join(", ")
            )),
        }
    }
    out
}

/// Tpaga webhooks are accepted only at `/webhooks/tpaga/{token}`: without the
/// token every Tpaga delivery would be lost, so say so before starting.
pub(super) fn missing_tpaga_token(opts: &Options, plans: &[PaymentPlan]) -> Result<(), String> {
    if opts.tpaga_webhook_token.is_none() && plans.iter().any(|p| p.provider == Provider::Tpaga) {
        return Err(
            "no Tpaga path token: set TPAGA_WEBHOOK_TOKEN or --tpaga-webhook-token to one of \
             webhook-api's TPAGA_WEBHOOK_TOKEN (Tpaga webhooks are accepted only at /webhooks/tpaga/{token})"
                .to_owned(),
        );
    }
    Ok(())
}
