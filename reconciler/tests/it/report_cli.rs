//! `reconciler report` writes the same report as the API, to a file.

use std::process::Command;

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
async fn the_cli_writes_csv_json_and_html_reports() {
    let stack = stack().await;
    let (paid, id) = stack.payment_with_order("tpaga", 1_234_500).await;
    stack.set_status("tpaga", &id, "settled").await;
    stack.check("tpaga", "charge", &id).await;
    stack.wait_state(&paid, "paid").await;
    let (waiting, _) = stack.payment_with_order("mono", 10_000_000).await;
    let today = shared::time::today().format("%Y-%m-%d").to_string();
    let dir = std::env::temp_dir().join(format!("pse-report-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();

    let csv_path = dir.join("day.csv");
    let out = run(
        &stack,
        &[
            "report",
            "--date",
            &today,
            "--format",
            "csv",
            "--output",
            csv_path.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("(2 rows)"),
        "progress and result on stderr: {stderr}"
    );
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    assert_eq!(reader.headers().unwrap().len(), 16);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let find = |reference: &str| rows.iter().find(|r| &r[1] == reference).unwrap().clone();
    assert_eq!(&find(&paid)[10], "paid");
    assert_eq!(&find(&paid)[6], "1234500");
    assert_eq!(&find(&paid)[11], "settled");
    assert_eq!(&find(&waiting)[10], "pending");
    assert!(
        !dir.join("day.csv.partial").exists(),
        "written through a temporary file"
    );

    let json_path = dir.join("day.json");
    assert!(
        run(
            &stack,
            &[
                "report",
                "--date",
                &today,
                "--format",
                "json",
                "--output",
                json_path.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert_eq!(v["summary"]["totals"]["paid"]["amount"], 1_234_500);

    let html_path = dir.join("day.html");
    assert!(
        run(
            &stack,
            &[
                "report",
                "--date",
                &today,
                "--format",
                "html",
                "--output",
                html_path.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains(&paid) && html.contains("$ 12.345"));

    let bad = run(&stack, &["report", "--format", "pdf"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("csv, json or html"));
    let _ = std::fs::remove_dir_all(&dir);
}
