//! HTTP Basic (`secret_id:secret_password`); `GET /payments/payment-intents/{id}/`
//! and `GET /payments/transactions/{id}/`.

use serde::Deserialize;

use crate::config::BelvoConfig;
use crate::domain::money::{RawAmount, parse_whole_pesos};
use crate::domain::{Currency, Money, OrderState, Provider};
use crate::providers::check::{
    Auth, Call, CheckError, PaymentReport, RecordedCall, parse_body, send,
};

/// docs/ARCHITECTURE.md's "Status mapping"; Belvo statuses have been seen in either case.
pub fn map_status(status: &str) -> Option<OrderState> {
    match status.to_ascii_uppercase().as_str() {
        "REQUIRES_PAYMENT_METHOD" | "REQUIRES_ACTION" => Some(OrderState::Pending),
        "PROCESSING" => Some(OrderState::Processing),
        "SUCCEEDED" => Some(OrderState::Paid),
        "FAILED" => Some(OrderState::Failed),
        _ => None,
    }
}

#[derive(Deserialize)]
struct PaymentIntent {
    id: String,
    status: String,
    amount: Option<RawAmount>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct Transaction {
    id: String,
    amount: Option<RawAmount>,
    currency: Option<String>,
    transaction_type: Option<String>,
    payment_intent: Option<String>,
}

/// Whole pesos (integer or integer string) in COP → Money.
fn money(amount: Option<RawAmount>, currency: Option<&str>) -> Result<Option<Money>, CheckError> {
    let Some(amount) = amount else {
        return Ok(None);
    };
    if amount.text() == "null" {
        return Ok(None);
    }
    let minor = parse_whole_pesos(amount.text())
        .map_err(|e| CheckError::final_(format!("Belvo amount {e}")))?;
    // Belvo Colombia documents COP only; an absent currency is read as COP.
    let currency = match currency {
        None => Currency::Cop,
        Some(c) => c
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| CheckError::final_(format!("Belvo currency {c:?} is not COP")))?,
    };
    Money::new(minor, currency)
        .map(Some)
        .map_err(|e| CheckError::final_(format!("Belvo amount {e}")))
}

fn call<'a>(
    config: &'a BelvoConfig,
    object_id: &'a str,
    path: String,
) -> Result<Call<'a>, CheckError> {
    let (Some(id), Some(password)) = (&config.secret_id, &config.secret_password) else {
        return Err(CheckError::final_("Belvo credentials are not configured"));
    };
    Ok(Call {
        provider: Provider::Belvo,
        object_id,
        method: "GET",
        base_url: &config.api_url,
        path,
        auth: Auth::Basic(id.expose(), password.expose()),
        form: None,
        redact_body: false,
    })
}

pub async fn fetch_payment_intent(
    client: &reqwest::Client,
    config: &BelvoConfig,
    id: &str,
    calls: &mut Vec<RecordedCall>,
) -> Result<PaymentReport, CheckError> {
    let fetched = send(
        client,
        call(config, id, format!("/payments/payment-intents/{id}/"))?,
        calls,
    )
    .await
    .map_err(|(_, e)| e)?;
    let pi: PaymentIntent = parse_body(&fetched.body, "Belvo payment intent")?;
    let maps_to = map_status(&pi.status)
        .ok_or_else(|| CheckError::final_(format!("unknown Belvo status {:?}", pi.status)))?;
    Ok(PaymentReport {
        provider: Provider::Belvo,
        payment_id: pi.id,
        status: pi.status.to_ascii_uppercase(),
        maps_to,
        amount: money(pi.amount, pi.currency.as_deref())?,
        settlement_id: None,
        pse_cus: None,
        bank_code: None,
    })
}

/// A transaction has no status: an `INFLOW` transaction means money moved.
/// Its `payment_intent` links it to the order; the report carries the
/// transaction's amount (what was actually paid) and the intent's status.
/// `Ok(None)` for transactions that are not money coming in.
pub async fn fetch_transaction(
    client: &reqwest::Client,
    config: &BelvoConfig,
    id: &str,
    calls: &mut Vec<RecordedCall>,
) -> Result<Option<PaymentReport>, CheckError> {
    let fetched = send(
        client,
        call(config, id, format!("/payments/transactions/{id}/"))?,
        calls,
    )
    .await
    .map_err(|(_, e)| e)?;
    let tx: Transaction = parse_body(&fetched.body, "Belvo transaction")?;
    if !tx
        .transaction_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("INFLOW"))
    {
        return Ok(None);
    }
    let amount = money(tx.amount, tx.currency.as_deref())?;
    let status = match tx.payment_intent.as_deref() {
        Some(pi) => {
            fetch_payment_intent(client, config, pi, calls)
                .await?
                .status
        }
        None => "NO_PAYMENT_INTENT".to_owned(),
    };
    Ok(Some(PaymentReport {
        provider: Provider::Belvo,
        // Money without a payment intent matches no order: an unknown payment.
        payment_id: tx.payment_intent.unwrap_or_else(|| tx.id.clone()),
        status,
        maps_to: OrderState::Paid,
        amount,
        settlement_id: Some(tx.id),
        pse_cus: None,
        bank_code: None,
    }))
}
