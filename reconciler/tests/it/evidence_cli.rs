//! `reconciler evidence` writes the same sealed bundle as the API.

use std::process::Command;

use serde_json::Value;

use crate::harness::*;

fn run(stack: &Stack, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_reconciler"))
        .args(args)
        .env_clear()
        .env("DATABASE_URL", &stack.db.url)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run reconciler")
}

#[tokio::test]
async fn the_cli_writes_the_sealed_bundle_with_queries_and_transitions() {
    let stack = stack().await;
    let (reference, id) = stack.payment_with_order("tpaga", 1_234_500).await;
    stack.set_status("tpaga", &id, "settled").await;
    stack.check("tpaga", "charge", &id).await;
    stack.wait_state(&reference, "paid").await;
    let dir = std::env::temp_dir().join(format!("pse-evidence-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("evidence.json");

    let out = run(
        &stack,
        &["evidence", &reference, "--out", path.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(shared::evidence::verify(&written));
    // The same bytes the API serves: both come from `shared::evidence::gather`.
    let mut conn = stack.db.connect();
    let sealed = shared::evidence::gather(&mut conn, &reference)
        .unwrap()
        .unwrap();
    assert_eq!(written, sealed.json);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&sealed.digest));

    let bundle: Value = serde_json::from_str(&written).unwrap();
    let timeline = bundle["timeline"].as_array().unwrap();
    let query = timeline
        .iter()
        .find(|e| e["kind"] == "provider_query")
        .expect("the provider query is in the bundle");
    assert_eq!(query["status_code"], 200);
    assert!(query["path"].as_str().unwrap().starts_with('/'));
    assert!(query["duration_ms"].is_i64());
    assert!(
        timeline
            .iter()
            .any(|e| e["kind"] == "transition" && e["to_state"] == "paid")
    );

    // Unknown reference: failure, nothing written.
    let missing = dir.join("missing.json");
    let out = run(
        &stack,
        &["evidence", "ORD-NOPE", "--out", missing.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(!missing.exists());
}
