//! Reading request bodies under a size limit, and checking their content type.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt as _;

use crate::error::ApiError;

/// Why a body was refused. Typed so the webhook pipeline can give each its own metric
/// label; everywhere else it becomes an [`ApiError`] through `?`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Unreadable(String),
    #[error("the body must be JSON (Content-Type: application/json)")]
    NotJson,
}

/// Parses the query string into `T`; a malformed one is 400 `malformed_payload`.
pub fn query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    query_str(req.query_string())
}

/// [`query`] over the raw query string, so parsers can be tested without a request.
pub fn query_str<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::MalformedPayload(format!("the query string is malformed: {e}")))
}

/// 413 straight from `Content-Length` when it is over the limit, before anything is read.
pub fn check_declared_length(req: &HttpRequest, limit: usize) -> Result<(), BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(BodyError::TooLarge { limit }),
        _ => Ok(()),
    }
}

/// Reads at most `limit` bytes; a chunked body that grows past it stops being
/// read at once and answers 413.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    check_declared_length(req, limit)?;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| BodyError::Unreadable(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Whether the request declares a JSON body (`application/json`, any
/// parameters, or a `+json` type). `missing_ok` accepts requests with no
/// `Content-Type` at all.
pub fn require_json(req: &HttpRequest, missing_ok: bool) -> Result<(), BodyError> {
    let Some(value) = req.headers().get(CONTENT_TYPE) else {
        return if missing_ok {
            Ok(())
        } else {
            Err(BodyError::NotJson)
        };
    };
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(BodyError::NotJson)
    }
}
