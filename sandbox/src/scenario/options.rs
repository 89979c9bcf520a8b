//! `pse-sandbox scenario NAME [flags]`: flags, each with an environment
//! variable as fallback, so the same command works from a shell, demo.sh and
//! a compose service.

use std::time::Duration;

use clap::Parser;

pub const DEFAULT_API: &str = "http://127.0.0.1:8080";
pub const DEFAULT_SANDBOX: &str = "http://127.0.0.1:9999";
/// The keys docker-compose.yml and scripts/demo.sh give webhook-api by default.
pub const DEFAULT_MERCHANT_KEY: &str = "demo-merchant-key";
pub const DEFAULT_FINANCE_KEY: &str = "demo-finance-key";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The command line of `pse-sandbox scenario`. The environment fallbacks are applied by
/// [`Options::resolve`] rather than by clap's `env`: an empty variable counts as unset,
/// two of them take the first item of a list, and clap would print the keys' values in
/// `--help`.
#[derive(Clone, Default, clap::Args)]
#[command(
    after_help = "Webhook credentials (must match webhook-api's): $MONO_WEBHOOK_SECRET (else the \
first of $MONO_WEBHOOK_SECRETS), $BELVO_WEBHOOK_AUTH (its first value), $TPAGA_WEBHOOK_TOKEN (its first value); \
or the flags above. Exit 0 only if the report matches what the scenario expects."
)]
pub struct ScenarioArgs {
    /// The scenario to play, or `list` to name them
    #[arg(value_name = "NAME")]
    pub scenario: String,
    /// webhook-api [env: PSE_API_URL] [default: http://127.0.0.1:8080]
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// The sandbox [env: SANDBOX_URL] [default: http://127.0.0.1:9999]
    #[arg(long, value_name = "URL")]
    pub sandbox: Option<String>,
    /// webhook-api as the sandbox reaches it [env: WEBHOOK_TARGET_URL] [default: --api]
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// [env: MERCHANT_KEY] [default: demo-merchant-key]
    #[arg(long, value_name = "K")]
    pub merchant_key: Option<String>,
    /// [env: FINANCE_KEY] [default: demo-finance-key]
    #[arg(long, value_name = "K")]
    pub finance_key: Option<String>,
    /// Repeat the mix N times (1 to 1000) [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub scale: Option<u32>,
    /// Give up waiting after SECS [default: 120]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
    /// Signs Mono webhooks [env: MONO_WEBHOOK_SECRET, else the first of MONO_WEBHOOK_SECRETS]
    #[arg(long, value_name = "SECRET")]
    pub mono_webhook_secret: Option<String>,
    /// Authorization of Belvo webhooks [env: the first of BELVO_WEBHOOK_AUTH]
    #[arg(long, value_name = "VALUE")]
    pub belvo_webhook_auth: Option<String>,
    /// Tpaga's webhook path token [env: TPAGA_WEBHOOK_TOKEN, its first value]
    #[arg(long, value_name = "TOKEN")]
    pub tpaga_webhook_token: Option<String>,
}

/// Everything a run needs. Not `Debug`: it holds keys and webhook secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Options {
    pub scenario: String,
    /// webhook-api as this runner reaches it.
    pub api: String,
    pub sandbox: String,
    /// webhook-api as the sandbox reaches it (where webhooks are delivered); default `api`.
    pub webhook_url: String,
    pub merchant_key: String,
    pub finance_key: String,
    pub scale: u32,
    pub timeout: Duration,
    /// Signs Mono webhooks; must be one of webhook-api's `MONO_WEBHOOK_SECRETS`.
    pub mono_webhook_secret: Option<String>,
    /// Sent as `Authorization` on Belvo webhooks; one of webhook-api's `BELVO_WEBHOOK_AUTH`.
    pub belvo_webhook_auth: Option<String>,
    /// Tpaga's path token: one of webhook-api's `TPAGA_WEBHOOK_TOKEN`. Required
    /// to run a scenario (Tpaga webhooks go only to `/webhooks/tpaga/{token}`).
    pub tpaga_webhook_token: Option<String>,
}

fn first_of_list(v: &str) -> Option<String> {
    v.split(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

fn http_url(name: &str, v: String) -> Result<String, String> {
    if (v.starts_with("http://") || v.starts_with("https://")) && !v.contains(char::is_whitespace) {
        Ok(v.trim_end_matches('/').to_owned())
    } else {
        Err(format!("{name} {v:?} must be an http:// or https:// URL"))
    }
}

impl Options {
    /// `args` starts with the scenario name, as after `pse-sandbox scenario`; `env` looks a
    /// variable up (empty counts as unset).
    pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        #[derive(Parser)]
        #[command(name = "pse-sandbox scenario", no_binary_name = true)]
        struct Line {
            #[command(flatten)]
            args: ScenarioArgs,
        }
        if args.first().is_none_or(|name| name.starts_with("--")) {
            return Err("scenario needs a NAME (try `pse-sandbox scenario list`)".to_owned());
        }
        let line = Line::try_parse_from(args).map_err(|e| e.to_string())?;
        Self::resolve(line.args, env)
    }

    /// Applies the environment fallbacks and the defaults to what the command line gave.
    pub fn resolve(
        args: ScenarioArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let pick = |flag: Option<String>, var: &str| flag.or_else(|| env(var));
        let api = http_url(
            "--api",
            pick(args.api, "PSE_API_URL").unwrap_or_else(|| DEFAULT_API.to_owned()),
        )?;
        let sandbox = http_url(
            "--sandbox",
            pick(args.sandbox, "SANDBOX_URL").unwrap_or_else(|| DEFAULT_SANDBOX.to_owned()),
        )?;
        let webhook_url = http_url(
            "--webhook-url",
            pick(args.webhook_url, "WEBHOOK_TARGET_URL").unwrap_or_else(|| api.clone()),
        )?;
        Ok(Self {
            scenario: args.scenario,
            api,
            sandbox,
            webhook_url,
            merchant_key: pick(args.merchant_key, "MERCHANT_KEY")
                .unwrap_or_else(|| DEFAULT_MERCHANT_KEY.to_owned()),
            finance_key: pick(args.finance_key, "FINANCE_KEY")
                .unwrap_or_else(|| DEFAULT_FINANCE_KEY.to_owned()),
            scale: args.scale.unwrap_or(1),
            timeout: args.timeout.map_or(DEFAULT_TIMEOUT, Duration::from_secs),
            mono_webhook_secret: pick(args.mono_webhook_secret, "MONO_WEBHOOK_SECRET").or_else(
                || {
                    env("MONO_WEBHOOK_SECRETS")
                        .as_deref()
                        .and_then(first_of_list)
                },
            ),
            belvo_webhook_auth: args
                .belvo_webhook_auth
                .or_else(|| env("BELVO_WEBHOOK_AUTH").as_deref().and_then(first_of_list)),
            tpaga_webhook_token: args.tpaga_webhook_token.or_else(|| {
                env("TPAGA_WEBHOOK_TOKEN")
                    .as_deref()
                    .and_then(first_of_list)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Options, String> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Options::parse(&args, |k| env.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let o = parse(&["day"], &[]).unwrap();
        assert_eq!(o.scenario, "day");
        assert_eq!(o.api, DEFAULT_API);
        assert_eq!(o.webhook_url, DEFAULT_API);
        assert_eq!(o.sandbox, DEFAULT_SANDBOX);
        assert_eq!(o.merchant_key, DEFAULT_MERCHANT_KEY);
        assert_eq!(o.finance_key, DEFAULT_FINANCE_KEY);
        assert_eq!((o.scale, o.timeout), (1, DEFAULT_TIMEOUT));
        assert_eq!(o.mono_webhook_secret, None);
    }

    #[test]
    fn flags_win_over_the_environment() {
        let env = [
            ("PSE_API_URL", "http://webhook-api:8080/"),
            ("SANDBOX_URL", "http://sandbox:9999"),
            ("MERCHANT_KEY", "env-merchant"),
            ("FINANCE_KEY", ""),
            ("MONO_WEBHOOK_SECRETS", " ,whsec_a,whsec_b"),
            ("BELVO_WEBHOOK_AUTH", "Bearer x,Bearer y"),
            ("TPAGA_WEBHOOK_TOKEN", " tok,tok-old"),
        ];
        let o = parse(
            &["quick", "--merchant-key", "flag-merchant", "--scale=3"],
            &env,
        )
        .unwrap();
        assert_eq!(o.api, "http://webhook-api:8080");
        assert_eq!(o.webhook_url, "http://webhook-api:8080");
        assert_eq!(o.sandbox, "http://sandbox:9999");
        assert_eq!(o.merchant_key, "flag-merchant");
        assert_eq!(
            o.finance_key, DEFAULT_FINANCE_KEY,
            "an empty variable is unset"
        );
        assert_eq!(o.scale, 3);
        assert_eq!(o.mono_webhook_secret.as_deref(), Some("whsec_a"));
        assert_eq!(o.belvo_webhook_auth.as_deref(), Some("Bearer x"));
        assert_eq!(o.tpaga_webhook_token.as_deref(), Some("tok"));
        let o = parse(
            &["quick", "--webhook-url", "http://api.internal:8080"],
            &[
                ("MONO_WEBHOOK_SECRET", "whsec_one"),
                ("MONO_WEBHOOK_SECRETS", "whsec_a"),
            ],
        )
        .unwrap();
        assert_eq!(o.webhook_url, "http://api.internal:8080");
        assert_eq!(o.mono_webhook_secret.as_deref(), Some("whsec_one"));
    }

    #[test]
    fn the_help_names_every_flag_and_its_variable() {
        #[derive(Parser)]
        struct Line {
            #[command(flatten)]
            args: ScenarioArgs,
        }
        let help = <Line as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for name in [
            "--api",
            "--sandbox",
            "--webhook-url",
            "--merchant-key",
            "--finance-key",
            "--scale",
            "--timeout",
            "--mono-webhook-secret",
            "--belvo-webhook-auth",
            "--tpaga-webhook-token",
            "PSE_API_URL",
            "SANDBOX_URL",
            "WEBHOOK_TARGET_URL",
            "MERCHANT_KEY",
            "FINANCE_KEY",
            "MONO_WEBHOOK_SECRETS",
            "BELVO_WEBHOOK_AUTH",
            "TPAGA_WEBHOOK_TOKEN",
        ] {
            assert!(help.contains(name), "{name}: {help}");
        }
    }

    #[test]
    fn refuses_nonsense() {
        assert!(parse(&[], &[]).is_err());
        assert!(parse(&["--api", "x"], &[]).is_err());
        assert!(parse(&["day", "--scale", "0"], &[]).is_err());
        assert!(parse(&["day", "--timeout", "soon"], &[]).is_err());
        assert!(parse(&["day", "--api", "localhost:8080"], &[]).is_err());
        assert!(parse(&["day", "--colour", "red"], &[]).is_err());
        assert!(parse(&["day", "--scale", "1001"], &[]).is_err());
        assert!(parse(&["day", "--scale", "2", "--scale", "3"], &[]).is_err());
        assert!(parse(&["day", "extra"], &[]).is_err());
    }
}
