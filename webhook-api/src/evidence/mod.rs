//! `GET /v1/orders/{reference}/evidence?format=json|html`: everything behind an
//! order's state, for disputes (finance and admin keys: bodies hold payer data).
//! The bundle and its digest are built in `shared::evidence`, shared with the CLI.

pub mod page;

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::evidence;

use crate::auth::{Access, Caller};
use crate::error::ApiError;
use crate::routes::Mount;
use crate::state::AppState;

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/v1/orders/{reference}/evidence", get);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Html,
}

#[derive(Deserialize)]
struct Query {
    format: Option<String>,
}

fn parse_format(query: &str) -> Result<Format, ApiError> {
    let q: Query = crate::body::query_str(query)?;
    match q.format.as_deref() {
        None | Some("") | Some("json") => Ok(Format::Json),
        Some("html") => Ok(Format::Html),
        Some(_) => Err(ApiError::validation("format", "must be json or html")),
    }
}

#[utoipa::path(
    get,
    path = "/v1/orders/{reference}/evidence",
    tag = "orders",
    description = "Everything behind an order's state, for disputes: every webhook (raw body, which \
        credential matched), provider query, transition, exception and payment attempt, in time order, \
        sealed with a SHA-256 digest of its canonical JSON (docs/ARCHITECTURE.md, \"Evidence bundle\"). \
        Roles: finance, admin.",
    params(
        ("reference" = String, Path, description = "The merchant's order reference"),
        ("format" = Option<String>, Query, description = "`json` (default) or `html` (a timeline page)"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The sealed bundle, or its timeline page", content(
            (Object = "application/json"),
            (String = "text/html"),
        )),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 404, description = "`not_found`", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed`: every invalid parameter in fields", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`unavailable`: the database is unavailable; retry after Retry-After", body = crate::openapi::ErrorBody),
    )
)]
async fn get(
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadEvidence)?;
    let format = parse_format(req.query_string())?;
    let reference = path.into_inner();
    let sealed = state
        .db
        .run(move |conn| evidence::gather(conn, &reference))
        .await?
        .ok_or_else(|| ApiError::NotFound("order".to_owned()))?;
    Ok(match format {
        Format::Json => HttpResponse::Ok()
            .content_type("application/json")
            .body(sealed.json),
        Format::Html => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page::render(&sealed)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_json_by_default_and_anything_else_is_refused() {
        assert_eq!(parse_format("").unwrap(), Format::Json);
        assert_eq!(parse_format("format=json").unwrap(), Format::Json);
        assert_eq!(parse_format("format=html").unwrap(), Format::Html);
        assert_eq!(
            parse_format("format=pdf").unwrap_err().code(),
            "validation_failed"
        );
        let bytes = parse_format("format=%FF%FE&format=%00").unwrap_err().code();
        assert!(
            ["validation_failed", "malformed_payload"].contains(&bytes),
            "{bytes}"
        );
    }
}
