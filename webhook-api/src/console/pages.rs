//! The console's pages. Handlers are thin: parse (`query.rs`), call the same library
//! functions as the JSON API (`shared::db::exceptions`, `shared::report`,
//! `shared::evidence`), render an askama template (HTML-escaped by default: references,
//! provider ids and exception details are outside input).

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use shared::db::exceptions::{self, ExceptionView, QueueFilter, Resolved};
use shared::db::orders::{self, Found};
use shared::domain::money::format_cop;
use shared::domain::{ExceptionKind, Provider};
use shared::report::html::{CSS as REPORT_CSS, Host};
use shared::report::{Scope, output};

use super::query;
use super::session::Session;
use crate::error::ConsoleError;
use crate::state::AppState;

/// Rows the exception queue shows; the JSON API pages through all of them.
pub const QUEUE_ROWS: i64 = 200;
/// Orders a search lists.
pub const SEARCH_ROWS: i64 = 50;

/// Sets the HTML content type and the headers every console page carries: no caching
/// (pages hold payer data), no framing (clickjacking on the resolve form), no scripts
/// or outside resources at all.
pub fn html(response: &mut HttpResponseBuilder, body: String) -> HttpResponse {
    response
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header(("Referrer-Policy", "same-origin"))
        .body(body)
}

/// A template as a page with `status`; a template that cannot render is logged and
/// answered with a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => html(&mut HttpResponse::build(status), body),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

/// The console's navigation and sign-out form, on every signed-in page.
struct Chrome<'a> {
    session: Option<&'a Session>,
    active: &'static str,
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    chrome: Chrome<'a>,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// The body of an error page (the session is not known here, so no navigation).
pub fn error_page(status: StatusCode, message: &str) -> String {
    ErrorPage {
        chrome: Chrome {
            session: None,
            active: "",
        },
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message,
    }
    .render()
    .unwrap_or_else(|_| "internal error".to_owned())
}

#[derive(Template)]
#[template(path = "console/login.html")]
pub struct LoginPage<'a> {
    chrome: Chrome<'a>,
    message: Option<&'a str>,
}

impl<'a> LoginPage<'a> {
    pub fn new(message: Option<&'a str>) -> Self {
        Self {
            chrome: Chrome {
                session: None,
                active: "",
            },
            message,
        }
    }
}

pub async fn to_index() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, "/console/"))
        .finish()
}

#[derive(Template)]
#[template(path = "console/report.html")]
struct ReportPage<'a> {
    chrome: Chrome<'a>,
    report_css: &'static str,
    date: String,
    body: String,
}

/// `/console/?day=`: the report's own HTML (same read, same totals) inside the console.
pub async fn report(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let day = query::report_day(req.query_string())?;
    let scope = Scope {
        date: day,
        provider: None,
    };
    let slot = state.reports.acquire()?;
    let body = state
        .reports
        .db
        .run(move |conn| output::html_body(conn, &scope, Host::Console))
        .await?;
    drop(slot);
    Ok(render(
        StatusCode::OK,
        &ReportPage {
            chrome: Chrome {
                session: Some(&session),
                active: "report",
            },
            report_css: REPORT_CSS,
            date: day.format("%Y-%m-%d").to_string(),
            body,
        },
    ))
}

/// One queue row, every value a display string.
struct QueueRow {
    id: i64,
    open: bool,
    opened_at: String,
    kind: String,
    provider: String,
    reference: Option<String>,
    payment_id: String,
    expected: String,
    received: String,
    detail: String,
    resolved_at: String,
    resolved_by: String,
    note: String,
}

fn bogota(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&shared::time::BOGOTA)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

impl From<ExceptionView> for QueueRow {
    fn from(e: ExceptionView) -> Self {
        Self {
            id: e.id,
            open: e.resolved_at.is_none(),
            opened_at: bogota(e.opened_at),
            kind: e.kind,
            provider: e.provider,
            reference: e.order_reference,
            payment_id: e.provider_payment_id.unwrap_or_default(),
            expected: e.expected_amount.map(format_cop).unwrap_or_default(),
            received: e.provider_amount.map(format_cop).unwrap_or_default(),
            detail: e.detail,
            resolved_at: e.resolved_at.map(bogota).unwrap_or_default(),
            resolved_by: e.resolved_by.unwrap_or_default(),
            note: e.resolution_note.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/exceptions.html")]
struct QueuePage<'a> {
    chrome: Chrome<'a>,
    report_css: &'static str,
    kinds: Vec<&'static str>,
    providers: Vec<&'static str>,
    kind: &'a str,
    provider: &'a str,
    day: String,
    /// `?kind=…` of the current filter, for the resolve forms' return.
    filter_query: String,
    /// The session's CSRF token, in every resolve form.
    csrf: &'a str,
    open: usize,
    rows: Vec<QueueRow>,
    limit: i64,
}

/// `/console/exceptions?kind=&provider=&day=`: open first, then resolved.
pub async fn exceptions(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let filter = query::queue_filter(req.query_string())?;
    let f = filter.clone();
    let rows: Vec<QueueRow> = state
        .db
        .run(move |conn| exceptions::queue(conn, &f, QUEUE_ROWS))
        .await?
        .into_iter()
        .map(QueueRow::from)
        .collect();
    let filter_query = query::queue_query(&filter);
    Ok(render(
        StatusCode::OK,
        &QueuePage {
            chrome: Chrome {
                session: Some(&session),
                active: "exceptions",
            },
            report_css: REPORT_CSS,
            kinds: ExceptionKind::ALL.map(ExceptionKind::as_str).to_vec(),
            providers: Provider::ALL.map(Provider::as_str).to_vec(),
            kind: filter.kind.map(ExceptionKind::as_str).unwrap_or(""),
            provider: filter.provider.map(Provider::as_str).unwrap_or(""),
            day: filter
                .opened_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            open: rows.iter().filter(|r| r.open).count(),
            csrf: &session.csrf,
            filter_query: if filter_query.is_empty() {
                String::new()
            } else {
                format!("?{filter_query}")
            },
            rows,
            limit: QUEUE_ROWS,
        },
    ))
}

/// `POST /console/exceptions/{id}/resolve?<filter>`: the same `exceptions::resolve` as
/// `POST /v1/exceptions/{id}/resolve`, recorded as `role:name`; then back to the queue
/// (303, so a reload does not post again).
pub async fn resolve(
    session: Session,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let form: query::ResolveForm = super::checked_form(&req, payload, &session).await?;
    let id: i64 = path
        .into_inner()
        .parse()
        .map_err(|_| ConsoleError::NotFound("exception".to_owned()))?;
    let filter: QueueFilter = query::queue_filter(req.query_string())?;
    let note = query::note(form.note.as_deref())?;
    let who = session.label();
    let outcome = state
        .db
        .run(move |conn| exceptions::resolve(conn, id, &who, &note))
        .await?;
    match outcome {
        Resolved::Now(view) => {
            tracing::info!(exception = id, kind = %view.kind, by = %session.label(), "exception resolved in the console");
        }
        Resolved::Already(_) => {}
        Resolved::NotFound => return Err(ConsoleError::NotFound("exception".to_owned())),
    }
    let q = query::queue_query(&filter);
    let back = if q.is_empty() {
        format!("/console/exceptions#exception-{id}")
    } else {
        format!("/console/exceptions?{q}#exception-{id}")
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, back))
        .finish())
}

struct OrderRow {
    reference: String,
    evidence_href: String,
    provider: String,
    payment_id: String,
    cus: String,
    state: String,
    state_class: &'static str,
    amount: String,
    created_at: String,
}

impl From<Found> for OrderRow {
    fn from(o: Found) -> Self {
        let path: String = url_path_segment(&o.reference);
        Self {
            evidence_href: format!("/console/orders/{path}/evidence"),
            state_class: shared::report::html::state_class(&o.state),
            amount: if o.currency == "COP" {
                format_cop(o.amount_minor)
            } else {
                format!("{} {}", o.currency, o.amount_minor)
            },
            created_at: bogota(o.created_at),
            reference: o.reference,
            provider: o.provider,
            payment_id: o.provider_payment_id,
            cus: o.pse_cus.unwrap_or_default(),
            state: o.state,
        }
    }
}

/// Percent-encodes everything but unreserved characters, so a reference is one path segment.
fn url_path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/orders.html")]
struct SearchPage<'a> {
    chrome: Chrome<'a>,
    report_css: &'static str,
    term: Option<String>,
    rows: Vec<OrderRow>,
    limit: i64,
}

/// `/console/orders?q=`: exact reference, provider payment id or PSE CUS.
pub async fn orders(
    session: Session,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let term = query::search_term(req.query_string())?;
    let rows: Vec<OrderRow> = match term.clone() {
        None => Vec::new(),
        Some(t) => state
            .db
            .run(move |conn| orders::search(conn, &t, SEARCH_ROWS))
            .await?
            .into_iter()
            .map(OrderRow::from)
            .collect(),
    };
    Ok(render(
        StatusCode::OK,
        &SearchPage {
            chrome: Chrome {
                session: Some(&session),
                active: "orders",
            },
            report_css: REPORT_CSS,
            term,
            rows,
            limit: SEARCH_ROWS,
        },
    ))
}

/// `/console/orders/{reference}/evidence`: the same page as
/// `GET /v1/orders/{reference}/evidence?format=html`, for the signed-in browser.
pub async fn evidence(
    _session: Session,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let reference = path.into_inner();
    let sealed = state
        .db
        .run(move |conn| shared::evidence::gather(conn, &reference))
        .await?
        .ok_or_else(|| ConsoleError::NotFound("order".to_owned()))?;
    let body = crate::evidence::page::render(&sealed)?;
    Ok(html(&mut HttpResponse::Ok(), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_one_path_segment() {
        assert_eq!(url_path_segment("ord-1_a.b~"), "ord-1_a.b~");
        assert_eq!(url_path_segment("a/b?c#d"), "a%2Fb%3Fc%23d");
        assert_eq!(url_path_segment("<x>"), "%3Cx%3E");
    }
}
