//! `pse-sandbox`: run the fake providers (`serve`), move a payment through the
//! admin API of a running one (`pay`), play an end-to-end scenario against a
//! running product (`scenario`), or check that a sandbox answers (`healthcheck`).
//! Arguments are parsed by hand to avoid a parser dependency for four commands.

use std::process::ExitCode;
use std::time::Duration;

use sandbox::cli::parse_flags;
use sandbox::scenario::{self, Options, Verdict};
use sandbox::{AdminClient, SandboxConfig, StatusChange};
use shared::config::LogFormat;

const USAGE: &str = "\
usage:
  pse-sandbox [serve] [--addr HOST:PORT]
      Serve the fake Mono, Belvo and Tpaga APIs and the admin API (/_sandbox/).
      Default address: $SANDBOX_ADDR, else 127.0.0.1:9999.
      Credentials: SANDBOX_MONO_API_KEY, SANDBOX_BELVO_SECRET_ID, SANDBOX_BELVO_SECRET_PASSWORD,
      SANDBOX_TPAGA_CLIENT_ID, SANDBOX_TPAGA_CLIENT_SECRET, SANDBOX_TPAGA_TOKEN_TTL_SECS.
  pse-sandbox pay --provider mono|belvo|tpaga --id ID --status STATUS
                  [--url URL] [--webhooks N] [--reported-amount-minor N]
      Move a payment to STATUS (the provider's own status string) and deliver its webhooks.
      Default URL: $SANDBOX_URL, else http://127.0.0.1:9999.
  pse-sandbox scenario list
      The scenarios and what each expects.
{SCENARIO}
  pse-sandbox healthcheck [--url URL]
      Exit 0 when the sandbox answers GET /_sandbox/health with 200 (for container health checks).
      Default URL: http://127.0.0.1:<port of $SANDBOX_ADDR>, else http://127.0.0.1:9999.
  pse-sandbox help";

fn usage() -> String {
    USAGE.replace("{SCENARIO}", scenario::options::HELP)
}

const DEFAULT_ADDR: &str = "127.0.0.1:9999";
const DEFAULT_URL: &str = "http://127.0.0.1:9999";

fn init_logging() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let format = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Text,
    };
    shared::telemetry::init(&filter, format);
}

async fn serve(args: &[String]) -> Result<(), String> {
    let flags = parse_flags(args, &["addr"])?;
    let addr = flags
        .get("addr")
        .cloned()
        .or_else(|| std::env::var("SANDBOX_ADDR").ok())
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let config = SandboxConfig::from_env()?;
    init_logging();
    let sandbox = sandbox::start(config.clone(), &addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let url = sandbox.base_url();
    println!("pse-sandbox listening on {url}");
    println!("  admin API:  {url}/_sandbox/health");
    println!(
        "  Mono:       Authorization: Bearer {}",
        config.mono_api_key
    );
    println!(
        "  Belvo:      HTTP Basic {}:{}",
        config.belvo_secret_id, config.belvo_secret_password
    );
    println!(
        "  Tpaga:      POST /o/token/ with HTTP Basic {}:{} (tokens live {} s)",
        config.tpaga_client_id, config.tpaga_client_secret, config.tpaga_token_ttl_secs
    );
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    tracing::info!("stopping");
    sandbox.stop().await;
    Ok(())
}

async fn pay(args: &[String]) -> Result<(), String> {
    let flags = parse_flags(
        args,
        &[
            "url",
            "provider",
            "id",
            "status",
            "webhooks",
            "reported-amount-minor",
        ],
    )?;
    let need = |name: &str| {
        flags
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required"))
    };
    let provider = need("provider")?;
    let id = need("id")?;
    let status = need("status")?;
    let url = flags
        .get("url")
        .cloned()
        .or_else(|| std::env::var("SANDBOX_URL").ok())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let webhooks = flags
        .get("webhooks")
        .map(|w| {
            w.parse::<u32>()
                .map_err(|_| format!("--webhooks {w:?} is not a whole number"))
        })
        .transpose()?;
    let reported_amount_minor = flags
        .get("reported-amount-minor")
        .map(|a| {
            a.parse::<i64>()
                .map_err(|_| format!("--reported-amount-minor {a:?} is not a whole number"))
        })
        .transpose()?;
    let change = StatusChange {
        status,
        reported_amount_minor,
        webhooks,
    };
    let changed = AdminClient::new(&url)
        .set_status(&provider, &id, &change)
        .await
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&changed).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// `pse-sandbox scenario NAME …`: 0 when everything matched, 1 when something
/// differs or the run could not finish, 2 for a usage error.
async fn play_scenario(args: &[String]) -> ExitCode {
    if args.first().map(String::as_str) == Some("list") {
        for s in scenario::scenarios() {
            println!("  {:<18} {}", s.name, s.describe);
        }
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(args, |name| std::env::var(name).ok()) {
        Ok(o) => o,
        Err(message) => {
            eprintln!(
                "pse-sandbox scenario: {message}\n\n{}",
                scenario::options::HELP
            );
            return ExitCode::from(2);
        }
    };
    match scenario::run(options).await {
        Ok(Verdict::Matched) => ExitCode::SUCCESS,
        Ok(Verdict::Differs) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("\npse-sandbox scenario: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The URL `healthcheck` probes: `--url`, else the local port of `$SANDBOX_ADDR`.
fn health_url(flag: Option<&String>, sandbox_addr: Option<String>) -> String {
    if let Some(url) = flag {
        return url.trim_end_matches('/').to_owned();
    }
    sandbox_addr
        .and_then(|a| a.rsplit_once(':').map(|(_, port)| port.to_owned()))
        .filter(|p| p.parse::<u16>().is_ok())
        .map(|port| format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

async fn healthcheck(args: &[String]) -> ExitCode {
    let flags = match parse_flags(args, &["url"]) {
        Ok(f) => f,
        Err(message) => {
            eprintln!("pse-sandbox healthcheck: {message}");
            return ExitCode::from(2);
        }
    };
    let url = format!(
        "{}/_sandbox/health",
        health_url(flags.get("url"), std::env::var("SANDBOX_ADDR").ok())
    );
    let Ok(client) = shared::http::client(Duration::from_secs(1), Duration::from_secs(3)) else {
        return ExitCode::FAILURE;
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("{url} answered {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => serve(&[]).await,
        Some("help" | "-h" | "--help") => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some("serve") => serve(&args[1..]).await,
        Some("pay") => pay(&args[1..]).await,
        Some("scenario") => return play_scenario(&args[1..]).await,
        Some("healthcheck") => return healthcheck(&args[1..]).await,
        Some(a) if a.starts_with("--") => serve(&args).await,
        Some(other) => Err(format!("unknown command {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pse-sandbox: {message}\n\n{}", usage());
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_url() {
        let flag = "http://sandbox:9999/".to_owned();
        assert_eq!(health_url(Some(&flag), None), "http://sandbox:9999");
        assert_eq!(
            health_url(None, Some("0.0.0.0:9998".to_owned())),
            "http://127.0.0.1:9998"
        );
        assert_eq!(health_url(None, Some("nonsense".to_owned())), DEFAULT_URL);
        assert_eq!(health_url(None, None), DEFAULT_URL);
    }

    #[test]
    fn usage_lists_every_command() {
        let u = usage();
        for cmd in [
            "[serve]",
            "pay",
            "scenario NAME",
            "scenario list",
            "healthcheck",
        ] {
            assert!(u.contains(&format!("pse-sandbox {cmd}")), "{cmd}");
        }
    }
}
