//! Plays a scenario against a running product and sandbox: every payment is
//! a task ([`super::play`]: create it through `POST /v1/payments`, move it,
//! deliver webhooks); one poller ([`super::progress`]) lists the orders each
//! second for the progress line and the waits; at the end the reconciliation
//! report is compared with what the plans expect.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use shared::domain::Provider;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::options::Options;
use super::plan;
use super::play::{Ctx, Played, Snapshot, play};
use super::product::Product;
use super::progress::{
    all_settled, missing_tpaga_token, orphans_seen, poll, progress_bar, progress_line, unsettled,
    wait_until_up,
};
use super::summary::{self, OrderView, Summary};
use crate::{AdminClient, WebhookTarget};

/// How often the orders are listed.
pub(super) const POLL_EVERY: Duration = Duration::from_secs(1);
/// After everything looks settled, how long to wait for stragglers (a late
/// duplicate check could still add an exception) before the final reading.
const QUIET_PERIOD: Duration = Duration::from_secs(2);
/// How long to wait for the product and the sandbox to answer at the start.
pub(super) const STARTUP_WAIT: Duration = Duration::from_secs(60);

/// What a run concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every order reached its expected state and the summary matches.
    Matched,
    /// Something differs (printed).
    Differs,
}

fn new_run_id() -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
        ^ (u64::from(std::process::id()) << 40);
    let mut id = String::new();
    for _ in 0..6 {
        id.push(char::from(DIGITS[usize::try_from(n % 36).unwrap_or(0)]));
        n /= 36;
    }
    id
}

/// Plays the scenario; `Ok` says whether everything matched, `Err` is a problem
/// that stopped the run (unreachable services, refused credentials).
pub async fn run(opts: Options) -> Result<Verdict, String> {
    let plans = plan::plan(&opts.scenario, opts.scale)?;
    missing_tpaga_token(&opts, &plans)?;
    let admin = AdminClient::new(&opts.sandbox);
    let product = Product::new(&opts.api, &opts.merchant_key, &opts.finance_key)?;
    wait_until_up(&admin, &product).await?;
    product.check_finance_key().await.map_err(|e| match e.status() {
        Some(401) => "webhook-api refused the finance key (401): set FINANCE_KEY / --finance-key to a finance key in its API_KEYS".to_owned(),
        Some(403) => "the finance key may not read orders (403): give it the finance or admin role in API_KEYS".to_owned(),
        _ => format!("listing orders: {e}"),
    })?;
    admin
        .set_webhook_target(&WebhookTarget {
            base_url: opts.webhook_url.clone(),
            mono_secret: opts.mono_webhook_secret.clone(),
            belvo_authorization: opts.belvo_webhook_auth.clone(),
            tpaga_path_token: opts.tpaga_webhook_token.clone(),
        })
        .await
        .map_err(|e| format!("setting the sandbox's webhook target: {e}"))?;
    admin
        .clear_faults()
        .await
        .map_err(|e| format!("clearing the sandbox's faults: {e}"))?;
    admin
        .set_latency(0)
        .await
        .map_err(|e| format!("resetting the sandbox's latency: {e}"))?;

    let run_id = new_run_id();
    let orders = plans.iter().filter(|p| p.register).count();
    let by_provider: Vec<String> = Provider::ALL
        .iter()
        .map(|p| (p, plans.iter().filter(|x| x.provider == *p).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    println!(
        "scenario {} (run {run_id}): {} payments, {orders} with an order — {}",
        opts.scenario,
        plans.len(),
        by_provider.join(" · ")
    );
    println!(
        "  webhook-api {}   sandbox {}   timeout {}s",
        opts.api,
        opts.sandbox,
        opts.timeout.as_secs()
    );
    if plans.iter().any(|p| p.case.waits_for_the_clock()) {
        println!(
            "  (expired and stale_pending outcomes need demo timings: ORDER_EXPIRY_SECS and STALE_AFTER_SECS of seconds, not hours)"
        );
    }
    let _ = std::io::stdout().flush();

    let started = Instant::now();
    let since =
        (Utc::now() - chrono::Duration::minutes(10)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (tx, rx) = watch::channel(Snapshot::default());
    let poller = tokio::spawn(poll(product.clone(), run_id.clone(), since.clone(), tx));
    let ctx = Arc::new(Ctx {
        admin,
        product: product.clone(),
        run_id: run_id.clone(),
        scenario: opts.scenario.clone(),
        webhook_url: opts.webhook_url.clone(),
        snapshot: rx.clone(),
        fault_locks: Provider::ALL
            .iter()
            .map(|p| (*p, Arc::new(Mutex::new(()))))
            .collect(),
        deadline: started + opts.timeout,
    });
    let mut tasks = JoinSet::new();
    for p in plans.iter().cloned() {
        tasks.spawn(play(ctx.clone(), p));
    }

    // A live line for a human; indicatif hides it when stderr is not a terminal (CI logs),
    // where a plain line every few seconds takes its place.
    let bar = progress_bar();
    let tty = !bar.is_hidden();
    let orphan_total = plans.iter().filter(|p| p.expect.state.is_none()).count();
    let mut orphan_ids: HashSet<String> = HashSet::new();
    let mut played: Vec<Played> = Vec::new();
    let mut orphans_found = 0usize;
    let mut report_missing = false;
    let mut last_report_poll: Option<Instant> = None;
    let mut last_plain_print = started;
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    let today = shared::time::today();
    let timed_out = loop {
        tokio::select! {
            joined = tasks.join_next(), if !tasks.is_empty() => {
                match joined {
                    Some(Ok(Ok(p))) => {
                        if plans.get(p.index - 1).is_some_and(|x| x.expect.state.is_none())
                            && let Some(id) = &p.provider_payment_id
                        {
                            orphan_ids.insert(id.clone());
                        }
                        played.push(p);
                    }
                    Some(Ok(Err(fatal))) => {
                        tasks.abort_all();
                        poller.abort();
                        bar.finish_and_clear();
                        return Err(fatal);
                    }
                    Some(Err(e)) => {
                        tasks.abort_all();
                        poller.abort();
                        bar.finish_and_clear();
                        return Err(format!("a payment task failed: {e}"));
                    }
                    None => {}
                }
            }
            _ = ticker.tick() => {
                let snap = rx.borrow().clone();
                let elapsed = started.elapsed();
                let settled = tasks.is_empty() && all_settled(&plans, &run_id, &snap);
                // Unknown payments have no order: only the report shows their exception.
                if settled && orphan_total > 0 && !report_missing && orphans_found < orphan_total
                    && last_report_poll.is_none_or(|t| t.elapsed() >= Duration::from_secs(2))
                {
                    last_report_poll = Some(Instant::now());
                    match product.report(today).await {
                        Ok(Some(r)) => orphans_found = orphans_seen(&r, &orphan_ids),
                        Ok(None) => report_missing = true,
                        Err(_) => {}
                    }
                }
                let line = progress_line(&plans, &run_id, &snap, (orphans_found, orphan_total), elapsed);
                if tty {
                    bar.set_message(line);
                } else if last_plain_print.elapsed() >= Duration::from_secs(5) {
                    eprintln!("{line}");
                    last_plain_print = Instant::now();
                }
                if settled && (report_missing || orphans_found >= orphan_total) {
                    break false;
                }
                if Instant::now() >= ctx.deadline {
                    break true;
                }
            }
        }
    };
    tasks.abort_all();
    bar.finish_and_clear();
    if !timed_out {
        tokio::time::sleep(QUIET_PERIOD).await;
    }
    poller.abort();
    // The final reading, straight from the API.
    let final_orders: HashMap<String, OrderView> = match product.orders_since(&since).await {
        Ok(list) => list
            .into_iter()
            .filter(|o| o.reference.starts_with(&format!("{run_id}-")))
            .map(|o| (o.reference.clone(), o))
            .collect(),
        Err(e) => {
            eprintln!("warning: the final listing of orders failed ({e}); using the last one");
            rx.borrow().orders.clone()
        }
    };
    let snap = Snapshot {
        orders: final_orders,
        ..Snapshot::default()
    };
    let line = progress_line(
        &plans,
        &run_id,
        &snap,
        (orphans_found, orphan_total),
        started.elapsed(),
    );
    eprintln!("{line}");

    let mut ok = true;
    println!();
    if timed_out {
        ok = false;
        println!(
            "TIMED OUT after {}s: not every order reached its expected state.",
            opts.timeout.as_secs()
        );
    }
    let warnings: Vec<&String> = played.iter().flat_map(|p| &p.warnings).collect();
    if !warnings.is_empty() {
        println!("Warnings (the sweeper should have made up for these):");
        for w in &warnings {
            println!("  - {w}");
        }
    }
    let problems: Vec<&String> = played.iter().flat_map(|p| &p.problems).collect();
    if !problems.is_empty() {
        ok = false;
        println!("Problems while playing the scenario:");
        for p in &problems {
            println!("  - {p}");
        }
    }
    let wrong = unsettled(&plans, &run_id, &snap);
    if !wrong.is_empty() {
        ok = false;
        println!("Orders not in their expected state:");
        for w in &wrong {
            println!("  - {w}");
        }
    }

    // The report: all of today's rows if they are all this run's, else this run's rows only.
    let expected = Summary::expected(&plans);
    let mut all_ids: HashSet<String> = played
        .iter()
        .filter_map(|p| p.provider_payment_id.clone())
        .collect();
    all_ids.extend(snap.orders.values().map(|o| o.provider_payment_id.clone()));
    let report = product
        .report(today)
        .await
        .map_err(|e| format!("reading the reconciliation report: {e}"))?;
    let prefix = format!("{run_id}-");
    let (observed, expected, source, mut mismatches) = match &report {
        Some(r) => {
            let ours: Vec<&summary::ReportRow> = r
                .rows
                .iter()
                .filter(|row| match &row.reference {
                    Some(reference) => reference.starts_with(&prefix),
                    None => row
                        .provider_payment_id
                        .as_ref()
                        .is_some_and(|id| all_ids.contains(id)),
                })
                .collect();
            let foreign = r.rows.len() - ours.len();
            if foreign == 0 {
                (
                    Summary::from_report(&r.summary),
                    expected,
                    format!(
                        "GET /v1/reports/reconciliation?date={}&format=json (its summary)",
                        r.business_date
                    ),
                    summary::check_totals(&r.summary),
                )
            } else {
                (
                    Summary::from_rows(ours.iter().copied()),
                    expected,
                    format!(
                        "GET /v1/reports/reconciliation?date={}&format=json: this run's {} rows \
                         (the report also has {foreign} rows from other runs today)",
                        r.business_date,
                        ours.len()
                    ),
                    Vec::new(),
                )
            }
        }
        None => (
            Summary::from_orders(snap.orders.values()),
            expected.without_exception("unknown_payment"),
            "GET /v1/orders — the report endpoint answered 404 (not deployed yet), so this summary is \
             computed from the orders; unknown_payment exceptions have no order and are not checked"
                .to_owned(),
            Vec::new(),
        ),
    };
    mismatches.extend(summary::compare(&expected, &observed));
    println!(
        "Reconciliation summary for {} (America/Bogota), from {source}:",
        today.format("%Y-%m-%d")
    );
    println!("{}", summary::render(&observed));
    if mismatches.is_empty() {
        println!("The summary matches the scenario's expected counts.");
    } else {
        ok = false;
        println!("The summary differs from the scenario's expected counts:");
        for m in &mismatches {
            println!("  - {m}");
        }
        println!("\nExpected:\n{}", summary::render(&expected));
    }
    Ok(if ok {
        Verdict::Matched
    } else {
        Verdict::Differs
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::plan::{Case, PaymentPlan, payment};
    use crate::scenario::play::check_deliveries;

    fn order(reference: &str, state: &str, exceptions: &[&str]) -> OrderView {
        serde_json::from_value(serde_json::json!({
            "reference": reference, "provider": "mono", "provider_payment_id": "cint_x",
            "amount": {"amount": 100, "currency": "COP"}, "state": state,
            "exceptions": exceptions.iter().map(|k| serde_json::json!({"kind": k})).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn plans() -> Vec<PaymentPlan> {
        let mut v = vec![
            payment(Case::Success, Provider::Mono, 0, 1_000_000),
            payment(Case::LateSuccess, Provider::Mono, 0, 1_000_000),
            payment(Case::UnknownPayment, Provider::Mono, 0, 1_000_000),
        ];
        for (i, p) in v.iter_mut().enumerate() {
            p.index = i + 1;
        }
        v
    }

    #[test]
    fn settled_means_state_and_exceptions_match() {
        let plans = plans();
        let mut snap = Snapshot::default();
        snap.orders
            .insert("r-001-success".into(), order("r-001-success", "paid", &[]));
        snap.orders.insert(
            "r-002-late-success".into(),
            order("r-002-late-success", "expired", &[]),
        );
        assert!(!all_settled(&plans, "r", &snap));
        let line = progress_line(&plans, "r", &snap, (0, 1), Duration::from_secs(12));
        assert_eq!(
            line,
            "[ 1/2 settled ] paid 1 · failed 0 · pending 0 · expired 1 · review 0 · unknown payments 0/1 · 12s"
        );
        let wrong = unsettled(&plans, "r", &snap);
        assert_eq!(wrong.len(), 1);
        assert!(
            wrong[0].contains("expected paid [late_success], is expired []"),
            "{}",
            wrong[0]
        );
        snap.orders.insert(
            "r-002-late-success".into(),
            order("r-002-late-success", "paid", &["late_success"]),
        );
        assert!(all_settled(&plans, "r", &snap));
        assert!(unsettled(&plans, "r", &snap).is_empty());
        // An extra exception is not what was expected.
        snap.orders.insert(
            "r-001-success".into(),
            order("r-001-success", "paid", &["duplicate_payment"]),
        );
        assert!(!all_settled(&plans, "r", &snap));
    }

    #[test]
    fn a_scenario_with_tpaga_needs_its_path_token() {
        let plans = plan::plan("day", 1).unwrap();
        let mut opts = Options::parse(&["day".to_owned()], |_| None).unwrap();
        let e = missing_tpaga_token(&opts, &plans).unwrap_err();
        assert!(e.contains("TPAGA_WEBHOOK_TOKEN"), "{e}");
        opts.tpaga_webhook_token = Some("demo-tpaga-token".to_owned());
        assert_eq!(missing_tpaga_token(&opts, &plans), Ok(()));
    }

    #[test]
    fn webhook_answers_are_classified() {
        let url = "http://127.0.0.1:8080";
        assert_eq!(
            check_deliveries(Provider::Mono, "x", &[200, 200], url),
            Ok(vec![])
        );
        let e = check_deliveries(Provider::Mono, "x", &[200, 401], url).unwrap_err();
        assert!(e.contains("MONO_WEBHOOK_SECRETS"), "{e}");
        let e = check_deliveries(Provider::Tpaga, "x", &[401], url).unwrap_err();
        assert!(e.contains("TPAGA_WEBHOOK_TOKEN"), "{e}");
        let e = check_deliveries(Provider::Belvo, "x", &[404], url).unwrap_err();
        assert!(e.contains("disabled"), "{e}");
        assert!(check_deliveries(Provider::Belvo, "x", &[415], url).is_err());
        let notes = check_deliveries(Provider::Belvo, "x", &[0, 503], url).unwrap();
        assert_eq!(notes.len(), 2);
    }

    #[test]
    fn unknown_payments_are_found_in_the_reports_orphan_rows() {
        let report: summary::Report = serde_json::from_value(serde_json::json!({
            "summary": {"providers": []},
            "rows": [
                {"reference": null, "provider": "mono", "provider_payment_id": "cint_a", "exception": "unknown_payment"},
                {"reference": null, "provider": "mono", "provider_payment_id": "cint_a", "exception": "unknown_payment"},
                {"reference": null, "provider": "mono", "provider_payment_id": "cint_other", "exception": "unknown_payment"},
                {"reference": "r-001-success", "provider": "mono", "provider_payment_id": "cint_b", "exception": null}
            ]
        }))
        .unwrap();
        let ids: HashSet<String> = ["cint_a", "cint_b"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(orphans_seen(&report, &ids), 1);
    }

    #[test]
    fn run_ids_are_short_and_reference_safe() {
        let id = new_run_id();
        assert_eq!(id.len(), 6);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }
}
