//! The per-phase details under the table: each sweep's steps, CPU shares and memory.

use serde_json::Value;

use super::{f, int, latest, ms, ratio};

pub(super) fn cpu_line(cpu: &Value) -> String {
    let Some(groups) = cpu["by_process"].as_object() else {
        return String::new();
    };
    // Unrelated processes under 2 % each are summed, to keep the line short.
    let mut rest = 0.0;
    let mut parts: Vec<(String, f64)> = Vec::new();
    for (k, v) in groups {
        let p = f(&v["pct_of_machine"]);
        if k.starts_with("other: ") && p < 2.0 {
            rest += p;
        } else if p >= 0.5 {
            parts.push((k.clone(), p));
        }
    }
    if rest >= 0.5 {
        parts.push(("other (each < 2 %)".to_owned(), rest));
    }
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    let list: Vec<String> = parts.iter().map(|(k, p)| format!("{k} {p:.0} %")).collect();
    format!(
        "machine busy {:.0} % of {} cores — {}",
        f(&cpu["machine_busy_pct"]),
        cpu["cores"],
        list.join(", ")
    )
}

pub(super) fn details(results: &[Value]) -> String {
    let mut s = String::new();
    if let Some(i) = latest(results, "ingress") {
        s.push_str("\n### P1 sweep (pgbench and webhook-api interleaved at each level)\n\n");
        s.push_str("| connections = pgbench clients | pgbench tx/s | webhook-api 200/s | ratio | webhook p50 / p99 ms | non-200 / errors | outbox backlog at end | CPU during the webhook step |\n|---|---|---|---|---|---|---|---|\n");
        for st in i["steps"].as_array().into_iter().flatten() {
            let r = &st["result"];
            let non200: u64 = r["statuses"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(k, _)| *k != "200")
                        .map(|(_, v)| v.as_u64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0);
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} / {} | {} / {} | {} | {} |\n",
                st["concurrency"],
                int(f(&st["pgbench"]["tps"])),
                int(f(&r["rate"])),
                ratio(f(&st["ratio"])),
                ms(f(&r["latency"]["p50_ms"])),
                ms(f(&r["latency"]["p99_ms"])),
                non200,
                r["errors"],
                st["outbox_backlog_at_end"],
                cpu_line(&st["cpu"])
            ));
        }
        s.push_str(&format!(
            "\nEvent measured: `{}`. webhook-api RSS idle {} MB, peak {} MB; CPU {} s.\n",
            i["event_type"].as_str().unwrap_or("?"),
            i["webhook_api_idle_rss_mb"],
            i["webhook_api"]["peak_rss_mb"],
            i["webhook_api"]["cpu_secs"]
        ));
    }
    if let Some(c) = latest(results, "ceiling") {
        s.push_str("\n### HTTP ceiling sweep\n\n| connections | req/s | p50 / p99 ms | CPU |\n|---|---|---|---|\n");
        for st in c["steps"].as_array().into_iter().flatten() {
            let r = &st["result"];
            s.push_str(&format!(
                "| {} | {} | {} / {} | {} |\n",
                st["concurrency"],
                int(f(&r["rate"])),
                ms(f(&r["latency"]["p50_ms"])),
                ms(f(&r["latency"]["p99_ms"])),
                cpu_line(&st["cpu"])
            ));
        }
    }
    if let Some(l) = latest(results, "latency") {
        let r = &l["result"];
        let e = &l["echo_baseline"];
        s.push_str(&format!(
            "\n### P2 latency at {}/s ({} connections)\n\n",
            int(f(&l["rate"])),
            r["connections"]
        ));
        s.push_str("| server | sent / 200 | from intended send: p50 / p90 / p99 / p99.9 / max ms | from actual write: p99 ms | send lateness p99 ms |\n|---|---|---|---|---|\n");
        for (name, x) in [("webhook-api", r), ("bare actix", e)] {
            let lat = &x["latency"];
            s.push_str(&format!(
                "| {name} | {} / {} | {} / {} / {} / {} / {} | {} | {} |\n",
                x["scheduled"],
                x["ok"],
                ms(f(&lat["p50_ms"])),
                ms(f(&lat["p90_ms"])),
                ms(f(&lat["p99_ms"])),
                ms(f(&lat["p999_ms"])),
                ms(f(&lat["max_ms"])),
                ms(f(&x["service_time"]["p99_ms"])),
                ms(f(&x["send_lateness"]["p99_ms"]))
            ));
        }
        s.push_str(&format!("\nCPU: {}\n", cpu_line(&l["cpu"])));
    }
    if let Some(r) = latest(results, "reconciler") {
        s.push_str(&format!(
            "\n### P3 reconciler\n\n{} of {} events processed ({} paid, {} dead letters) in {} s from the first pick to the last commit; {} s including process start ({} events/s). RSS idle {} MB, peak {} MB, CPU {} s.\n\nCPU: {}\n",
            r["processed"], r["events"], r["paid"], r["dead_letters"], r["processing_secs"],
            r["wall_secs_including_startup"], r["rate_including_startup"],
            r["reconciler_idle_rss_mb"], r["reconciler"]["peak_rss_mb"], r["reconciler"]["cpu_secs"],
            cpu_line(&r["cpu"])
        ));
    }
    if let Some(e) = latest(results, "e2e") {
        s.push_str("\n### P4 end to end\n\n| run | target / achieved rate | sent / 200 | e2e p50 / p90 / p99 / max ms (provider subtracted) | raw p99 ms | ingress p99 ms | not paid in time |\n|---|---|---|---|---|---|---|\n");
        for name in ["unloaded", "loaded"] {
            let x = &e[name];
            s.push_str(&format!(
                "| {name} | {} / {} | {} / {} | {} / {} / {} / {} | {} | {} | {} |\n",
                int(f(&x["target_rate"])),
                int(f(&x["achieved_rate"])),
                x["sent"],
                x["accepted"],
                ms(f(&x["e2e"]["p50_ms"])),
                ms(f(&x["e2e"]["p90_ms"])),
                ms(f(&x["e2e"]["p99_ms"])),
                ms(f(&x["e2e"]["max_ms"])),
                ms(f(&x["e2e_raw_including_provider"]["p99_ms"])),
                ms(f(&x["ingress_latency"]["p99_ms"])),
                x["not_paid_in_time"]
            ));
        }
        s.push_str(&format!(
            "\nRSS peak: webhook-api {} MB, reconciler {} MB. CPU (loaded run): {}\n",
            e["webhook_api"]["peak_rss_mb"],
            e["reconciler"]["peak_rss_mb"],
            cpu_line(&e["cpu"])
        ));
    }
    if let Some(r) = latest(results, "report") {
        s.push_str(&format!(
            "\n### P5 report\n\nData: {} + {} orders generated with SQL in {} s (70 % paid, 10 % failed, 5 % pending, 8 % expired, 3 % processing, 4 % needs_review with an amount_mismatch exception, 0.5 % of paid with a resolved late_success; creation and transition rows in order_events). Baseline: {} in {} s.\n",
            int(f(&r["rows"])),
            int(f(&r["small_rows"])),
            r["generate_secs"],
            r["baseline"]["what"].as_str().unwrap_or(""),
            r["baseline"]["secs"]
        ));
        let samples = |v: &Value| {
            v.as_array().map(|xs| {
                xs.iter()
                    .map(|x| format!("{:.2}", f(x)))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
        if let (Some(ours), Some(copy)) = (
            samples(&r["samples_secs"]),
            samples(&r["baseline"]["samples_secs"]),
        ) {
            s.push_str(&format!(
                "\nAfter loading, `VACUUM (ANALYZE)` and `CHECKPOINT`, so neither side pays for setting the fresh rows' hint bits or for the load's checkpoint. Then the big day's report and its COPY alternate, and the medians are compared: report {ours} s; COPY {copy} s.\n"
            ));
        }
        if let Some(runs) = r["runs"].as_array() {
            s.push_str(
                "\n| day | orders | time s | peak RSS MB | CSV lines |\n|---|---|---|---|---|\n",
            );
            for x in runs {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    x["date"].as_str().unwrap_or(""),
                    int(f(&x["rows"])),
                    x["secs"],
                    x["peak_rss_mb"],
                    x["lines"]
                ));
            }
        }
    }
    s
}
