//! `GET /v1/collection_intents/{id}` with `Authorization: Bearer <MONO_API_KEY>`.

use serde::Deserialize;

use crate::domain::money::{RawAmount, parse_minor_units};
use crate::domain::{Currency, Money, OrderState, Provider};
use crate::providers::check::{
    Auth, Call, CheckError, PaymentReport, RecordedCall, parse_body, path_id, same_id, send,
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
    let id = path_id(id, "Mono collection intent")?;
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
    parse_intent(&fetched.body, id)
}

/// A 2xx body of `GET /v1/collection_intents/{requested}`.
pub fn parse_intent(body: &[u8], requested: &str) -> Result<PaymentReport, CheckError> {
    let intent: Intent = parse_body(body, "Mono collection intent")?;
    same_id(requested, &intent.id, "Mono collection intent")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz_support::{any_bytes, json_value};
    use proptest::prelude::*;

    const ID: &str = "cint_5dHsMj4uwhhujcVUTuw1OP";

    #[test]
    fn parses_the_documented_intent() {
        let body = serde_json::json!({"id": ID, "state": "account_credited",
            "amount": {"amount": 10_000_000, "currency": "COP"}, "bank_code": "1007",
            "payment": {"transaction_id": "3052043"}});
        let r = parse_intent(body.to_string().as_bytes(), ID).unwrap();
        assert_eq!(r.maps_to, OrderState::Paid);
        assert_eq!(r.amount, Some(Money::cop(10_000_000).unwrap()));
    }

    #[test]
    fn an_intent_about_another_id_is_final() {
        let body =
            serde_json::json!({"id": "cint_0000000000000000000000", "state": "account_credited"});
        let e = parse_intent(body.to_string().as_bytes(), ID).unwrap_err();
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("another id"), "{e}");
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in any_bytes(512)) {
            let _ = parse_intent(&bytes, ID);
        }

        #[test]
        fn any_json_never_panics(v in json_value(&["id", "state", "amount", "currency", "bank_code", "payment", "transaction_id"])) {
            let _ = parse_intent(v.to_string().as_bytes(), ID);
        }

        #[test]
        fn any_amount_never_panics(amount in json_value(&["amount"]), state in "(created|account_credited|failed)") {
            let body = serde_json::json!({"id": ID, "state": state, "amount": {"amount": amount, "currency": "COP"}});
            if let Ok(r) = parse_intent(body.to_string().as_bytes(), ID) {
                prop_assert!(r.amount.is_none_or(|m| m.minor_units() >= 0));
            }
        }
    }
}
