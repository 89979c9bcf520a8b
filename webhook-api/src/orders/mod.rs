//! The orders API: register expected payments and read them back.

mod list_query;
pub(crate) mod new_order;

use actix_web::http::Method;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use shared::db::orders::{self, CreateOutcome, OrderJson};

use crate::auth::{Access, Caller};
use crate::body::{read_limited, require_json};
use crate::error::ApiError;
use crate::routes::Mount;
use crate::state::AppState;
use list_query::RawListQuery;

/// Order bodies are small; anything near this is a mistake.
const ORDER_BODY_LIMIT: usize = 64 * 1024;

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::POST, "/v1/orders", create)
        .add(Method::GET, "/v1/orders", list)
        .add(Method::GET, "/v1/orders/{reference}", get);
}

#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    order: &'a OrderJson,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
}

/// 201 for a new order, 200 for a replay of the same request, 409 for a clash.
fn answer_create(outcome: CreateOutcome, warnings: &[String]) -> Result<HttpResponse, ApiError> {
    match outcome {
        CreateOutcome::Created(order) => {
            tracing::info!(reference = %order.reference, provider = %order.provider, "order created");
            Ok(HttpResponse::Created()
                .insert_header((LOCATION, format!("/v1/orders/{}", order.reference)))
                .json(Created {
                    order: &order,
                    warnings,
                }))
        }
        CreateOutcome::Replayed(order) => Ok(HttpResponse::Ok().json(Created {
            order: &order,
            warnings,
        })),
        CreateOutcome::ReferenceConflict => Err(ApiError::Conflict {
            code: "reference_conflict",
            message: "an order with this reference already exists with a different body".to_owned(),
        }),
        CreateOutcome::PaymentIdConflict => Err(ApiError::Conflict {
            code: "provider_payment_id_conflict",
            message: "another order already expects this provider payment id".to_owned(),
        }),
    }
}

#[utoipa::path(
    post,
    path = "/v1/orders",
    tag = "orders",
    description = "Register an expected payment already created at the provider. The same request again \
        answers 200 with the same order. Roles: merchant, admin.",
    request_body(content = crate::openapi::schemas::NewOrderBody, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Created; `Location` is the order's URL", body = crate::openapi::schemas::Order),
        (status = 200, description = "A replay of the same request", body = crate::openapi::schemas::Order),
        (status = 400, description = "`malformed_payload`: not JSON, or not an object", body = crate::openapi::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send Content-Type: application/json", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 409, description = "`reference_conflict`: the reference exists with another body, or a \
            POST /v1/payments attempt holds it; \
            `provider_payment_id_conflict`: another order expects this provider payment id", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed` (every invalid field in fields); \
            `provider_disabled`: the provider is not enabled here", body = crate::openapi::ErrorBody),
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
    let body = read_limited(&req, payload, ORDER_BODY_LIMIT).await?;
    let parsed = new_order::parse(&body)?;
    let provider = parsed.order.provider;
    if state.connectors.get(provider).is_none() {
        return Err(ApiError::OrderProviderDisabled(provider.to_string()));
    }
    let first_check_at = chrono::Utc::now()
        + chrono::Duration::from_std(state.config.pending_recheck_after).unwrap_or_default();
    let order = parsed.order;
    let outcome = state
        .db
        .run(move |conn| orders::create(conn, &order, first_check_at))
        .await?;
    answer_create(outcome, &parsed.warnings)
}

#[utoipa::path(
    get,
    path = "/v1/orders/{reference}",
    tag = "orders",
    description = "One order with its state, history and exceptions. Roles: merchant, finance, admin.",
    params(("reference" = String, Path, description = "The merchant's order reference")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The order", body = crate::openapi::schemas::Order),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 404, description = "`not_found`", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the database is unavailable; retry after Retry-After", body = crate::openapi::ErrorBody),
    )
)]
async fn get(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadOrders)?;
    let reference = path.into_inner();
    let found = state
        .db
        .run(move |conn| orders::find_by_reference(conn, &reference))
        .await?;
    found
        .map(|o| HttpResponse::Ok().json(o))
        .ok_or_else(|| ApiError::NotFound("order".to_owned()))
}

#[derive(Serialize)]
struct ListResponse {
    data: Vec<OrderJson>,
    next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "orders",
    description = "Orders, newest first, a page at a time. Roles: merchant, finance, admin.",
    params(
        ("state" = Option<String>, Query, description = "`pending`, `processing`, `paid`, `failed`, `expired` or `needs_review`"),
        ("provider" = Option<String>, Query, description = "`mono`, `belvo` or `tpaga`"),
        ("from" = Option<String>, Query, description = "Created at or after: a date (YYYY-MM-DD, Bogota) or an RFC 3339 timestamp"),
        ("to" = Option<String>, Query, description = "Created before; a date means through the end of that day"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A page of orders", body = crate::openapi::schemas::OrderPage),
        (status = 400, description = "`malformed_payload`: the query string cannot be read", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed`: every invalid parameter in fields", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the database is unavailable; retry after Retry-After", body = crate::openapi::ErrorBody),
    )
)]
async fn list(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadOrders)?;
    let raw: RawListQuery = crate::body::query(&req)?;
    let q = raw.parse()?;
    let page = state
        .db
        .run(move |conn| orders::list(conn, &q.filter, q.cursor, q.limit))
        .await?;
    Ok(HttpResponse::Ok().json(ListResponse {
        data: page.orders,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}
