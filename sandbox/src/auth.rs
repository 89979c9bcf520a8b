//! Reading `Authorization` headers (Bearer and HTTP Basic) for the fake providers.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use shared::Secret;

fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers().get(AUTHORIZATION)?.to_str().ok()
}

/// The token of `Authorization: Bearer <token>` (scheme compared case-insensitively, as RFC 7235 says).
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let (scheme, token) = authorization(req)?.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The `(user, password)` of `Authorization: Basic <base64(user:password)>`.
pub fn basic(req: &HttpRequest) -> Option<(String, String)> {
    let (scheme, encoded) = authorization(req)?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Constant-time comparison of a presented credential with the expected one.
pub fn matches(expected: &str, presented: &str) -> bool {
    Secret::new(expected).matches(presented.as_bytes())
}

/// Whether the request carries HTTP Basic credentials equal to `user:password`.
pub fn basic_matches(req: &HttpRequest, user: &str, password: &str) -> bool {
    basic(req).is_some_and(|(u, p)| {
        // Evaluate both so the time taken does not reveal which one was wrong.
        let user_ok = matches(user, &u);
        let password_ok = matches(password, &p);
        user_ok && password_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn parses_bearer_and_basic() {
        let req = TestRequest::default()
            .insert_header((AUTHORIZATION, "bearer abc"))
            .to_http_request();
        assert_eq!(bearer(&req), Some("abc"));
        let req = TestRequest::default()
            .insert_header((
                AUTHORIZATION,
                format!("Basic {}", STANDARD.encode("id:pa:ss")),
            ))
            .to_http_request();
        assert_eq!(basic(&req), Some(("id".to_owned(), "pa:ss".to_owned())));
        assert!(basic_matches(&req, "id", "pa:ss"));
        assert!(!basic_matches(&req, "id", "pa"));
        assert_eq!(bearer(&req), None);
        let req = TestRequest::default().to_http_request();
        assert_eq!(bearer(&req), None);
        assert_eq!(basic(&req), None);
    }
}
