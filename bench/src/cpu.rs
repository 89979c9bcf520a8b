//! Where the CPU went during a measurement: every process's user+system time
//! from /proc, grouped (the generator itself, each child we started,
//! PostgreSQL, RabbitMQ, everything else), as a share of the machine.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;

/// Clock ticks per second of /proc times (USER_HZ; 100 on Linux x86 and arm).
const TICKS_PER_SEC: f64 = 100.0;

pub fn ticks_to_secs(t: u64) -> f64 {
    t as f64 / TICKS_PER_SEC
}

/// (comm, utime+stime, cutime+cstime) of one /proc/<pid>/stat line.
pub fn parse_stat(line: &str) -> Option<(String, u64, u64)> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_owned();
    // After ") ": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
    let rest: Vec<&str> = line.get(close + 2..)?.split_whitespace().collect();
    let field = |n: usize| rest.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some((comm, field(14)? + field(15)?, field(16)? + field(17)?))
}

pub fn process_ticks(pid: u32) -> Option<u64> {
    let line = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&line).map(|(_, own, _)| own)
}

/// Busy and total jiffies of the whole machine (first line of /proc/stat).
pub fn parse_proc_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v[4];
    Some((total - idle, total))
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    busy: u64,
    total: u64,
    /// Per pid: (group, ticks). Deltas are taken per pid and only then grouped,
    /// because a name can change between snapshots (kernel workers rename
    /// themselves after the work item they run).
    pids: HashMap<(u32, bool), (String, u64)>,
}

fn group_of(pid: u32, comm: &str, named: &[(String, u32)]) -> String {
    if let Some((name, _)) = named.iter().find(|(_, p)| *p == pid) {
        return name.clone();
    }
    match comm {
        "postgres" => "postgresql".to_owned(),
        "beam.smp" | "erl_child_setup" | "epmd" | "inet_gethost" => "rabbitmq".to_owned(),
        c if c.starts_with("kworker/") || c.starts_with("ksoftirqd/") || c.starts_with("jbd2/") => {
            "kernel threads (I/O, softirq)".to_owned()
        }
        // Named, so noise from other work on the machine is visible.
        c => format!("other: {c}"),
    }
}

/// Reads every process now. `named` maps pids we started to their names.
pub fn snapshot(named: &[(String, u32)]) -> Snapshot {
    let me = std::process::id();
    let mut pids = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(line) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some((comm, own, children)) = parse_stat(&line) else {
                continue;
            };
            if pid == me {
                pids.insert((pid, false), ("pse-bench (load generator)".to_owned(), own));
                // pgbench, psql, /usr/bin/time and stopped services, once waited for.
                pids.insert(
                    (pid, true),
                    ("exited children (pgbench, psql…)".to_owned(), children),
                );
                continue;
            }
            let group = group_of(pid, &comm, named);
            // The postmaster's children times include backends that exited (pgbench's).
            if group == "postgresql" {
                pids.insert((pid, true), (group.clone(), children));
            }
            pids.insert((pid, false), (group, own));
        }
    }
    let (busy, total) = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_proc_stat(&t))
        .unwrap_or((0, 0));
    Snapshot {
        at: Instant::now(),
        busy,
        total,
        pids,
    }
}

/// CPU used between two snapshots.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct CpuReport {
    pub window_secs: f64,
    pub cores: usize,
    /// Busy share of all cores (100 = every core busy all the time).
    pub machine_busy_pct: f64,
    /// Per group: CPU seconds and share of the machine's capacity.
    pub by_process: BTreeMap<String, GroupCpu>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
pub struct GroupCpu {
    pub cpu_secs: f64,
    pub pct_of_machine: f64,
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn between(before: &Snapshot, after: &Snapshot) -> CpuReport {
    let window = after.at.duration_since(before.at).as_secs_f64().max(1e-6);
    let cores = cores();
    let capacity = window * cores as f64;
    let mut ticks: HashMap<&str, u64> = HashMap::new();
    for (key, (name, end)) in &after.pids {
        // A process born inside the window counts from zero.
        let start = before.pids.get(key).map_or(0, |(_, t)| *t);
        *ticks.entry(name.as_str()).or_default() += end.saturating_sub(start);
    }
    let mut by_process = BTreeMap::new();
    for (name, t) in ticks {
        let secs = ticks_to_secs(t);
        if secs > 0.0 {
            by_process.insert(
                name.to_owned(),
                GroupCpu {
                    cpu_secs: round2(secs),
                    pct_of_machine: round1(100.0 * secs / capacity),
                },
            );
        }
    }
    let jiffies = after.total.saturating_sub(before.total).max(1);
    CpuReport {
        window_secs: round2(window),
        cores,
        machine_busy_pct: round1(
            100.0 * after.busy.saturating_sub(before.busy) as f64 / jiffies as f64,
        ),
        by_process,
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_odd_names() {
        let line =
            "1234 (tokio (rt) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 4 0 100 0 0";
        assert_eq!(parse_stat(line), Some(("tokio (rt) x".to_owned(), 300, 10)));
        assert_eq!(parse_stat("garbage"), None);
        assert!(process_ticks(std::process::id()).is_some());
    }

    #[test]
    fn deltas_are_per_pid_even_when_a_process_renames_itself() {
        let at = Instant::now();
        let snap = |name: &str, t: u64, busy: u64| Snapshot {
            at,
            busy,
            total: busy * 2,
            pids: HashMap::from([
                ((7, false), (name.to_owned(), t)),
                ((8, false), ("postgresql".to_owned(), t)),
            ]),
        };
        let before = snap("other: kworker/u8:1-events", 1_000, 100);
        let mut after = snap("kernel threads (I/O, softirq)", 1_010, 150);
        after.at = at + std::time::Duration::from_secs(1);
        after.pids.insert((9, false), ("other: new".to_owned(), 5));
        let r = between(&before, &after);
        assert_eq!(r.by_process["kernel threads (I/O, softirq)"].cpu_secs, 0.1);
        assert_eq!(r.by_process["postgresql"].cpu_secs, 0.1);
        assert_eq!(r.by_process["other: new"].cpu_secs, 0.05);
        assert_eq!(r.machine_busy_pct, 50.0);
        assert_eq!(
            group_of(1, "kworker/u8:1-writeback", &[]),
            "kernel threads (I/O, softirq)"
        );
        assert_eq!(
            group_of(3, "x", &[("webhook-api".to_owned(), 3)]),
            "webhook-api"
        );
    }

    #[test]
    fn machine_busy_time() {
        let t = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n";
        assert_eq!(parse_proc_stat(t), Some((150, 1000)));
        assert_eq!(parse_proc_stat("intr 1"), None);
    }

    #[test]
    fn a_window_attributes_our_own_time() {
        let before = snapshot(&[]);
        let start = Instant::now();
        let first = process_ticks(std::process::id()).unwrap_or(0);
        let mut x = 0u64;
        // Spin until this process has used 100 ms of CPU (not 150 ms of wall time:
        // on a loaded machine a wall-clock spin may get only a sliver of a core).
        while start.elapsed().as_millis() < 150
            || (process_ticks(std::process::id()).unwrap_or(0) < first + 10
                && start.elapsed().as_secs() < 20)
        {
            for _ in 0..10_000 {
                x = x.wrapping_add(std::hint::black_box(1));
            }
        }
        assert!(x > 0);
        let after = snapshot(&[]);
        let r = between(&before, &after);
        assert!(r.window_secs >= 0.15);
        let me = r
            .by_process
            .get("pse-bench (load generator)")
            .map(|g| g.cpu_secs)
            .unwrap_or(0.0);
        assert!(me >= 0.05, "{r:?}");
    }
}
