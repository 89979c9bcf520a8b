//! `POST /payments/customers/` then `POST /payments/payment-links/` (docs/PROVIDERS.md,
//! "Creating payments"). Belvo documents no idempotency key: the customer id
//! is committed before the link call so a retry reuses it, and a link call
//! whose outcome is unknown is never repeated (the attempt is abandoned and
//! finance sees it).

use serde::Deserialize;
use serde_json::json;

use crate::config::BelvoConfig;
use crate::domain::Provider;
use crate::providers::check::{RecordedCall, basic_header};
use crate::providers::create::{
    Body, CreateError, Created, PaymentRequest, PersonType, clip, send, unexpected, unreadable,
};

/// How long a link stays payable: PSE sessions last about 30 minutes, and
/// orders expire after `ORDER_EXPIRY_SECS` (an hour by default).
pub const LINK_EXPIRES_IN: &str = "1h";

#[derive(Deserialize)]
struct Customer {
    id: String,
}

#[derive(Deserialize)]
struct Link {
    payment_url: Option<String>,
    payment_intent: Option<String>,
}

#[derive(Deserialize)]
struct ErrorItem {
    message: Option<String>,
    code: Option<String>,
    field: Option<String>,
}

pub fn customer_body(req: &PaymentRequest) -> serde_json::Value {
    let p = &req.payer;
    json!({
        "customer_type": match p.person_type {
            PersonType::Natural => "INDIVIDUAL",
            PersonType::Legal => "BUSINESS",
        },
        "country": "COL",
        "name": p.name,
        "email": p.email,
        "identifier_type": p.document_type,
        "identifier": p.document_number,
        "phone": p.phone,
    })
}

/// Belvo takes whole pesos only; the caller refuses other amounts before calling.
pub fn link_body(req: &PaymentRequest, beneficiary: &str, customer: &str) -> serde_json::Value {
    json!({
        "allowed_payment_method_types": ["pse"],
        "payment_method_details": {"pse": {"beneficiary_bank_account": beneficiary}},
        "callback_urls": {"success": req.redirect_url, "cancel": req.redirect_url},
        "amount": req.amount_minor / 100,
        "customer": customer,
        "description": req.label(),
        "provider": "payments_way",
        "expires_in": LINK_EXPIRES_IN,
    })
}

async fn post(
    client: &reqwest::Client,
    config: &BelvoConfig,
    path: &str,
    body: &serde_json::Value,
    calls: &mut Vec<RecordedCall>,
) -> Result<crate::providers::create::Answer, CreateError> {
    let (Some(id), Some(password)) = (&config.secret_id, &config.secret_password) else {
        return Err(CreateError::Refused {
            provider: Provider::Belvo,
            reason: "Belvo credentials are not configured".to_owned(),
        });
    };
    let request = client.post(format!("{}{path}", config.api_url)).header(
        "Authorization",
        basic_header(id.expose(), password.expose()),
    );
    send(Provider::Belvo, path, request, Body::Json(body), calls).await
}

pub async fn create_customer(
    client: &reqwest::Client,
    config: &BelvoConfig,
    req: &PaymentRequest,
    calls: &mut Vec<RecordedCall>,
) -> Result<String, CreateError> {
    let answer = post(
        client,
        config,
        "/payments/customers/",
        &customer_body(req),
        calls,
    )
    .await?;
    parse_customer(answer.status, &answer.body)
}

pub async fn create_link(
    client: &reqwest::Client,
    config: &BelvoConfig,
    req: &PaymentRequest,
    customer: &str,
    calls: &mut Vec<RecordedCall>,
) -> Result<Created, CreateError> {
    let Some(beneficiary) = &config.beneficiary_account else {
        return Err(CreateError::Refused {
            provider: Provider::Belvo,
            reason: "BELVO_BENEFICIARY_ACCOUNT is not configured".to_owned(),
        });
    };
    let body = link_body(req, beneficiary, customer);
    let answer = post(client, config, "/payments/payment-links/", &body, calls).await?;
    parse_link(answer.status, &answer.body)
}

fn rejected(status: u16, body: &[u8]) -> CreateError {
    let items: Vec<ErrorItem> = serde_json::from_slice(body).unwrap_or_default();
    let first = items.first();
    CreateError::Rejected {
        provider: Provider::Belvo,
        field: first.and_then(|i| i.field.as_deref()).map(clip),
        message: clip(
            &first
                .and_then(|i| i.message.clone().or_else(|| i.code.clone()))
                .unwrap_or_else(|| format!("HTTP {status}")),
        ),
    }
}

pub fn parse_customer(status: u16, body: &[u8]) -> Result<String, CreateError> {
    match status {
        200..=299 => {
            let c: Customer = serde_json::from_slice(body)
                .map_err(|_| unreadable(Provider::Belvo, "customer"))?;
            if super::validate_payment_id(&c.id).is_ok() {
                Ok(c.id)
            } else {
                Err(unreadable(Provider::Belvo, "customer"))
            }
        }
        400 | 404 | 422 => Err(rejected(status, body)),
        other => Err(unexpected(Provider::Belvo, other)),
    }
}

pub fn parse_link(status: u16, body: &[u8]) -> Result<Created, CreateError> {
    match status {
        200..=299 => {
            let l: Link = serde_json::from_slice(body)
                .map_err(|_| unreadable(Provider::Belvo, "payment link"))?;
            match (l.payment_intent, l.payment_url) {
                (Some(pi), Some(url)) if super::validate_payment_id(&pi).is_ok() => Ok(Created {
                    payment_id: pi,
                    payment_url: url,
                }),
                _ => Err(unreadable(Provider::Belvo, "payment link")),
            }
        }
        400 | 404 | 422 => Err(rejected(status, body)),
        other => Err(unexpected(Provider::Belvo, other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_answers() {
        let c = br#"{"id":"1c83ead8-6665-429c-a17a-ddc76cb3a95e","customer_type":"INDIVIDUAL"}"#;
        assert_eq!(
            parse_customer(201, c).unwrap(),
            "1c83ead8-6665-429c-a17a-ddc76cb3a95e"
        );
        let l = br#"{"id":"1c83ead8-6665-429c-a17a-ddc76cb3a95e","payment_url":"https://pay.belvo.io/Ygga",
            "payment_intent":"b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2","status":"ACTIVE"}"#;
        assert_eq!(
            parse_link(201, l).unwrap().payment_id,
            "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2"
        );
        let bad = br#"[{"request_id":"x","message":"A valid integer is required.","code":"invalid","field":"amount"}]"#;
        match parse_link(400, bad).unwrap_err() {
            CreateError::Rejected { field, .. } => assert_eq!(field.as_deref(), Some("amount")),
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            parse_link(502, b""),
            Err(CreateError::Unavailable { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_answer_never_panics(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_customer(status, &body);
            let _ = parse_link(status, &body);
        }
    }
}
