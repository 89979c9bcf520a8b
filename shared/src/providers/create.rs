//! Creating a payment at a provider (`POST /v1/payments`): the request every
//! provider is built from, the outcomes the caller must tell apart, and one
//! JSON sender. Each provider's wire shapes live in `<provider>/create.rs`;
//! the facts they rely on are in docs/PROVIDERS.md ("Creating payments").

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::{Currency, Email, Money, NewOrder, Payer, PayerDocument, Provider, Reference};
use crate::providers::check::RecordedCall;
use crate::providers::{belvo, mono, tpaga};

/// `natural` or `legal`: Mono `person_type`, Tpaga `user_type`, Belvo `customer_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonType {
    Natural,
    Legal,
}

/// The payer as every provider needs it. Stored (the attempt row keeps it so a
/// retry or the sweeper can send the same body again), never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPayer {
    pub document_type: String,
    /// Canonical form (`PayerDocument::number`).
    pub document_number: String,
    pub email: String,
    pub name: String,
    /// National digits only (`3001234567`); Mono gets `+57` in front.
    pub phone: String,
    pub person_type: PersonType,
}

/// A validated `POST /v1/payments`, in canonical form: its JSON is what the
/// attempt row stores and what [`PaymentRequest::request_hash`] digests, so
/// the same request sent twice (even formatted differently) is recognised.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRequest {
    pub reference: String,
    pub provider: Provider,
    pub amount_minor: i64,
    pub currency: Currency,
    pub description: Option<String>,
    pub payer: PaymentPayer,
    pub bank_code: Option<String>,
    pub payer_ip: Option<String>,
    pub redirect_url: String,
}

/// Payer data, e-mail, phone and IP are personal: `Debug` names the shape only.
impl fmt::Debug for PaymentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentRequest")
            .field("reference", &self.reference)
            .field("provider", &self.provider)
            .field("amount_minor", &self.amount_minor)
            .field("bank_code", &self.bank_code)
            .field("payer", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl PaymentRequest {
    pub fn request_hash(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }

    /// The order this payment registers once the provider named its id.
    pub fn new_order(&self, provider_payment_id: &str) -> Result<NewOrder, String> {
        let document = PayerDocument::parse(&self.payer.document_type, &self.payer.document_number)
            .map_err(|e| format!("stored payer document: {e}"))?;
        Ok(NewOrder {
            reference: Reference::parse(&self.reference).map_err(str::to_owned)?,
            provider: self.provider,
            provider_payment_id: provider_payment_id.to_owned(),
            amount: Money::new(self.amount_minor, self.currency).map_err(|e| e.to_string())?,
            description: self.description.clone(),
            payer: Some(Payer {
                document,
                email: Email::parse(&self.payer.email).ok(),
                name: Some(self.payer.name.clone()),
            }),
        })
    }

    /// The text a provider shows the payer: the description, else the reference.
    pub fn label(&self) -> &str {
        self.description.as_deref().unwrap_or(&self.reference)
    }
}

/// What a finished creation gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The id the order registers (intent id, payment intent id, charge token).
    pub payment_id: String,
    /// Where the merchant sends the payer.
    pub payment_url: String,
}

/// One step of a creation. Belvo needs two calls; the customer id of the
/// first is committed before the second, so a retry never makes a second customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done(Created),
    BelvoCustomer(String),
}

/// What the attempt row holds that a call must reuse.
#[derive(Debug, Clone, Default)]
pub struct AttemptKeys {
    /// Mono `x-idempotency-key`; Tpaga `order_id`.
    pub idempotency_key: String,
    pub customer_id: Option<String>,
}

/// Why a creation did not finish, split by what it means for the payment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// The provider refused the request's content: nothing was created.
    #[error("{provider} refused the request: {message}")]
    Rejected {
        provider: Provider,
        field: Option<String>,
        message: String,
    },
    /// The provider refused us (credentials, permissions): nothing was created,
    /// but the merchant cannot fix it.
    #[error("{provider} refused the call: {reason}")]
    Refused { provider: Provider, reason: String },
    /// The outcome is unknown (timeout, connection lost, 5xx, an answer we
    /// cannot read): the payment may exist. Retry with the same keys.
    #[error("{provider} did not answer usably: {reason}")]
    Unavailable {
        provider: Provider,
        timed_out: bool,
        reason: String,
    },
    /// The provider says the payment exists but not which one (Tpaga 408
    /// without a charge token): it can only be settled by a person.
    #[error("{provider}: {reason}")]
    Unresolvable { provider: Provider, reason: String },
}

/// Credentials and clients for every provider's create calls.
#[derive(Clone)]
pub struct PaymentCreator {
    config: Arc<Config>,
    client: reqwest::Client,
    tpaga_tokens: Arc<tpaga::client::TokenCache>,
}

impl PaymentCreator {
    /// Its own client, with the provider timeouts of `config`.
    pub fn new(config: Arc<Config>) -> Result<Self, reqwest::Error> {
        let client = crate::http::client(config.provider_connect_timeout, config.provider_timeout)?;
        Ok(Self {
            config,
            client,
            tpaga_tokens: Arc::default(),
        })
    }

    /// Why payments for `provider` cannot be created here, naming the variable.
    pub fn disabled_reason(&self, provider: Provider) -> Option<String> {
        if let Some(reason) = self.config.provider_disabled_reason(provider) {
            return Some(format!(
                "{provider} is not enabled on this deployment ({reason})"
            ));
        }
        let missing = match provider {
            Provider::Mono => self
                .config
                .mono
                .account_id
                .is_none()
                .then_some("MONO_ACCOUNT_ID"),
            Provider::Belvo => self
                .config
                .belvo
                .beneficiary_account
                .is_none()
                .then_some("BELVO_BENEFICIARY_ACCOUNT"),
            Provider::Tpaga => None,
        };
        missing.map(|v| format!("{provider} payments need {v}, which is not set"))
    }

    /// Makes the next call of the creation of `req`, appending every provider
    /// call it made to `calls` with the payer's details and our credentials
    /// scrubbed from the stored answers (evidence shows them; docs/ARCHITECTURE.md,
    /// "Payment attempts").
    pub async fn step(
        &self,
        req: &PaymentRequest,
        keys: &AttemptKeys,
        calls: &mut Vec<RecordedCall>,
    ) -> Result<Step, CreateError> {
        let from = calls.len();
        let result = match req.provider {
            Provider::Mono => {
                mono::create::create(&self.client, &self.config.mono, req, keys, calls)
                    .await
                    .map(Step::Done)
            }
            Provider::Tpaga => tpaga::create::create(
                &self.client,
                &self.config.tpaga,
                &self.tpaga_tokens,
                req,
                &keys.idempotency_key,
                calls,
            )
            .await
            .map(Step::Done),
            Provider::Belvo => match &keys.customer_id {
                None => {
                    belvo::create::create_customer(&self.client, &self.config.belvo, req, calls)
                        .await
                        .map(Step::BelvoCustomer)
                }
                Some(customer) => belvo::create::create_link(
                    &self.client,
                    &self.config.belvo,
                    req,
                    customer,
                    calls,
                )
                .await
                .map(Step::Done),
            },
        };
        let hidden = self.hidden_values(req);
        for call in calls.iter_mut().skip(from) {
            if let Some(body) = call.body.as_mut() {
                *body = scrub(body, &hidden);
            }
        }
        result
    }

    /// Values a stored answer must never show: the payer's, and our credentials.
    fn hidden_values<'a>(&'a self, req: &'a PaymentRequest) -> Vec<&'a str> {
        let p = &req.payer;
        let mut values = vec![
            p.document_number.as_str(),
            p.email.as_str(),
            p.name.as_str(),
            p.phone.as_str(),
        ];
        values.extend(req.payer_ip.as_deref());
        let secrets = [
            &self.config.mono.api_key,
            &self.config.belvo.secret_id,
            &self.config.belvo.secret_password,
            &self.config.tpaga.client_secret,
        ];
        values.extend(secrets.into_iter().flatten().map(|s| s.expose()));
        values.retain(|v| !v.is_empty());
        values
    }

    /// Tpaga's published bank list.
    pub async fn tpaga_banks(&self) -> Result<Vec<tpaga::create::Bank>, CreateError> {
        tpaga::create::banks(&self.client, &self.config.tpaga, &self.tpaga_tokens).await
    }
}

/// Responses larger than this are not read: a create answer is a few KiB.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// A provider's answer to a create call, whatever its status.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub latency: Duration,
}

pub enum Body<'a> {
    Json(&'a serde_json::Value),
    None,
}

/// Sends one call to `path` and records it into `calls` (as stored in
/// `provider_checks`; [`PaymentCreator::step`] scrubs the bodies). Only a
/// transport failure is an `Err` (always [`CreateError::Unavailable`]: the
/// provider may have acted on it).
pub async fn send(
    provider: Provider,
    path: &str,
    request: reqwest::RequestBuilder,
    body: Body<'_>,
    calls: &mut Vec<RecordedCall>,
) -> Result<Answer, CreateError> {
    let method = match body {
        Body::Json(_) => "POST",
        Body::None => "GET",
    };
    let started = Instant::now();
    let result = exchange(provider, request, body).await;
    let latency = started.elapsed();
    calls.push(RecordedCall {
        provider,
        object_id: String::new(),
        method,
        path: path.to_owned(),
        status: result.as_ref().ok().map(|(status, _)| *status),
        body: result.as_ref().ok().map(|(_, body)| {
            String::from_utf8_lossy(body)
                .chars()
                .take(MAX_STORED_BODY)
                .collect()
        }),
        error: result.as_ref().err().map(ToString::to_string),
        latency,
    });
    let (status, body) = result?;
    Ok(Answer {
        status,
        body,
        latency,
    })
}

/// Stored answers are cut to this (a create answer is a few KiB).
const MAX_STORED_BODY: usize = 64 * 1024;

async fn exchange(
    provider: Provider,
    request: reqwest::RequestBuilder,
    body: Body<'_>,
) -> Result<(u16, Vec<u8>), CreateError> {
    let request = match body {
        Body::Json(v) => request.json(v),
        Body::None => request,
    };
    let unavailable = |e: reqwest::Error| CreateError::Unavailable {
        provider,
        timed_out: e.is_timeout(),
        reason: if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "connection failed".to_owned()
        } else {
            "the connection failed mid-request".to_owned()
        },
    };
    let mut response = request
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(unavailable)?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(unavailable)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(CreateError::Unavailable {
                provider,
                timed_out: false,
                reason: format!("answer larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The classification every provider shares for statuses it does not document
/// otherwise: 401/403 refused us, 408/429/5xx may have acted.
pub fn unexpected(provider: Provider, status: u16) -> CreateError {
    match status {
        401 | 403 => CreateError::Refused {
            provider,
            reason: format!("HTTP {status}: check the API credentials"),
        },
        _ => CreateError::Unavailable {
            provider,
            timed_out: status == 408 || status == 504,
            reason: format!("HTTP {status}"),
        },
    }
}

/// A 2xx body we cannot read: the payment may exist, so the outcome is unknown.
pub fn unreadable(provider: Provider, what: &str) -> CreateError {
    CreateError::Unavailable {
        provider,
        timed_out: false,
        reason: format!("the {what} answer could not be read"),
    }
}

/// Provider messages end up in our answers and rows: bounded, control characters dropped.
pub fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(500).collect()
}

/// Keys whose values are the payer's in any provider's create answer.
const PAYER_KEYS: &[&str] = &[
    "document_number",
    "identifier",
    "email",
    "buyer_email",
    "name",
    "buyer_full_name",
    "phone",
    "phone_number",
    "buyer_phone_number",
    "ip",
];

/// `body` with every `hidden` value and every payer field replaced by
/// `[redacted]`: string leaves of a JSON body (so escaping cannot hide a
/// value), the raw text otherwise.
pub fn scrub(body: &str, hidden: &[&str]) -> String {
    const REDACTED: &str = "[redacted]";
    fn text(s: &str, hidden: &[&str]) -> String {
        hidden
            .iter()
            .fold(s.to_owned(), |acc, h| acc.replace(h, REDACTED))
    }
    fn walk(v: &mut serde_json::Value, hidden: &[&str]) {
        match v {
            serde_json::Value::String(s) => *s = text(s, hidden),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| walk(i, hidden)),
            serde_json::Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if PAYER_KEYS.contains(&key.as_str()) && !value.is_null() {
                        *value = serde_json::Value::from(REDACTED);
                    } else {
                        walk(value, hidden);
                    }
                }
            }
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(mut v) => {
            walk(&mut v, hidden);
            v.to_string()
        }
        Err(_) => text(body, hidden),
    }
}

/// Centavos as Tpaga's decimal-peso string (`1000000` → `"10000.00"`).
pub fn decimal_pesos(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_pesos_are_exact() {
        assert_eq!(decimal_pesos(1_000_000), "10000.00");
        assert_eq!(decimal_pesos(100_001), "1000.01");
        assert_eq!(decimal_pesos(4_000_000_000), "40000000.00");
    }

    #[test]
    fn scrub_hides_payer_fields_and_named_values_however_encoded() {
        let body = r#"{"id":"cint_1","payer":{"document_number":"1033711400","email":"ana@example.com"},
            "note":"for ana\u0040example.com","echo":[{"secret":"sk_live_x"}]}"#;
        let out = scrub(body, &["ana@example.com", "sk_live_x"]);
        for hidden in ["1033711400", "ana@example.com", "sk_live_x", "ana\\u0040"] {
            assert!(!out.contains(hidden), "{hidden} in {out}");
        }
        assert!(out.contains("cint_1"), "{out}");
        assert_eq!(
            scrub("not json ana@example.com", &["ana@example.com"]),
            "not json [redacted]"
        );
    }

    #[test]
    fn clip_bounds_provider_text() {
        assert_eq!(clip("a\u{0}b\nc"), "abc");
        assert_eq!(clip(&"x".repeat(9000)).len(), 500);
    }
}
