//! Re-querying a provider: what it reports, how calls fail, and the record of
//! every call made (stored in `provider_checks`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;

use crate::domain::{Money, OrderState, Provider};

/// What the provider's own API says about one payment. Never built from a webhook body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentReport {
    pub provider: Provider,
    /// The id an order registers (`provider_payment_id`): intent id, payment intent id, charge token.
    pub payment_id: String,
    /// The provider's status string, as reported.
    pub status: String,
    /// The order state that status maps to (docs/ARCHITECTURE.md, "Status mapping"): pending, processing, paid or failed.
    pub maps_to: OrderState,
    /// The amount the provider reports, parsed exactly; `None` if it reported none.
    pub amount: Option<Money>,
    /// A distinct movement of money (a Belvo INFLOW transaction id); two for one order is a duplicate payment.
    pub settlement_id: Option<String>,
    pub pse_cus: Option<String>,
    pub bank_code: Option<String>,
}

/// Why a check did not produce a report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Timeouts, connection failures, 408, 429, 5xx: try again later.
    #[error("{reason} (retryable)")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// 400, 401 after a token refresh, 403, 404, 422, an unexpected body: retrying cannot help.
    #[error("{reason}")]
    Final { reason: String },
}

impl CheckError {
    pub fn final_(reason: impl Into<String>) -> Self {
        CheckError::Final {
            reason: reason.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, CheckError::Retryable { .. })
    }
}

/// One HTTP call to a provider, as stored in `provider_checks`. `Debug` leaves
/// out the body: provider responses carry payer names and documents.
#[derive(Clone)]
pub struct RecordedCall {
    pub provider: Provider,
    pub object_id: String,
    pub method: &'static str,
    pub path: String,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub error: Option<String>,
    pub latency: Duration,
}

impl std::fmt::Debug for RecordedCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordedCall")
            .field("provider", &self.provider)
            .field("object_id", &self.object_id)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("status", &self.status)
            .field("body_bytes", &self.body.as_ref().map(String::len))
            .field("error", &self.error)
            .field("latency", &self.latency)
            .finish()
    }
}

/// Responses larger than this are refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// Stored bodies are truncated to this.
const MAX_STORED_BODY: usize = 64 * 1024;

pub enum Auth<'a> {
    Bearer(&'a str),
    Basic(&'a str, &'a str),
}

pub fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A request about to be sent, and how to record it.
pub struct Call<'a> {
    pub provider: Provider,
    pub object_id: &'a str,
    pub method: &'static str,
    pub base_url: &'a str,
    pub path: String,
    pub auth: Auth<'a>,
    /// Form fields for a POST (the Tpaga token grant).
    pub form: Option<&'a [(&'a str, &'a str)]>,
    /// Store `[redacted]` instead of the body (it carries a credential).
    pub redact_body: bool,
}

/// A successful (2xx) response body.
pub struct Fetched {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Sends `call`, records it into `calls`, and classifies the outcome. Only a
/// 2xx is `Ok`; everything else is a [`CheckError`] of the right kind. The
/// `Err` side also carries the status, so a caller can react to a 401.
pub async fn send(
    client: &reqwest::Client,
    call: Call<'_>,
    calls: &mut Vec<RecordedCall>,
) -> Result<Fetched, (Option<StatusCode>, CheckError)> {
    let url = format!("{}{}", call.base_url, call.path);
    let mut request = match call.method {
        "POST" => client.post(&url),
        _ => client.get(&url),
    };
    request = match call.auth {
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Basic(user, password) => {
            request.header("Authorization", basic_header(user, password))
        }
    };
    if let Some(form) = call.form {
        request = request.form(form);
    }
    request = request.header("Accept", "application/json");
    let started = Instant::now();
    let outcome = match request.send().await {
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get("Retry-After")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(3600)));
            match read_limited(response).await {
                Ok(body) => Ok((status, retry_after, body)),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(describe(&e)),
    };
    let latency = started.elapsed();
    let mut record = RecordedCall {
        provider: call.provider,
        object_id: call.object_id.to_owned(),
        method: call.method,
        path: call.path,
        status: None,
        body: None,
        error: None,
        latency,
    };
    let result = match outcome {
        Err(reason) => {
            record.error = Some(reason.clone());
            Err((
                None,
                CheckError::Retryable {
                    reason,
                    retry_after: None,
                },
            ))
        }
        Ok((status, retry_after, body)) => {
            record.status = Some(status.as_u16());
            record.body = Some(if call.redact_body {
                "[redacted: carries a credential]".to_owned()
            } else {
                let text = String::from_utf8_lossy(&body);
                text.chars().take(MAX_STORED_BODY).collect()
            });
            classify(status, retry_after)
                .map(|()| Fetched { status, body })
                .map_err(|e| (Some(status), e))
        }
    };
    calls.push(record);
    result
}

fn classify(status: StatusCode, retry_after: Option<Duration>) -> Result<(), CheckError> {
    let code = status.as_u16();
    match code {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(CheckError::Retryable {
            reason: format!("HTTP {code}"),
            retry_after: if code == 429 { retry_after } else { None },
        }),
        _ => Err(CheckError::final_(format!("HTTP {code}"))),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection failed".to_owned()
    } else {
        // reqwest's message may include the URL; ours carry no credentials.
        format!("request failed: {e}")
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!("response larger than {MAX_RESPONSE_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Refuses an id before it goes into a request path: only the conservative
/// charset of [`crate::providers::webhook::safe_id`] may reach a URL, whatever
/// the id came from (a webhook, an order, another provider response).
pub fn path_id<'a>(id: &'a str, what: &str) -> Result<&'a str, CheckError> {
    if crate::providers::webhook::safe_id(id) {
        Ok(id)
    } else {
        Err(CheckError::final_(format!(
            "{what} id is not a safe provider id; not requested"
        )))
    }
}

/// A response about another object than the one asked for is not evidence
/// about ours (a misrouted proxy, a provider bug, a replayed body).
pub fn same_id(requested: &str, reported: &str, what: &str) -> Result<(), CheckError> {
    if requested == reported {
        Ok(())
    } else {
        Err(CheckError::final_(format!(
            "the {what} response is about another id than the one requested"
        )))
    }
}

/// Parses a 2xx body, turning a shape we do not understand into a final error.
pub fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, CheckError> {
    serde_json::from_slice(body)
        .map_err(|e| CheckError::final_(format!("unexpected {what} response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_providers_md() {
        for code in [408u16, 429, 500, 502, 503, 504] {
            assert!(
                classify(StatusCode::from_u16(code).unwrap(), None)
                    .unwrap_err()
                    .is_retryable(),
                "{code}"
            );
        }
        for code in [400u16, 401, 403, 404, 409, 422] {
            assert!(
                !classify(StatusCode::from_u16(code).unwrap(), None)
                    .unwrap_err()
                    .is_retryable(),
                "{code}"
            );
        }
        let e = classify(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(7))).unwrap_err();
        assert_eq!(
            e,
            CheckError::Retryable {
                reason: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert!(classify(StatusCode::OK, None).is_ok());
    }

    #[test]
    fn basic_auth_header() {
        assert_eq!(basic_header("a", "b"), "Basic YTpi");
    }
}
