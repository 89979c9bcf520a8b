//! `pse-sandbox`: run the fake providers (`serve`), move a payment through the
//! admin API of a running one (`pay`), play an end-to-end scenario against a
//! running product (`scenario`), or check that a sandbox answers (`healthcheck`).

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use sandbox::scenario::options::ScenarioArgs;
use sandbox::scenario::{self, Options, Verdict};
use sandbox::{AdminClient, SandboxConfig, StatusChange};
use shared::config::LogFormat;
use shared::domain::Provider;

/// Fake Mono, Belvo and Tpaga APIs for tests and demos, and the scenarios that drive them.
#[derive(Parser)]
#[command(name = "pse-sandbox", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `pse-sandbox --addr A` is `pse-sandbox serve --addr A`.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the fake Mono, Belvo and Tpaga APIs and the admin API (/_sandbox/); the default
    #[command(
        after_help = "Credentials: SANDBOX_MONO_API_KEY, SANDBOX_BELVO_SECRET_ID, \
SANDBOX_BELVO_SECRET_PASSWORD, SANDBOX_TPAGA_CLIENT_ID, SANDBOX_TPAGA_CLIENT_SECRET, SANDBOX_TPAGA_TOKEN_TTL_SECS."
    )]
    Serve(ServeArgs),
    /// Move a payment to STATUS (the provider's own status string) and deliver its webhooks
    Pay(PayArgs),
    /// Drive a running product and sandbox end to end (`pse-sandbox scenario list` names them):
    /// create payments through the product (POST /v1/payments), move them, deliver webhooks,
    /// wait until every order reached its expected state, then compare the reconciliation
    /// report with the expected counts
    Scenario(ScenarioArgs),
    /// Exit 0 when the sandbox answers GET /_sandbox/health with 200 (container health checks)
    Healthcheck(HealthcheckArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Where to listen
    #[arg(long, value_name = "HOST:PORT", env = "SANDBOX_ADDR", default_value = DEFAULT_ADDR)]
    addr: String,
}

#[derive(Args)]
struct PayArgs {
    #[arg(long, value_name = "PROVIDER", help = Provider::names().replace(", ", "|"))]
    provider: String,
    /// The provider's payment id
    #[arg(long, value_name = "ID")]
    id: String,
    /// The provider's own status string
    #[arg(long, value_name = "STATUS")]
    status: String,
    /// The sandbox
    #[arg(long, value_name = "URL", env = "SANDBOX_URL", default_value = DEFAULT_URL)]
    url: String,
    /// How many webhooks to deliver (the sandbox's default when omitted)
    #[arg(long, value_name = "N")]
    webhooks: Option<u32>,
    /// The amount the provider reports, when it should differ from the payment's
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    reported_amount_minor: Option<i64>,
}

#[derive(Args)]
struct HealthcheckArgs {
    /// The sandbox [default: http://127.0.0.1:<port of $SANDBOX_ADDR>, else http://127.0.0.1:9999]
    #[arg(long, value_name = "URL")]
    url: Option<String>,
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

async fn serve(ServeArgs { addr }: ServeArgs) -> Result<(), String> {
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

async fn pay(args: PayArgs) -> Result<(), String> {
    let PayArgs {
        provider,
        id,
        status,
        url,
        webhooks,
        reported_amount_minor,
    } = args;
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
async fn play_scenario(args: ScenarioArgs) -> ExitCode {
    if args.scenario == "list" {
        for s in scenario::scenarios() {
            println!("  {:<18} {}", s.name, s.describe);
        }
        return ExitCode::SUCCESS;
    }
    let options = match Options::resolve(args, |name| std::env::var(name).ok()) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("pse-sandbox scenario: {message}\n\nFor more information, try '--help'.");
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
fn health_url(flag: Option<&str>, sandbox_addr: Option<String>) -> String {
    if let Some(url) = flag {
        return url.trim_end_matches('/').to_owned();
    }
    sandbox_addr
        .and_then(|a| a.rsplit_once(':').map(|(_, port)| port.to_owned()))
        .filter(|p| p.parse::<u16>().is_ok())
        .map(|port| format!("http://127.0.0.1:{port}"))
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

async fn healthcheck(args: HealthcheckArgs) -> ExitCode {
    let url = format!(
        "{}/_sandbox/health",
        health_url(args.url.as_deref(), std::env::var("SANDBOX_ADDR").ok())
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help is an "error" that prints to stdout and exits 0; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let result = match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Pay(args)) => pay(args).await,
        Some(Command::Scenario(args)) => return play_scenario(args).await,
        Some(Command::Healthcheck(args)) => return healthcheck(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // 2, as before clap: scripts may tell these apart from a scenario that differs (1).
        Err(message) => {
            eprintln!("pse-sandbox: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("pse-sandbox").chain(args.iter().copied()))
    }

    #[test]
    fn healthcheck_url() {
        let flag = "http://sandbox:9999/";
        assert_eq!(health_url(Some(flag), None), "http://sandbox:9999");
        assert_eq!(
            health_url(None, Some("0.0.0.0:9998".to_owned())),
            "http://127.0.0.1:9998"
        );
        assert_eq!(health_url(None, Some("nonsense".to_owned())), DEFAULT_URL);
        assert_eq!(health_url(None, None), DEFAULT_URL);
    }

    #[test]
    fn the_command_tree_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn every_command_and_its_flags_parse() {
        let serve = |cli: Cli| match cli.command {
            Some(Command::Serve(a)) => a.addr,
            None => cli.serve.addr,
            _ => panic!("not serve"),
        };
        assert_eq!(
            serve(parse(&["serve", "--addr", "0.0.0.0:1"]).unwrap()),
            "0.0.0.0:1"
        );
        assert_eq!(serve(parse(&["--addr=0.0.0.0:2"]).unwrap()), "0.0.0.0:2");
        let Some(Command::Pay(p)) = parse(&[
            "pay",
            "--provider",
            "tpaga",
            "--id",
            "x",
            "--status",
            "paid",
            "--webhooks",
            "2",
            "--reported-amount-minor",
            "-5",
        ])
        .unwrap()
        .command
        else {
            panic!("not pay")
        };
        assert_eq!(
            (p.provider.as_str(), p.id.as_str(), p.status.as_str()),
            ("tpaga", "x", "paid")
        );
        assert_eq!((p.webhooks, p.reported_amount_minor), (Some(2), Some(-5)));
        assert!(
            parse(&["pay", "--provider", "mono", "--id", "x"]).is_err(),
            "--status is required"
        );
        assert!(
            parse(&[
                "pay",
                "--provider",
                "mono",
                "--id",
                "x",
                "--status",
                "s",
                "--webhooks",
                "many"
            ])
            .is_err()
        );
        let Some(Command::Scenario(s)) = parse(&["scenario", "day", "--timeout", "300"])
            .unwrap()
            .command
        else {
            panic!("not scenario")
        };
        assert_eq!((s.scenario.as_str(), s.timeout), ("day", Some(300)));
        assert!(matches!(
            parse(&["scenario", "list"]).unwrap().command,
            Some(Command::Scenario(_))
        ));
        let Some(Command::Healthcheck(h)) = parse(&["healthcheck", "--url", "http://x:1"])
            .unwrap()
            .command
        else {
            panic!("not healthcheck")
        };
        assert_eq!(h.url.as_deref(), Some("http://x:1"));
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["serve", "--colour", "red"]).is_err());
    }

    #[test]
    fn help_lists_every_command() {
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for cmd in ["serve", "pay", "scenario", "healthcheck", "--addr"] {
            assert!(help.contains(cmd), "{cmd}: {help}");
        }
    }
}
