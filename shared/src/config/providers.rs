//! Each provider's settings. A provider is enabled only when all of them are
//! set ([`super::Config::provider_disabled_reason`]).

use std::time::Duration;

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct MonoConfig {
    pub api_url: String,
    pub api_key: Option<Secret>,
    pub webhook_secrets: Vec<Secret>,
    pub signature_tolerance: Duration,
    /// `MONO_ACCOUNT_ID`: the account collections go to; `POST /v1/payments` for Mono needs it.
    pub account_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BelvoConfig {
    pub api_url: String,
    pub secret_id: Option<Secret>,
    pub secret_password: Option<Secret>,
    pub webhook_auth: Vec<Secret>,
    /// `BELVO_BENEFICIARY_ACCOUNT`: the registered account payment links pay into.
    pub beneficiary_account: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TpagaConfig {
    pub api_url: String,
    pub client_id: Option<Secret>,
    pub client_secret: Option<Secret>,
    /// Accepted path tokens of `/webhooks/tpaga/{token}`; several during a rotation.
    pub webhook_tokens: Vec<Secret>,
}

/// Shortest accepted webhook credential (each `MONO_WEBHOOK_SECRETS` secret,
/// `BELVO_WEBHOOK_AUTH` value and `TPAGA_WEBHOOK_TOKEN` token). These are the
/// only thing between the internet and an inbox row plus a provider call, so
/// a short one is a configuration mistake, not a choice: 16 random characters
/// are beyond guessing, and Mono's own `whsec_…` secrets are much longer.
pub const MIN_WEBHOOK_CREDENTIAL_LEN: usize = 16;
