use serde_json::{Value, json};
use shared::testing::{ADMIN_KEY, FINANCE_KEY, MERCHANT_KEY};

use crate::helpers::{KEYS, order_body, spawn_app};

#[tokio::test]
async fn creating_an_order_returns_it_pending_with_its_history() {
    let app = spawn_app().await;
    let r = app.post_order(&order_body("ORD-1001")).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/v1/orders/ORD-1001");
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["reference"], "ORD-1001");
    assert_eq!(o["provider"], "mono");
    assert_eq!(o["state"], "pending");
    assert_eq!(
        o["amount"],
        json!({"amount": 10_000_000, "currency": "COP"})
    );
    assert_eq!(o["description"], "Invoice 1001");
    assert_eq!(o["history"].as_array().unwrap().len(), 1);
    assert_eq!(o["history"][0]["from"], Value::Null);
    assert_eq!(o["history"][0]["to"], "pending");
    assert_eq!(o["history"][0]["cause"], "created");
    assert_eq!(o["exceptions"], json!([]));
    for field in [
        "id",
        "provider_payment_id",
        "provider_status",
        "pse_cus",
        "bank_code",
        "created_at",
        "updated_at",
    ] {
        assert!(o.get(field).is_some(), "missing {field}");
    }
    // Personal data is not echoed back.
    assert!(!o.to_string().contains("1033711400"));
}

#[tokio::test]
async fn the_same_order_twice_returns_the_same_id() {
    let app = spawn_app().await;
    let first: Value = app
        .post_order(&order_body("ORD-1"))
        .await
        .json()
        .await
        .unwrap();
    let again = app.post_order(&order_body("ORD-1")).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(first["created_at"], again["created_at"]);
}

#[tokio::test]
async fn a_different_body_under_the_same_reference_is_409() {
    let app = spawn_app().await;
    app.post_order(&order_body("ORD-2")).await;
    let mut changed = order_body("ORD-2");
    changed["amount"]["amount"] = json!(10_000_001);
    let r = app.post_order(&changed).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "reference_conflict");
}

#[tokio::test]
async fn the_same_provider_payment_under_another_reference_is_409() {
    let app = spawn_app().await;
    let first = order_body("ORD-3");
    app.post_order(&first).await;
    let mut other = order_body("ORD-4");
    other["provider_payment_id"] = first["provider_payment_id"].clone();
    let r = app.post_order(&other).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "provider_payment_id_conflict");
}

#[tokio::test]
async fn concurrent_identical_creations_make_one_order() {
    let app = spawn_app().await;
    let body = order_body("ORD-RACE");
    let responses = futures_util::future::join_all((0..8).map(|_| app.post_order(&body))).await;
    let mut ids = Vec::new();
    let mut created = 0;
    for r in responses {
        assert!(r.status() == 200 || r.status() == 201, "{}", r.status());
        created += usize::from(r.status() == 201);
        let v: Value = r.json().await.unwrap();
        ids.push(v["id"].clone());
    }
    assert_eq!(created, 1);
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let mut conn = app.db.connect();
    let rows: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM orders) + (SELECT count(*) FROM order_events)",
        )),
        &mut conn,
    )
    .unwrap();
    assert_eq!(rows, 2, "one order and its one creation event");
}

async fn invalid_fields(app: &crate::helpers::TestApp, body: Value) -> Vec<String> {
    let r = app.post_order(&body).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "validation_failed");
    v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(!f["message"].as_str().unwrap().is_empty());
            f["field"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test]
async fn invalid_amounts_currencies_and_nits_are_422_naming_the_field() {
    let app = spawn_app().await;
    let mut fractional = order_body("ORD-5");
    fractional["amount"]["amount"] = json!(100.5);
    assert_eq!(invalid_fields(&app, fractional).await, ["amount.amount"]);

    let mut usd = order_body("ORD-5");
    usd["amount"]["currency"] = json!("USD");
    assert_eq!(invalid_fields(&app, usd).await, ["amount.currency"]);

    let mut nit = order_body("ORD-5");
    nit["payer"] = json!({"document_type": "NIT", "document_number": "800197268-5"});
    assert_eq!(invalid_fields(&app, nit).await, ["payer.document_number"]);

    let mut bad_id = order_body("ORD-5");
    bad_id["provider_payment_id"] = json!("not-a-mono-id");
    assert_eq!(invalid_fields(&app, bad_id).await, ["provider_payment_id"]);

    // Nothing was written by any of them.
    let r = app.get_as(MERCHANT_KEY, "/v1/orders/ORD-5").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_valid_nit_is_accepted() {
    let app = spawn_app().await;
    let mut body = order_body("ORD-NIT");
    body["payer"] = json!({"document_type": "NIT", "document_number": "890903938-8"});
    assert_eq!(app.post_order(&body).await.status(), 201);
}

#[tokio::test]
async fn malformed_json_wrong_type_and_oversized_bodies() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth(MERCHANT_KEY)
        .header("content-type", "application/json")
        .body("{\"reference\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "malformed_payload");

    let r = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth(MERCHANT_KEY)
        .header("content-type", "text/plain")
        .body(order_body("ORD-6").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    let r = app
        .client
        .post(app.url("/v1/orders"))
        .bearer_auth(MERCHANT_KEY)
        .header("content-type", "application/json")
        .body(vec![b' '; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn keys_and_roles() {
    let app = spawn_app().await;
    // No key, an unknown key, a malformed header: 401 with no detail.
    let r = app
        .client
        .post(app.url("/v1/orders"))
        .json(&order_body("ORD-7"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    assert_eq!(
        app.post_order_as("not-a-key-at-all", &order_body("ORD-7"))
            .await
            .status(),
        401
    );
    let r = app
        .client
        .get(app.url("/v1/orders"))
        .header("authorization", format!("Basic {MERCHANT_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Finance reads but cannot create; merchant and admin create.
    let r = app.post_order_as(FINANCE_KEY, &order_body("ORD-7")).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.post_order_as(ADMIN_KEY, &order_body("ORD-8"))
            .await
            .status(),
        201
    );
    for key in KEYS {
        assert_eq!(
            app.get_as(key, "/v1/orders/ORD-8").await.status(),
            200,
            "{key}"
        );
        assert_eq!(app.get_as(key, "/v1/orders").await.status(), 200, "{key}");
    }
}

#[tokio::test]
async fn an_api_without_keys_is_closed() {
    let app = crate::helpers::spawn_app_with(&[("API_KEYS", "")]).await;
    assert_eq!(app.post_order(&order_body("ORD-9")).await.status(), 401);
}

#[tokio::test]
async fn listing_filters_and_paginates() {
    let app = spawn_app().await;
    for i in 0..5 {
        let mut body = order_body(&format!("ORD-L{i}"));
        if i % 2 == 0 {
            body["provider"] = json!("tpaga");
            body["provider_payment_id"] = json!(format!("pse-{i:0>32}"));
        }
        assert_eq!(app.post_order(&body).await.status(), 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/orders?limit=2&cursor={c}"),
            None => "/v1/orders?limit=2".to_owned(),
        };
        let page: Value = app.get_as(FINANCE_KEY, &path).await.json().await.unwrap();
        for o in page["data"].as_array().unwrap() {
            seen.push(o["reference"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["ORD-L4", "ORD-L3", "ORD-L2", "ORD-L1", "ORD-L0"]);

    let tpaga: Value = app
        .get_as(FINANCE_KEY, "/v1/orders?provider=tpaga&state=pending")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tpaga["data"].as_array().unwrap().len(), 3);
    let paid: Value = app
        .get_as(FINANCE_KEY, "/v1/orders?state=paid")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paid["data"], json!([]));

    let today = shared::time::today().format("%Y-%m-%d").to_string();
    let day: Value = app
        .get_as(FINANCE_KEY, &format!("/v1/orders?from={today}&to={today}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(day["data"].as_array().unwrap().len(), 5);
    let future: Value = app
        .get_as(FINANCE_KEY, "/v1/orders?from=2999-01-01")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(future["data"], json!([]));
}

#[tokio::test]
async fn bad_list_parameters_are_422() {
    let app = spawn_app().await;
    let r = app
        .get_as(
            FINANCE_KEY,
            "/v1/orders?state=done&provider=x&from=yesterday&limit=0&cursor=zz",
        )
        .await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["state", "provider", "from", "limit", "cursor"]);
}

/// chrono reads six-digit years (and the unsigned `+10000` was listed as 200): refused with a
/// 422 as the report's date is, never handed to PostgreSQL.
#[tokio::test]
async fn years_beyond_four_digits_are_422() {
    let app = spawn_app().await;
    for query in [
        "from=%2B10000-01-01",
        "to=%2B262142-12-31",
        "from=-262143-01-01",
    ] {
        let r = app
            .get_as(FINANCE_KEY, &format!("/v1/orders?{query}"))
            .await;
        assert_eq!(r.status(), 422, "{query}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "validation_failed", "{query}");
    }
}

#[tokio::test]
async fn unknown_order_is_404() {
    let app = spawn_app().await;
    let r = app.get_as(MERCHANT_KEY, "/v1/orders/NOPE").await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
}
