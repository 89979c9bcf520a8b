//! OAuth2 client credentials (`POST /o/token/`) and
//! `GET /api/pse/v1/public/charge/{token}`.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::TpagaConfig;
use crate::domain::money::{RawAmount, parse_decimal_pesos};
use crate::domain::{Money, OrderState, Provider};
use crate::providers::check::{
    Auth, Call, CheckError, PaymentReport, RecordedCall, parse_body, send,
};
use crate::secret::Secret;

/// The mapping of Tpaga charge statuses (docs/ARCHITECTURE.md, "Status mapping").
pub fn map_status(status: &str) -> Option<OrderState> {
    match status {
        "pending" => Some(OrderState::Pending),
        "authorized" | "settled" => Some(OrderState::Paid),
        "rejected" | "failed" | "charge-rejected" => Some(OrderState::Failed),
        _ => None,
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Charge {
    token: String,
    status: String,
    amount: Option<RawAmount>,
    traceability_code: Option<String>,
    bank_code: Option<String>,
}

struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// The access token, shared by every task. The mutex is held while fetching,
/// so however many checks need a token at once, only one request is made.
#[derive(Default)]
pub struct TokenCache {
    current: Mutex<Option<Cached>>,
}

impl TokenCache {
    /// A valid token, fetched if there is none or it is about to expire.
    /// `rejected` names a token the API just refused: it is replaced unless
    /// another task already did so.
    async fn get(
        &self,
        client: &reqwest::Client,
        config: &TpagaConfig,
        rejected: Option<&Secret>,
        calls: &mut Vec<RecordedCall>,
    ) -> Result<Secret, CheckError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref() {
            let refused = rejected.is_some_and(|r| r == &c.token);
            if !refused && Instant::now() < c.renew_at {
                return Ok(c.token.clone());
            }
        }
        let (Some(id), Some(secret)) = (&config.client_id, &config.client_secret) else {
            return Err(CheckError::final_("Tpaga credentials are not configured"));
        };
        let fetched = send(
            client,
            Call {
                provider: Provider::Tpaga,
                object_id: "oauth2",
                method: "POST",
                base_url: &config.api_url,
                path: "/o/token/".to_owned(),
                auth: Auth::Basic(id.expose(), secret.expose()),
                form: Some(&[("grant_type", "client_credentials")]),
                redact_body: true,
            },
            calls,
        )
        .await
        .map_err(|(_, e)| match e {
            CheckError::Final { reason } => {
                CheckError::final_(format!("Tpaga token request refused: {reason}"))
            }
            retryable => retryable,
        })?;
        let token: TokenResponse = parse_body(&fetched.body, "Tpaga token")?;
        // Renew shortly before expiry, as Tpaga asks: a tenth of the lifetime, at most a minute early.
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(3600).max(1));
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        let token_secret = Secret::new(token.access_token);
        *current = Some(Cached {
            token: token_secret.clone(),
            renew_at: Instant::now() + lifetime - margin,
        });
        Ok(token_secret)
    }
}

pub async fn fetch_charge(
    client: &reqwest::Client,
    config: &TpagaConfig,
    tokens: &TokenCache,
    charge_token: &str,
    calls: &mut Vec<RecordedCall>,
) -> Result<PaymentReport, CheckError> {
    let mut access = tokens.get(client, config, None, calls).await?;
    let mut refreshed = false;
    let fetched = loop {
        let result = send(
            client,
            Call {
                provider: Provider::Tpaga,
                object_id: charge_token,
                method: "GET",
                base_url: &config.api_url,
                path: format!("/api/pse/v1/public/charge/{charge_token}"),
                auth: Auth::Bearer(access.expose()),
                form: None,
                redact_body: false,
            },
            calls,
        )
        .await;
        match result {
            Ok(f) => break f,
            // One forced refresh and retry on a 401; a second 401 is final.
            Err((Some(status), _)) if status.as_u16() == 401 && !refreshed => {
                refreshed = true;
                access = tokens.get(client, config, Some(&access), calls).await?;
            }
            Err((_, e)) => return Err(e),
        }
    };
    let charge: Charge = parse_body(&fetched.body, "Tpaga charge")?;
    let maps_to = map_status(&charge.status)
        .ok_or_else(|| CheckError::final_(format!("unknown Tpaga status {:?}", charge.status)))?;
    let amount = match charge.amount {
        Some(a) if a.text() != "null" => Some(
            // Tpaga charges are in COP; the API has no currency field.
            parse_decimal_pesos(a.text())
                .and_then(Money::cop)
                .map_err(|e| CheckError::final_(format!("Tpaga amount {e}")))?,
        ),
        _ => None,
    };
    Ok(PaymentReport {
        provider: Provider::Tpaga,
        payment_id: charge.token,
        status: charge.status,
        maps_to,
        amount,
        settlement_id: None,
        pse_cus: charge.traceability_code,
        bank_code: charge.bank_code,
    })
}
