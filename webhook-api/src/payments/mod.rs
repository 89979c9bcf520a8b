//! `POST /v1/payments` (create the payment at the provider and register its
//! order) and `GET /v1/banks` (the PSE banks a payer can choose).

mod banks;
pub mod flow;
mod request;

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use shared::Config;
use shared::db::orders::OrderJson;
use shared::providers::create::PaymentCreator;

use crate::auth::{Access, Caller};
use crate::body::{read_limited, require_json};
use crate::error::ApiError;
use crate::extract::{FieldErrors, ProviderParam};
use crate::routes::Mount;
use crate::state::AppState;

/// Payment bodies are small; anything near this is a mistake.
const PAYMENT_BODY_LIMIT: usize = 64 * 1024;

/// What the payments routes keep between requests.
pub struct Payments {
    pub creator: PaymentCreator,
    banks: banks::BankCache,
}

impl Payments {
    pub fn new(config: Arc<Config>) -> Result<Self, shared::bootstrap::BootError> {
        Ok(Self {
            creator: PaymentCreator::new(config).map_err(shared::bootstrap::BootError::Http)?,
            banks: banks::BankCache::default(),
        })
    }
}

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::POST, "/v1/payments", create)
        .add(Method::GET, "/v1/banks", list_banks);
}

#[derive(Serialize)]
struct PaymentAnswer<'a> {
    order: &'a OrderJson,
    payment_url: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

/// 201 when this request created the payment, 200 when it repeats one already created.
#[utoipa::path(
    post,
    path = "/v1/payments",
    tag = "payments",
    description = "Create the payment at the provider (Mono collection intent, Belvo payment link, Tpaga \
        charge) and register its order, in one step. The same request again never creates a second \
        provider payment. Roles: merchant, admin.",
    request_body(content = crate::openapi::schemas::NewPaymentBody, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Created; send the payer to `payment_url`", body = crate::openapi::schemas::PaymentAnswer),
        (status = 200, description = "The same request again: the same payment", body = crate::openapi::schemas::PaymentAnswer),
        (status = 400, description = "`malformed_payload`: not JSON, or not an object", body = crate::openapi::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send Content-Type: application/json", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 409, description = "`reference_conflict`: the reference exists with another body, or \
            POST /v1/orders registered it (the provider is not called); \
            `payment_in_progress`: another request is creating it, send it again shortly; \
            `payment_abandoned`: the provider's outcome could not be established (finance has an exception)", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed`; `provider_disabled`; \
            `provider_rejected`: the provider refused the content, nothing was created (its field in fields)", body = crate::openapi::ErrorBody),
        (status = 502, description = "`provider_unavailable`: the provider failed; the same request again is safe", body = crate::openapi::ErrorBody),
        (status = 504, description = "`provider_unavailable`: the provider timed out; the same request again is safe", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the database is unavailable; retry after Retry-After", body = crate::openapi::ErrorBody),
    )
)]
async fn create(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::CreateOrders)?;
    require_json(&req, false)?;
    let body = read_limited(&req, payload, PAYMENT_BODY_LIMIT).await?;
    let parsed = request::parse(&body)?;
    let paid = flow::pay(&state, parsed.request).await?;
    let answer = PaymentAnswer {
        order: &paid.order,
        payment_url: &paid.payment_url,
        warnings: &parsed.warnings,
    };
    Ok(if paid.created {
        HttpResponse::Created()
            .insert_header((LOCATION, format!("/v1/orders/{}", paid.order.reference)))
            .json(answer)
    } else {
        HttpResponse::Ok().json(answer)
    })
}

#[derive(Deserialize)]
struct BanksQuery {
    provider: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/banks",
    tag = "payments",
    description = "The PSE banks a payer can choose, cached; `X-Banks-Stale: true` when the provider could \
        not be asked and the last list is served. Roles: merchant, admin.",
    params(("provider" = String, Query, description = "`mono`, `belvo` or `tpaga`")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The banks", body = Vec<crate::openapi::schemas::Bank>),
        (status = 400, description = "`malformed_payload`: the query string cannot be read", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed`: missing or unknown provider; `provider_disabled`; \
            `bank_list_not_published`: the provider has no bank list", body = crate::openapi::ErrorBody),
        (status = 502, description = "`provider_unavailable`: the provider failed and nothing is cached", body = crate::openapi::ErrorBody),
        (status = 504, description = "`provider_unavailable`: the provider timed out and nothing is cached", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
    )
)]
async fn list_banks(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::CreateOrders)?;
    let q: BanksQuery = crate::body::query(&req)?;
    let mut errors = FieldErrors::default();
    let provider = ProviderParam::parse(q.provider.as_deref(), &mut errors);
    if provider.is_none() && q.provider.as_deref().is_none_or(str::is_empty) {
        errors.push("provider", "is required");
    }
    let provider = errors
        .finish(provider)?
        .ok_or_else(|| ApiError::validation("provider", "is required"))?;
    let found = state
        .payments
        .banks
        .get(&state.payments.creator, provider)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("X-Banks-Stale", if found.stale { "true" } else { "false" }))
        .json(found.banks))
}
