//! Admin API: `GET /v1/admin/dead-letters`, `POST /v1/admin/dead-letters/replay`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::db::dead_letters::{self, Selection};

use crate::auth::{Access, Caller};
use crate::body::{read_limited, require_json};
use crate::error::ApiError;
use crate::extract::{FieldErrors, RawPage};
use crate::routes::Mount;
use crate::state::AppState;

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/v1/admin/dead-letters", list).add(
        Method::POST,
        "/v1/admin/dead-letters/replay",
        replay,
    );
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    #[serde(flatten)]
    page: RawPage,
}

#[utoipa::path(
    get,
    path = "/v1/admin/dead-letters",
    tag = "admin",
    description = "Messages the reconciler gave up on, newest first. Roles: admin.",
    params(
        ("status" = Option<String>, Query, description = "`pending` (default) or `all`"),
        ("limit" = Option<i64>, Query, description = "1 to 500 (default 50)"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The dead letters", body = crate::openapi::schemas::DeadLetterPage),
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
    caller.require(Access::Operate)?;
    let q: ListQuery = crate::body::query(&req)?;
    let mut errors = FieldErrors::default();
    let pending_only = match q.status.as_deref() {
        None | Some("") | Some("pending") => true,
        Some("all") => false,
        Some(_) => {
            errors.push("status", "must be pending or all");
            true
        }
    };
    // Newest first and no cursor: the list is what an operator works through, not an archive.
    let limit = q.page.limit(&mut errors);
    errors.finish(())?;
    let rows = state
        .db
        .run(move |conn| dead_letters::list(conn, pending_only, limit))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "data": rows })))
}

/// `{"all": true}` (`None`: every pending letter) or `{"ids": [..]}` (1 to 1000 ids).
fn parse_selection(body: &[u8]) -> Result<Option<Vec<i64>>, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedPayload(format!("the body is not valid JSON: {e}")))?;
    let all = v.get("all").and_then(Value::as_bool).unwrap_or(false);
    let ids: Option<Vec<i64>> = match v.get("ids") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(Value::as_i64)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ApiError::validation("ids", "must be an array of dead letter ids")
                })?,
        ),
        Some(_) => {
            return Err(ApiError::validation(
                "ids",
                "must be an array of dead letter ids",
            ));
        }
    };
    match (all, ids) {
        (false, Some(ids)) if !ids.is_empty() && ids.len() <= 1000 => Ok(Some(ids)),
        (true, None) => Ok(None),
        _ => Err(ApiError::validation(
            "ids",
            "give either {\"all\": true} or {\"ids\": [1, 2]} (at most 1000 ids)",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/v1/admin/dead-letters/replay",
    tag = "admin",
    description = "Queue dead letters again; replaying one twice is harmless. Roles: admin.",
    request_body(content = crate::openapi::schemas::ReplayBody, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "What was queued again", body = crate::openapi::schemas::ReplayAnswer),
        (status = 400, description = "`malformed_payload`: not JSON", body = crate::openapi::ErrorBody),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: send Content-Type: application/json", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed`: neither all nor 1 to 1000 ids", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the database is unavailable; retry after Retry-After", body = crate::openapi::ErrorBody),
    )
)]
async fn replay(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::Operate)?;
    require_json(&req, false)?;
    let body = read_limited(&req, payload, 64 * 1024).await?;
    let selection_ids = parse_selection(&body)?;
    let outcome = state
        .db
        .run(move |conn| {
            let selection = match &selection_ids {
                Some(ids) => Selection::Ids(ids),
                None => Selection::AllPending,
            };
            dead_letters::replay(conn, selection)
        })
        .await?;
    if !outcome.replayed.is_empty() {
        state.relay.publish_now(outcome.messages.clone());
        tracing::info!(replayed = outcome.replayed.len(), by = %caller.label(), "dead letters replayed");
    }
    Ok(HttpResponse::Ok().json(outcome))
}
