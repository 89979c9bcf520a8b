//! The database baseline: pgbench running the same inbox + outbox insert the
//! ingress performs (`shared::db::inbox::store_in_tx`), one transaction each,
//! same row shape and ~1 KB body, at a given client concurrency.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// The custom script. pgbench turns every `:name` into a bound parameter in
/// prepared mode, so the literal parts contain no colon: the separator, body,
/// headers and auth result come in as `-D` variables (bound, like the
/// product's diesel parameters). `:client_id` and `random()` make every dedup
/// key unique, so every transaction inserts (nothing deduplicates).
pub const SCRIPT: &str = r#"\set r random(1, 2000000000)
BEGIN;
INSERT INTO webhook_events (provider, dedup_key, event_type, object_id, body, headers, auth_result, actionable) VALUES ('mono', 'collection_intent_credited' || :sep || 'cint_pgb' || :client_id || 'x' || :r || :sep || 'account_credited' || :sep || clock_timestamp(), 'collection_intent_credited', 'cint_pgb' || :client_id || 'x' || :r, convert_to(:body, 'UTF8'), :headers::jsonb, :auth, true) ON CONFLICT (provider, dedup_key) DO NOTHING RETURNING id AS inbox_id
\gset
INSERT INTO outbox (exchange, routing_key, message_id, payload, headers) VALUES ('events', 'mono.collection_intent_credited', 'inbox-' || :inbox_id, jsonb_build_object('target', jsonb_build_object('provider', 'mono', 'object_type', 'collection_intent', 'object_id', 'cint_pgb' || :client_id || 'x' || :r), 'event_type', 'collection_intent_credited', 'cause', jsonb_build_object('kind', 'webhook', 'inbox_id', :inbox_id::bigint)), jsonb_build_object('inbox_id', :inbox_id::bigint)) ON CONFLICT (message_id) DO NOTHING;
END;
"#;

/// The headers webhook-api stores for a Mono delivery.
pub fn stored_headers_json() -> String {
    serde_json::json!({
        "content-type": "application/json",
        "user-agent": "pse-bench",
        "mono-signature": format!("t=1763650000,v1={}", "a".repeat(64)),
    })
    .to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct PgbenchResult {
    pub clients: usize,
    pub tps: f64,
    pub latency_avg_ms: f64,
    pub transactions: u64,
    pub failed: u64,
}

/// Reads pgbench's summary (PostgreSQL 13+ format).
pub fn parse_output(out: &str) -> Result<PgbenchResult, String> {
    let mut r = PgbenchResult::default();
    let mut saw_tps = false;
    for line in out.lines().map(str::trim) {
        let num = |s: &str| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        };
        if let Some(v) = line.strip_prefix("tps = ") {
            r.tps = num(v).ok_or_else(|| format!("bad tps line {line:?}"))?;
            saw_tps = true;
        } else if let Some(v) = line.strip_prefix("latency average = ") {
            r.latency_avg_ms = num(v).unwrap_or(0.0);
        } else if let Some(v) = line.strip_prefix("number of transactions actually processed: ") {
            r.transactions = num(v.split('/').next().unwrap_or(v)).unwrap_or(0.0) as u64;
        } else if let Some(v) = line.strip_prefix("number of failed transactions: ") {
            r.failed = num(v).unwrap_or(0.0) as u64;
        } else if let Some(v) = line.strip_prefix("number of clients: ") {
            r.clients = num(v).unwrap_or(0.0) as usize;
        }
    }
    if !saw_tps {
        return Err(format!("no `tps =` line in pgbench output:\n{out}"));
    }
    Ok(r)
}

/// Runs the script against `db` with `clients` clients for `duration`.
pub async fn run(
    dir: &Path,
    host: &str,
    port: u16,
    user: &str,
    db: &str,
    clients: usize,
    duration: Duration,
) -> Result<PgbenchResult, String> {
    let script = dir.join("pgbench-inbox-outbox.sql");
    std::fs::write(&script, SCRIPT)
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let body = String::from_utf8_lossy(&crate::webhooks::credited_body(
        "cint_pgbench0000000000000001",
        10_000_000,
        1,
    ))
    .into_owned();
    let out = tokio::process::Command::new("pgbench")
        .args(["-h", host, "-p", &port.to_string(), "-U", user])
        .args(["-n", "-M", "prepared", "-j", "2"])
        .args([
            "-c",
            &clients.to_string(),
            "-T",
            &duration.as_secs().max(1).to_string(),
        ])
        .arg("-D")
        .arg("sep=:")
        .arg("-D")
        .arg(format!("body={body}"))
        .arg("-D")
        .arg(format!("headers={}", stored_headers_json()))
        .arg("-D")
        .arg("auth=mono_signature:secret_1")
        .arg("-f")
        .arg(&script)
        .arg(db)
        .output()
        .await
        .map_err(|e| format!("cannot run pgbench (is it on PATH?): {e}"))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!("pgbench failed ({}):\n{text}", out.status));
    }
    parse_output(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG15: &str = "pgbench (15.19 (Debian 15.19-0+deb12u1))
transaction type: /tmp/pgbench-inbox-outbox.sql
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 12345
number of failed transactions: 0 (0.000%)
latency average = 6.480 ms
initial connection time = 12.345 ms
tps = 2468.123456 (without initial connection time)
";

    #[test]
    fn parses_pg15_output() {
        let r = parse_output(PG15).unwrap();
        assert_eq!(
            r,
            PgbenchResult {
                clients: 16,
                tps: 2468.123456,
                latency_avg_ms: 6.48,
                transactions: 12345,
                failed: 0,
            }
        );
    }

    #[test]
    fn refuses_output_without_tps() {
        assert!(parse_output("pgbench: error: connection refused").is_err());
        assert!(parse_output("tps = abc").is_err());
    }

    #[test]
    fn script_literals_have_no_stray_variables() {
        // Every `:name` must be one we define, or pgbench fails in prepared mode.
        let defined = [
            "sep",
            "client_id",
            "r",
            "body",
            "headers",
            "auth",
            "inbox_id",
        ];
        let bytes = SCRIPT.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b':' {
                if bytes.get(i + 1) == Some(&b':') {
                    i += 2;
                    continue;
                }
                let name: String = SCRIPT[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    name.is_empty() || defined.contains(&name.as_str()),
                    "undefined :{name}"
                );
            }
            i += 1;
        }
        assert!(!stored_headers_json().contains("\\"));
    }
}
