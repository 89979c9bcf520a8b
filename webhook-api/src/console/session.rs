//! The console's session cookie: a signed token, never the API key (SECURITY.md,
//! "Finance console").
//!
//! `base64url(json{role, name, key, exp, sid}) "." base64url(HMAC-SHA256(secret, …))`.
//! `key` is an HMAC fingerprint of the API key, so every request re-checks that the
//! key is still configured with the same role and name: removing a key from `API_KEYS`
//! ends its sessions at the next restart. The token carries its own expiry
//! ([`LIFETIME_SECS`]); the one thing stored server-side is a sign-out
//! (`shared::db::console_signouts`), so a copied cookie dies with its session.
//! CSRF tokens are an HMAC of the session id.

use std::future::ready;

use futures_util::future::LocalBoxFuture;

use actix_web::http::header::{COOKIE, HeaderMap, ORIGIN, REFERER};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use shared::config::{ApiKey, ApiKeys, Role};

use crate::error::ConsoleError;
use crate::state::AppState;

/// How long a login lasts: a working day.
pub const LIFETIME_SECS: i64 = 8 * 3600;
pub const COOKIE_NAME: &str = "console_session";
/// A longer cookie value is refused before any MAC is computed.
const MAX_TOKEN_LEN: usize = 1024;

type HmacSha256 = Hmac<Sha256>;

/// The key that signs sessions and CSRF tokens.
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// From `CONSOLE_SESSION_SECRET` (at least 32 bytes, checked by the config), or a
    /// random key for this process: sessions then end at restart and are not shared
    /// between instances.
    pub fn new(configured: Option<&str>) -> Self {
        use sha2::Digest as _;
        let mut hasher = Sha256::new();
        hasher.update(b"pse-console-session-v1\0");
        match configured {
            Some(secret) => hasher.update(secret.as_bytes()),
            None => {
                tracing::warn!(
                    "CONSOLE_SESSION_SECRET is not set: console sessions use a random key and end when this process restarts"
                );
                for _ in 0..4 {
                    hasher.update(uuid::Uuid::new_v4().as_bytes());
                }
            }
        }
        Self(hasher.finalize().into())
    }

    fn mac(&self, purpose: &[u8], data: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length.
        let mut mac = HmacSha256::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(purpose);
        mac.update(b"\0");
        mac.update(data);
        mac
    }

    fn tag(&self, purpose: &[u8], data: &[u8]) -> Vec<u8> {
        self.mac(purpose, data).finalize().into_bytes().to_vec()
    }

    fn key_fingerprint(&self, key: &ApiKey) -> String {
        hex::encode(&self.tag(b"key", key.key.expose().as_bytes())[..16])
    }

    /// A fresh session for `key`, valid [`LIFETIME_SECS`] from `now`, and its cookie value.
    pub fn issue(&self, key: &ApiKey, now: i64) -> String {
        let claims = Claims {
            role: key.role.as_str().to_owned(),
            name: key.name.clone(),
            key: self.key_fingerprint(key),
            exp: now + LIFETIME_SECS,
            sid: uuid::Uuid::new_v4().simple().to_string(),
        };
        let payload = B64.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let tag = B64.encode(self.tag(b"session", payload.as_bytes()));
        format!("{payload}.{tag}")
    }

    /// The session a cookie value stands for, if its MAC is ours, it has not expired and
    /// its key is still configured as a finance or admin key.
    pub fn verify(&self, token: &str, keys: &ApiKeys, now: i64) -> Option<Session> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (payload, tag) = token.split_once('.')?;
        let tag = B64.decode(tag).ok()?;
        self.mac(b"session", payload.as_bytes())
            .verify_slice(&tag)
            .ok()?;
        let claims: Claims = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        if claims.exp <= now || claims.exp > now + LIFETIME_SECS {
            return None;
        }
        let key = keys.iter().find(|k| {
            k.role.as_str() == claims.role && k.name == claims.name && {
                let fp = self.key_fingerprint(k);
                subtle::ConstantTimeEq::ct_eq(fp.as_bytes(), claims.key.as_bytes()).into()
            }
        })?;
        if !may_use_console(key.role) {
            return None;
        }
        let csrf = hex::encode(self.tag(b"csrf", claims.sid.as_bytes()));
        Some(Session {
            role: key.role,
            name: claims.name,
            csrf,
            sid: claims.sid,
            expires_at: claims.exp,
        })
    }
}

/// The console is for finance work: finance and admin keys, as the API's finance routes.
pub fn may_use_console(role: Role) -> bool {
    crate::auth::permits(role, crate::auth::Access::ResolveExceptions)
}

#[derive(Serialize, Deserialize)]
struct Claims {
    /// `Role::as_str`.
    role: String,
    name: String,
    key: String,
    exp: i64,
    sid: String,
}

/// A signed-in finance or admin user.
#[derive(Clone)]
pub struct Session {
    pub role: Role,
    pub name: String,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The session's id, and when its token expires (unix seconds): what
    /// **Sign out** records so that no copy of the cookie is honoured again.
    sid: String,
    expires_at: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Ends this session for every instance until its token expires
    /// (`console_signouts`); the caller then clears the cookie.
    pub async fn sign_out(&self, db: &shared::db::Db) -> Result<(), shared::db::DbError> {
        let sid = self.sid.clone();
        let until =
            chrono::DateTime::from_timestamp(self.expires_at, 0).unwrap_or_else(chrono::Utc::now);
        db.run(move |conn| shared::db::console_signouts::record(conn, &sid, until))
            .await
    }

    /// Recorded as who resolved an exception, exactly as the JSON API records an API key
    /// (`crate::auth::Caller::label`): `finance:ana`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.name)
    }

    /// Constant-time check of a submitted CSRF token.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), ConsoleError> {
        let ok = submitted.is_some_and(|s| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                s.as_bytes(),
                self.csrf.as_bytes(),
            ))
        });
        if ok {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden(
                "the form's security token is missing or wrong; reload the page and try again",
            ))
        }
    }
}

/// The cookie value of `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a new session: HttpOnly (no script reads it), Secure (never sent over
/// plain HTTP except to localhost, which browsers treat as secure), SameSite=Strict (no
/// cross-site request carries it), scoped to the console and expiring with the token.
pub fn set_cookie(token: &str) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/console; Max-Age={LIFETIME_SECS}; Secure; HttpOnly; SameSite=Strict"
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/console; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
}

/// Whether a state-changing request comes from this site: `Origin` (or, without it,
/// `Referer`) must name the host the request was sent to. Browsers send `Origin` on
/// every form POST; a request with neither still needs the CSRF token.
pub fn same_origin(req: &HttpRequest) -> bool {
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|v| v.to_str().ok());
    let authority = |url: &str| -> Option<String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        Some(rest.split(['/', '?', '#']).next()?.to_owned())
    };
    let claimed = match (req.headers().get(ORIGIN), req.headers().get(REFERER)) {
        (Some(o), _) => o.to_str().ok().map(&authority),
        (None, Some(r)) => r.to_str().ok().map(&authority),
        (None, None) => return true,
    };
    match (claimed.flatten(), host) {
        (Some(a), Some(h)) => a.eq_ignore_ascii_case(h),
        _ => false,
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Pages behind the login take a `Session`; without a valid one the request is
/// redirected to the login page (303), never answered with the API's JSON 401.
///
/// Only a cookie whose MAC, expiry and key check out costs a database read (is
/// it signed out?); anything forged or stale is refused before any I/O. When
/// that read fails the page is a 503: a signed-out session is never honoured
/// because the database could not say so.
impl FromRequest for Session {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
            return Box::pin(ready(Err(ConsoleError::LoginRequired)));
        };
        let Some(session) = cookie(req.headers(), COOKIE_NAME).and_then(|token| {
            state
                .console
                .key
                .verify(token, &state.config.api_keys, now())
        }) else {
            return Box::pin(ready(Err(ConsoleError::LoginRequired)));
        };
        Box::pin(async move {
            let sid = session.sid.clone();
            let signed_out = state
                .db
                .run(move |conn| shared::db::console_signouts::is_signed_out(conn, &sid))
                .await?;
            if signed_out {
                Err(ConsoleError::LoginRequired)
            } else {
                Ok(session)
            }
        })
    }
}

#[cfg(test)]
mod tests;
