//! `POST /api/pse/v1/public/charge` and `GET /api/pse/v1/public/banks`
//! (docs/PROVIDERS.md, "Creating payments"). The `order_id` is the idempotency
//! key: a second charge with it is refused with 408 "already exists".

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::TokenCache;
use crate::config::TpagaConfig;
use crate::domain::Provider;
use crate::providers::check::{CheckError, RecordedCall};
use crate::providers::create::{
    Body, CreateError, Created, PaymentRequest, clip, decimal_pesos, send, unexpected, unreadable,
};
use crate::providers::webhook::safe_id;
use crate::secret::Secret;

const CHARGE: &str = "/api/pse/v1/public/charge";
const BANKS: &str = "/api/pse/v1/public/banks";
/// Tpaga's `description` limit.
pub const MAX_DESCRIPTION: usize = 80;
/// Tpaga's `order_id` limit.
pub const MAX_ORDER_ID: usize = 20;

/// A bank as `GET /api/pse/v1/public/banks` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bank {
    pub code: String,
    pub name: String,
}

#[derive(Deserialize)]
struct Charge {
    token: String,
    order_id: Option<String>,
    bank_url: Option<String>,
}

#[derive(Deserialize)]
struct FieldError {
    error_message: Option<String>,
    field: Option<String>,
    /// Not in the docs for 408; read if Tpaga sends it (see `already_exists`).
    token: Option<String>,
}

/// The stable `order_id` of an attempt: 20 hex characters (80 bits) of
/// SHA-256 over the reference and the attempt generation. Stable, so every
/// retry of one attempt sends the same one; a new generation (after a
/// refusal freed the reference) gets a fresh one, since Tpaga may keep a
/// failed charge under the old id.
pub fn order_id(reference: &str, generation: i32) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{reference}#{generation}"));
    hex::encode(digest)[..MAX_ORDER_ID].to_owned()
}

pub fn body(req: &PaymentRequest, order_id: &str) -> serde_json::Value {
    let p = &req.payer;
    json!({
        "bank_code": req.bank_code,
        "order_id": order_id,
        "amount": decimal_pesos(req.amount_minor),
        "vat_amount": "0.00",
        "description": req.label(),
        "user_type": match p.person_type {
            crate::providers::create::PersonType::Natural => "NATURAL",
            crate::providers::create::PersonType::Legal => "LEGAL",
        },
        "buyer_email": p.email,
        "buyer_full_name": p.name,
        "document_type": p.document_type,
        "document_number": p.document_number,
        "redirect_url": req.redirect_url,
        "buyer_phone_number": p.phone,
    })
}

fn token_error(e: CheckError) -> CreateError {
    match e {
        CheckError::Final { reason } => CreateError::Refused {
            provider: Provider::Tpaga,
            reason,
        },
        CheckError::Retryable { reason, .. } => CreateError::Unavailable {
            provider: Provider::Tpaga,
            timed_out: reason.contains("timed out"),
            reason: format!("token: {reason}"),
        },
    }
}

/// A call with the cached access token, renewed once on a 401 as Tpaga asks.
async fn authorized(
    client: &reqwest::Client,
    config: &TpagaConfig,
    tokens: &TokenCache,
    method: reqwest::Method,
    path: &str,
    body: Option<&serde_json::Value>,
    calls: &mut Vec<RecordedCall>,
) -> Result<crate::providers::create::Answer, CreateError> {
    // Token grants are not create calls (and their bodies are credentials): not kept.
    let mut token_calls = Vec::new();
    let mut access: Secret = tokens
        .get(client, config, None, &mut token_calls)
        .await
        .map_err(token_error)?;
    let mut refreshed = false;
    loop {
        let request = client
            .request(method.clone(), format!("{}{path}", config.api_url))
            .bearer_auth(access.expose());
        let answer = send(
            Provider::Tpaga,
            path,
            request,
            body.map_or(Body::None, Body::Json),
            calls,
        )
        .await?;
        if answer.status == 401 && !refreshed {
            refreshed = true;
            access = tokens
                .get(client, config, Some(&access), &mut token_calls)
                .await
                .map_err(token_error)?;
            continue;
        }
        return Ok(answer);
    }
}

pub async fn create(
    client: &reqwest::Client,
    config: &TpagaConfig,
    tokens: &TokenCache,
    req: &PaymentRequest,
    order_id: &str,
    calls: &mut Vec<RecordedCall>,
) -> Result<Created, CreateError> {
    let body = body(req, order_id);
    let answer = authorized(
        client,
        config,
        tokens,
        reqwest::Method::POST,
        CHARGE,
        Some(&body),
        calls,
    )
    .await?;
    match parse_answer(answer.status, &answer.body, order_id)? {
        Outcome::Created(c) => Ok(c),
        Outcome::AlreadyExists(token) => {
            let path = format!("{CHARGE}/{token}");
            let answer = authorized(
                client,
                config,
                tokens,
                reqwest::Method::GET,
                &path,
                None,
                calls,
            )
            .await?;
            match answer.status {
                200..=299 => parse_charge(&answer.body, order_id),
                other => Err(unexpected(Provider::Tpaga, other)),
            }
        }
    }
}

pub enum Outcome {
    Created(Created),
    /// 408 naming the existing charge's token: fetch it.
    AlreadyExists(String),
}

/// A charge body, which must be the one with our `order_id`.
fn parse_charge(body: &[u8], order_id: &str) -> Result<Created, CreateError> {
    let charge: Charge =
        serde_json::from_slice(body).map_err(|_| unreadable(Provider::Tpaga, "charge"))?;
    if charge.order_id.as_deref().is_some_and(|o| o != order_id) {
        return Err(CreateError::Unresolvable {
            provider: Provider::Tpaga,
            reason: "the charge Tpaga returned carries another order_id".to_owned(),
        });
    }
    match charge.bank_url {
        Some(url) if safe_id(&charge.token) => Ok(Created {
            payment_id: charge.token,
            payment_url: url,
        }),
        _ => Err(unreadable(Provider::Tpaga, "charge")),
    }
}

/// Any status and body of the create call → its outcome. Total over any bytes.
pub fn parse_answer(status: u16, body: &[u8], order_id: &str) -> Result<Outcome, CreateError> {
    let refusal: Option<FieldError> = serde_json::from_slice(body).ok();
    match status {
        200..=299 => parse_charge(body, order_id).map(Outcome::Created),
        // The docs say only "the charge already exist" and document no body. If
        // Tpaga names the charge (`token`), we fetch it; otherwise the charge
        // cannot be found by order_id, and a person must settle the attempt.
        408 => match refusal.and_then(|r| r.token).filter(|t| safe_id(t)) {
            Some(token) => Ok(Outcome::AlreadyExists(token)),
            None => Err(CreateError::Unresolvable {
                provider: Provider::Tpaga,
                reason: "Tpaga answered 408 (a charge with this order_id already exists) without \
                         naming it; Tpaga cannot be queried by order_id"
                    .to_owned(),
            }),
        },
        422 => {
            let (field, message) = refusal
                .map(|r| (r.field, r.error_message))
                .unwrap_or((None, None));
            Err(CreateError::Rejected {
                provider: Provider::Tpaga,
                field: field.as_deref().map(clip),
                message: clip(message.as_deref().unwrap_or("HTTP 422")),
            })
        }
        // "The charge was not successful and returned a failed status": PSE
        // refused it at once; nothing the payer can pay exists.
        409 => Err(CreateError::Rejected {
            provider: Provider::Tpaga,
            field: None,
            message: "the charge was created with a failed status (refused by PSE)".to_owned(),
        }),
        other => Err(unexpected(Provider::Tpaga, other)),
    }
}

pub async fn banks(
    client: &reqwest::Client,
    config: &TpagaConfig,
    tokens: &TokenCache,
) -> Result<Vec<Bank>, CreateError> {
    // The bank list concerns no order: its call is not kept.
    let answer = authorized(
        client,
        config,
        tokens,
        reqwest::Method::GET,
        BANKS,
        None,
        &mut Vec::new(),
    )
    .await?;
    match answer.status {
        200..=299 => parse_banks(&answer.body),
        other => Err(unexpected(Provider::Tpaga, other)),
    }
}

/// At most this many banks are kept (PSE lists about a hundred).
const MAX_BANKS: usize = 2_000;

pub fn parse_banks(body: &[u8]) -> Result<Vec<Bank>, CreateError> {
    let banks: Vec<Bank> =
        serde_json::from_slice(body).map_err(|_| unreadable(Provider::Tpaga, "bank list"))?;
    if banks.len() > MAX_BANKS {
        return Err(unreadable(Provider::Tpaga, "bank list"));
    }
    Ok(banks
        .into_iter()
        .map(|b| Bank {
            code: clip(&b.code),
            name: clip(&b.name),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ORDER: &str = "abc-123";

    #[test]
    fn order_ids_are_stable_short_and_distinct() {
        let a = order_id("ORD-1001", 0);
        assert_eq!(a, order_id("ORD-1001", 0));
        assert_eq!(a.len(), MAX_ORDER_ID);
        assert_ne!(a, order_id("ORD-1001", 1));
        assert_ne!(a, order_id("ORD-1002", 0));
    }

    #[test]
    fn the_seed_answers() {
        let ok = br#"{"token":"pse-c542f18edadb441d8b4639edbfb566e5","order_id":"abc-123","status":"pending",
            "bank_url":"https://registro.desarrollo.pse.com.co/PSENF/index.html?enc=x"}"#;
        assert!(matches!(
            parse_answer(201, ok, ORDER),
            Ok(Outcome::Created(_))
        ));
        let refused = br#"{"error_message":"Objeto con code=XXXX no existe.","field":"bank_code","value":"XXXX"}"#;
        match parse_answer(422, refused, ORDER) {
            Err(CreateError::Rejected { field, .. }) => {
                assert_eq!(field.as_deref(), Some("bank_code"))
            }
            _ => panic!("not a rejection"),
        }
        let exists =
            br#"{"error_message":"The charge already exist","field":"order_id","value":"abc-123"}"#;
        assert!(matches!(
            parse_answer(408, exists, ORDER),
            Err(CreateError::Unresolvable { .. })
        ));
        let named = br#"{"error_message":"The charge already exist","token":"pse-1"}"#;
        assert!(
            matches!(parse_answer(408, named, ORDER), Ok(Outcome::AlreadyExists(t)) if t == "pse-1")
        );
        let other = br#"{"token":"pse-1","order_id":"zzz","bank_url":"https://x"}"#;
        assert!(matches!(
            parse_answer(201, other, ORDER),
            Err(CreateError::Unresolvable { .. })
        ));
        assert!(matches!(
            parse_answer(500, b"", ORDER),
            Err(CreateError::Unavailable { .. })
        ));
    }

    #[test]
    fn the_seed_bank_list() {
        let banks =
            parse_banks(br#"[{"name":"BAN100","code":"1558"},{"name":"BANCAMIA","code":"1059"}]"#)
                .unwrap();
        assert_eq!(
            banks[1],
            Bank {
                code: "1059".into(),
                name: "BANCAMIA".into()
            }
        );
    }

    proptest! {
        #[test]
        fn any_answer_never_panics(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_answer(status, &body, ORDER);
            let _ = parse_banks(&body);
        }
    }
}
