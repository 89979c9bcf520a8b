//! Reads the reconciler's own batch-size histograms (`reconciler_batch_size`,
//! README "Operations") from its `/metrics` at the end of a run, so the P3 curve
//! can show why a check gets cheaper with more in flight: its group commits and
//! lease statements carry more checks each.

use std::time::Duration;

use serde_json::{Value, json};

/// The stages the reconciler observes, as the `stage` label names them.
const STAGES: [&str; 2] = ["commit", "lease"];

/// `(checks, batches)` of one stage in Prometheus text, if the series is there.
fn stage_totals(text: &str, stage: &str) -> Option<(f64, f64)> {
    let value = |series: &str| {
        let prefix = format!("{series}{{stage=\"{stage}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Some((
        value("reconciler_batch_size_sum")?,
        value("reconciler_batch_size_count")?,
    ))
}

/// Sums each stage over the texts (one per reconciler) into
/// `{"commit": {"checks", "batches", "mean"}, "lease": …}`; a stage no text
/// has is left out.
pub fn batch_sizes(texts: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    for stage in STAGES {
        let found: Vec<(f64, f64)> = texts
            .iter()
            .filter_map(|t| stage_totals(t, stage))
            .collect();
        if found.is_empty() {
            continue;
        }
        let checks: f64 = found.iter().map(|(s, _)| s).sum();
        let batches: f64 = found.iter().map(|(_, c)| c).sum();
        let mean = if batches > 0.0 { checks / batches } else { 0.0 };
        out.insert(
            stage.to_owned(),
            json!({"checks": checks, "batches": batches, "mean": (mean * 100.0).round() / 100.0}),
        );
    }
    Value::Object(out)
}

/// `GET {ops_url}/metrics`; `None` when it cannot be read (the figure is then
/// missing from the report, never invented).
pub async fn metrics_text(ops_url: &str) -> Option<String> {
    let client = shared::http::client(Duration::from_secs(1), Duration::from_secs(5)).ok()?;
    let r = client.get(format!("{ops_url}/metrics")).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    r.text().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "# HELP reconciler_batch_size Checks per …\n\
        # TYPE reconciler_batch_size histogram\n\
        reconciler_batch_size_bucket{stage=\"commit\",le=\"1\"} 2\n\
        reconciler_batch_size_sum{stage=\"commit\"} 30\n\
        reconciler_batch_size_count{stage=\"commit\"} 10\n\
        reconciler_batch_size_sum{stage=\"lease\"} 30\n\
        reconciler_batch_size_count{stage=\"lease\"} 6\n";

    #[test]
    fn means_are_checks_over_batches_summed_over_processes() {
        let other = "reconciler_batch_size_sum{stage=\"commit\"} 10\n\
            reconciler_batch_size_count{stage=\"commit\"} 5\n\
            reconciler_batch_size_sum{stage=\"lease\"} 10\n\
            reconciler_batch_size_count{stage=\"lease\"} 5\n";
        let v = batch_sizes(&[ONE.to_owned(), other.to_owned()]);
        assert_eq!(v["commit"]["checks"], 40.0);
        assert_eq!(v["commit"]["batches"], 15.0);
        assert_eq!(v["commit"]["mean"], 2.67);
        assert_eq!(v["lease"]["batches"], 11.0);
        assert_eq!(v["lease"]["mean"], 3.64);
    }

    #[test]
    fn a_stage_nobody_reported_is_left_out() {
        let v = batch_sizes(&["# nothing here\n".to_owned()]);
        assert_eq!(v, json!({}));
        let only_commit: String = ONE
            .lines()
            .filter(|l| !l.contains("lease"))
            .map(|l| format!("{l}\n"))
            .collect();
        let v = batch_sizes(&[only_commit]);
        assert!(v.get("lease").is_none());
        assert_eq!(v["commit"]["mean"], 3.0);
    }
}
