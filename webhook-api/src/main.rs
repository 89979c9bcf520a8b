use std::process::ExitCode;

use shared::{Config, telemetry};
use webhook_api::Application;

#[tokio::main]
async fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("healthcheck") => return healthcheck().await,
        Some(other) => {
            eprintln!(
                "webhook-api: unknown argument {other:?}; run with no arguments to serve, or `healthcheck`"
            );
            return ExitCode::from(2);
        }
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "webhook-api: configuration error: {e}\nFix that variable and start again; README.md lists every variable."
            );
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_filter, config.log_format);
    config.log_providers();
    let addr = config.http_addr;
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %shared::telemetry::ErrorChain(&e), "webhook-api failed to start");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, port = app.port(), "webhook-api listening");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %shared::telemetry::ErrorChain(&e), "webhook-api stopped with an error");
            ExitCode::FAILURE
        }
    }
}

/// `webhook-api healthcheck`: exits 0 when the local server answers `/readyz`
/// with 200 (container images carry no curl).
async fn healthcheck() -> ExitCode {
    let port = Config::from_env()
        .map(|c| c.http_addr.port())
        .unwrap_or(8080);
    shared::http::probe_ready(port).await
}
