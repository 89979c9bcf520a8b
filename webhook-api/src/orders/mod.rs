//! The orders API: register expected payments and read them back.

mod list_query;
pub(crate) mod new_order;

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use shared::db::orders::{self, CreateOutcome, OrderJson};

use crate::auth::{Access, Caller};
use crate::body::{read_limited, require_json};
use crate::error::ApiError;
use crate::state::AppState;
use list_query::RawListQuery;

/// Order bodies are small; anything near this is a mistake.
const ORDER_BODY_LIMIT: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/orders")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(web::resource("/v1/orders/{reference}").route(web::get().to(get)));
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
