//! `reconciler evidence <reference> [--out FILE]`: the same sealed JSON bundle as
//! `GET /v1/orders/{reference}/evidence`, for a dispute file, without an API key.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Args;

use super::load_config;

#[derive(Debug, Args)]
pub(super) struct EvidenceArgs {
    /// The order's reference
    pub(super) reference: String,
    /// The file to write (default: stdout)
    #[arg(long, value_name = "FILE")]
    pub(super) out: Option<String>,
}

pub(super) async fn evidence(args: EvidenceArgs) -> ExitCode {
    let config = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let url = config.database_url.expose().to_owned();
    let result = tokio::task::spawn_blocking(move || write(&url, &args)).await;
    match result {
        Ok(Ok(Some(digest))) => {
            eprintln!("evidence written; sha256 {digest}");
            ExitCode::SUCCESS
        }
        Ok(Ok(None)) => {
            eprintln!("reconciler: no order with that reference");
            ExitCode::FAILURE
        }
        Ok(Err(e)) => {
            eprintln!("reconciler: evidence failed: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("reconciler: evidence failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The digest written, or `None` for an unknown reference (nothing written).
fn write(url: &str, args: &EvidenceArgs) -> Result<Option<String>, String> {
    use diesel::Connection as _;
    let mut conn = diesel::PgConnection::establish(url).map_err(|e| {
        format!(
            "cannot connect to the database: {e}; is DATABASE_URL right and PostgreSQL running?"
        )
    })?;
    let Some(sealed) = shared::evidence::gather(&mut conn, &args.reference)
        .map_err(|e| shared::telemetry::ErrorChain(&e).to_string())?
    else {
        return Ok(None);
    };
    match &args.out {
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(sealed.json.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))?;
        }
        Some(path) => {
            // Beside the target, then renamed: a failed run leaves no half file.
            let tmp = format!("{path}.partial");
            std::fs::write(&tmp, sealed.json.as_bytes())
                .map_err(|e| format!("cannot write {tmp}: {e}"))?;
            std::fs::rename(&tmp, path)
                .map_err(|e| format!("cannot rename {tmp} to {path}: {e}"))?;
        }
    }
    Ok(Some(sealed.digest))
}
