//! The product's HTTP API as a merchant and finance use it: create payments,
//! list them, read the reconciliation report, check readiness. Keys are sent
//! as bearer tokens and never appear in errors or output.

use std::time::Duration;

use chrono::NaiveDate;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::summary::{OrderView, Report};

/// Why a call to the product failed.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    #[error("cannot reach {url}: {error}")]
    Unreachable { url: String, error: String },
    #[error("{what}: the product answered {status}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("{what}: unexpected answer: {error}")]
    Decode { what: String, error: String },
}

impl ProductError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ProductError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Worth retrying: no answer, or 5xx/429.
    fn transient(&self) -> bool {
        match self {
            ProductError::Unreachable { .. } => true,
            ProductError::Status { status, .. } => *status >= 500 || *status == 429,
            ProductError::Decode { .. } => false,
        }
    }
}

/// What `POST /v1/payments` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentView {
    pub order: OrderView,
    pub payment_url: String,
}

/// What `POST /v1/orders` needs (and, with the provider's fields, `POST /v1/payments`).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub reference: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub amount_minor: i64,
    pub description: String,
    pub payer_document: String,
    pub payer_email: String,
    pub payer_name: String,
}

impl NewOrder {
    pub fn body(&self) -> Value {
        json!({
            "reference": self.reference,
            "provider": self.provider,
            "provider_payment_id": self.provider_payment_id,
            "amount": {"amount": self.amount_minor, "currency": "COP"},
            "description": self.description,
            "payer": {
                "document_type": "CC",
                "document_number": self.payer_document,
                "email": self.payer_email,
                "name": self.payer_name,
            },
        })
    }
}

impl NewOrder {
    /// The `POST /v1/payments` body: the order without the provider's id,
    /// plus what the providers need (a bank the sandbox lists, the payer's IP,
    /// where the payer returns, a phone and a person type).
    pub fn payment_body(&self) -> Value {
        let mut body = self.body();
        if let Some(obj) = body.as_object_mut() {
            obj.remove("provider_payment_id");
            obj.insert("bank_code".into(), json!("1022"));
            obj.insert("payer_ip".into(), json!("88.221.182.60"));
            obj.insert(
                "redirect_url".into(),
                json!(format!("https://shop.example/orders/{}", self.reference)),
            );
        }
        body["payer"]["phone"] = json!("3000000000");
        body["payer"]["person_type"] = json!("natural");
        body
    }
}

#[derive(Deserialize)]
struct Page {
    data: Vec<OrderView>,
    next_cursor: Option<String>,
}

/// Talks to webhook-api.
#[derive(Clone)]
pub struct Product {
    base: String,
    merchant_key: String,
    finance_key: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Product {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Product")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Attempts for idempotent calls that fail transiently, and the pause between them.
const ATTEMPTS: u32 = 5;
const PAUSE: Duration = Duration::from_millis(500);

impl Product {
    pub fn new(base: &str, merchant_key: &str, finance_key: &str) -> Result<Self, String> {
        let http = shared::http::client(Duration::from_secs(3), Duration::from_secs(30))
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            merchant_key: merchant_key.to_owned(),
            finance_key: finance_key.to_owned(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ProductError> {
        let raw = format!("{}{path}", self.base);
        let mut url = Url::parse(&raw).map_err(|e| ProductError::Unreachable {
            url: raw.clone(),
            error: format!("not a URL: {e}"),
        })?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<(StatusCode, String), ProductError> {
        let response = request
            .send()
            .await
            .map_err(|e| ProductError::Unreachable {
                url: without_query(url),
                error: e.to_string(),
            })?;
        let status = response.status();
        let body = response.text().await.map_err(|e| ProductError::Decode {
            what: what.to_owned(),
            error: e.to_string(),
        })?;
        Ok((status, body))
    }

    /// GET with the finance key, retried while transient; the body of a 2xx.
    async fn get(&self, what: &str, url: Url) -> Result<String, ProductError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self.http.get(url.clone()).bearer_auth(&self.finance_key);
            let result = match self.send(what, request, &url).await {
                Ok((s, body)) if s.is_success() => return Ok(body),
                Ok((s, body)) => Err(ProductError::Status {
                    what: what.to_owned(),
                    status: s.as_u16(),
                    body: truncate(&body),
                }),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if e.transient() && attempt < ATTEMPTS => tokio::time::sleep(PAUSE).await,
                other => return other,
            }
        }
    }

    /// `GET /readyz` answers 200.
    pub async fn ready(&self) -> Result<(), ProductError> {
        let url = self.url("/readyz", &[])?;
        let (status, body) = self
            .send("readiness", self.http.get(url.clone()), &url)
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(ProductError::Status {
                what: "GET /readyz".to_owned(),
                status: status.as_u16(),
                body: truncate(&body),
            })
        }
    }

    /// Creates the payment at the provider and its order in one step, as a
    /// merchant's checkout does (201 created, 200 the same request replayed).
    pub async fn create_payment(&self, order: &NewOrder) -> Result<PaymentView, ProductError> {
        let what = format!("POST /v1/payments {}", order.reference);
        self.post_idempotent(&what, "/v1/payments", &order.payment_body())
            .await
    }

    /// POSTs a body whose repetition is a replay, retrying while transient
    /// (for `POST /v1/payments` a 502/504 is exactly the case to repeat).
    async fn post_idempotent<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &Value,
    ) -> Result<T, ProductError> {
        let what = what.to_owned();
        let url = self.url(path, &[])?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let request = self
                .http
                .post(url.clone())
                .bearer_auth(&self.merchant_key)
                .json(body);
            let result = match self.send(&what, request, &url).await {
                Ok((s, text)) if s == StatusCode::CREATED || s == StatusCode::OK => {
                    return serde_json::from_str(&text).map_err(|e| ProductError::Decode {
                        what: what.clone(),
                        error: e.to_string(),
                    });
                }
                Ok((s, text)) => Err(ProductError::Status {
                    what: what.clone(),
                    status: s.as_u16(),
                    body: truncate(&text),
                }),
                Err(e) => Err(e),
            };
            // The same body again is a replay (200), so retrying is safe.
            match result {
                Err(e) if e.transient() && attempt < ATTEMPTS => tokio::time::sleep(PAUSE).await,
                other => return other,
            }
        }
    }

    /// One order, or None (404).
    pub async fn order(&self, reference: &str) -> Result<Option<OrderView>, ProductError> {
        let what = format!("GET /v1/orders/{reference}");
        let url = self.url(&format!("/v1/orders/{reference}"), &[])?;
        match self.get(&what, url).await {
            Ok(body) => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| ProductError::Decode {
                    what,
                    error: e.to_string(),
                }),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every order created since `from` (RFC 3339), all pages of `GET /v1/orders?limit=200`.
    pub async fn orders_since(&self, from: &str) -> Result<Vec<OrderView>, ProductError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", "200".to_owned()), ("from", from.to_owned())];
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let url = self.url("/v1/orders", &query)?;
            let body = self.get("GET /v1/orders", url).await?;
            let page: Page = serde_json::from_str(&body).map_err(|e| ProductError::Decode {
                what: "GET /v1/orders".to_owned(),
                error: e.to_string(),
            })?;
            out.extend(page.data);
            match page.next_cursor {
                Some(c) if !c.is_empty() => cursor = Some(c),
                _ => return Ok(out),
            }
        }
    }

    /// Checks the finance key: one small list call.
    pub async fn check_finance_key(&self) -> Result<(), ProductError> {
        let url = self.url("/v1/orders", &[("limit", "1".to_owned())])?;
        self.get("GET /v1/orders", url).await.map(drop)
    }

    /// The day's report as JSON; None when the endpoint is not deployed (404).
    pub async fn report(&self, date: NaiveDate) -> Result<Option<Report>, ProductError> {
        let what = "GET /v1/reports/reconciliation";
        let url = self.url(
            "/v1/reports/reconciliation",
            &[
                ("date", date.format("%Y-%m-%d").to_string()),
                ("format", "json".to_owned()),
            ],
        )?;
        match self.get(what, url).await {
            Ok(body) => serde_json::from_str(&body)
                .map(Some)
                .map_err(|e| ProductError::Decode {
                    what: what.to_owned(),
                    error: e.to_string(),
                }),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Error bodies are shown to help diagnose; keep them short.
fn truncate(body: &str) -> String {
    const MAX: usize = 300;
    let body = body.trim();
    if body.len() <= MAX {
        return body.to_owned();
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_body_is_the_documented_shape() {
        let o = NewOrder {
            reference: "r-001-success".to_owned(),
            provider: "mono".to_owned(),
            provider_payment_id: "cint_x".to_owned(),
            amount_minor: 4_590_000,
            description: "d".to_owned(),
            payer_document: "1033711400".to_owned(),
            payer_email: "ana@example.com".to_owned(),
            payer_name: "Ana".to_owned(),
        };
        let b = o.body();
        assert_eq!(b["amount"], json!({"amount": 4_590_000, "currency": "COP"}));
        assert_eq!(b["payer"]["document_type"], "CC");
        assert_eq!(b["provider_payment_id"], "cint_x");
        assert!(shared::domain::Cc::parse(b["payer"]["document_number"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn query_values_are_encoded() {
        let p = Product::new("http://127.0.0.1:8080/", "merchant-key-1", "finance-key-1").unwrap();
        let url = p
            .url(
                "/v1/orders",
                &[
                    ("cursor", "MTc+Lz0=".to_owned()),
                    ("from", "2026-11-21T10:00:00Z".to_owned()),
                ],
            )
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/v1/orders?cursor=MTc%2BLz0%3D&from=2026-11-21T10%3A00%3A00Z"
        );
        assert_eq!(without_query(&url), "http://127.0.0.1:8080/v1/orders");
        let debug = format!("{p:?}");
        assert!(!debug.contains("merchant-key-1") && !debug.contains("finance-key-1"));
    }

    #[test]
    fn long_bodies_are_cut() {
        assert_eq!(truncate(" short "), "short");
        let long = "é".repeat(400);
        let cut = truncate(&long);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= 304);
    }
}
