//! `GET /v1/collection_intents/{id}` with `Authorization: Bearer <MONO_API_KEY>`.

use serde::Deserialize;

use crate::domain::money::{RawAmount, parse_minor_units};
use crate::domain::{Currency, Money, OrderState, Provider};
use crate::providers::check::{
    Auth, Call, CheckError, PaymentReport, RecordedCall, parse_body, send,
};
use crate::secret::Secret;

/// The mapping of Mono intent states (docs/ARCHITECTURE.md, "Status mapping").
pub fn map_state(state: &str) -> Option<OrderState> {
    match state {
        "created" | "in_progress" => Some(OrderState::Pending),
        "approved_in_provider" => Some(OrderState::Processing),
        "account_credited" => Some(OrderState::Paid),
        "failed" => Some(OrderState::Failed),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Intent {
    id: String,
    state: String,
    amount: Option<WireMoney>,
    bank_code: Option<String>,
    payment: Option<Payment>,
}

#[derive(Deserialize)]
struct WireMoney {
    amount: RawAmount,
    currency: String,
}

#[derive(Deserialize)]
struct Payment {
    transaction_id: Option<String>,
}

pub async fn fetch_intent(
    client: &reqwest::Client,
    base_url: &str,
    api_key: &Secret,
    id: &str,
    calls: &mut Vec<RecordedCall>,
) -> Result<PaymentReport, CheckError> {
    let fetched = send(
        client,
        Call {
            provider: Provider::Mono,
            object_id: id,
            method: "GET",
            base_url,
            path: format!("/v1/collection_intents/{id}"),
            auth: Auth::Bearer(api_key.expose()),
            form: None,
            redact_body: false,
        },
        calls,
    )
    .await
    .map_err(|(_, e)| e)?;
    let intent: Intent = parse_body(&fetched.body, "Mono collection intent")?;
    let maps_to = map_state(&intent.state)
        .ok_or_else(|| CheckError::final_(format!("unknown Mono state {:?}", intent.state)))?;
    let amount = intent
        .amount
        .map(|m| {
            let minor = parse_minor_units(m.amount.text())
                .map_err(|e| CheckError::final_(format!("Mono amount {e}")))?;
            let currency = m.currency.parse::<Currency>().map_err(|_| {
                CheckError::final_(format!("Mono currency {:?} is not COP", m.currency))
            })?;
            Money::new(minor, currency).map_err(|e| CheckError::final_(format!("Mono amount {e}")))
        })
        .transpose()?;
    Ok(PaymentReport {
        provider: Provider::Mono,
        payment_id: intent.id,
        status: intent.state,
        maps_to,
        amount,
        settlement_id: None,
        pse_cus: intent.payment.and_then(|p| p.transaction_id),
        bank_code: intent.bank_code,
    })
}
