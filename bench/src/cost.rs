//! CPU-ms per event: the CPU each process spent in a measured window divided by the
//! events the system finished in it. Per-event cost, not throughput, is what sizes
//! the machines at scale (issue 13, P7): throughput on this shared 2-core host moves
//! with whatever else runs, the cost of one event much less.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cpu::CpuReport;

/// The columns of the CPU-ms table, in the order they are shown. Anything else
/// (other tenants of the machine, kernel threads, exited children) is `other`.
pub const GROUPS: [&str; 6] = [
    "webhook-api",
    "reconciler",
    "postgresql",
    "rabbitmq",
    "pse-sandbox",
    "pse-bench (load generator)",
];

pub const OTHER: &str = "other";

/// The process a CPU group belongs to: `webhook-api#2` (the second of two) is a
/// webhook-api; names the table does not list are `other`.
pub fn canonical(group: &str) -> &str {
    let base = group.split_once('#').map_or(group, |(b, _)| b);
    GROUPS
        .iter()
        .find(|g| **g == base)
        .copied()
        .unwrap_or(OTHER)
}

/// CPU seconds per canonical process, summed over the instances of each.
pub fn cpu_secs_by_process(cpu: &CpuReport) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for (name, g) in &cpu.by_process {
        *out.entry(canonical(name).to_owned()).or_default() += g.cpu_secs;
    }
    out
}

/// The JSON record of one window's cost: `events` finished, and for each process
/// the CPU-ms per event (all six columns present, zero when the process did not
/// run, so tables line up).
pub fn per_event(cpu: &CpuReport, events: u64) -> Value {
    let secs = cpu_secs_by_process(cpu);
    let per = |s: f64| {
        if events == 0 {
            0.0
        } else {
            (s * 1000.0 / events as f64 * 1000.0).round() / 1000.0
        }
    };
    let mut ms = serde_json::Map::new();
    for g in GROUPS.iter().copied().chain([OTHER]) {
        ms.insert(
            g.to_owned(),
            json!(per(secs.get(g).copied().unwrap_or(0.0))),
        );
    }
    let total: f64 = secs.values().sum();
    json!({
        "events": events,
        "window_secs": cpu.window_secs,
        "machine_busy_pct": cpu.machine_busy_pct,
        "cpu_ms_per_event": ms,
        "total_cpu_ms_per_event": per(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::GroupCpu;

    fn report(groups: &[(&str, f64)]) -> CpuReport {
        CpuReport {
            window_secs: 10.0,
            cores: 2,
            machine_busy_pct: 90.0,
            by_process: groups
                .iter()
                .map(|(k, s)| {
                    (
                        (*k).to_owned(),
                        GroupCpu {
                            cpu_secs: *s,
                            pct_of_machine: 0.0,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn instances_fold_into_their_process_and_strangers_into_other() {
        assert_eq!(canonical("webhook-api#2"), "webhook-api");
        assert_eq!(canonical("reconciler"), "reconciler");
        assert_eq!(canonical("other: rustc"), OTHER);
        assert_eq!(canonical("kernel threads (I/O, softirq)"), OTHER);
        // A prefix is not enough: the name must match a process exactly.
        assert_eq!(canonical("webhook-api-old"), OTHER);
    }

    #[test]
    fn cost_is_cpu_ms_divided_by_events() {
        let r = report(&[
            ("webhook-api#1", 1.0),
            ("webhook-api#2", 0.5),
            ("postgresql", 2.0),
            ("other: rustc", 0.25),
            ("kernel threads (I/O, softirq)", 0.25),
        ]);
        let v = per_event(&r, 1000);
        let ms = &v["cpu_ms_per_event"];
        assert_eq!(ms["webhook-api"], 1.5);
        assert_eq!(ms["postgresql"], 2.0);
        assert_eq!(ms["other"], 0.5);
        assert_eq!(ms["reconciler"], 0.0, "every column is present");
        assert_eq!(v["total_cpu_ms_per_event"], 4.0);
        assert_eq!(v["events"], 1000);
        // No events: no division by zero, no infinity in the JSON.
        assert_eq!(per_event(&r, 0)["total_cpu_ms_per_event"], 0.0);
    }
}
