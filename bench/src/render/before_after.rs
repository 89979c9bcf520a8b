//! The before/after table: the key figures of a checked-in baseline (written by
//! `pse-bench baseline` from an earlier bench/results.json, e.g.
//! bench/baseline-issue13.json) beside the same figures of this run.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{int, latest, ms};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    PerSec,
    Times,
    Ms,
    Share,
    Secs,
    Mb,
}

/// One key figure: where it is in the results, how to print it, which way is better.
struct Figure {
    key: &'static str,
    label: &'static str,
    phase: &'static str,
    path: &'static [&'static str],
    unit: Unit,
    higher_is_better: bool,
    goal: &'static str,
}

const FIGURES: &[Figure] = &[
    Figure {
        key: "p1_rate",
        label: "P1 ingress peak",
        phase: "ingress",
        path: &["peak_rate"],
        unit: Unit::PerSec,
        higher_is_better: true,
        goal: "",
    },
    Figure {
        key: "p1_ratio_to_pgbench",
        label: "P1 ingress ÷ pgbench",
        phase: "ingress",
        path: &["ratio_to_pgbench"],
        unit: Unit::Times,
        higher_is_better: true,
        goal: "≥ 1.8×",
    },
    Figure {
        key: "p2_p99_ms",
        label: "P2 ingress p99 at 50 % of P1's peak",
        phase: "latency",
        path: &["result", "latency", "p99_ms"],
        unit: Unit::Ms,
        higher_is_better: false,
        goal: "≤ 10 ms",
    },
    Figure {
        key: "p3_rate",
        label: "P3 reconciler (64 in flight, 50 ms)",
        phase: "reconciler",
        path: &["rate"],
        unit: Unit::PerSec,
        higher_is_better: true,
        goal: "≥ 1,000/s",
    },
    Figure {
        key: "p3_share_of_bound",
        label: "P3 share of the bound",
        phase: "reconciler",
        path: &["ratio_to_bound"],
        unit: Unit::Share,
        higher_is_better: true,
        goal: "≥ 80 %",
    },
    Figure {
        key: "p4_p99_ms",
        label: "P4 end to end p99 (provider subtracted)",
        phase: "e2e",
        path: &["loaded", "e2e", "p99_ms"],
        unit: Unit::Ms,
        higher_is_better: false,
        goal: "≤ 100 ms",
    },
    Figure {
        key: "p4_rate",
        label: "P4 achieved webhook rate",
        phase: "e2e",
        path: &["loaded", "achieved_rate"],
        unit: Unit::PerSec,
        higher_is_better: true,
        goal: "1,000/s for 20 s",
    },
    Figure {
        key: "p5_secs",
        label: "P5 CSV report, 1,000,000 orders",
        phase: "report",
        path: &["secs"],
        unit: Unit::Secs,
        higher_is_better: false,
        goal: "",
    },
    Figure {
        key: "p5_ratio_to_copy",
        label: "P5 report ÷ psql \\copy",
        phase: "report",
        path: &["ratio_to_copy"],
        unit: Unit::Times,
        higher_is_better: false,
        goal: "≤ 1.25×",
    },
    Figure {
        key: "p5_memory_ratio",
        label: "P5 memory, 1,000,000 ÷ 100,000 orders",
        phase: "report",
        path: &["memory_ratio_big_to_small"],
        unit: Unit::Times,
        higher_is_better: false,
        goal: "flat (≤ 1.25×)",
    },
    Figure {
        key: "p6_webhook_api_mb",
        label: "P6 webhook-api peak RSS",
        phase: "ingress",
        path: &["webhook_api", "peak_rss_mb"],
        unit: Unit::Mb,
        higher_is_better: false,
        goal: "≤ 64 MB",
    },
    Figure {
        key: "p6_reconciler_mb",
        label: "P6 reconciler peak RSS",
        phase: "reconciler",
        path: &["reconciler", "peak_rss_mb"],
        unit: Unit::Mb,
        higher_is_better: false,
        goal: "≤ 64 MB",
    },
    Figure {
        key: "p7_ingress_ratio",
        label: "P7 two ÷ one webhook-api",
        phase: "scaleout",
        path: &["ingress", "ratio"],
        unit: Unit::Times,
        higher_is_better: true,
        goal: "≥ 1.6× where CPU allows",
    },
    Figure {
        key: "p7_reconciler_ratio",
        label: "P7 two ÷ one reconciler",
        phase: "scaleout",
        path: &["reconciler", "ratio"],
        unit: Unit::Times,
        higher_is_better: true,
        goal: "≥ 1.6× where CPU allows",
    },
];

/// The key figures present in a run's results (a phase that did not run, or a
/// field it did not write, is simply absent).
pub fn key_figures(results: &[Value]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for fig in FIGURES {
        let Some(mut v) = latest(results, fig.phase) else {
            continue;
        };
        for p in fig.path {
            v = &v[*p];
        }
        if let Some(x) = v.as_f64() {
            out.insert(fig.key.to_owned(), x);
        }
    }
    out
}

/// The baseline file for a rendered results document (`render --json`).
pub fn baseline_from_document(doc: &Value, label: &str, source: &str) -> Result<Value, String> {
    let results = doc["results"]
        .as_array()
        .ok_or("the document has no \"results\" array (is it a `render --json` output?)")?;
    let figures = key_figures(results);
    if figures.is_empty() {
        return Err("the document has none of the key figures".to_owned());
    }
    Ok(json!({
        "label": label,
        "date_utc": doc["machine"]["date_utc"],
        "mode": doc["mode"],
        "source": source,
        "figures": figures,
    }))
}

fn show(unit: Unit, x: f64) -> String {
    match unit {
        Unit::PerSec => format!("{}/s", int(x)),
        Unit::Times => format!("{x:.2}×"),
        Unit::Ms => format!("{} ms", ms(x)),
        Unit::Share => format!("{:.0} %", x * 100.0),
        Unit::Secs => format!("{x:.2} s"),
        Unit::Mb => format!("{x:.1} MB"),
    }
}

/// "better", "worse" or "same" (within 2 %), by the figure's direction.
fn verdict(before: f64, after: f64, higher_is_better: bool) -> &'static str {
    if before == 0.0 || (after / before - 1.0).abs() <= 0.02 {
        return "same";
    }
    if (after > before) == higher_is_better {
        "better"
    } else {
        "worse"
    }
}

/// The "Before → after" section, empty without a baseline.
pub(super) fn section(baseline: Option<&Value>, results: &[Value]) -> String {
    let Some(b) = baseline else {
        return String::new();
    };
    let before = &b["figures"];
    let after = key_figures(results);
    let mut s = format!(
        "\n## Before ({}, {}) → after (this run)\n\nBefore: {}. Same machine class, different days and neighbours: read the ratios, not small differences.\n\n| figure | before | after | after ÷ before | | goal |\n|---|---|---|---|---|---|\n",
        b["label"].as_str().unwrap_or("baseline"),
        b["date_utc"].as_str().unwrap_or("?"),
        b["source"].as_str().unwrap_or("?"),
    );
    for fig in FIGURES {
        let was = before[fig.key].as_f64();
        let now = after.get(fig.key).copied();
        if was.is_none() && now.is_none() {
            continue;
        }
        let cell = |x: Option<f64>| x.map_or("—".to_owned(), |x| show(fig.unit, x));
        let (change, word) = match (was, now) {
            (Some(w), Some(n)) if w != 0.0 => (
                format!("{:.2}×", n / w),
                verdict(w, n, fig.higher_is_better),
            ),
            _ => ("—".to_owned(), ""),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {change} | {word} | {} |\n",
            fig.label,
            cell(was),
            cell(now),
            if fig.goal.is_empty() { "—" } else { fig.goal }
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Vec<Value> {
        vec![
            json!({"phase": "ingress", "peak_rate": 7146.4, "ratio_to_pgbench": 1.95, "webhook_api": {"peak_rss_mb": 41.4}}),
            json!({"phase": "reconciler", "rate": 648.3, "ratio_to_bound": 0.51, "reconciler": {"peak_rss_mb": 43.6}}),
            json!({"phase": "e2e", "loaded": {"e2e": {"p99_ms": 15564.8}, "achieved_rate": 995.0}}),
        ]
    }

    #[test]
    fn key_figures_follow_their_paths_and_skip_what_is_missing() {
        let k = key_figures(&run());
        assert_eq!(k["p1_rate"], 7146.4);
        assert_eq!(k["p3_share_of_bound"], 0.51);
        assert_eq!(k["p4_p99_ms"], 15564.8);
        assert_eq!(k["p6_reconciler_mb"], 43.6);
        assert!(!k.contains_key("p5_secs"), "no report phase in this run");
        assert!(!k.contains_key("p7_ingress_ratio"));
    }

    #[test]
    fn a_baseline_file_comes_from_a_rendered_document() {
        let doc = json!({"mode": "full", "machine": {"date_utc": "2026-11-21 10:31 UTC"}, "results": run()});
        let b = baseline_from_document(&doc, "issue 13 start", "bench/results.json").unwrap();
        assert_eq!(b["date_utc"], "2026-11-21 10:31 UTC");
        assert_eq!(b["figures"]["p1_ratio_to_pgbench"], 1.95);
        assert!(baseline_from_document(&json!({"results": []}), "x", "y").is_err());
        assert!(baseline_from_document(&json!({}), "x", "y").is_err());
    }

    #[test]
    fn the_table_puts_before_beside_after_with_the_direction() {
        let b = json!({"label": "issue 13 start", "date_utc": "2026-11-21 10:31 UTC", "source": "bench/results.json",
                       "figures": {"p3_rate": 648.3, "p4_p99_ms": 15564.8, "p5_ratio_to_copy": 2.07}});
        let mut after = run();
        after[1]["rate"] = json!(1296.6);
        after[2]["loaded"]["e2e"]["p99_ms"] = json!(40.0);
        let s = section(Some(&b), &after);
        assert!(
            s.contains("## Before (issue 13 start, 2026-11-21 10:31 UTC)"),
            "{s}"
        );
        assert!(s.contains("| P3 reconciler (64 in flight, 50 ms) | 648/s | 1,297/s | 2.00× | better | ≥ 1,000/s |"), "{s}");
        assert!(
            s.contains("| P4 end to end p99 (provider subtracted) | 15564.8 ms | 40.0 ms |"),
            "{s}"
        );
        assert!(
            s.contains("| P5 report ÷ psql \\copy | 2.07× | — | — |"),
            "{s}"
        );
        // A figure with neither side is left out.
        assert!(!s.contains("P7"));
        assert_eq!(section(None, &after), "");
    }

    #[test]
    fn verdicts_follow_the_direction_of_the_figure() {
        assert_eq!(verdict(100.0, 150.0, true), "better");
        assert_eq!(verdict(100.0, 150.0, false), "worse");
        assert_eq!(verdict(100.0, 101.0, true), "same");
        assert_eq!(verdict(0.0, 5.0, true), "same");
    }
}
