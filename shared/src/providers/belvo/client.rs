//! HTTP Basic (`secret_id:secret_password`); `GET /payments/payment-intents/{id}/`
//! and `GET /payments/transactions/{id}/`.

use serde::Deserialize;

use crate::config::BelvoConfig;
use crate::domain::money::{RawAmount, parse_whole_pesos};
use crate::domain::{Currency, Money, OrderState, Provider};
use crate::providers::check::{
    Auth, Call, CheckError, PaymentReport, RecordedCall, parse_body, path_id, same_id, send,
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
    let id = path_id(id, "Belvo payment intent")?;
    let fetched = send(
        client,
        call(config, id, format!("/payments/payment-intents/{id}/"))?,
        calls,
    )
    .await
    .map_err(|(_, e)| e)?;
    parse_payment_intent(&fetched.body, id)
}

/// Belvo ids are UUIDs, which may come back in another letter case.
fn same_uuid(requested: &str, reported: &str, what: &str) -> Result<(), CheckError> {
    if requested.eq_ignore_ascii_case(reported) {
        Ok(())
    } else {
        same_id(requested, reported, what)
    }
}

/// A 2xx body of `GET /payments/payment-intents/{requested}/`.
pub fn parse_payment_intent(body: &[u8], requested: &str) -> Result<PaymentReport, CheckError> {
    let pi: PaymentIntent = parse_body(body, "Belvo payment intent")?;
    same_uuid(requested, &pi.id, "Belvo payment intent")?;
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

/// Money coming in, as a transaction reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflow {
    pub transaction_id: String,
    pub amount: Option<Money>,
    /// Checked to be a Belvo id (a UUID) before anything uses it in a path.
    pub payment_intent: Option<String>,
}

/// A 2xx body of `GET /payments/transactions/{requested}/`; `None` when the
/// transaction is not money coming in.
pub fn parse_transaction(body: &[u8], requested: &str) -> Result<Option<Inflow>, CheckError> {
    let tx: Transaction = parse_body(body, "Belvo transaction")?;
    same_uuid(requested, &tx.id, "Belvo transaction")?;
    if !tx
        .transaction_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("INFLOW"))
    {
        return Ok(None);
    }
    if let Some(pi) = tx.payment_intent.as_deref() {
        super::validate_payment_id(pi).map_err(|_| {
            CheckError::final_(
                "the Belvo transaction names a payment intent that is not a Belvo id",
            )
        })?;
    }
    Ok(Some(Inflow {
        transaction_id: tx.id,
        amount: money(tx.amount, tx.currency.as_deref())?,
        payment_intent: tx.payment_intent,
    }))
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
    let id = path_id(id, "Belvo transaction")?;
    let fetched = send(
        client,
        call(config, id, format!("/payments/transactions/{id}/"))?,
        calls,
    )
    .await
    .map_err(|(_, e)| e)?;
    let Some(tx) = parse_transaction(&fetched.body, id)? else {
        return Ok(None);
    };
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
        payment_id: tx
            .payment_intent
            .unwrap_or_else(|| tx.transaction_id.clone()),
        status,
        maps_to: OrderState::Paid,
        amount: tx.amount,
        settlement_id: Some(tx.transaction_id),
        pse_cus: None,
        bank_code: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz_support::{any_bytes, json_value};
    use proptest::prelude::*;

    const PI: &str = "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2";
    const TX: &str = "d2e40773-19f6-48d1-93c3-3590ec0c74df";
    const KEYS: &[&str] = &[
        "id",
        "status",
        "amount",
        "currency",
        "transaction_type",
        "payment_intent",
    ];

    #[test]
    fn a_transaction_links_its_payment_intent() {
        let body = serde_json::json!({"id": TX, "amount": "350000", "currency": "COP",
            "transaction_type": "INFLOW", "payment_intent": PI});
        let tx = parse_transaction(body.to_string().as_bytes(), TX)
            .unwrap()
            .unwrap();
        assert_eq!(tx.payment_intent.as_deref(), Some(PI));
        assert_eq!(tx.amount, Some(Money::cop(35_000_000).unwrap()));
    }

    #[test]
    fn a_payment_intent_from_a_response_must_be_a_belvo_id() {
        for bad in [
            "../../admin",
            "x/y",
            "",
            "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2/../z",
        ] {
            let body =
                serde_json::json!({"id": TX, "transaction_type": "INFLOW", "payment_intent": bad});
            let e = parse_transaction(body.to_string().as_bytes(), TX).unwrap_err();
            assert!(!e.is_retryable(), "{bad}");
        }
    }

    #[test]
    fn responses_about_another_object_are_final() {
        let other = "00000000-0000-0000-0000-000000000000";
        let tx = serde_json::json!({"id": other, "transaction_type": "INFLOW"});
        assert!(parse_transaction(tx.to_string().as_bytes(), TX).is_err());
        let pi = serde_json::json!({"id": other, "status": "SUCCEEDED"});
        let e = parse_payment_intent(pi.to_string().as_bytes(), PI).unwrap_err();
        assert!(e.to_string().contains("another id"), "{e}");
        // The same UUID in capitals is the same object.
        let pi = serde_json::json!({"id": PI.to_ascii_uppercase(), "status": "SUCCEEDED"});
        assert!(parse_payment_intent(pi.to_string().as_bytes(), PI).is_ok());
    }

    #[test]
    fn unsafe_ids_never_reach_a_path() {
        assert!(path_id("../x", "t").is_err());
        assert!(path_id("a?b", "t").is_err());
        assert!(path_id(PI, "t").is_ok());
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in any_bytes(512)) {
            let _ = parse_payment_intent(&bytes, PI);
            let _ = parse_transaction(&bytes, TX);
        }

        #[test]
        fn any_json_never_panics(v in json_value(KEYS)) {
            let body = v.to_string();
            let _ = parse_payment_intent(body.as_bytes(), PI);
            let _ = parse_transaction(body.as_bytes(), TX);
        }

        #[test]
        fn any_amount_never_panics(amount in json_value(&["amount"]), currency in json_value(&["COP"])) {
            let body = serde_json::json!({"id": TX, "transaction_type": "INFLOW", "amount": amount,
                                          "currency": currency, "payment_intent": PI});
            if let Ok(Some(tx)) = parse_transaction(body.to_string().as_bytes(), TX) {
                prop_assert!(tx.amount.is_none_or(|m| m.minor_units() >= 0));
            }
        }
    }
}
