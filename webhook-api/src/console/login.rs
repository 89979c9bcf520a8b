//! Signing in and out. The key typed into the form is checked exactly as the API checks
//! a bearer key (`ApiKeys::find`, constant time per entry); the browser keeps only the
//! signed session cookie (`session.rs`). A failed attempt writes nothing anywhere; failures
//! are counted per client address in a bounded in-memory table ([`Limiter`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use actix_web::{HttpRequest, HttpResponse, web};

use super::pages::{self, LoginPage};
use super::query::{CsrfForm, LoginForm, form};
use super::session::{self, Session, may_use_console};
use crate::body::read_limited;
use crate::error::ConsoleError;
use crate::state::AppState;

/// Failed sign-ins allowed per address per window.
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once; a full table forgets expired entries first, then refuses
/// sign-ins from new addresses until some expire (memory stays bounded under a flood).
const MAX_TRACKED: usize = 10_000;
/// A login form is a key and nothing else.
const FORM_LIMIT: usize = 4 * 1024;

/// Failed sign-ins per client address in the current window.
#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Limiter {
    /// Whether `ip` may try now.
    pub fn allows(&self, ip: IpAddr, now: Instant) -> bool {
        let Ok(mut map) = self.failures.lock() else {
            return false;
        };
        match map.get(&ip) {
            Some((start, n)) if now.duration_since(*start) < WINDOW => *n < MAX_FAILURES,
            Some(_) => {
                map.remove(&ip);
                true
            }
            None => {
                map.len() < MAX_TRACKED || {
                    map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
                    map.len() < MAX_TRACKED
                }
            }
        }
    }

    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            return;
        }
        let entry = map.entry(ip).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

pub async fn form_page() -> Result<HttpResponse, ConsoleError> {
    Ok(pages::render(StatusCode::OK, &LoginPage::new(None)))
}

fn client_ip(req: &HttpRequest) -> IpAddr {
    req.peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    if !session::same_origin(&req) {
        return Err(ConsoleError::Forbidden(
            "this sign-in did not come from the console's own page",
        ));
    }
    let ip = client_ip(&req);
    if !state.console.limiter.allows(ip, Instant::now()) {
        return Err(ConsoleError::TooManyAttempts);
    }
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(ConsoleError::BadRequest(
            "Send the sign-in form from the console's sign-in page.".to_owned(),
        ));
    }
    let body = read_limited(&req, payload, FORM_LIMIT)
        .await
        .map_err(|e| ConsoleError::BadRequest(format!("The form cannot be read: {e}.")))?;
    let key = form::<LoginForm>(&body)?.key.unwrap_or_default();
    let key = key.trim();
    let refuse = |status, message| Ok(pages::render(status, &LoginPage::new(Some(message))));
    let Some(found) = (!key.is_empty())
        .then(|| state.config.api_keys.find(key))
        .flatten()
    else {
        state.console.limiter.failed(ip, Instant::now());
        tracing::info!("console sign-in refused: unknown key");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "That key is not valid. Paste a finance or admin API key.",
        );
    };
    if !may_use_console(found.role) {
        state.console.limiter.failed(ip, Instant::now());
        tracing::info!(role = found.role.as_str(), "console sign-in refused: role");
        return refuse(
            StatusCode::FORBIDDEN,
            "This is a merchant key: the finance console needs a finance or admin key.",
        );
    }
    let token = state.console.key.issue(found, session::now());
    tracing::info!(by = %format!("{}:{}", found.role.as_str(), found.name), "console sign-in");
    Ok(HttpResponse::SeeOther()
        .insert_header((SET_COOKIE, session::set_cookie(&token)))
        .insert_header((LOCATION, "/console/"))
        .finish())
}

pub async fn logout(
    session: Session,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ConsoleError> {
    let f: CsrfForm = super::checked_form(&req, payload, &session).await?;
    drop(f);
    // Recorded before the cookie is cleared: if this fails, the page says so
    // and the user is still signed in, never falsely told they are out.
    session.sign_out(&state.db).await?;
    tracing::info!(by = %session.label(), "console sign-out");
    Ok(HttpResponse::SeeOther()
        .insert_header((SET_COOKIE, session::clear_cookie()))
        .insert_header((LOCATION, "/console/login"))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_address_and_forgotten_after_the_window() {
        let l = Limiter::default();
        let a = IpAddr::from([10, 0, 0, 1]);
        let b = IpAddr::from([10, 0, 0, 2]);
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(l.allows(a, t0));
            l.failed(a, t0);
        }
        assert!(!l.allows(a, t0), "the 11th attempt waits");
        assert!(l.allows(b, t0), "another address is not affected");
        assert!(l.allows(a, t0 + WINDOW), "the window ends");
    }
}
