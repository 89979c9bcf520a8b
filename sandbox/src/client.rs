//! A typed client for the admin API, for tests in other crates and the `pay` command.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::admin_api::{
    AddedTransaction, CreatedPayment, Delivered, Fault, FoundPayment, Latency, NewPayment,
    NewTransaction, Stats, StatusChange, StatusChanged, WebhookRequest, WebhookTarget,
};

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("admin API answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

/// Talks to one sandbox's `/_sandbox/` API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    base_url: String,
    http: Result<reqwest::Client, String>,
}

impl AdminClient {
    /// `base_url` is the sandbox root, e.g. `http://127.0.0.1:9999`.
    pub fn new(base_url: &str) -> Self {
        // Generous total timeout: admin calls wait for webhook deliveries to answer.
        let http = shared::http::client(Duration::from_secs(5), Duration::from_secs(120))
            .map_err(|e| e.to_string());
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The sandbox root this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn http(&self) -> Result<&reqwest::Client, AdminError> {
        self.http
            .as_ref()
            .map_err(|e| AdminError::Client(e.clone()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/_sandbox{path}", self.base_url)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AdminError> {
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(AdminError::Status {
                status: status.as_u16(),
                body,
            });
        }
        Ok(response.json().await?)
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, AdminError> {
        self.send(self.http()?.post(self.url(path)).json(body))
            .await
    }

    async fn put<B: Serialize>(&self, path: &str, body: &B) -> Result<(), AdminError> {
        self.send::<serde_json::Value>(self.http()?.put(self.url(path)).json(body))
            .await
            .map(drop)
    }

    /// Ok once the sandbox answers (useful to wait for a separately started binary).
    pub async fn health(&self) -> Result<(), AdminError> {
        self.send::<serde_json::Value>(self.http()?.get(self.url("/health")))
            .await
            .map(drop)
    }

    /// Where webhooks go from now on, and the credentials they carry.
    pub async fn set_webhook_target(&self, target: &WebhookTarget) -> Result<(), AdminError> {
        self.put("/webhook-target", target).await
    }

    /// Creates a provider object directly, in the provider's initial status.
    pub async fn create_payment(
        &self,
        provider: &str,
        amount_minor: i64,
    ) -> Result<CreatedPayment, AdminError> {
        self.create_payment_with(&NewPayment {
            provider: provider.to_owned(),
            amount_minor,
            reference: None,
        })
        .await
    }

    /// [`Self::create_payment`] with every field (e.g. a `reference`).
    pub async fn create_payment_with(
        &self,
        payment: &NewPayment,
    ) -> Result<CreatedPayment, AdminError> {
        self.post("/payments", payment).await
    }

    /// The payments `provider` holds for `reference` (Mono `reference`, Belvo
    /// `metadata.reference`, Tpaga `order_id`), oldest first, however they were created.
    pub async fn find_payments(
        &self,
        provider: &str,
        reference: &str,
    ) -> Result<Vec<FoundPayment>, AdminError> {
        let url = reqwest::Url::parse_with_params(
            &self.url("/payments"),
            &[("provider", provider), ("reference", reference)],
        )
        .map_err(|e| AdminError::Client(e.to_string()))?;
        self.send(self.http()?.get(url)).await
    }

    /// Moves a payment to a provider status and delivers the webhooks that move triggers.
    pub async fn set_status(
        &self,
        provider: &str,
        id: &str,
        change: &StatusChange,
    ) -> Result<StatusChanged, AdminError> {
        self.post(&format!("/payments/{provider}/{id}/status"), change)
            .await
    }

    /// Delivers a webhook without changing what the API reports (duplicates, forgeries).
    pub async fn deliver_webhook(
        &self,
        provider: &str,
        id: &str,
        req: &WebhookRequest,
    ) -> Result<Delivered, AdminError> {
        self.post(&format!("/payments/{provider}/{id}/webhook"), req)
            .await
    }

    /// Another INFLOW transaction for a Belvo payment intent (a duplicate payment).
    pub async fn add_belvo_transaction(
        &self,
        pi_id: &str,
        amount_minor: i64,
    ) -> Result<AddedTransaction, AdminError> {
        let body = NewTransaction {
            amount_minor: Some(amount_minor),
        };
        self.post(&format!("/payments/belvo/{pi_id}/transactions"), &body)
            .await
    }

    /// Makes the next calls to a provider fail or stall.
    pub async fn fault(&self, fault: &Fault) -> Result<(), AdminError> {
        self.post::<_, serde_json::Value>("/faults", fault)
            .await
            .map(drop)
    }

    /// Drops every pending fault.
    pub async fn clear_faults(&self) -> Result<(), AdminError> {
        self.send::<serde_json::Value>(self.http()?.delete(self.url("/faults")))
            .await
            .map(drop)
    }

    /// Delays every provider API response (0 to stop).
    pub async fn set_latency(&self, millis: u64) -> Result<(), AdminError> {
        self.put("/latency", &Latency { millis }).await
    }

    /// Call counts per provider route, and Tpaga tokens issued.
    pub async fn stats(&self) -> Result<Stats, AdminError> {
        self.send(self.http()?.get(self.url("/stats"))).await
    }

    /// Calls so far to `route` (the pattern, e.g. `/v1/collection_intents/{id}`) of `provider`.
    pub async fn calls(&self, provider: &str, route: &str) -> Result<u64, AdminError> {
        Ok(self.stats().await?.calls_to(provider, route))
    }

    /// Invalidates every Tpaga access token issued so far.
    pub async fn revoke_tpaga_tokens(&self) -> Result<(), AdminError> {
        self.post::<_, serde_json::Value>("/tpaga/revoke-tokens", &serde_json::json!({}))
            .await
            .map(drop)
    }

    /// Forgets payments, faults, latency, stats and tokens (the webhook target stays).
    pub async fn reset(&self) -> Result<(), AdminError> {
        self.post::<_, serde_json::Value>("/reset", &serde_json::json!({}))
            .await
            .map(drop)
    }
}
