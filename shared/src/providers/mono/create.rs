//! `POST /v1/collection_intents` with `x-idempotency-key` (docs/PROVIDERS.md,
//! "Creating payments"): the same key returns the same intent, which is what
//! makes a retry after a lost answer safe.

use serde::Deserialize;
use serde_json::json;

use crate::config::MonoConfig;
use crate::domain::Provider;
use crate::providers::check::RecordedCall;
use crate::providers::create::{
    AttemptKeys, Body, CreateError, Created, PaymentRequest, clip, send, unexpected, unreadable,
};

#[derive(Deserialize)]
struct Intent {
    id: String,
    payment: Option<IntentPayment>,
}

#[derive(Deserialize)]
struct IntentPayment {
    url: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    error_code: Option<String>,
    message: Option<String>,
    path: Option<String>,
}

/// The wire body; `account_id` comes from `MONO_ACCOUNT_ID`.
pub fn body(req: &PaymentRequest, account_id: &str) -> serde_json::Value {
    let p = &req.payer;
    json!({
        "account_id": account_id,
        "amount": {"amount": req.amount_minor, "currency": req.currency.code()},
        "bank_code": req.bank_code,
        "ip": req.payer_ip,
        "payer": {
            "document_number": p.document_number,
            "document_type": p.document_type,
            "email": p.email,
            "name": p.name,
            "person_type": p.person_type,
            "phone_number": format!("+57{}", p.phone),
        },
        "payment": {},
        "redirect_url": req.redirect_url,
        "reference": req.reference,
    })
}

pub async fn create(
    client: &reqwest::Client,
    config: &MonoConfig,
    req: &PaymentRequest,
    keys: &AttemptKeys,
    calls: &mut Vec<RecordedCall>,
) -> Result<Created, CreateError> {
    let (Some(key), Some(account)) = (&config.api_key, &config.account_id) else {
        return Err(CreateError::Refused {
            provider: Provider::Mono,
            reason: "MONO_API_KEY or MONO_ACCOUNT_ID is not configured".to_owned(),
        });
    };
    const PATH: &str = "/v1/collection_intents";
    let request = client
        .post(format!("{}{PATH}", config.api_url))
        .bearer_auth(key.expose())
        .header("x-idempotency-key", &keys.idempotency_key);
    let answer = send(
        Provider::Mono,
        PATH,
        request,
        Body::Json(&body(req, account)),
        calls,
    )
    .await?;
    parse_answer(answer.status, &answer.body)
}

/// Any status and body of the create call → its outcome. Total over any bytes.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<Created, CreateError> {
    match status {
        200..=299 => {
            let intent: Intent = serde_json::from_slice(body)
                .map_err(|_| unreadable(Provider::Mono, "collection intent"))?;
            let url = intent.payment.and_then(|p| p.url);
            match url {
                Some(url) if super::validate_payment_id(&intent.id).is_ok() => Ok(Created {
                    payment_id: intent.id,
                    payment_url: url,
                }),
                _ => Err(unreadable(Provider::Mono, "collection intent")),
            }
        }
        // Documented as not worth retrying: the request itself is wrong.
        400 | 404 | 409 | 422 => {
            let envelope: Option<Envelope> = serde_json::from_slice(body).ok();
            let first = envelope.as_ref().and_then(|e| e.errors.first());
            let message = first
                .and_then(|i| i.message.clone().or_else(|| i.error_code.clone()))
                .or_else(|| envelope.as_ref().and_then(|e| e.message.clone()))
                .unwrap_or_else(|| format!("HTTP {status}"));
            Err(CreateError::Rejected {
                provider: Provider::Mono,
                field: first.and_then(|i| i.path.as_deref()).map(clip),
                message: clip(&message),
            })
        }
        other => Err(unexpected(Provider::Mono, other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_answers() {
        let ok = br#"{"id":"cint_5tgliBmzjZ6mpQPRbQjfKj","state":"created",
            "payment":{"provider":"pse","transaction_id":"1115065899","url":"https://registro.desarrollo.pse.com.co/PSENF/index.html?enc=123"}}"#;
        let c = parse_answer(201, ok).unwrap();
        assert_eq!(c.payment_id, "cint_5tgliBmzjZ6mpQPRbQjfKj");
        let missing = br##"{"code":"422 Unprocessable Entity","errors":[{"error_code":"missing_field",
            "message":"The field is missing on the request body or parameters.","path":"#/payer/email","url":null}],
            "id":"log_7MkWaFqvfosB8fzHhb1Eql","message":"Validation errors"}"##;
        match parse_answer(422, missing).unwrap_err() {
            CreateError::Rejected { field, .. } => {
                assert_eq!(field.as_deref(), Some("#/payer/email"))
            }
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            parse_answer(503, b""),
            Err(CreateError::Unavailable { .. })
        ));
        assert!(matches!(
            parse_answer(401, b""),
            Err(CreateError::Refused { .. })
        ));
        // A 2xx we cannot read may still be a created intent: unknown, not rejected.
        assert!(matches!(
            parse_answer(201, b"{}"),
            Err(CreateError::Unavailable { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_answer_never_panics(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_answer(status, &body);
        }
    }
}
