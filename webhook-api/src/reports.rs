//! `GET /v1/reports/reconciliation?date=YYYY-MM-DD&format=csv|json|html[&provider=]`.
//!
//! CSV (PostgreSQL's `COPY`, cells formatted in SQL) and JSON (a database
//! cursor) are streamed as they are read, so a day of a million orders never
//! sits in memory; HTML is one page.

use actix_web::http::Method;
use actix_web::http::header::{CONTENT_DISPOSITION, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Datelike as _, NaiveDate};
use futures_util::StreamExt as _;
use serde::Deserialize;
use shared::report::output::Format;
use shared::report::stream::{self, Failure};
use shared::report::{Scope, default_date};
use tokio::sync::mpsc;

use crate::auth::{Access, Caller};
use crate::error::ApiError;
use crate::extract::{FieldErrors, ProviderParam};
use crate::routes::Mount;
use crate::state::{AppState, ReportSlot};

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/v1/reports/reconciliation", reconciliation);
}

#[derive(Deserialize)]
struct Query {
    date: Option<String>,
    format: Option<String>,
    provider: Option<String>,
}

/// Report dates are four-digit years: anything wider cannot be written as a
/// timestamp PostgreSQL reads back the same way.
fn plausible(date: NaiveDate) -> bool {
    (2000..=9999).contains(&date.year())
}

fn parse(req: &HttpRequest) -> Result<(Scope, Format), ApiError> {
    parse_query(req.query_string())
}

fn parse_query(query: &str) -> Result<(Scope, Format), ApiError> {
    let q: Query = crate::body::query_str(query)?;
    let mut errors = FieldErrors::default();
    let date = match q.date.as_deref().filter(|d| !d.is_empty()) {
        None => default_date(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .ok()
            .filter(|d| plausible(*d))
            .unwrap_or_else(|| {
                errors.push(
                    "date",
                    "must be a date like 2026-11-20 (a Bogota business day)",
                );
                default_date()
            }),
    };
    let format = match q.format.as_deref().filter(|f| !f.is_empty()) {
        None => Format::Json,
        Some(f) => f.parse().unwrap_or_else(|_| {
            errors.push("format", "must be csv, json or html");
            Format::Json
        }),
    };
    let provider = ProviderParam::parse(q.provider.as_deref(), &mut errors);
    errors.finish((Scope { date, provider }, format))
}

#[utoipa::path(
    get,
    path = "/v1/reports/reconciliation",
    tag = "reports",
    description = "The daily reconciliation report of a Bogota business day; CSV and JSON are streamed \
        as downloads (`Content-Disposition: attachment`), HTML is one page. Roles: finance, admin.",
    params(
        ("date" = Option<String>, Query, description = "YYYY-MM-DD (Bogota); default: yesterday"),
        ("format" = Option<String>, Query, description = "`json` (default), `csv` or `html`"),
        ("provider" = Option<String>, Query, description = "`mono`, `belvo` or `tpaga`; default all"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The report in the format asked for", content(
            (Object = "application/json"),
            (String = "text/csv"),
            (String = "text/html"),
        )),
        (status = 400, description = "`malformed_payload`: the query string cannot be read", body = crate::openapi::ErrorBody),
        (status = 401, description = "`unauthorized`: no or unknown API key", body = crate::openapi::ErrorBody),
        (status = 403, description = "`forbidden`: the key's role may not do this", body = crate::openapi::ErrorBody),
        (status = 422, description = "`validation_failed`: every invalid parameter in fields", body = crate::openapi::ErrorBody),
        (status = 500, description = "`internal_error`", body = crate::openapi::ErrorBody),
        (status = 503, description = "`reports_busy`: REPORT_CONCURRENCY reports are running, retry after \
            Retry-After; `unavailable`: the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
async fn reconciliation(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadReports)?;
    let (scope, format) = parse(&req)?;
    let slot = state.reports.acquire()?;
    let output = stream::spawn(&state.reports.db, scope, format);
    respond(output, slot, &scope, format).await
}

/// The status line waits for the first output (see `stream::spawn`), so a failure before
/// it is a clean 5xx rather than a 200 cut short. The report slot travels with the body:
/// it is released when the download ends or the client goes away.
async fn respond(
    mut output: mpsc::Receiver<Result<Vec<u8>, Failure>>,
    slot: ReportSlot,
    scope: &Scope,
    format: Format,
) -> Result<HttpResponse, ApiError> {
    let first = match output.recv().await {
        Some(Ok(chunk)) => chunk,
        Some(Err(Failure::Unavailable)) => {
            return Err(ApiError::Unavailable(
                "the database is unavailable".to_owned(),
            ));
        }
        Some(Err(Failure::Internal)) => {
            return Err(ApiError::Internal(
                "the report could not be computed".into(),
            ));
        }
        None => return Err(ApiError::Internal("report task ended early".into())),
    };
    let rest = futures_util::stream::poll_fn(move |cx| {
        let _held = &slot;
        output.poll_recv(cx)
    })
    .map(|item| {
        item.map(web::Bytes::from)
            .map_err(|_| std::io::Error::other("report failed while streaming"))
    });
    let body =
        futures_util::stream::iter([Ok::<_, std::io::Error>(web::Bytes::from(first))]).chain(rest);
    let mut response = HttpResponse::Ok();
    response.content_type(format.content_type());
    if format != Format::Html {
        let name = format!(
            "attachment; filename=\"reconciliation-{}{}.{}\"",
            scope.date.format("%Y-%m-%d"),
            scope.provider.map(|p| format!("-{p}")).unwrap_or_default(),
            format.extension()
        );
        if let Ok(v) = HeaderValue::from_str(&name) {
            response.insert_header((CONTENT_DISPOSITION, v));
        }
    }
    Ok(response.streaming(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use shared::domain::Provider;

    fn fields(query: &str) -> Vec<String> {
        match parse_query(query) {
            Err(ApiError::Validation(f)) => f.into_iter().map(|e| e.field).collect(),
            other => panic!("unexpected {:?}", other.map(|(s, f)| (s.date, f))),
        }
    }

    #[test]
    fn dates_formats_and_providers() {
        let (scope, format) = parse_query("date=2026-11-20&format=csv&provider=tpaga").unwrap();
        assert_eq!(scope.date.to_string(), "2026-11-20");
        assert_eq!(format, Format::Csv);
        assert_eq!(scope.provider, Some(Provider::Tpaga));
        assert_eq!(fields("date=+262142-12-31"), ["date"]);
        assert_eq!(fields("date=1999-12-31"), ["date"]);
        assert_eq!(
            fields("date=2026-02-30&format=xls&provider=x"),
            ["date", "format", "provider"]
        );
        assert!(matches!(
            parse_query("date=%ZZ"),
            Err(ApiError::MalformedPayload(_)) | Err(ApiError::Validation(_))
        ));
    }

    proptest! {
        #[test]
        fn any_query_string_parses_or_fails_cleanly(
            qs in any::<String>(),
            bytes in proptest::collection::vec(any::<u8>(), 0..128),
            date in prop_oneof![any::<String>(), "[+-]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}"],
            format in any::<String>(),
            provider in any::<String>(),
        ) {
            let built = serde_urlencoded::to_string([("date", &date), ("format", &format), ("provider", &provider)]).unwrap();
            for q in [qs, String::from_utf8_lossy(&bytes).into_owned(), built] {
                if let Ok((scope, _)) = parse_query(&q) {
                    prop_assert!(plausible(scope.date), "{q:?}");
                }
            }
        }
    }
}
