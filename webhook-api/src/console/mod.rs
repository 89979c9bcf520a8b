//! The finance console under `/console/`: server-rendered HTML pages for a finance
//! analyst's day — the daily report, the exception queue, order search and evidence —
//! behind a sign-in with a finance or admin API key (README, "Finance console";
//! SECURITY.md, "Finance console").
//!
//! Browser routes, not API: they answer HTML, redirect to the sign-in page instead of a
//! JSON 401, and are left out of `/openapi.json` (see `openapi/tests.rs`).

mod login;
pub mod pages;
pub mod query;
pub mod session;

use actix_web::http::Method;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, web};

use crate::body::read_limited;
use crate::error::ConsoleError;
use crate::routes::Mount;
use session::Session;

/// Every route of the console; all under `/console/` (the cookie's `Path`).
pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/console/login", login::form_page)
        .add(Method::POST, "/console/login", login::login)
        .add(Method::POST, "/console/logout", login::logout)
        .add(Method::GET, "/console", pages::to_index)
        .add(Method::GET, "/console/", pages::report)
        .add(Method::GET, "/console/exceptions", pages::exceptions)
        .add(
            Method::POST,
            "/console/exceptions/{id}/resolve",
            pages::resolve,
        )
        .add(Method::GET, "/console/orders", pages::orders)
        .add(
            Method::GET,
            "/console/orders/{reference}/evidence",
            pages::evidence,
        );
}

/// What the console keeps for the life of the process.
pub struct ConsoleState {
    pub key: session::SessionKey,
    pub limiter: login::Limiter,
}

impl ConsoleState {
    pub fn new(secret: Option<&str>) -> Self {
        Self {
            key: session::SessionKey::new(secret),
            limiter: login::Limiter::default(),
        }
    }
}

/// A form that carries the session's CSRF token.
pub trait Protected {
    fn csrf(&self) -> Option<&str>;
}

impl Protected for query::CsrfForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

impl Protected for query::ResolveForm {
    fn csrf(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
}

/// A console form POST, checked before anything is done with it: same origin, a form
/// body under 16 KiB, and the session's CSRF token (403 otherwise, nothing written).
pub async fn checked_form<T>(
    req: &HttpRequest,
    payload: web::Payload,
    session: &Session,
) -> Result<T, ConsoleError>
where
    T: serde::de::DeserializeOwned + Protected,
{
    if !session::same_origin(req) {
        return Err(ConsoleError::Forbidden(
            "this form was not sent from the console's own pages",
        ));
    }
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ConsoleError::Forbidden(
            "this form was not sent from the console's own pages",
        ));
    }
    let body = read_limited(req, payload, 16 * 1024)
        .await
        .map_err(|e| ConsoleError::BadRequest(format!("The form cannot be read: {e}.")))?;
    let form: T = query::form(&body)?;
    session.check_csrf(form.csrf())?;
    Ok(form)
}
