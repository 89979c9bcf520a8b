//! `GET /v1/reports/reconciliation?date=YYYY-MM-DD&format=csv|json|html[&provider=]`.
//!
//! CSV and JSON are streamed from a database cursor as they are read, so a
//! day of a million orders never sits in memory; HTML is one page.

use actix_web::http::header::{CONTENT_DISPOSITION, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use serde::Deserialize;
use shared::report::output::{Format, write_report};
use shared::report::{Scope, default_date};

use crate::auth::{Access, Caller};
use crate::error::ApiError;
use crate::extract::{FieldErrors, ProviderParam};
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/reports/reconciliation", web::get().to(reconciliation));
}

#[derive(Deserialize)]
struct Query {
    date: Option<String>,
    format: Option<String>,
    provider: Option<String>,
}

fn parse(req: &HttpRequest) -> Result<(Scope, Format), ApiError> {
    let q: Query = crate::body::query(req)?;
    let mut errors = FieldErrors::default();
    let date = match q.date.as_deref().filter(|d| !d.is_empty()) {
        None => default_date(),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or_else(|_| {
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

async fn reconciliation(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::ReadReports)?;
    let (scope, format) = parse(&req)?;
    let pool = state.db.pool().clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(8);
    tokio::task::spawn_blocking(move || {
        let mut conn = match pool.get() {
            Ok(c) => c,
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                return;
            }
        };
        let _ = ready_tx.send(Ok(()));
        let mut emit = |chunk: Vec<u8>| tx.blocking_send(Ok(web::Bytes::from(chunk))).is_ok();
        match write_report(&mut conn, &scope, format, &mut emit) {
            Ok(rows) => {
                tracing::info!(date = %scope.date, rows, format = format.extension(), "report served")
            }
            Err(e) => {
                tracing::error!(error = %e, "report failed while streaming; the response is cut short");
                let _ = tx.blocking_send(Err(std::io::Error::other("report failed")));
            }
        }
    });
    // Only start answering once a connection is in hand: a database outage is
    // a clean 503, not a truncated 200.
    match ready_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "report: no database connection");
            return Err(ApiError::Unavailable(
                "the database is unavailable".to_owned(),
            ));
        }
        Err(_) => return Err(ApiError::Internal("report task ended early".into())),
    }
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
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
