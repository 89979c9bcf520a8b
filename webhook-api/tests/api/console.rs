//! The finance console over HTTP: sign-in, the session cookie, CSRF, strict query
//! parsing and escaping. The browser walk-through is in `console_browser.rs`.

use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable, Text};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use shared::testing::{ADMIN_KEY, FINANCE_KEY, MERCHANT_KEY};

use crate::helpers::*;
use crate::reports::{Fixture, business_day};

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login_as(app: &TestApp, key: &str) -> reqwest::Response {
    client()
        .post(app.url("/console/login"))
        .header(ORIGIN, &app.address)
        .form(&[("key", key)])
        .send()
        .await
        .unwrap()
}

/// Signs in with the finance key and returns the `Cookie` header value.
async fn session(app: &TestApp) -> String {
    let r = login_as(app, FINANCE_KEY).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn get(app: &TestApp, cookie: Option<&str>, path: &str) -> reqwest::Response {
    let mut req = client().get(app.url(path));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

/// Posts the sign-out form of the page `html` with `cookie`.
async fn sign_out(app: &TestApp, cookie: &str, html: &str) -> reqwest::Response {
    client()
        .post(app.url("/console/logout"))
        .header(COOKIE, cookie)
        .form(&[("csrf", csrf_of(html))])
        .send()
        .await
        .unwrap()
}

/// The CSRF token a page's forms carry.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

#[derive(diesel::QueryableByName)]
struct Resolution {
    #[diesel(sql_type = Nullable<Text>)]
    resolved_by: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    resolution_note: Option<String>,
}

fn resolution(app: &TestApp, id: i64) -> Resolution {
    diesel::sql_query(
        "SELECT resolved_by, resolution_note FROM reconciliation_exceptions WHERE id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(&mut app.db.connect())
    .unwrap()
}

#[tokio::test]
async fn every_console_page_without_a_session_redirects_to_the_login() {
    let app = spawn_app().await;
    for path in [
        "/console/",
        "/console/?day=2026-11-20",
        "/console/exceptions",
        "/console/orders?q=ORD-A",
        "/console/orders/ORD-A/evidence",
    ] {
        for cookie in [None, Some("console_session=forged.token"), Some("x=1")] {
            let r = get(&app, cookie, path).await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
            assert_eq!(r.headers()[LOCATION], "/console/login", "{path}");
        }
    }
    let r = client()
        .post(app.url("/console/exceptions/1/resolve"))
        .form(&[("note", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // An API key is not a console session, and the API still answers its JSON 401.
    let r = client()
        .get(app.url("/console/exceptions"))
        .bearer_auth(FINANCE_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = get(&app, None, "/v1/exceptions").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "unauthorized"
    );
    let login = get(&app, None, "/console/login").await;
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(html.contains("<form method=\"post\" action=\"/console/login\">"));
    assert!(!html.contains("<script"));
}

#[tokio::test]
async fn login_refuses_wrong_and_merchant_keys_and_sets_a_secure_cookie() {
    let app = spawn_app().await;
    for (key, status, says) in [
        ("not-a-key-at-all", StatusCode::UNAUTHORIZED, "not valid"),
        ("", StatusCode::UNAUTHORIZED, "not valid"),
        (MERCHANT_KEY, StatusCode::FORBIDDEN, "merchant key"),
    ] {
        let r = login_as(&app, key).await;
        assert_eq!(r.status(), status, "{key}");
        assert!(r.headers().get(SET_COOKIE).is_none(), "{key}");
        assert!(r.text().await.unwrap().contains(says), "{key}");
    }
    // From another site: refused before the key is even looked at.
    let r = client()
        .post(app.url("/console/login"))
        .header(ORIGIN, "https://evil.example")
        .form(&[("key", FINANCE_KEY)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(SET_COOKIE).is_none());
    for key in [FINANCE_KEY, ADMIN_KEY] {
        let r = login_as(&app, key).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/console/");
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        let parts: Vec<&str> = set.split("; ").collect();
        for attr in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/console",
            "Max-Age=28800",
        ] {
            assert!(parts.contains(&attr), "{attr} in {set}");
        }
        assert!(!set.contains(key), "the cookie is not the key");
    }
    let cookie = session(&app).await;
    let page = get(&app, Some(&cookie), "/console/exceptions").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("finance:ana"), "signed in as");
    // Signing out needs the token too, and clears the cookie.
    let out = sign_out(&app, &cookie, &html).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

/// Sign out ends the session itself, not just the browser's cookie: a copy of
/// the cookie is refused afterwards, by this instance and by another one behind
/// the same load balancer, while another session of the same key carries on.
#[tokio::test]
async fn a_copied_cookie_is_refused_everywhere_after_sign_out() {
    let app = spawn_app_with(&[(
        "CONSOLE_SESSION_SECRET",
        "a-console-secret-of-at-least-32-bytes!!",
    )])
    .await;
    let other = start_another(&app).await;
    let cookie = session(&app).await;
    let second = session(&app).await;
    let on_other = |cookie: &str| {
        client()
            .get(format!("{other}/console/exceptions"))
            .header(COOKIE, cookie)
            .send()
    };
    assert_eq!(on_other(&cookie).await.unwrap().status(), StatusCode::OK);
    let html = get(&app, Some(&cookie), "/console/exceptions")
        .await
        .text()
        .await
        .unwrap();
    let out = sign_out(&app, &cookie, &html).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    for r in [
        get(&app, Some(&cookie), "/console/exceptions").await,
        on_other(&cookie).await.unwrap(),
    ] {
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "back to the login");
        assert_eq!(r.headers()[LOCATION], "/console/login");
    }
    assert_eq!(
        get(&app, Some(&second), "/console/exceptions")
            .await
            .status(),
        StatusCode::OK,
        "only the session that signed out ended"
    );
    // Signing out again with the dead cookie is refused, and nothing doubles.
    let again = sign_out(&app, &cookie, &html).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(again.headers()[LOCATION], "/console/login");
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: N = diesel::sql_query("SELECT count(*) AS n FROM console_signouts")
        .get_result(&mut app.db.connect())
        .unwrap();
    assert_eq!(rows.n, 1);
}

#[tokio::test]
async fn failed_logins_are_rate_limited_without_writing_anything() {
    let app = spawn_app().await;
    for _ in 0..10 {
        assert_eq!(
            login_as(&app, "wrong-key-123").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = login_as(&app, FINANCE_KEY).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "60");
    assert!(r.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_resolve_without_or_with_a_wrong_csrf_token_is_403_and_writes_nothing() {
    let app = spawn_app().await;
    let ids = business_day(&app);
    let id = ids["late_success"];
    let cookie = session(&app).await;
    let other = session(&app).await;
    let page = get(&app, Some(&cookie), "/console/exceptions")
        .await
        .text()
        .await
        .unwrap();
    let token = csrf_of(&page);
    let other_token = csrf_of(
        &get(&app, Some(&other), "/console/exceptions")
            .await
            .text()
            .await
            .unwrap(),
    );
    let path = format!("/console/exceptions/{id}/resolve?provider=tpaga");
    let post = |form: Vec<(&'static str, String)>, origin: &'static str| {
        let app_url = app.url(&path);
        let cookie = cookie.clone();
        let origin = if origin.is_empty() {
            app.address.clone()
        } else {
            origin.to_owned()
        };
        async move {
            client()
                .post(app_url)
                .header(COOKIE, cookie)
                .header(ORIGIN, origin)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let note = || ("note", "refunded".to_owned());
    for (form, origin) in [
        (vec![note()], ""),
        (vec![note(), ("csrf", String::new())], ""),
        (vec![note(), ("csrf", "0".repeat(64))], ""),
        (vec![note(), ("csrf", other_token.clone())], ""),
        (
            vec![note(), ("csrf", token.clone())],
            "https://evil.example",
        ),
        (vec![note(), ("csrf", token.clone())], "null"),
    ] {
        let r = post(form.clone(), origin).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{form:?} {origin}");
        assert!(
            r.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            resolution(&app, id).resolved_by.is_none(),
            "nothing written"
        );
    }
    // A JSON body instead of the form: refused too.
    let r = client()
        .post(app.url(&path))
        .header(COOKIE, &cookie)
        .json(&serde_json::json!({"note": "x", "csrf": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A blank note with the right token: 400, still nothing written.
    let r = post(vec![("note", "  ".into()), ("csrf", token.clone())], "").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(resolution(&app, id).resolved_by.is_none());
    // The right token: resolved by the signed-in key, back to the same filtered queue.
    let r = post(vec![note(), ("csrf", token.clone())], "").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()[LOCATION],
        format!("/console/exceptions?provider=tpaga#exception-{id}")
    );
    let done = resolution(&app, id);
    assert_eq!(done.resolved_by.as_deref(), Some("finance:ana"));
    assert_eq!(done.resolution_note.as_deref(), Some("refunded"));
    // The JSON API sees the same resolution.
    let listed: serde_json::Value = app
        .get_as(FINANCE_KEY, "/v1/exceptions?status=resolved")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["id"], id);
    assert_eq!(listed["data"][0]["resolved_by"], "finance:ana");
    // Unknown exception: 404 page.
    let r = client()
        .post(app.url("/console/exceptions/99999999/resolve"))
        .header(COOKIE, &cookie)
        .form(&[("note", "x"), ("csrf", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hostile_query_strings_are_400_pages_never_500() {
    let app = spawn_app().await;
    let cookie = session(&app).await;
    for path in [
        "/console/?day=2026-02-30",
        "/console/?day=%27%3B--",
        "/console/?day=+262142-12-31",
        "/console/?date=2026-11-20",
        "/console/exceptions?kind=%3Cscript%3E",
        "/console/exceptions?provider=paypal",
        "/console/exceptions?day=yesterday",
        "/console/exceptions?kind=amount_mismatch&kind=late_success",
        "/console/exceptions?status=open",
        "/console/exceptions?%ZZ",
        "/console/orders?q=a%00b",
        "/console/orders?q=a&q=b",
        "/console/orders?page=2",
        &format!("/console/orders?q={}", "x".repeat(201)),
    ] {
        let r = get(&app, Some(&cookie), path).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        let html = r.text().await.unwrap();
        assert!(html.contains("id=\"error-message\""), "{path}");
        assert!(!html.contains("<script>"), "{path}");
    }
    for path in [
        "/console/exceptions?kind=&provider=&day=",
        "/console/exceptions?kind=unknown_payment&provider=tpaga&day=2026-11-20",
        "/console/orders?q=",
        "/console/orders?q=%E2%9C%93",
        "/console/?day=2026-11-20",
    ] {
        assert_eq!(
            get(&app, Some(&cookie), path).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let r = get(&app, Some(&cookie), "/console/orders/nobody/evidence").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn payment_ids_and_details_with_markup_render_escaped() {
    let app = spawn_app().await;
    let mut f = Fixture::new(&app);
    // References are restricted by the database ([A-Za-z0-9._:-]); payment ids, CUS and
    // details are provider text and may hold anything.
    let order = f.order(
        "ORD-X1",
        "mono",
        123_456_700,
        "needs_review",
        "2026-11-20T15:00:00Z",
        Some(100_000),
    );
    f.exception(
        Some(order),
        "mono",
        "amount_mismatch",
        "<img src=x onerror=alert(2)> & \"quoted\"",
        "2026-11-20T15:05:00Z",
        Some(100_000),
    );
    diesel::sql_query(
        "UPDATE orders SET provider_payment_id = '<script>alert(1)</script>', pse_cus = 'CUS-<b>' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(order)
    .execute(&mut f.conn)
    .unwrap();
    let cookie = session(&app).await;
    for path in [
        "/console/orders?q=CUS-%3Cb%3E",
        "/console/orders?q=%3Cscript%3Ealert%281%29%3C%2Fscript%3E",
    ] {
        let html = get(&app, Some(&cookie), path).await.text().await.unwrap();
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(
            html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"),
            "{path}"
        );
        assert!(!html.contains("CUS-<b>"), "{path}");
    }
    let found = get(&app, Some(&cookie), "/console/orders?q=CUS-%3Cb%3E")
        .await
        .text()
        .await
        .unwrap();
    assert!(found.contains("$ 1.234.567"), "Colombian pesos");
    assert!(found.contains("href=\"/console/orders/ORD-X1/evidence\""));
    for path in ["/console/exceptions", "/console/?day=2026-11-20"] {
        let html = get(&app, Some(&cookie), path).await.text().await.unwrap();
        assert!(!html.contains("<img src=x"), "{path}");
        assert!(html.contains("img src=x onerror=alert(2)"), "{path}");
    }
    let evidence = get(&app, Some(&cookie), "/console/orders/ORD-X1/evidence").await;
    assert_eq!(evidence.status(), StatusCode::OK);
    let html = evidence.text().await.unwrap();
    assert!(!html.contains("<script>alert") && html.contains("Evidence for order ORD-X1"));
}
