//! `pse-sandbox scenario NAME [flags]`: flags, each with an environment
//! variable as fallback, so the same command works from a shell, demo.sh and
//! a compose service.

use std::time::Duration;

use crate::cli::parse_flags;

pub const DEFAULT_API: &str = "http://127.0.0.1:8080";
pub const DEFAULT_SANDBOX: &str = "http://127.0.0.1:9999";
/// The keys docker-compose.yml and scripts/demo.sh give webhook-api by default.
pub const DEFAULT_MERCHANT_KEY: &str = "demo-merchant-key";
pub const DEFAULT_FINANCE_KEY: &str = "demo-finance-key";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

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

pub const FLAGS: &[&str] = &[
    "api",
    "sandbox",
    "webhook-url",
    "merchant-key",
    "finance-key",
    "scale",
    "timeout",
    "mono-webhook-secret",
    "belvo-webhook-auth",
    "tpaga-webhook-token",
];

pub const HELP: &str = "  pse-sandbox scenario NAME [--api URL] [--sandbox URL] [--webhook-url URL]
                       [--merchant-key K] [--finance-key K] [--scale N] [--timeout SECS]
      Drive a running product and sandbox end to end (`pse-sandbox scenario list` names them):
      create payments at the sandbox, register orders, move the payments, deliver webhooks,
      wait until every order reached its expected state, then compare the reconciliation
      report with the expected counts. Exit 0 only if they match.
      --api            webhook-api            $PSE_API_URL, else http://127.0.0.1:8080
      --sandbox        the sandbox            $SANDBOX_URL, else http://127.0.0.1:9999
      --webhook-url    webhook-api as the sandbox reaches it  $WEBHOOK_TARGET_URL, else --api
      --merchant-key   $MERCHANT_KEY, else demo-merchant-key
      --finance-key    $FINANCE_KEY, else demo-finance-key
      --scale N        repeat the mix N times (default 1)
      --timeout SECS   give up waiting after SECS (default 120)
      Webhook credentials (must match webhook-api's): $MONO_WEBHOOK_SECRET (else the first of
      $MONO_WEBHOOK_SECRETS), $BELVO_WEBHOOK_AUTH (its first value), $TPAGA_WEBHOOK_TOKEN (its first value);
      or --mono-webhook-secret, --belvo-webhook-auth, --tpaga-webhook-token.";

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
    /// `args` starts with the scenario name; `env` looks a variable up (empty counts as unset).
    pub fn parse(args: &[String], env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let (scenario, rest) = match args.split_first() {
            Some((name, rest)) if !name.starts_with("--") => (name.clone(), rest),
            _ => return Err("scenario needs a NAME (try `pse-sandbox scenario list`)".to_owned()),
        };
        let flags = parse_flags(rest, FLAGS)?;
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let pick = |flag: &str, var: &str| flags.get(flag).cloned().or_else(|| env(var));
        let api = http_url(
            "--api",
            pick("api", "PSE_API_URL").unwrap_or_else(|| DEFAULT_API.to_owned()),
        )?;
        let sandbox = http_url(
            "--sandbox",
            pick("sandbox", "SANDBOX_URL").unwrap_or_else(|| DEFAULT_SANDBOX.to_owned()),
        )?;
        let webhook_url = http_url(
            "--webhook-url",
            pick("webhook-url", "WEBHOOK_TARGET_URL").unwrap_or_else(|| api.clone()),
        )?;
        let scale = match flags.get("scale") {
            None => 1,
            Some(s) => match s.parse::<u32>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "--scale {s:?} must be a whole number from 1 to 1000"
                    ));
                }
            },
        };
        let timeout = match flags.get("timeout") {
            None => DEFAULT_TIMEOUT,
            Some(s) => match s.parse::<u64>() {
                Ok(n) if n > 0 => Duration::from_secs(n),
                _ => {
                    return Err(format!(
                        "--timeout {s:?} must be a positive number of seconds"
                    ));
                }
            },
        };
        Ok(Self {
            scenario,
            api,
            sandbox,
            webhook_url,
            merchant_key: pick("merchant-key", "MERCHANT_KEY")
                .unwrap_or_else(|| DEFAULT_MERCHANT_KEY.to_owned()),
            finance_key: pick("finance-key", "FINANCE_KEY")
                .unwrap_or_else(|| DEFAULT_FINANCE_KEY.to_owned()),
            scale,
            timeout,
            mono_webhook_secret: pick("mono-webhook-secret", "MONO_WEBHOOK_SECRET").or_else(|| {
                env("MONO_WEBHOOK_SECRETS")
                    .as_deref()
                    .and_then(first_of_list)
            }),
            belvo_webhook_auth: flags
                .get("belvo-webhook-auth")
                .cloned()
                .or_else(|| env("BELVO_WEBHOOK_AUTH").as_deref().and_then(first_of_list)),
            tpaga_webhook_token: flags.get("tpaga-webhook-token").cloned().or_else(|| {
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
    fn the_help_names_every_flag_and_lines_up_with_the_usage() {
        assert!(HELP.starts_with("  pse-sandbox scenario NAME"));
        for flag in FLAGS {
            assert!(HELP.contains(&format!("--{flag}")), "--{flag}");
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
    }
}
