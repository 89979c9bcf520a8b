//! Admin API: `GET /v1/admin/dead-letters`, `POST /v1/admin/dead-letters/replay`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::db::dead_letters::{self, Selection};

use crate::auth::{Access, Caller};
use crate::body::{read_limited, require_json};
use crate::error::ApiError;
use crate::extract::{FieldErrors, RawPage};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/admin/dead-letters", web::get().to(list))
        .route("/v1/admin/dead-letters/replay", web::post().to(replay));
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
    #[serde(flatten)]
    page: RawPage,
}

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
