use actix_web::test::TestRequest;
use shared::Secret;

use super::*;

fn key(role: Role, name: &str, secret: &str) -> ApiKey {
    ApiKey {
        role,
        name: name.to_owned(),
        key: Secret::new(secret),
    }
}

fn keys() -> ApiKeys {
    ApiKeys::new(vec![
        key(Role::Merchant, "shop", "merchant-key-123"),
        key(Role::Finance, "ana", "finance-key-123"),
        key(Role::Admin, "ops", "admin-key-12345"),
    ])
}

const NOW: i64 = 1_800_000_000;

#[test]
fn a_session_verifies_until_it_expires() {
    let k = SessionKey::new(Some("s".repeat(32).as_str()));
    let ks = keys();
    let token = k.issue(&key(Role::Finance, "ana", "finance-key-123"), NOW);
    assert!(!token.contains("finance-key-123"), "never the raw key");
    let s = k.verify(&token, &ks, NOW + 60).unwrap();
    assert_eq!(s.label(), "finance:ana");
    assert_eq!(s.csrf.len(), 64);
    assert!(
        k.verify(&token, &ks, NOW + LIFETIME_SECS).is_none(),
        "expired"
    );
    assert!(k.verify(&token, &ks, NOW - 10).is_none(), "from the future");
}

#[test]
fn forged_tampered_or_foreign_tokens_are_refused() {
    let k = SessionKey::new(Some("s".repeat(32).as_str()));
    let other = SessionKey::new(Some("t".repeat(32).as_str()));
    let ks = keys();
    let token = k.issue(&key(Role::Finance, "ana", "finance-key-123"), NOW);
    assert!(other.verify(&token, &ks, NOW).is_none(), "another secret");
    let (payload, tag) = token.split_once('.').unwrap();
    // The same claims with role admin, re-encoded: the MAC no longer matches.
    let claims = String::from_utf8(B64.decode(payload).unwrap()).unwrap();
    let forged = B64.encode(claims.replace("\"finance\"", "\"admin\""));
    assert!(k.verify(&format!("{forged}.{tag}"), &ks, NOW).is_none());
    for bad in ["", ".", "x.y", &format!("{payload}."), &"a".repeat(5000)] {
        assert!(k.verify(bad, &ks, NOW).is_none(), "{bad}");
    }
}

#[test]
fn removing_or_changing_the_key_ends_its_sessions_and_merchants_never_get_one() {
    let k = SessionKey::new(Some("s".repeat(32).as_str()));
    let token = k.issue(&key(Role::Finance, "ana", "finance-key-123"), NOW);
    let rotated = ApiKeys::new(vec![key(Role::Finance, "ana", "finance-key-456")]);
    assert!(k.verify(&token, &rotated, NOW).is_none());
    let merchant = k.issue(&key(Role::Merchant, "shop", "merchant-key-123"), NOW);
    assert!(k.verify(&merchant, &keys(), NOW).is_none());
    assert!(!may_use_console(Role::Merchant));
    assert!(may_use_console(Role::Finance) && may_use_console(Role::Admin));
}

#[test]
fn csrf_tokens_belong_to_one_session() {
    let k = SessionKey::new(Some("s".repeat(32).as_str()));
    let ks = keys();
    let ana = key(Role::Finance, "ana", "finance-key-123");
    let a = k.verify(&k.issue(&ana, NOW), &ks, NOW).unwrap();
    let b = k.verify(&k.issue(&ana, NOW), &ks, NOW).unwrap();
    assert_ne!(a.csrf, b.csrf);
    assert!(a.check_csrf(Some(&a.csrf)).is_ok());
    assert!(a.check_csrf(Some(&b.csrf)).is_err());
    assert!(a.check_csrf(None).is_err());
    assert!(a.check_csrf(Some("")).is_err());
    assert!(!format!("{a:?}").contains(&a.csrf), "Debug hides the token");
}

#[test]
fn cookies_are_secure_httponly_strict_and_scoped() {
    let c = set_cookie("tok");
    for part in [
        "console_session=tok",
        "Path=/console",
        "Max-Age=28800",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(c.split("; ").any(|p| p == part), "{part} in {c}");
    }
    assert!(clear_cookie().contains("Max-Age=0"));
}

#[test]
fn the_cookie_is_found_among_others() {
    let req = TestRequest::default()
        .insert_header((COOKIE, "a=1; console_session=abc.def; b=2"))
        .to_http_request();
    assert_eq!(cookie(req.headers(), COOKIE_NAME), Some("abc.def"));
}

#[test]
fn origin_must_be_this_host_when_given() {
    let req = |h: &[(&str, &str)]| {
        let mut r = TestRequest::default().insert_header(("host", "127.0.0.1:8080"));
        for (k, v) in h {
            r = r.insert_header((*k, *v));
        }
        same_origin(&r.to_http_request())
    };
    assert!(req(&[]));
    assert!(req(&[("origin", "http://127.0.0.1:8080")]));
    assert!(req(&[(
        "referer",
        "http://127.0.0.1:8080/console/exceptions"
    )]));
    assert!(!req(&[("origin", "https://evil.example")]));
    assert!(!req(&[("origin", "null")]));
    assert!(!req(&[("referer", "https://evil.example/127.0.0.1:8080")]));
    assert!(!req(&[
        ("origin", "https://evil.example"),
        ("referer", "http://127.0.0.1:8080/")
    ]));
}

proptest::proptest! {
    /// The cookie value is outside input: any text, including a real token with
    /// bytes flipped or cut, is refused without a panic.
    #[test]
    fn any_cookie_value_is_refused_without_a_panic(
        junk in proptest::prelude::any::<String>(),
        cut in 0usize..400,
        flip in 0usize..400,
    ) {
        let k = SessionKey::new(Some("s".repeat(32).as_str()));
        let ks = keys();
        proptest::prop_assert!(k.verify(&junk, &ks, NOW).is_none());
        let token = k.issue(&key(Role::Finance, "ana", "finance-key-123"), NOW);
        let cut = cut.min(token.len());
        if cut < token.len() {
            proptest::prop_assert!(k.verify(&token[..cut], &ks, NOW).is_none());
        }
        let mut bytes = token.clone().into_bytes();
        let i = flip % bytes.len();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        if flipped != token {
            proptest::prop_assert!(k.verify(&flipped, &ks, NOW).is_none());
        }
    }
}
