//! The scaling sections of BENCHMARKS.md: CPU-ms per event per process, the P3 curve
//! over in-flight checks (where it stops scaling and which process is the limit), the
//! P7 scale-out run, and how the system grows past one machine, figured from the
//! measured per-event costs.

use serde_json::Value;

use super::details::cpu_line;
use super::{f, int, latest, ms, ratio};
use crate::cost::{GROUPS, OTHER};

/// A level must gain at least this much on the one before to count as scaling.
const SCALING_GAIN: f64 = 1.10;

/// The CPU-ms table's rows: (label, cost record) for every phase that processes events.
fn cost_rows(results: &[Value]) -> Vec<(String, &Value)> {
    let mut rows = Vec::new();
    if let Some(i) = latest(results, "ingress") {
        rows.push((
            format!("P1 ingress at peak ({} connections)", i["peak_concurrency"]),
            &i["cost_at_peak"],
        ));
    }
    if let Some(r) = latest(results, "reconciler") {
        for p in r["curve"].as_array().into_iter().flatten() {
            rows.push((
                format!("P3 reconciler, {} in flight", p["concurrency"]),
                &p["cost"],
            ));
        }
    }
    if let Some(e) = latest(results, "e2e") {
        rows.push((
            format!(
                "P4 end to end at {}/s",
                int(f(&e["loaded"]["achieved_rate"]))
            ),
            &e["cost"],
        ));
    }
    if let Some(s) = latest(results, "scaleout") {
        rows.push((
            "P7 ingress, one webhook-api".to_owned(),
            &s["ingress"]["one"]["cost"],
        ));
        rows.push((
            "P7 ingress, two webhook-apis".to_owned(),
            &s["ingress"]["two"]["cost"],
        ));
        rows.push((
            "P7 one reconciler".to_owned(),
            &s["reconciler"]["one"]["cost"],
        ));
        rows.push((
            "P7 two reconcilers".to_owned(),
            &s["reconciler"]["two"]["cost"],
        ));
    }
    rows.retain(|(_, c)| c.is_object());
    rows
}

fn cpu_ms(x: f64) -> String {
    if x == 0.0 {
        "—".to_owned()
    } else if x < 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.2}")
    }
}

pub(super) fn cpu_ms_table(results: &[Value]) -> String {
    let rows = cost_rows(results);
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\n## CPU-ms per event, per process\n\nCPU time each process used in the measured window ÷ events finished in it (P1: webhooks stored, the window running on to the end of the outbox drain so relaying is charged; P3: checks processed; P4: webhooks carried to `paid`). On a shared machine throughput moves with the neighbours; the cost of one event much less, and it is what sizes the machines. `other` is everything else on the host (other tenants, kernel threads).\n\n",
    );
    s.push_str("| phase | events | window s | machine busy | ");
    s.push_str(&GROUPS.join(" | "));
    s.push_str(" | other | total |\n|---|---|---|---|");
    s.push_str(&"---|".repeat(GROUPS.len() + 2));
    s.push('\n');
    for (label, c) in rows {
        let ms = &c["cpu_ms_per_event"];
        let cells: Vec<String> = GROUPS
            .iter()
            .chain([&OTHER])
            .map(|g| cpu_ms(f(&ms[*g])))
            .collect();
        s.push_str(&format!(
            "| {label} | {} | {} | {:.0} % | {} | **{}** |\n",
            int(f(&c["events"])),
            c["window_secs"],
            f(&c["machine_busy_pct"]),
            cells.join(" | "),
            cpu_ms(f(&c["total_cpu_ms_per_event"]))
        ));
    }
    s
}

/// Index of the first level that gained less than [`SCALING_GAIN`] on the one
/// before it: where more in-flight checks stopped paying.
pub fn stop_point(rates: &[f64]) -> Option<usize> {
    (1..rates.len()).find(|&i| rates[i] < rates[i - 1] * SCALING_GAIN)
}

/// The named process (not `other: …`) using the largest share of the machine.
pub fn top_process(cpu: &Value) -> Option<(String, f64)> {
    cpu["by_process"]
        .as_object()?
        .iter()
        .filter(|(k, _)| !k.starts_with("other: "))
        .map(|(k, v)| (k.clone(), f(&v["pct_of_machine"])))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Mean checks per group commit and per lease statement (`reconciler_batch_size`),
/// or a dash for a run that did not record them.
fn batch_means(batches: &Value) -> String {
    let mean = |stage: &str| {
        batches[stage]["mean"]
            .as_f64()
            .map_or_else(|| "—".to_owned(), |m| format!("{m:.1}"))
    };
    format!("{} / {}", mean("commit"), mean("lease"))
}

pub(super) fn curve_section(results: &[Value]) -> String {
    let Some(r) = latest(results, "reconciler") else {
        return String::new();
    };
    let points: Vec<&Value> = r["curve"].as_array().into_iter().flatten().collect();
    if points.len() < 2 {
        return String::new();
    }
    let mut s = format!(
        "\n### P3 curve: more checks in flight (provider {} ms)\n\n| in flight | events | events/s | bound | % of bound | CPU-ms per check | checks per group commit / per lease statement | CPU per process |\n|---|---|---|---|---|---|---|---|\n",
        r["provider_latency_ms"]
    );
    for p in &points {
        s.push_str(&format!(
            "| {} | {} | {} | {}/s | {:.0} % | {} | {} | {} |\n",
            p["concurrency"],
            int(f(&p["events"])),
            int(f(&p["rate"])),
            int(f(&p["bound"])),
            100.0 * f(&p["ratio_to_bound"]),
            ms(f(&p["cost"]["total_cpu_ms_per_event"])),
            batch_means(&p["batches"]),
            cpu_line(&p["cpu"])
        ));
    }
    let rates: Vec<f64> = points.iter().map(|p| f(&p["rate"])).collect();
    let at = stop_point(&rates);
    let limit = at.map_or(points.len() - 1, |i| i);
    let limiter = top_process(&points[limit]["cpu"])
        .map(|(k, p)| format!("the largest consumer is {k} at {p:.0} % of the machine"))
        .unwrap_or_else(|| "no per-process CPU was recorded".to_owned());
    let busy = f(&points[limit]["cpu"]["machine_busy_pct"]);
    s.push_str(&match at {
        Some(i) => format!(
            "\nScaling stops between {} and {} in flight: {} → {} events/s (under +{:.0} %). At {} in flight the machine is {busy:.0} % busy and {limiter}{}.\n",
            points[i - 1]["concurrency"],
            points[i]["concurrency"],
            int(rates[i - 1]),
            int(rates[i]),
            (SCALING_GAIN - 1.0) * 100.0,
            points[i]["concurrency"],
            if busy >= 90.0 { ": the cores, not the provider's latency, are the limit" } else { "" }
        ),
        None => format!(
            "\nStill scaling at {} in flight ({} events/s; each level gained at least {:.0} %); the machine is {busy:.0} % busy and {limiter}.\n",
            points[limit]["concurrency"],
            int(rates[limit]),
            (SCALING_GAIN - 1.0) * 100.0
        ),
    });
    s
}

pub(super) fn scaleout_section(results: &[Value]) -> String {
    let Some(x) = latest(results, "scaleout") else {
        return String::new();
    };
    let i = &x["ingress"];
    let r = &x["reconciler"];
    let mut s = String::from(
        "\n### P7 scale-out (one database, one broker)\n\n| run | processes | throughput | two ÷ one | CPU during the run |\n|---|---|---|---|---|\n",
    );
    s.push_str(&format!(
        "| ingress, {} connections | 1 webhook-api | {} webhooks/s | | {} |\n",
        i["connections"],
        int(f(&i["one"]["rate"])),
        cpu_line(&i["one"]["cpu"])
    ));
    s.push_str(&format!(
        "| ingress, {} connections | 2 webhook-apis | {} webhooks/s | {} | {} |\n",
        i["connections"],
        int(f(&i["two"]["rate"])),
        ratio(f(&i["ratio"])),
        cpu_line(&i["two"]["cpu"])
    ));
    for (name, k) in [("one", "1 reconciler"), ("two", "2 reconcilers")] {
        let run = &r[name];
        s.push_str(&format!(
            "| reconciler, {} in flight each, {} events | {k} | {} events/s ({:.0} % of {}/s) | {} | {} |\n",
            run["concurrency"],
            int(f(&run["events"])),
            int(f(&run["rate"])),
            100.0 * f(&run["ratio_to_bound"]),
            int(f(&run["bound"])),
            if name == "two" { ratio(f(&r["ratio"])) } else { String::new() },
            cpu_line(&run["cpu"])
        ));
    }
    let busy = f(&i["one"]["cpu"]["machine_busy_pct"]).max(f(&r["one"]["cpu"]["machine_busy_pct"]));
    s.push_str(&format!(
        "\nGoal ≥ {}× where CPU allows. With one process of each the machine is already up to {busy:.0} % busy on {} cores: a second process adds no cores, only a share of the same ones, so the ratio here measures contention, not the design.\n",
        x["goal_ratio"], x["cores"]
    ));
    s
}

/// Cores a process needs to carry `rate` events/s at `ms` CPU-ms each.
pub fn cores_for(rate: f64, ms: f64) -> f64 {
    rate * ms / 1000.0
}

pub(super) fn beyond_one_machine(results: &[Value]) -> String {
    let ingress = latest(results, "ingress").map(|i| &i["cost_at_peak"]["cpu_ms_per_event"]);
    let rec = latest(results, "reconciler").map(|r| &r["cost"]["cpu_ms_per_event"]);
    let (Some(ing), Some(rec)) = (ingress, rec) else {
        return String::new();
    };
    // A run from before costs were recorded has nothing to figure from.
    if !ing.is_object() || !rec.is_object() {
        return String::new();
    }
    let target = 1000.0;
    let line = |ms: f64| {
        format!(
            "{} CPU-ms per payment → {:.2} cores at {}/s",
            cpu_ms(ms),
            cores_for(target, ms),
            int(target)
        )
    };
    let pg = f(&ing["postgresql"]) + f(&rec["postgresql"]);
    let mq = f(&ing["rabbitmq"]) + f(&rec["rabbitmq"]);
    let p7 = latest(results, "scaleout")
        .map(|x| {
            format!(
                " (P7 here: two reconcilers {} one, two webhook-apis {}, on the same {} cores)",
                ratio(f(&x["reconciler"]["ratio"])),
                ratio(f(&x["ingress"]["ratio"])),
                x["cores"]
            )
        })
        .unwrap_or_default();
    let mut s = String::from("\n## Past one machine\n\n");
    s.push_str("Figures from this run's CPU-ms per event (P1 webhook stored and relayed, plus P3 check reconciled: what one payment costs end to end), scaled to a sustained 1,000 payments/s. They assume cost per event stays flat as machines are added, which holds for the stateless services and is the thing to re-measure on the real cluster.\n\n");
    s.push_str(&format!(
        "- **webhook-api** (stateless; any number behind a load balancer): {}.\n",
        line(f(&ing["webhook-api"]))
    ));
    s.push_str(&format!(
        "- **Reconcilers as competing consumers** on the same queue (stateless; each takes `RECONCILER_CONCURRENCY` messages, the broker spreads the rest){p7}: {}. Their in-flight checks add up, so the provider-latency bound grows with the number of processes.\n",
        line(f(&rec["reconciler"]))
    ));
    s.push_str(&format!(
        "- **PostgreSQL primary** (every write: inbox, outbox, order, history): {}. This is the one part that does not scale out by adding processes: the primary must be sized for it (more cores, faster commit storage), and everything read-only moves off it. **Replicas for reports**: the P5 CSV report is a read-only scan of one day, so it runs on a streaming replica (`DATABASE_REPORT_URL`) and costs the primary nothing; dashboards could follow it there.\n",
        line(pg)
    ));
    s.push_str(&format!(
        "- **RabbitMQ quorum queues in a cluster** (the events and dead queues are already quorum queues, a one-member Raft group here): {}. In a three-node cluster each message is also written to two followers, so expect roughly three times this spread over three machines, and the queue survives losing one node.\n",
        line(mq)
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scaling_stops_at_the_first_level_that_gains_under_ten_percent() {
        assert_eq!(stop_point(&[700.0, 900.0, 950.0]), Some(2));
        assert_eq!(stop_point(&[700.0, 720.0, 1500.0]), Some(1));
        assert_eq!(stop_point(&[700.0, 1400.0, 2800.0]), None);
        assert_eq!(stop_point(&[700.0]), None);
    }

    #[test]
    fn the_limit_is_the_largest_named_process() {
        let cpu = json!({"by_process": {"postgresql": {"pct_of_machine": 48.0},
            "reconciler": {"pct_of_machine": 30.0}, "other: rustc": {"pct_of_machine": 60.0}}});
        assert_eq!(top_process(&cpu), Some(("postgresql".to_owned(), 48.0)));
        assert_eq!(top_process(&json!({})), None);
    }

    #[test]
    fn the_curve_shows_each_level_s_cost_and_batch_sizes() {
        let point = |c: u64, rate: f64, cost: f64, batches: Value| {
            json!({"concurrency": c, "events": 1000, "rate": rate, "bound": c as f64 * 20.0,
                "ratio_to_bound": rate / (c as f64 * 20.0), "cpu": {},
                "cost": {"total_cpu_ms_per_event": cost}, "batches": batches})
        };
        let run = json!({"phase": "reconciler", "provider_latency_ms": 50, "curve": [
            point(64, 866.0, 2.18, json!({"commit": {"mean": 3.24}, "lease": {"mean": 2.5}})),
            point(128, 1089.0, 1.8, Value::Null),
        ]});
        let s = curve_section(&[run]);
        assert!(
            s.contains("| 64 | 1,000 | 866 | 1,280/s | 68 % | 2.18 | 3.2 / 2.5 |"),
            "{s}"
        );
        assert!(
            s.contains("| 128 | 1,000 | 1,089 | 2,560/s | 43 % | 1.80 | — / — |"),
            "{s}"
        );
    }

    #[test]
    fn cores_needed_follow_the_per_event_cost() {
        assert_eq!(cores_for(1000.0, 0.5), 0.5);
        assert_eq!(cores_for(2000.0, 1.5), 3.0);
    }
}
