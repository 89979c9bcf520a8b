//! The exception queue: `GET /v1/exceptions`, `POST /v1/exceptions/{id}/resolve`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::db::exceptions::{self, ExceptionView, Filter, Resolved, Status};
use shared::domain::ExceptionKind;

use crate::auth::{Access, Caller};
use crate::body::{read_limited, require_json};
use crate::error::ApiError;
use crate::extract::{FieldErrors, Pagination, ProviderParam, RawPage};
use crate::routes::Mount;
use crate::state::AppState;

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/v1/exceptions", list).add(
        Method::POST,
        "/v1/exceptions/{id}/resolve",
        resolve,
    );
}

#[derive(Deserialize)]
struct Query {
    status: Option<String>,
    kind: Option<String>,
    provider: Option<String>,
    #[serde(flatten)]
    page: RawPage,
}

#[derive(Serialize)]
struct Page {
    data: Vec<ExceptionView>,
    next_cursor: Option<String>,
}

/// The filter and page size of `GET /v1/exceptions`; every invalid field in one 422.
fn parse_list(q: Query) -> Result<(Filter, i64), ApiError> {
    let mut errors = FieldErrors::default();
    let mut filter = Filter::default();
    match q.status.as_deref() {
        None | Some("") => {}
        Some("open") => filter.status = Some(Status::Open),
        Some("resolved") => filter.status = Some(Status::Resolved),
        Some(_) => errors.push("status", "must be open or resolved"),
    }
    if let Some(k) = q.kind.as_deref().filter(|k| !k.is_empty()) {
        match k.parse::<ExceptionKind>() {
            Ok(k) => filter.kind = Some(k),
            Err(_) => errors.push(
                "kind",
                "is not an exception kind (amount_mismatch, unknown_payment, …)",
            ),
        }
    }
    filter.provider = ProviderParam::parse(q.provider.as_deref(), &mut errors);
    let Pagination { limit, cursor } = q.page.parse::<i64>(&mut errors);
    filter.before_id = cursor;
    errors.finish((filter, limit))
}

#[utoipa::path(
    get,
    path = "/v1/exceptions",
    tag = "exceptions",
    description = "The exception queue, newest first. Roles: finance, admin.",
    params(
        ("status" = Option<String>, Query, description = "`open` or `resolved`; default both"),
        ("kind" = Option<String>, Query, description = "An exception kind: `amount_mismatch`, `unknown_payment`, …"),
        ("provider" = Option<String>, Query, description = "`mono`, `belvo` or `tpaga`"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A page of exceptions", body = crate::openapi::schemas::ExceptionPage),
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
    caller.require(Access::ReadReports)?;
    let q: Query = crate::body::query(&req)?;
    let (filter, limit) = parse_list(q)?;
    let rows = state
        .db
        .run(move |conn| exceptions::list(conn, &filter, limit + 1))
        .await?;
    let more = rows.len() as i64 > limit;
    let data: Vec<ExceptionView> = rows.into_iter().take(limit as usize).collect();
    let next_cursor = if more {
        data.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(Page { data, next_cursor }))
}

/// The resolution note: required, at most 2000 characters, trimmed.
fn parse_note(body: &[u8]) -> Result<String, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedPayload(format!("the body is not valid JSON: {e}")))?;
    match v.get("note") {
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= 2000 => {
            Ok(n.trim().to_owned())
        }
        Some(Value::String(n)) if !n.trim().is_empty() => Err(ApiError::validation(
            "note",
            "must have at most 2000 characters",
        )),
        _ => Err(ApiError::validation(
            "note",
            "is required: say what was done",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/v1/exceptions/{id}/resolve",
    tag = "exceptions",
    description = "Close an exception with a note saying what was done; resolving it again answers the \
        resolved exception unchanged. Roles: finance, admin.",
    params(("id" = i64, Path, description = "The exception's id")),
    request_body(content = crate::openapi::schemas::ResolveBody, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The resolved exception", body = crate::openapi::schemas::Exception),
        (status = 400, description = "`malformed_payload`: not JSON", body = crate::openapi::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send Content-Type: application/json", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 404, description = "`not_found`", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed`: the note is missing, blank or too long", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the database is unavailable; retry after Retry-After", body = crate::openapi::ErrorBody),
    )
)]
async fn resolve(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ResolveExceptions)?;
    let id: i64 = path
        .into_inner()
        .parse()
        .map_err(|_| ApiError::NotFound("exception".to_owned()))?;
    require_json(&req, false)?;
    let body = read_limited(&req, payload, 16 * 1024).await?;
    let note = parse_note(&body)?;
    let who = caller.label();
    let outcome = state
        .db
        .run(move |conn| exceptions::resolve(conn, id, &who, &note))
        .await?;
    match outcome {
        Resolved::Now(view) => {
            tracing::info!(exception = id, kind = %view.kind, by = %caller.label(), "exception resolved");
            Ok(HttpResponse::Ok().json(view))
        }
        Resolved::Already(view) => Ok(HttpResponse::Ok().json(view)),
        Resolved::NotFound => Err(ApiError::NotFound("exception".to_owned())),
    }
}
