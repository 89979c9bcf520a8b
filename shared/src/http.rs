//! The outbound HTTP client used for provider APIs.

use std::sync::Once;
use std::time::Duration;

static CRYPTO: Once = Once::new();

/// Installs rustls' ring provider once per process (reqwest is built without
/// a default provider to avoid compiling a second crypto library).
pub fn install_crypto_provider() {
    CRYPTO.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client with connect and total timeouts; every provider call goes through one.
pub fn client(
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("pse-reconciler/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The container health check both binaries offer (`… healthcheck`): exit 0
/// when the local process answers `/readyz` on `port` with 200.
pub async fn probe_ready(port: u16) -> std::process::ExitCode {
    use std::process::ExitCode;
    let Ok(client) = client(Duration::from_secs(1), Duration::from_secs(3)) else {
        return ExitCode::FAILURE;
    };
    match client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("not ready: HTTP {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("not answering: {e}");
            ExitCode::FAILURE
        }
    }
}
