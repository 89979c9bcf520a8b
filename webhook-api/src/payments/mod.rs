//! `POST /v1/payments` (create the payment at the provider and register its
//! order) and `GET /v1/banks` (the PSE banks a payer can choose).

mod banks;
pub mod flow;
mod request;

use std::sync::Arc;

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

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/payments", web::post().to(create))
        .route("/v1/banks", web::get().to(list_banks));
}

#[derive(Serialize)]
struct PaymentAnswer<'a> {
    order: &'a OrderJson,
    payment_url: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

/// 201 when this request created the payment, 200 when it repeats one already created.
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
