//! P5: the daily report (CSV of many orders) against a bare `psql \copy` of the same rows.

use std::time::Instant;

use serde_json::{Value, json};

use super::{fresh, mb, progress, work_dir};
use crate::cpu::round2;
use crate::db;

/// SQL generating `rows` orders created over one Bogota business day `date`,
/// with a realistic state mix, their history and some exceptions.
pub fn report_data_sql(date: &str, rows: u64, tag: &str) -> String {
    format!(
        "INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, description, request_hash, \
                             state, provider_status, pse_cus, bank_code, provider_amount_minor, last_checked_at, created_at, updated_at) \
         SELECT 'RPT{tag}-' || i, (ARRAY['mono','belvo','tpaga'])[1 + i % 3], 'pay-{tag}-' || i, amount, 'COP', 'Factura ' || i, md5(i::text), \
                st, CASE st WHEN 'paid' THEN 'account_credited' WHEN 'failed' THEN 'failed' WHEN 'processing' THEN 'approved_in_provider' \
                            WHEN 'needs_review' THEN 'account_credited' WHEN 'expired' THEN 'created' END, \
                CASE WHEN st IN ('paid', 'needs_review', 'processing') THEN lpad((i % 10000000000)::text, 10, '0') END, \
                (ARRAY['1007','1051','1013','1019'])[1 + i % 4], \
                CASE WHEN st = 'needs_review' THEN amount + 10000 WHEN st IN ('paid','processing') THEN amount END, \
                ts + interval '90 seconds', ts, ts + interval '90 seconds' \
         FROM (SELECT i, (1000 + (i::bigint * 7919) % 5000000) * 100 AS amount, \
                      CASE WHEN i % 100 < 70 THEN 'paid' WHEN i % 100 < 80 THEN 'failed' WHEN i % 100 < 85 THEN 'pending' \
                           WHEN i % 100 < 93 THEN 'expired' WHEN i % 100 < 96 THEN 'processing' ELSE 'needs_review' END AS st, \
                      ('{date}'::date::timestamp AT TIME ZONE 'America/Bogota') + make_interval(secs => (i - 1) * 86400.0 / {rows}) AS ts \
               FROM generate_series(1, {rows}) AS i) s; \
         INSERT INTO order_events (order_id, from_state, to_state, cause, provider_status, at, order_created_at) \
         SELECT id, NULL, 'pending', 'created', NULL, created_at, created_at FROM orders WHERE reference LIKE 'RPT{tag}-%'; \
         INSERT INTO order_events (order_id, from_state, to_state, cause, provider_status, at, order_created_at) \
         SELECT id, 'pending', state, 'sweep', provider_status, updated_at, created_at FROM orders WHERE reference LIKE 'RPT{tag}-%' AND state <> 'pending'; \
         INSERT INTO reconciliation_exceptions (order_id, provider, provider_payment_id, kind, detail, dedup_key, expected_amount_minor, provider_amount_minor, currency, opened_at) \
         SELECT id, provider, provider_payment_id, 'amount_mismatch', 'order expects ' || amount_minor || '; provider reports ' || provider_amount_minor, \
                'amount_mismatch:' || id, amount_minor, provider_amount_minor, currency, updated_at \
         FROM orders WHERE reference LIKE 'RPT{tag}-%' AND state = 'needs_review'; \
         INSERT INTO reconciliation_exceptions (order_id, provider, provider_payment_id, kind, detail, dedup_key, opened_at, resolved_at, resolved_by, resolution_note) \
         SELECT id, provider, provider_payment_id, 'late_success', 'paid after expiry', 'late_success:' || id, updated_at, updated_at + interval '1 hour', 'finance:ana', 'accepted' \
         FROM orders WHERE reference LIKE 'RPT{tag}-%' AND state = 'paid' AND (substring(reference from '[0-9]+$'))::bigint % 200 = 0;"
    )
}

/// (elapsed seconds, peak RSS kB) from `/usr/bin/time -f "BENCHTIME %e %M"` output.
pub fn parse_time_output(stderr: &str) -> Option<(f64, u64)> {
    let line = stderr
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("BENCHTIME "))?;
    let mut parts = line.split_whitespace();
    let secs = parts.next()?.parse().ok()?;
    let kb = parts.next()?.parse().ok()?;
    Some((secs, kb))
}

async fn timed(
    program: &str,
    args: &[String],
    env: &[(String, String)],
) -> Result<(f64, u64, String), String> {
    let out = tokio::process::Command::new("/usr/bin/time")
        .args(["-f", "BENCHTIME %e %M"])
        .arg(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .map_err(|e| format!("cannot run /usr/bin/time {program}: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{program} failed ({}):\n{}",
            out.status,
            crate::procs::tail_text(&stderr, 20)
        ));
    }
    let (secs, kb) = parse_time_output(&stderr)
        .ok_or_else(|| format!("no timing from /usr/bin/time:\n{stderr}"))?;
    Ok((secs, kb, String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn file_lines(path: &std::path::Path) -> u64 {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
        .unwrap_or(0)
}

/// Whether this reconciler has the `report` command (the phase compares it with the API).
async fn report_available(reconciler: &std::path::Path) -> bool {
    tokio::process::Command::new(reconciler)
        .args(["report", "--help"])
        .output()
        .await
        .is_ok_and(|out| out.status.success())
}

pub async fn report(big_rows: u64, small_rows: u64) -> Result<Value, String> {
    let (big_day, small_day) = ("2026-11-20", "2026-11-19");
    let stack = fresh().await?;
    let reconciler = stack.spawner.binary("reconciler")?;
    let available = report_available(&reconciler).await;
    let started = Instant::now();
    progress(format!(
        "generating {small_rows} orders for {small_day} and {big_rows} for {big_day}"
    ));
    db::exec(&stack.db_url, report_data_sql(small_day, small_rows, "S")).await?;
    db::exec(&stack.db_url, report_data_sql(big_day, big_rows, "B")).await?;
    // Settle what a bulk load leaves behind before either side is timed: the
    // first reader of fresh rows sets their hint bits and dirties every page,
    // and the load's WAL triggers a checkpoint whose writes land in whichever
    // run happens to be going (the P5 ratio moved between 1.04× and 1.94× from
    // run to run before this). A closed business day in production has been
    // vacuumed long before finance exports it.
    db::exec(&stack.db_url, "VACUUM (ANALYZE)").await?;
    db::exec(&stack.db_url, "CHECKPOINT").await?;
    let generate_secs = round2(started.elapsed().as_secs_f64());
    progress(format!("generated in {generate_secs} s"));

    // Baseline: PostgreSQL's own CSV export of the same day's orders.
    let dir = work_dir()?;
    let copy_file = dir.join("report-baseline.csv");
    let copy_sql = format!(
        "\\copy (SELECT * FROM orders WHERE created_at >= '{big_day}'::date::timestamp AT TIME ZONE 'America/Bogota' \
         AND created_at < ('{big_day}'::date + 1)::timestamp AT TIME ZONE 'America/Bogota' ORDER BY created_at, id) TO '{}' WITH CSV HEADER",
        copy_file.display()
    );
    let args: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        &db::db_name(),
        "-qc",
        &copy_sql,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let copy_run = || async {
        let (secs, kb, _) = timed("psql", &args, &[]).await?;
        let lines = file_lines(&copy_file);
        let _ = std::fs::remove_file(&copy_file);
        progress(format!("baseline COPY of {big_rows} orders: {secs:.2} s"));
        Ok::<_, String>((secs, kb, lines))
    };

    if !available {
        let (copy_secs, copy_kb, copy_lines) = copy_run().await?;
        let baseline = json!({"what": COPY_WHAT, "secs": copy_secs, "peak_rss_mb": mb(copy_kb), "lines": copy_lines});
        progress("skipped: reconciler report not available");
        return Ok(json!({
            "phase": "report",
            "skipped": "reconciler report not available",
            "rows": big_rows, "small_rows": small_rows, "generate_secs": generate_secs,
            "baseline": baseline,
        }));
    }
    let env = vec![
        ("DATABASE_URL".to_owned(), stack.db_url.clone()),
        ("AMQP_NAME_PREFIX".to_owned(), crate::stack::prefix()),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
    ];
    let report_run = |day: &'static str, rows: u64| {
        let (reconciler, env, dir) = (&reconciler, &env, &dir);
        async move {
            let out = dir.join(format!("report-{day}.csv"));
            let args: Vec<String> = ["report", "--date", day, "--format", "csv", "--output"]
                .iter()
                .map(|s| (*s).to_owned())
                .chain([out.display().to_string()])
                .collect();
            let (secs, kb, _) = timed(&reconciler.display().to_string(), &args, env).await?;
            let lines = file_lines(&out);
            let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            let _ = std::fs::remove_file(&out);
            progress(format!(
                "report {day} ({rows} orders): {secs:.2} s, peak RSS {} MB, {lines} lines",
                mb(kb)
            ));
            Ok::<_, String>(
                json!({"date": day, "rows": rows, "secs": secs, "peak_rss_kb": kb, "peak_rss_mb": mb(kb), "lines": lines, "bytes": bytes}),
            )
        }
    };
    let small = report_run(small_day, small_rows).await?;
    // The big day and its baseline alternate, ROUNDS times each, and each
    // side's median is compared: a neighbour's burst then spoils one sample
    // of one side instead of the ratio.
    let (mut copies, mut bigs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        copies.push(copy_run().await?);
        bigs.push(report_run(big_day, big_rows).await?);
    }
    let (copy_secs, copy_kb, copy_lines) = copies[median_index(&copies, |c| c.0)];
    let baseline = json!({
        "what": COPY_WHAT, "secs": copy_secs, "peak_rss_mb": mb(copy_kb), "lines": copy_lines,
        "samples_secs": copies.iter().map(|c| c.0).collect::<Vec<_>>(),
    });
    let big = bigs[median_index(&bigs, |r| r["secs"].as_f64().unwrap_or(0.0))].clone();
    let big_secs = big["secs"].as_f64().unwrap_or(0.0);
    let peak_kb = bigs
        .iter()
        .map(|r| r["peak_rss_kb"].as_f64().unwrap_or(0.0))
        .fold(0.0, f64::max);
    let mem_ratio = peak_kb / small["peak_rss_kb"].as_f64().unwrap_or(1.0).max(1.0);
    Ok(json!({
        "phase": "report",
        "rows": big_rows, "small_rows": small_rows, "generate_secs": generate_secs,
        "secs": big_secs, "peak_rss_mb": mb(peak_kb as u64), "small_peak_rss_mb": small["peak_rss_mb"],
        "samples_secs": bigs.iter().map(|r| r["secs"].as_f64().unwrap_or(0.0)).collect::<Vec<_>>(),
        "memory_ratio_big_to_small": round2(mem_ratio),
        "ratio_to_copy": round2(if copy_secs > 0.0 { big_secs / copy_secs } else { 0.0 }),
        "baseline": baseline,
        "runs": [small, big],
    }))
}

/// Timed runs of each side of the comparison.
const ROUNDS: usize = 3;

const COPY_WHAT: &str = "psql \\copy (SELECT * FROM orders of the day) TO file CSV";

/// The index of the median sample (the lower one of an even count).
fn median_index<T>(samples: &[T], key: impl Fn(&T) -> f64) -> usize {
    let mut order: Vec<usize> = (0..samples.len()).collect();
    order.sort_by(|&a, &b| key(&samples[a]).total_cmp(&key(&samples[b])));
    order[samples.len().saturating_sub(1) / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_sample_is_picked_by_its_key() {
        assert_eq!(median_index(&[3.0, 1.0, 2.0], |x| *x), 2);
        assert_eq!(median_index(&[5.0, 9.0, 1.0, 7.0], |x| *x), 0);
        assert_eq!(median_index(&[4.0], |x| *x), 0);
    }

    #[test]
    fn reads_usr_bin_time() {
        let s = "some log\nBENCHTIME 1.84 51200\n";
        assert_eq!(parse_time_output(s), Some((1.84, 51200)));
        assert_eq!(parse_time_output("nothing"), None);
    }

    #[test]
    fn report_sql_names_the_day_and_rows() {
        let sql = report_data_sql("2026-11-20", 1000, "B");
        assert!(sql.contains("'2026-11-20'::date"));
        assert!(sql.contains("generate_series(1, 1000)"));
        assert!(sql.contains("RPTB-"));
    }
}
