//! A panic in a request handler: the client gets a 500 JSON answer on the same
//! connection, and neither the log nor stderr gets the panic's message.
//!
//! The server runs in a child process (this test binary re-run in server
//! mode) so that everything it writes, stdout and stderr, hook and logs, is
//! captured, exactly as an operator would see it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use shared::config::LogFormat;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use webhook_api::panic_guard::PanicGuard;

const SERVE_ENV: &str = "PANIC_GUARD_TEST_SERVE";
/// A document number as it would appear in a parser's panic message.
const PII: &str = "80019726é-1033711400";

async fn panics_while_polled() -> HttpResponse {
    tokio::task::yield_now().await;
    let document = std::hint::black_box(PII.to_owned());
    panic!("could not split document {document}");
}

async fn fine() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// Server mode: only does something when the parent test sets [`SERVE_ENV`].
#[test]
fn serve_panicking_app() {
    if std::env::var_os(SERVE_ENV).is_none() {
        return;
    }
    shared::telemetry::init("info", LogFormat::Json);
    actix_web::rt::System::new().block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(|| {
            App::new()
                .wrap(PanicGuard)
                .route("/boom", web::get().to(panics_while_polled))
                .route("/fine", web::get().to(fine))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        println!("PORT={port}");
        let _ = tokio::time::timeout(Duration::from_secs(60), server).await;
    });
}

#[tokio::test]
async fn a_handler_panic_is_a_500_json_and_its_message_is_not_logged() {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "serve_panicking_app",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SERVE_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let port = loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
            .await
            .expect("the server started")
            .unwrap();
        assert!(n > 0, "the server exited early:\n{seen}");
        seen.push_str(&line);
        if let Some(p) = line.trim().strip_prefix("PORT=") {
            break p.parse::<u16>().unwrap();
        }
    };
    let client = shared::http::client(Duration::from_secs(2), Duration::from_secs(10)).unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    // Twice on one worker: the first panic must not take the worker down.
    for _ in 0..2 {
        let r = client
            .get(url("/boom"))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(r.status(), 500);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "internal_error", "message": "internal error"}})
        );
    }
    let fine = client.get(url("/fine")).send().await.unwrap().status();
    tokio::time::sleep(Duration::from_millis(300)).await;

    child.start_kill().unwrap();
    let mut out = String::new();
    stdout.read_to_string(&mut out).await.unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    let logs = format!("{seen}{out}{err}");
    assert_eq!(fine, 200, "the server still serves:\n{logs}");
    assert!(
        logs.contains("panic_guard.rs:"),
        "the panic's location is logged:\n{logs}"
    );
    assert!(logs.contains("a request handler panicked"), "{logs}");
    for leaked in ["1033711400", "80019726", "could not split document"] {
        assert!(
            !logs.contains(leaked),
            "{leaked:?} appears in the output:\n{logs}"
        );
    }
}
