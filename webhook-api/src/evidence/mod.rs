//! `GET /v1/orders/{reference}/evidence?format=json|html`: everything behind an
//! order's state, for disputes (finance and admin keys: bodies hold payer data).
//! The bundle and its digest are built in `shared::evidence`, shared with the CLI.

mod page;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared::evidence;

use crate::auth::{Access, Caller};
use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/orders/{reference}/evidence", web::get().to(get));
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
