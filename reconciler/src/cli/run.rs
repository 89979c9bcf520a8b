//! `reconciler [run]`: the worker until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use shared::telemetry;

use super::load_config;
use crate::worker::Worker;

pub(super) async fn run() -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    telemetry::init(&config.log_filter, config.log_format);
    config.log_providers();
    let worker = match Worker::start(config).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %telemetry::ErrorChain(&e), "reconciler failed to start");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    tracing::info!("stopping: finishing messages in flight");
    worker.stop().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
