//! OAuth2 client credentials (`POST /o/token/`) and
//! `GET /api/pse/v1/public/charge/{token}`.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::TpagaConfig;
use crate::domain::money::{RawAmount, parse_decimal_pesos};
use crate::domain::{Money, OrderState, Provider};
use crate::providers::check::{
    Auth, Call, CheckError, PaymentReport, RecordedCall, parse_body, path_id, same_id, send,
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
    pub(crate) async fn get(
        &self,
        client: &reqwest::Client,
        config: &TpagaConfig,
        rejected: Option<&Secret>,
        calls: &mut Vec<RecordedCall>,
    ) -> Result<Secret, CheckError> {
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref() {
            let refused = rejected.is_some_and(|r| r.ct_eq(&c.token));
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
        let token_secret = Secret::new(token.access_token);
        *current = Some(Cached {
            token: token_secret.clone(),
            renew_at: renew_at(Instant::now(), token.expires_in),
        });
        Ok(token_secret)
    }
}

/// Longest a token is trusted, whatever `expires_in` says: a huge value from
/// the provider would otherwise overflow `Instant` arithmetic (a panic).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// When to renew a token that lives `expires_in` seconds: shortly before
/// expiry, as Tpaga asks (a tenth of the lifetime, at most a minute early).
fn renew_at(now: Instant, expires_in: Option<u64>) -> Instant {
    let lifetime = Duration::from_secs(expires_in.unwrap_or(3600).max(1)).min(MAX_TOKEN_LIFETIME);
    let margin = (lifetime / 10).min(Duration::from_secs(60));
    now.checked_add(lifetime - margin).unwrap_or(now)
}

pub async fn fetch_charge(
    client: &reqwest::Client,
    config: &TpagaConfig,
    tokens: &TokenCache,
    charge_token: &str,
    calls: &mut Vec<RecordedCall>,
) -> Result<PaymentReport, CheckError> {
    let charge_token = path_id(charge_token, "Tpaga charge")?;
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
    parse_charge(&fetched.body, charge_token)
}

/// A 2xx body of `GET /api/pse/v1/public/charge/{requested}`.
pub fn parse_charge(body: &[u8], requested: &str) -> Result<PaymentReport, CheckError> {
    let charge: Charge = parse_body(body, "Tpaga charge")?;
    same_id(requested, &charge.token, "Tpaga charge")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz_support::{any_bytes, json_value};
    use proptest::prelude::*;

    const TOKEN: &str = "pse-c542f18edadb441d8b4639edbfb566e5";

    #[test]
    fn parses_a_charge() {
        let body = serde_json::json!({"token": TOKEN, "status": "authorized", "amount": "10000.00",
            "traceability_code": "123", "bank_code": "1007"});
        let r = parse_charge(body.to_string().as_bytes(), TOKEN).unwrap();
        assert_eq!(r.maps_to, OrderState::Paid);
        assert_eq!(r.amount, Some(Money::cop(1_000_000).unwrap()));
    }

    #[test]
    fn any_token_lifetime_is_safe() {
        let now = Instant::now();
        for e in [None, Some(0), Some(1), Some(3600), Some(u64::MAX)] {
            let at = renew_at(now, e);
            assert!(at > now && at <= now + MAX_TOKEN_LIFETIME, "{e:?}");
        }
    }

    #[test]
    fn a_charge_with_another_token_is_final() {
        let body = serde_json::json!({"token": "pse-other", "status": "authorized"});
        let e = parse_charge(body.to_string().as_bytes(), TOKEN).unwrap_err();
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("another id"), "{e}");
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in any_bytes(512)) {
            let _ = parse_charge(&bytes, TOKEN);
            let _ = parse_body::<TokenResponse>(&bytes, "Tpaga token");
        }

        #[test]
        fn any_json_never_panics(v in json_value(&["token", "status", "amount", "traceability_code", "bank_code", "access_token", "expires_in"])) {
            let body = v.to_string();
            let _ = parse_charge(body.as_bytes(), TOKEN);
            let _ = parse_body::<TokenResponse>(body.as_bytes(), "Tpaga token");
        }

        #[test]
        fn any_amount_never_panics(amount in json_value(&["amount"])) {
            let body = serde_json::json!({"token": TOKEN, "status": "settled", "amount": amount});
            if let Ok(r) = parse_charge(body.to_string().as_bytes(), TOKEN) {
                prop_assert!(r.amount.is_none_or(|m| m.minor_units() >= 0));
            }
        }
    }
}
