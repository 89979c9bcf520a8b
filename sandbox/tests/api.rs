//! Real HTTP against an in-process sandbox: provider wire formats, credentials,
//! errors, faults, latency, stats, and webhook delivery to an in-process receiver.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use sandbox::{
    AdminClient, Fault, NewPayment, RunningSandbox, SandboxConfig, StatusChange, WebhookRequest,
    WebhookTarget,
};
use serde_json::{Value, json};
use shared::Secret;
use shared::providers::mono::signature;
use shared::providers::webhook::AuthError;

const MONO_KEY: &str = "sandbox-mono-key";
const BELVO_ID: &str = "sandbox-belvo-id";
const BELVO_PASSWORD: &str = "sandbox-belvo-password";
const TPAGA_CLIENT: &str = "sandbox-tpaga-client";
const TPAGA_SECRET: &str = "sandbox-tpaga-secret";
const MONO_SECRET: &str = "whsec_test_secret";

async fn sandbox() -> RunningSandbox {
    sandbox_with(SandboxConfig::for_tests()).await
}

async fn sandbox_with(config: SandboxConfig) -> RunningSandbox {
    sandbox::start(config, "127.0.0.1:0").await.unwrap()
}

fn http() -> reqwest::Client {
    shared::http::client(Duration::from_secs(5), Duration::from_secs(30)).unwrap()
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, v)
}

fn mono_request() -> Value {
    json!({
        "account_id": "acc_5tgliBmzjZ6mpQPRbQjfKj",
        "amount": {"amount": 100000000, "currency": "COP"},
        "bank_code": "1007",
        "ip": "88.221.182.60",
        "payer": {
            "document_number": "1099711789",
            "document_type": "CC",
            "email": "someone@gmail.com",
            "name": "Martina Brooks",
            "person_type": "natural",
            "phone_number": "+573000000000"
        },
        "payment": {},
        "redirect_url": "https://my-page/voucher/ID_123",
        "reference": "REF. #5578136",
        "note": "February payment"
    })
}

fn tpaga_request() -> Value {
    json!({
        "bank_code": "1022",
        "order_id": "abc-123",
        "amount": "10000.0",
        "vat_amount": "10.0",
        "description": "Compra de producto ABC",
        "user_type": "NATURAL",
        "buyer_email": "demo@demo.com",
        "buyer_full_name": "Miguel Rodriguez",
        "document_type": "CE",
        "document_number": "987654321",
        "redirect_url": "http://where-to-go-after-finish-payment-at-pse.com",
        "buyer_phone_number": "3057788996"
    })
}

async fn mono_get(sb: &RunningSandbox, id: &str) -> (u16, Value) {
    json_of(
        http()
            .get(format!("{}/v1/collection_intents/{id}", sb.base_url()))
            .bearer_auth(MONO_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn belvo_get(sb: &RunningSandbox, path: &str) -> (u16, Value) {
    json_of(
        http()
            .get(format!("{}{path}", sb.base_url()))
            .basic_auth(BELVO_ID, Some(BELVO_PASSWORD))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn tpaga_token(sb: &RunningSandbox) -> String {
    let (status, v) = json_of(
        http()
            .post(format!("{}/o/token/", sb.base_url()))
            .basic_auth(TPAGA_CLIENT, Some(TPAGA_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["access_token"].as_str().unwrap().to_owned()
}

async fn tpaga_get(sb: &RunningSandbox, token: &str, path: &str) -> (u16, Value) {
    json_of(
        http()
            .get(format!("{}/api/pse/v1/public{path}", sb.base_url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

fn is_uuid(v: &Value) -> bool {
    v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

fn is_numeric_string(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

// ---------------------------------------------------------------- receiver

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A tiny webhook receiver that records every request and answers `status`.
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (l, s) = (log.clone(), status.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(move || {
            let (l, s) = (l.clone(), s.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (l, s) = (l.clone(), s.clone());
                async move {
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                        .collect();
                    l.lock().unwrap().push(Received {
                        path: req.path().to_owned(),
                        headers,
                        body: body.to_vec(),
                    });
                    HttpResponse::build(StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap())
                        .finish()
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://{addr}"),
            log,
            status,
        }
    }

    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    fn target(&self) -> WebhookTarget {
        WebhookTarget {
            base_url: self.url.clone(),
            mono_secret: Some(MONO_SECRET.to_owned()),
            belvo_authorization: Some("Bearer belvo-webhook-token".to_owned()),
            tpaga_path_token: Some("receiver-tpaga-path".to_owned()),
        }
    }
}

fn verify_mono(r: &Received, secret: &str) -> Result<usize, AuthError> {
    let header = r
        .headers
        .get("mono-signature")
        .expect("Mono-Signature header");
    signature::verify(
        header,
        &r.body,
        &[Secret::new(secret)],
        chrono::Utc::now().timestamp(),
        300,
    )
}

// ---------------------------------------------------------------- Mono

#[tokio::test]
async fn mono_create_and_get_speak_the_seed_format() {
    let sb = sandbox().await;
    let (status, created) = json_of(
        http()
            .post(format!("{}/v1/collection_intents", sb.base_url()))
            .bearer_auth(MONO_KEY)
            .json(&mono_request())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    assert!(
        id.starts_with("cint_") && shared::providers::mono::validate_payment_id(id).is_ok(),
        "{id}"
    );
    assert_eq!(created["state"], "created");
    assert_eq!(
        created["amount"],
        json!({"amount": 100000000, "currency": "COP"})
    );
    assert!(created["amount"]["amount"].is_i64());
    assert_eq!(created["payment"]["provider"], "pse");
    assert!(is_numeric_string(&created["payment"]["transaction_id"]));
    assert!(
        created["payment"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(is_rfc3339(&created["inserted_at"]) && is_rfc3339(&created["updated_at"]));
    assert_eq!(created["account_id"], "acc_5tgliBmzjZ6mpQPRbQjfKj");
    assert_eq!(created["payer"]["name"], "Martina Brooks");
    assert_eq!(created["reference"], "REF. #5578136");
    assert_eq!(created["note"], "February payment");
    assert_eq!(created["realtime_transfer"], false);
    assert_eq!(created["redirect_url"], "https://my-page/voucher/ID_123");

    let (status, fetched) = mono_get(&sb, id).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn mono_idempotency_key_returns_the_first_intent() {
    let sb = sandbox().await;
    let post = || {
        http()
            .post(format!("{}/v1/collection_intents", sb.base_url()))
            .bearer_auth(MONO_KEY)
            .header("x-idempotency-key", "f30f1d0b-795f-49f5-80dc-41a7bffccfde")
            .json(&mono_request())
            .send()
    };
    let (_, first) = json_of(post().await.unwrap()).await;
    let (status, second) = json_of(post().await.unwrap()).await;
    assert_eq!(status, 201);
    assert_eq!(first["id"], second["id"]);
}

#[tokio::test]
async fn mono_refuses_missing_or_wrong_credentials_with_its_envelope() {
    let sb = sandbox().await;
    let url = format!("{}/v1/collection_intents", sb.base_url());
    for request in [
        http().post(&url).json(&mono_request()),
        http().post(&url).bearer_auth("wrong").json(&mono_request()),
        http()
            .post(&url)
            .basic_auth(MONO_KEY, None::<&str>)
            .json(&mono_request()),
    ] {
        let (status, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(body["code"], "401 Unauthorized");
        assert_eq!(
            body["message"],
            "Authorization header is missing or invalid."
        );
        assert_eq!(body["errors"][0]["error_code"], "expired_token");
        assert_eq!(body["errors"][0]["path"], Value::Null);
        assert_eq!(body["errors"][0]["url"], Value::Null);
        let log = body["id"].as_str().unwrap();
        assert!(log.starts_with("log_") && log.len() == 26, "{log}");
    }
}

#[tokio::test]
async fn mono_unknown_intent_is_404_item_not_found() {
    let sb = sandbox().await;
    let (status, body) = mono_get(&sb, "cint_5tgliBmzjZ6mpQPRbQjfKj").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "404 Not Found");
    assert_eq!(body["message"], "Item not found");
    assert_eq!(body["errors"][0]["error_code"], "item_not_found");
    assert!(body["id"].as_str().unwrap().starts_with("log_"));
}

#[tokio::test]
async fn mono_create_validation_reports_paths() {
    let sb = sandbox().await;
    let post = |body: Value| {
        http()
            .post(format!("{}/v1/collection_intents", sb.base_url()))
            .bearer_auth(MONO_KEY)
            .json(&body)
            .send()
    };
    let cases: [(&str, Value, &str, &str); 6] = [
        ("amount", Value::Null, "missing_field", "#/amount"),
        (
            "amount",
            json!({"amount": 10.5, "currency": "COP"}),
            "validation_error",
            "#/amount/amount",
        ),
        (
            "amount",
            json!({"amount": 0, "currency": "COP"}),
            "validation_error",
            "#/amount/amount",
        ),
        (
            "amount",
            json!({"amount": 100, "currency": "USD"}),
            "validation_error",
            "#/amount/currency",
        ),
        (
            "account_id",
            json!("acc_short"),
            "validation_error",
            "#/account_id",
        ),
        ("ip", json!("300.1.1.1"), "validation_error", "#/ip"),
    ];
    for (field, value, code, path) in cases {
        let mut body = mono_request();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value;
        }
        let (status, err) = json_of(post(body).await.unwrap()).await;
        assert_eq!(status, 422, "{field}: {err}");
        assert_eq!(err["code"], "422 Unprocessable Entity");
        assert_eq!(err["message"], "Validation errors");
        assert_eq!(err["errors"][0]["error_code"], code, "{err}");
        assert_eq!(err["errors"][0]["path"], path, "{err}");
    }
    // Several problems are all reported.
    let (status, err) = json_of(post(json!({"payment": {}})).await.unwrap()).await;
    assert_eq!(status, 422);
    let paths: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for p in [
        "#/account_id",
        "#/amount",
        "#/bank_code",
        "#/ip",
        "#/payer",
        "#/redirect_url",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    let malformed = http()
        .post(format!("{}/v1/collection_intents", sb.base_url()))
        .bearer_auth(MONO_KEY)
        .body("not json")
        .send()
        .await
        .unwrap();
    let (status, err) = json_of(malformed).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("400 Bad Request"))
    );
}

// ---------------------------------------------------------------- Belvo

#[tokio::test]
async fn belvo_customer_link_intent_and_amounts() {
    let sb = sandbox().await;
    let post = |path: &str, body: Value| {
        http()
            .post(format!("{}{path}", sb.base_url()))
            .basic_auth(BELVO_ID, Some(BELVO_PASSWORD))
            .json(&body)
            .send()
    };
    let (status, customer) = json_of(
        post(
            "/payments/customers/",
            json!({
                "customer_type": "INDIVIDUAL",
                "country": "COL",
                "name": "Carlos Vives",
                "email": "carlos@example.com",
                "identifier_type": "CC",
                "identifier": "1018760936",
                "address": "Calle Carlos Vives 432, 80300 Bogota",
                "phone": "3210987636"
            }),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{customer}");
    assert!(is_uuid(&customer["id"]) && is_uuid(&customer["created_by"]));
    assert!(is_rfc3339(&customer["created_at"]));
    assert_eq!(customer["identifier"], "1018760936");
    assert_eq!(customer["customer_type"], "INDIVIDUAL");

    let link_body = |amount: Value| {
        json!({
            "allowed_payment_method_types": ["pse"],
            "payment_method_details": {"pse": {"beneficiary_bank_account": "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc"}},
            "callback_urls": {"cancel": "https://acme.example/cancel", "success": "https://acme.example/ok"},
            "amount": amount,
            "customer": customer["id"],
            "description": "Awesome training Sneaker",
            "provider": "payments_way",
            "expires_in": "7d"
        })
    };
    let (status, link) = json_of(
        post("/payments/payment-links/", link_body(json!(100000)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    assert!(is_uuid(&link["id"]) && is_uuid(&link["payment_intent"]));
    assert_eq!(link["status"], "ACTIVE");
    assert!(
        link["payment_url"]
            .as_str()
            .unwrap()
            .ends_with(link["access_token"].as_str().unwrap())
    );
    assert_eq!(link["callback_urls"]["success"], "https://acme.example/ok");
    assert!(is_rfc3339(&link["expires_at"]));

    let pi_id = link["payment_intent"].as_str().unwrap();
    let (status, pi) = belvo_get(&sb, &format!("/payments/payment-intents/{pi_id}/")).await;
    assert_eq!(status, 200);
    assert_eq!(pi["id"], pi_id);
    assert_eq!(pi["status"], "REQUIRES_PAYMENT_METHOD");
    assert_eq!(pi["amount"], json!(100000), "an integer of whole pesos");
    assert_eq!(pi["currency"], "COP");
    assert_eq!(pi["charges"], json!([]));
    assert_eq!(pi["customer"], customer["id"]);
    assert_eq!(pi["failure_code"], Value::Null);
    assert_eq!(pi["failure_message"], Value::Null);
    assert!(pi["metadata"].is_object());
    assert!(is_rfc3339(&pi["created_at"]) && is_rfc3339(&pi["updated_at"]));

    // An integer string is accepted; decimals are refused with 400.
    let (status, link) = json_of(
        post("/payments/payment-links/", link_body(json!("350000")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let (_, pi) = belvo_get(
        &sb,
        &format!(
            "/payments/payment-intents/{}/",
            link["payment_intent"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(pi["amount"], json!(350000));
    for bad in [json!("1000.50"), json!(1000.5), json!(-1)] {
        let (status, err) = json_of(
            post("/payments/payment-links/", link_body(bad.clone()))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(err[0]["field"], "amount");
        assert!(err[0]["request_id"].is_string());
    }
    // A required field missing.
    let (status, err) = json_of(
        post("/payments/customers/", json!({"country": "COL"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        err.as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "name" && e["code"] == "required")
    );
}

#[tokio::test]
async fn belvo_credentials_and_not_found_shapes() {
    let sb = sandbox().await;
    let created = sb
        .admin()
        .create_payment("belvo", 10_000_000)
        .await
        .unwrap();
    let path = format!(
        "{}/payments/payment-intents/{}/",
        sb.base_url(),
        created.provider_payment_id
    );
    for request in [
        http().get(&path),
        http().get(&path).basic_auth(BELVO_ID, Some("wrong")),
        http().get(&path).basic_auth("wrong", Some(BELVO_PASSWORD)),
        http().get(&path).bearer_auth(BELVO_PASSWORD),
    ] {
        let (status, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(body[0]["code"], "authentication_failed");
        assert!(body[0]["message"].is_string() && body[0]["request_id"].is_string());
    }
    for missing in [
        "/payments/payment-intents/00000000-0000-4000-8000-000000000000/",
        "/payments/transactions/00000000-0000-4000-8000-000000000000/",
    ] {
        let (status, body) = belvo_get(&sb, missing).await;
        assert_eq!(status, 404);
        assert_eq!(body[0]["code"], "not_found");
    }
    let (status, _) = belvo_get(
        &sb,
        &format!("/payments/payment-intents/{}/", created.provider_payment_id),
    )
    .await;
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------- Tpaga

#[tokio::test]
async fn tpaga_token_banks_create_and_query_charge() {
    let sb = sandbox().await;
    let (status, token) = json_of(
        http()
            .post(format!("{}/o/token/", sb.base_url()))
            .basic_auth(TPAGA_CLIENT, Some(TPAGA_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    assert_eq!(token["scope"], "read write");
    let access = token["access_token"].as_str().unwrap();
    assert!(access.len() >= 20);

    let (status, banks) = tpaga_get(&sb, access, "/banks").await;
    assert_eq!(status, 200);
    let banks = banks.as_array().unwrap();
    assert!(
        banks
            .iter()
            .all(|b| b["name"].is_string() && b["code"].is_string())
    );
    assert!(banks.iter().any(|b| b["name"] == "BANCO UNION COLOMBIANO"));

    let (status, charge) = json_of(
        http()
            .post(format!("{}/api/pse/v1/public/charge", sb.base_url()))
            .bearer_auth(access)
            .json(&tpaga_request())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{charge}");
    let t = charge["token"].as_str().unwrap();
    assert!(t.starts_with("pse-") && t.len() == 36);
    assert!(
        t[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(charge["status"], "pending");
    assert_eq!(charge["amount"], "10000.00");
    assert_eq!(charge["vat_amount"], "10.00");
    assert_eq!(charge["order_id"], "abc-123");
    assert_eq!(charge["user_type"], "NATURAL");
    assert_eq!(charge["bank_code"], "1022");
    assert_eq!(charge["return_code"], "SUCCESS");
    assert!(is_numeric_string(&charge["traceability_code"]));
    assert!(charge["bank_url"].is_string());
    assert_eq!(charge["transaction_state"], Value::Null);
    assert_eq!(charge["rejected_reason"], Value::Null);

    let (status, fetched) = tpaga_get(&sb, access, &format!("/charge/{t}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, charge);

    // Numbers are accepted too and come back as two-decimal strings.
    let mut numeric = tpaga_request();
    numeric["order_id"] = json!("abc-124");
    numeric["amount"] = json!(1234.5);
    numeric["vat_amount"] = json!(0);
    let (status, charge) = json_of(
        http()
            .post(format!("{}/api/pse/v1/public/charge", sb.base_url()))
            .bearer_auth(access)
            .json(&numeric)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{charge}");
    assert_eq!(
        (charge["amount"].as_str(), charge["vat_amount"].as_str()),
        (Some("1234.50"), Some("0.00"))
    );
}

#[tokio::test]
async fn tpaga_oauth_and_bearer_errors() {
    let sb = sandbox().await;
    let token_url = format!("{}/o/token/", sb.base_url());
    let (status, body) = json_of(
        http()
            .post(&token_url)
            .basic_auth(TPAGA_CLIENT, Some("wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (401, json!({"error": "invalid_client"})));
    let (status, body) = json_of(
        http()
            .post(&token_url)
            .basic_auth(TPAGA_CLIENT, Some(TPAGA_SECRET))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (400, json!({"error": "unsupported_grant_type"}))
    );

    for token in ["", "not-a-token"] {
        let (status, body) = tpaga_get(&sb, token, "/banks").await;
        assert_eq!(status, 401);
        assert!(body["detail"].is_string());
    }
    let access = tpaga_token(&sb).await;
    let (status, body) =
        tpaga_get(&sb, &access, "/charge/pse-00000000000000000000000000000000").await;
    assert_eq!(status, 404);
    assert!(body["detail"].is_string());
}

#[tokio::test]
async fn tpaga_charge_validation_uses_the_documented_422() {
    let sb = sandbox().await;
    let access = tpaga_token(&sb).await;
    let cases = [
        ("amount", json!(999), "amount", json!("999")),
        (
            "amount",
            json!("40000000.01"),
            "amount",
            json!("40000000.01"),
        ),
        ("amount", json!("12c"), "amount", json!("12c")),
        (
            "buyer_email",
            json!("invalidemail.co"),
            "buyer_email",
            json!("invalidemail.co"),
        ),
        ("user_type", json!("INVALID"), "user_type", json!("INVALID")),
        ("bank_code", json!("XXXX"), "bank_code", json!("XXXX")),
        (
            "vat_amount",
            json!("10000.0"),
            "non_field_errors",
            Value::Null,
        ),
        (
            "order_id",
            json!("123456789012345678901"),
            "order_id",
            json!("123456789012345678901"),
        ),
    ];
    for (key, value, field, echoed) in cases {
        let mut body = tpaga_request();
        body[key] = value;
        let (status, err) = json_of(
            http()
                .post(format!("{}/api/pse/v1/public/charge", sb.base_url()))
                .bearer_auth(&access)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 422, "{key}: {err}");
        assert_eq!(err["field"], field, "{err}");
        assert_eq!(err["value"], echoed, "{err}");
        assert!(err["error_message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(err.as_object().unwrap().len(), 3);
    }
}

#[tokio::test]
async fn tpaga_tokens_expire_after_their_ttl() {
    let sb = sandbox_with(SandboxConfig {
        tpaga_token_ttl_secs: 1,
        ..SandboxConfig::for_tests()
    })
    .await;
    let access = tpaga_token(&sb).await;
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 401);
    let fresh = tpaga_token(&sb).await;
    assert_eq!(tpaga_get(&sb, &fresh, "/banks").await.0, 200);
}

#[tokio::test]
async fn tpaga_revoked_tokens_get_401() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let access = tpaga_token(&sb).await;
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 200);
    admin.revoke_tpaga_tokens().await.unwrap();
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 401);
    let fresh = tpaga_token(&sb).await;
    assert_eq!(tpaga_get(&sb, &fresh, "/banks").await.0, 200);
    assert_eq!(admin.stats().await.unwrap().tpaga_tokens_issued, 2);
}

// ---------------------------------------------------------------- faults, latency, stats

#[tokio::test]
async fn status_faults_fail_n_calls_then_recover() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let id = admin
        .create_payment("mono", 500_000)
        .await
        .unwrap()
        .provider_payment_id;
    admin.fault(&Fault::status("mono", 503, 2)).await.unwrap();
    for _ in 0..2 {
        let (status, body) = mono_get(&sb, &id).await;
        assert_eq!(status, 503);
        assert_eq!(body["code"], "503 Service Unavailable");
        assert!(body["errors"][0]["error_code"].is_string());
    }
    assert_eq!(mono_get(&sb, &id).await.0, 200);

    // 429 carries Retry-After; Belvo's fault uses Belvo's error list.
    let pi = admin
        .create_payment("belvo", 500_000)
        .await
        .unwrap()
        .provider_payment_id;
    admin.fault(&Fault::status("belvo", 429, 1)).await.unwrap();
    let r = http()
        .get(format!("{}/payments/payment-intents/{pi}/", sb.base_url()))
        .basic_auth(BELVO_ID, Some(BELVO_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("retry-after").unwrap(), "1");
    let (status, body) = json_of(r).await;
    assert_eq!(status, 429);
    assert!(body[0]["code"].is_string());

    // Tpaga's token endpoint is spared unless asked for.
    admin.fault(&Fault::status("tpaga", 500, 1)).await.unwrap();
    let access = tpaga_token(&sb).await;
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 500);
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 200);
    let mut on_token = Fault::status("tpaga", 500, 1);
    on_token.include_token_endpoint = true;
    admin.fault(&on_token).await.unwrap();
    let (status, body) = json_of(
        http()
            .post(format!("{}/o/token/", sb.base_url()))
            .basic_auth(TPAGA_CLIENT, Some(TPAGA_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("server_error"))
    );

    // Cleared faults no longer apply.
    admin.fault(&Fault::status("mono", 500, 5)).await.unwrap();
    admin.clear_faults().await.unwrap();
    assert_eq!(mono_get(&sb, &id).await.0, 200);
}

#[tokio::test]
async fn delay_faults_and_latency_slow_answers_down() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let id = admin
        .create_payment("mono", 500_000)
        .await
        .unwrap()
        .provider_payment_id;

    admin.fault(&Fault::delay("mono", 400, 1)).await.unwrap();
    let started = Instant::now();
    assert_eq!(
        mono_get(&sb, &id).await.0,
        200,
        "delayed, then answered normally"
    );
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    mono_get(&sb, &id).await;
    assert!(started.elapsed() < Duration::from_millis(400));

    admin.set_latency(250).await.unwrap();
    let started = Instant::now();
    let access = tpaga_token(&sb).await;
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "both calls delayed"
    );
    // The admin API is never slowed down.
    let started = Instant::now();
    admin.stats().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(250));
    admin.set_latency(0).await.unwrap();
    let started = Instant::now();
    mono_get(&sb, &id).await;
    assert!(started.elapsed() < Duration::from_millis(250));
}

#[tokio::test]
async fn stats_count_calls_per_route_pattern_including_failures() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let id = admin
        .create_payment("mono", 500_000)
        .await
        .unwrap()
        .provider_payment_id;
    mono_get(&sb, &id).await;
    mono_get(&sb, "cint_5tgliBmzjZ6mpQPRbQjfKj").await; // 404
    http()
        .get(format!("{}/v1/collection_intents/{id}", sb.base_url()))
        .send()
        .await
        .unwrap(); // 401
    admin.fault(&Fault::status("mono", 500, 1)).await.unwrap();
    mono_get(&sb, &id).await; // faulted
    http()
        .post(format!("{}/v1/collection_intents", sb.base_url()))
        .bearer_auth(MONO_KEY)
        .json(&mono_request())
        .send()
        .await
        .unwrap();
    tpaga_token(&sb).await;

    let stats = admin.stats().await.unwrap();
    let get = stats
        .calls
        .iter()
        .find(|c| c.provider == "mono" && c.route == "/v1/collection_intents/{id}")
        .unwrap();
    assert_eq!((get.method.as_str(), get.count), ("GET", 4));
    assert_eq!(
        admin.calls("mono", "/v1/collection_intents").await.unwrap(),
        1
    );
    assert_eq!(admin.calls("tpaga", "/o/token/").await.unwrap(), 1);
    assert_eq!(
        admin
            .calls("belvo", "/payments/payment-intents/{id}/")
            .await
            .unwrap(),
        0
    );
    assert_eq!(stats.tpaga_tokens_issued, 1);
    assert!(
        stats.calls.iter().all(|c| !c.route.contains(&id)),
        "patterns, not raw paths"
    );

    admin.reset().await.unwrap();
    let stats = admin.stats().await.unwrap();
    assert!(stats.calls.is_empty());
    assert_eq!(stats.tpaga_tokens_issued, 0);
    assert_eq!(
        mono_get(&sb, &id).await.0,
        404,
        "payments are gone after reset"
    );
}

// ---------------------------------------------------------------- admin API

#[tokio::test]
async fn admin_creates_payments_in_each_providers_initial_state() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let mono = admin.create_payment("mono", 10_000_000).await.unwrap();
    assert_eq!(
        (mono.provider.as_str(), mono.status.as_str()),
        ("mono", "created")
    );
    let (_, intent) = mono_get(&sb, &mono.provider_payment_id).await;
    assert_eq!(intent["amount"]["amount"], 10_000_000);

    let belvo = admin
        .create_payment_with(&NewPayment {
            provider: "belvo".to_owned(),
            amount_minor: 10_000_000,
            reference: Some("ORD-1".to_owned()),
        })
        .await
        .unwrap();
    assert_eq!(belvo.status, "REQUIRES_PAYMENT_METHOD");
    let (_, pi) = belvo_get(
        &sb,
        &format!("/payments/payment-intents/{}/", belvo.provider_payment_id),
    )
    .await;
    assert_eq!(pi["amount"], 100_000);
    assert_eq!(pi["metadata"]["reference"], "ORD-1");

    let tpaga = admin.create_payment("tpaga", 1_234_567).await.unwrap();
    assert_eq!(tpaga.status, "pending");
    let access = tpaga_token(&sb).await;
    let (_, charge) = tpaga_get(
        &sb,
        &access,
        &format!("/charge/{}", tpaga.provider_payment_id),
    )
    .await;
    assert_eq!(charge["amount"], "12345.67");

    let err = admin.create_payment("belvo", 10_000_050).await.unwrap_err();
    assert!(
        matches!(err, sandbox::AdminError::Status { status: 422, .. }),
        "{err}"
    );
    let err = admin.create_payment("paypal", 100).await.unwrap_err();
    assert!(
        matches!(err, sandbox::AdminError::Status { status: 422, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn admin_refuses_unknown_ids_and_statuses() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let url = format!("{}/_sandbox/payments/mono/cint_nope/status", sb.base_url());
    let (status, body) = json_of(
        http()
            .post(&url)
            .json(&json!({"status": "failed"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (404, json!({"error": "not_found"})));
    for provider in ["mono", "belvo", "tpaga"] {
        let id = admin
            .create_payment(provider, 500_000)
            .await
            .unwrap()
            .provider_payment_id;
        let err = admin
            .set_status(provider, &id, &StatusChange::to("paid"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, sandbox::AdminError::Status { status: 422, .. }),
            "{provider}: {err}"
        );
        let err = admin
            .deliver_webhook(
                provider,
                &id,
                &WebhookRequest {
                    claimed_status: Some("paid".to_owned()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, sandbox::AdminError::Status { status: 422, .. }),
            "{provider}: {err}"
        );
    }
    let err = admin
        .set_status("paypal", "x", &StatusChange::to("paid"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        sandbox::AdminError::Status { status: 404, .. }
    ));
    let (status, body) = json_of(
        http()
            .get(format!("{}/_sandbox/health", sb.base_url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn status_changes_work_without_a_webhook_target() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let id = admin
        .create_payment("mono", 500_000)
        .await
        .unwrap()
        .provider_payment_id;
    let changed = admin
        .set_status("mono", &id, &StatusChange::to("account_credited"))
        .await
        .unwrap();
    assert_eq!(changed.webhooks_delivered, 0);
    assert!(changed.webhook_responses.is_empty());
    assert_eq!(changed.transaction_id, None);
    assert_eq!(mono_get(&sb, &id).await.1["state"], "account_credited");
}

// ---------------------------------------------------------------- webhooks

#[tokio::test]
async fn mono_webhooks_are_signed_over_the_exact_bytes_sent() {
    let sb = sandbox().await;
    let receiver = Receiver::start().await;
    let admin = sb.admin();
    admin.set_webhook_target(&receiver.target()).await.unwrap();
    let id = admin
        .create_payment("mono", 10_000_000)
        .await
        .unwrap()
        .provider_payment_id;

    let changed = admin
        .set_status(
            "mono",
            &id,
            &StatusChange {
                webhooks: Some(2),
                ..StatusChange::to("account_credited")
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.status, "account_credited");
    assert_eq!(
        (
            changed.webhooks_delivered,
            changed.webhook_responses.clone()
        ),
        (2, vec![200, 200])
    );
    let got = receiver.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "duplicates are identical");
    for r in &got {
        assert_eq!(r.path, "/webhooks/mono");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(verify_mono(r, MONO_SECRET), Ok(0));
        assert_eq!(verify_mono(r, "whsec_other"), Err(AuthError::Mismatch));
    }
    let body = got[0].json();
    assert_eq!(body["event"]["type"], "collection_intent_credited");
    let ts = body["timestamp"].as_str().unwrap();
    assert!(
        is_rfc3339(&body["timestamp"])
            && ts.ends_with('Z')
            && ts.split('.').nth(1).unwrap().len() == 7,
        "{ts}"
    );
    let (_, current) = mono_get(&sb, &id).await;
    assert_eq!(
        body["event"]["data"], current,
        "data is the intent as GET returns it"
    );
    assert_eq!(current["state"], "account_credited");

    // Confirmed, failed (with the reason), and silence for in_progress.
    admin
        .set_status("mono", &id, &StatusChange::to("approved_in_provider"))
        .await
        .unwrap();
    assert_eq!(
        receiver.take()[0].json()["event"]["type"],
        "collection_intent_confirmed"
    );
    let silent = admin
        .set_status("mono", &id, &StatusChange::to("in_progress"))
        .await
        .unwrap();
    assert_eq!(silent.webhooks_delivered, 0);
    assert!(receiver.take().is_empty());
    admin
        .set_status(
            "mono",
            &id,
            &StatusChange {
                reported_amount_minor: Some(9_999_900),
                ..StatusChange::to("failed")
            },
        )
        .await
        .unwrap();
    let failed = receiver.take()[0].json();
    assert_eq!(failed["event"]["type"], "collection_intent_failed");
    assert!(
        failed["event"]["data"]["payment"]["provider_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(failed["event"]["data"]["amount"]["amount"], 9_999_900);
    assert_eq!(mono_get(&sb, &id).await.1["amount"]["amount"], 9_999_900);
}

#[tokio::test]
async fn forged_webhooks_leave_the_api_alone() {
    let sb = sandbox().await;
    let receiver = Receiver::start().await;
    let admin = sb.admin();
    admin.set_webhook_target(&receiver.target()).await.unwrap();
    let id = admin
        .create_payment("mono", 10_000_000)
        .await
        .unwrap()
        .provider_payment_id;

    // "Body says credited, API says created".
    let delivered = admin
        .deliver_webhook(
            "mono",
            &id,
            &WebhookRequest {
                claimed_status: Some("account_credited".to_owned()),
                count: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (delivered.delivered, delivered.responses),
        (3, vec![200, 200, 200])
    );
    let got = receiver.take();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].json()["event"]["data"]["state"], "account_credited");
    assert_eq!(got[0].json()["event"]["type"], "collection_intent_credited");
    assert_eq!(verify_mono(&got[0], MONO_SECRET), Ok(0));
    assert_eq!(mono_get(&sb, &id).await.1["state"], "created");

    // signed: false fails verification.
    admin
        .deliver_webhook(
            "mono",
            &id,
            &WebhookRequest {
                signed: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = receiver.take();
    assert_eq!(got.len(), 1);
    assert_eq!(verify_mono(&got[0], MONO_SECRET), Err(AuthError::Mismatch));
    assert_eq!(got[0].json()["event"]["data"]["state"], "created");

    // Belvo: the body claims SUCCEEDED, the API still says REQUIRES_PAYMENT_METHOD.
    let pi = admin
        .create_payment("belvo", 10_000_000)
        .await
        .unwrap()
        .provider_payment_id;
    admin
        .deliver_webhook(
            "belvo",
            &pi,
            &WebhookRequest {
                claimed_status: Some("SUCCEEDED".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let got = receiver.take();
    assert_eq!(got[0].json()["data"]["status"], "SUCCEEDED");
    let (_, current) = belvo_get(&sb, &format!("/payments/payment-intents/{pi}/")).await;
    assert_eq!(current["status"], "REQUIRES_PAYMENT_METHOD");
    // Tpaga: a webhook for a pending charge.
    let charge = admin
        .create_payment("tpaga", 1_000_000)
        .await
        .unwrap()
        .provider_payment_id;
    let d = admin
        .deliver_webhook("tpaga", &charge, &WebhookRequest::default())
        .await
        .unwrap();
    assert_eq!(d.delivered, 1);
    assert_eq!(receiver.take()[0].json(), json!({"charge_token": charge}));
}

#[tokio::test]
async fn belvo_webhooks_carry_authorization_and_stable_ids() {
    let sb = sandbox().await;
    let receiver = Receiver::start().await;
    let admin = sb.admin();
    admin.set_webhook_target(&receiver.target()).await.unwrap();
    let pi = admin
        .create_payment("belvo", 10_000_000)
        .await
        .unwrap()
        .provider_payment_id;

    let changed = admin
        .set_status(
            "belvo",
            &pi,
            &StatusChange {
                webhooks: Some(2),
                ..StatusChange::to("SUCCEEDED")
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.status, "SUCCEEDED");
    assert_eq!(
        changed.webhooks_delivered, 4,
        "2 × STATUS_UPDATE + 2 × OBJECT_CREATED"
    );
    let transaction_id = changed.transaction_id.clone().unwrap();
    let got = receiver.take();
    assert_eq!(got.len(), 4);
    for r in &got {
        assert_eq!(r.path, "/webhooks/belvo");
        assert_eq!(r.headers["authorization"], "Bearer belvo-webhook-token");
        assert_eq!(r.headers["content-type"], "application/json");
    }
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let status_updates: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["webhook_type"] == "PAYMENT_INTENTS")
        .collect();
    let created: Vec<&Value> = bodies
        .iter()
        .filter(|b| b["webhook_type"] == "TRANSACTIONS")
        .collect();
    assert_eq!((status_updates.len(), created.len()), (2, 2));
    assert_eq!(
        status_updates[0]["webhook_id"], status_updates[1]["webhook_id"],
        "same id on duplicates"
    );
    assert_eq!(created[0]["webhook_id"], created[1]["webhook_id"]);
    assert_ne!(
        status_updates[0]["webhook_id"], created[0]["webhook_id"],
        "distinct events, distinct ids"
    );
    assert!(is_uuid(&status_updates[0]["webhook_id"]));
    assert_eq!(status_updates[0]["webhook_code"], "STATUS_UPDATE");
    assert_eq!(status_updates[0]["object_id"], pi.as_str());
    assert_eq!(status_updates[0]["data"]["status"], "SUCCEEDED");
    for key in ["metadata", "failure_code", "failure_message"] {
        assert!(status_updates[0]["data"].get(key).is_some(), "{key}");
    }
    assert_eq!(created[0]["webhook_code"], "OBJECT_CREATED");
    assert_eq!(created[0]["object_id"], transaction_id.as_str());
    assert_eq!(created[0]["data"], json!({}));

    let (status, txn) = belvo_get(&sb, &format!("/payments/transactions/{transaction_id}/")).await;
    assert_eq!(status, 200);
    assert_eq!(
        txn["payment_intent"],
        pi.as_str(),
        "the transaction links to the intent"
    );
    assert_eq!(txn["amount"], "100000", "a string of whole pesos");
    assert_eq!(txn["transaction_type"], "INFLOW");
    assert_eq!(txn["currency"], "COP");
    assert!(
        is_rfc3339(&txn["created_at"]) && is_uuid(&txn["customer"]) && is_uuid(&txn["beneficiary"])
    );
    assert!(txn["payer"]["bank_account"].is_string());
    assert!(txn.get("status").is_none(), "transactions have no status");
    assert_eq!(
        belvo_get(&sb, &format!("/payments/payment-intents/{pi}/"))
            .await
            .1["status"],
        "SUCCEEDED"
    );

    // A second logical event gets a new webhook_id.
    admin
        .set_status("belvo", &pi, &StatusChange::to("SUCCEEDED"))
        .await
        .unwrap();
    let again = receiver.take();
    assert_eq!(again.len(), 1, "already SUCCEEDED: no second transaction");
    assert_ne!(
        again[0].json()["webhook_id"],
        status_updates[0]["webhook_id"]
    );

    // A duplicate payment: another INFLOW for the same intent.
    let added = admin.add_belvo_transaction(&pi, 5_000_000).await.unwrap();
    assert_eq!(added.webhooks_delivered, 1);
    assert_ne!(added.transaction_id, transaction_id);
    assert_eq!(
        receiver.take()[0].json()["object_id"],
        added.transaction_id.as_str()
    );
    let (_, second) = belvo_get(
        &sb,
        &format!("/payments/transactions/{}/", added.transaction_id),
    )
    .await;
    assert_eq!(
        (second["amount"].as_str(), second["payment_intent"].as_str()),
        (Some("50000"), Some(pi.as_str()))
    );
}

#[tokio::test]
async fn belvo_failure_and_reported_amount() {
    let sb = sandbox().await;
    let receiver = Receiver::start().await;
    let admin = sb.admin();
    admin.set_webhook_target(&receiver.target()).await.unwrap();
    let pi = admin
        .create_payment("belvo", 10_000_000)
        .await
        .unwrap()
        .provider_payment_id;
    admin
        .set_status("belvo", &pi, &StatusChange::to("PROCESSING"))
        .await
        .unwrap();
    assert_eq!(receiver.take()[0].json()["data"]["status"], "PROCESSING");
    let changed = admin
        .set_status(
            "belvo",
            &pi,
            &StatusChange {
                reported_amount_minor: Some(9_000_000),
                ..StatusChange::to("SUCCEEDED")
            },
        )
        .await
        .unwrap();
    let (_, txn) = belvo_get(
        &sb,
        &format!(
            "/payments/transactions/{}/",
            changed.transaction_id.unwrap()
        ),
    )
    .await;
    assert_eq!(txn["amount"], "90000");
    assert_eq!(
        belvo_get(&sb, &format!("/payments/payment-intents/{pi}/"))
            .await
            .1["amount"],
        90_000
    );
    receiver.take();

    let other = admin
        .create_payment("belvo", 10_000_000)
        .await
        .unwrap()
        .provider_payment_id;
    let failed = admin
        .set_status("belvo", &other, &StatusChange::to("FAILED"))
        .await
        .unwrap();
    assert_eq!(failed.transaction_id, None);
    let body = receiver.take()[0].json();
    assert_eq!(body["data"]["status"], "FAILED");
    assert!(body["data"]["failure_code"].is_string());
    let (_, current) = belvo_get(&sb, &format!("/payments/payment-intents/{other}/")).await;
    assert_eq!(current["failure_code"], body["data"]["failure_code"]);
    let err = admin
        .set_status(
            "belvo",
            &other,
            &StatusChange {
                reported_amount_minor: Some(150),
                ..StatusChange::to("FAILED")
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        sandbox::AdminError::Status { status: 422, .. }
    ));
}

#[tokio::test]
async fn tpaga_webhooks_use_the_path_token_and_only_final_statuses() {
    let sb = sandbox().await;
    let receiver = Receiver::start().await;
    let admin = sb.admin();
    admin
        .set_webhook_target(&WebhookTarget {
            tpaga_path_token: Some("s3cret-path".to_owned()),
            ..receiver.target()
        })
        .await
        .unwrap();
    let token = admin
        .create_payment("tpaga", 1_000_000)
        .await
        .unwrap()
        .provider_payment_id;
    let access = tpaga_token(&sb).await;
    let before = tpaga_get(&sb, &access, &format!("/charge/{token}")).await.1;

    let quiet = admin
        .set_status("tpaga", &token, &StatusChange::to("failed"))
        .await
        .unwrap();
    assert_eq!(quiet.webhooks_delivered, 0);
    assert!(receiver.take().is_empty());
    let changed = admin
        .set_status(
            "tpaga",
            &token,
            &StatusChange {
                webhooks: Some(2),
                ..StatusChange::to("settled")
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.webhook_responses, vec![200, 200]);
    let got = receiver.take();
    assert_eq!(got.len(), 2);
    for r in &got {
        assert_eq!(r.path, "/webhooks/tpaga/s3cret-path");
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(!r.headers.contains_key("authorization"));
        assert_eq!(r.json(), json!({"charge_token": token}));
    }
    let after = tpaga_get(&sb, &access, &format!("/charge/{token}")).await.1;
    assert_eq!(after["status"], "settled");
    assert_eq!(after["traceability_code"], before["traceability_code"]);
    assert_eq!(after["amount"], "10000.00");

    let zero = admin
        .set_status(
            "tpaga",
            &token,
            &StatusChange {
                webhooks: Some(0),
                ..StatusChange::to("authorized")
            },
        )
        .await
        .unwrap();
    assert_eq!((zero.webhooks_delivered, receiver.take().len()), (0, 0));
}

#[tokio::test]
async fn receiver_answers_and_outages_are_reported() {
    let sb = sandbox().await;
    let receiver = Receiver::start().await;
    let admin = sb.admin();
    admin.set_webhook_target(&receiver.target()).await.unwrap();
    let id = admin
        .create_payment("mono", 500_000)
        .await
        .unwrap()
        .provider_payment_id;
    receiver.status.store(500, Ordering::SeqCst);
    let changed = admin
        .set_status("mono", &id, &StatusChange::to("failed"))
        .await
        .unwrap();
    assert_eq!(
        (changed.webhooks_delivered, changed.webhook_responses),
        (1, vec![500])
    );

    // Nobody listening: no HTTP response, reported as 0.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    admin
        .set_webhook_target(&WebhookTarget {
            base_url: dead,
            ..WebhookTarget::default()
        })
        .await
        .unwrap();
    let d = admin
        .deliver_webhook("mono", &id, &WebhookRequest::default())
        .await
        .unwrap();
    assert_eq!((d.delivered, d.responses), (0, vec![0]));

    // A bad target is refused.
    let bad = AdminClient::new(&sb.base_url())
        .set_webhook_target(&WebhookTarget {
            base_url: "localhost:8080".to_owned(),
            ..WebhookTarget::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(
        bad,
        sandbox::AdminError::Status { status: 422, .. }
    ));
}

// ---------------------------------------------------------------- create-payment faults

const MONO_REFERENCE: &str = "REF. #5578136";

fn mono_create(sb: &RunningSandbox, key: &str) -> reqwest::RequestBuilder {
    http()
        .post(format!("{}/v1/collection_intents", sb.base_url()))
        .bearer_auth(MONO_KEY)
        .header("x-idempotency-key", key)
        .json(&mono_request())
}

fn tpaga_create(sb: &RunningSandbox, access: &str) -> reqwest::RequestBuilder {
    http()
        .post(format!("{}/api/pse/v1/public/charge", sb.base_url()))
        .bearer_auth(access)
        .json(&tpaga_request())
}

/// A Belvo customer, then the payment link body for `reference` (kept in `metadata`).
async fn belvo_link_body(sb: &RunningSandbox, reference: &str) -> Value {
    let (status, customer) = json_of(
        http()
            .post(format!("{}/payments/customers/", sb.base_url()))
            .basic_auth(BELVO_ID, Some(BELVO_PASSWORD))
            .json(&json!({
                "customer_type": "INDIVIDUAL",
                "country": "COL",
                "name": "Carlos Vives",
                "email": "carlos@example.com",
                "identifier_type": "CC",
                "identifier": "1018760936"
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{customer}");
    json!({
        "allowed_payment_method_types": ["pse"],
        "payment_method_details": {"pse": {"beneficiary_bank_account": "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc"}},
        "callback_urls": {"cancel": "https://acme.example/cancel", "success": "https://acme.example/ok"},
        "amount": 1000,
        "customer": customer["id"],
        "description": "Awesome training Sneaker",
        "provider": "payments_way",
        "expires_in": "7d",
        "metadata": {"reference": reference}
    })
}

#[tokio::test]
async fn mono_lost_answer_keeps_the_intent_and_the_key_returns_it() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let key = "0b0c3e52-4a8c-4f5e-9a57-55e3d8f5a001";
    admin
        .fault(&Fault::lost_with_status("mono", 502, 1))
        .await
        .unwrap();
    let (status, body) = json_of(mono_create(&sb, key).send().await.unwrap()).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["code"], "502 Bad Gateway");
    let found = admin.find_payments("mono", MONO_REFERENCE).await.unwrap();
    assert_eq!(found.len(), 1, "created although the answer was lost");
    let id = found[0].provider_payment_id.clone();
    assert_eq!(
        (found[0].status.as_str(), found[0].amount_minor),
        ("created", 100_000_000)
    );
    assert_eq!(mono_get(&sb, &id).await.0, 200);
    // The retry with the same key completes the same intent.
    let (status, again) = json_of(mono_create(&sb, key).send().await.unwrap()).await;
    assert_eq!((status, again["id"].as_str()), (201, Some(id.as_str())));
    assert_eq!(
        admin
            .find_payments("mono", MONO_REFERENCE)
            .await
            .unwrap()
            .len(),
        1
    );

    // A dropped connection: no HTTP answer at all, and the intent exists.
    admin.fault(&Fault::lost_by_drop("mono", 1)).await.unwrap();
    let other_key = "0b0c3e52-4a8c-4f5e-9a57-55e3d8f5a002";
    let err = mono_create(&sb, other_key).send().await.unwrap_err();
    assert!(err.status().is_none() && !err.is_timeout(), "{err:?}");
    let found = admin.find_payments("mono", MONO_REFERENCE).await.unwrap();
    assert_eq!(found.len(), 2);
    let (status, again) = json_of(mono_create(&sb, other_key).send().await.unwrap()).await;
    assert_eq!(
        (status, again["id"].as_str()),
        (201, Some(found[1].provider_payment_id.as_str()))
    );
}

#[tokio::test]
async fn tpaga_lost_answer_keeps_the_charge_and_its_order_id_gives_408() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let access = tpaga_token(&sb).await;
    admin.fault(&Fault::lost_by_drop("tpaga", 1)).await.unwrap();
    // Reads and tokens are spared: a lost answer waits for a create.
    assert_eq!(tpaga_get(&sb, &access, "/banks").await.0, 200);
    let err = tpaga_create(&sb, &access).send().await.unwrap_err();
    assert!(err.status().is_none(), "{err:?}");
    let found = admin.find_payments("tpaga", "abc-123").await.unwrap();
    assert_eq!(found.len(), 1, "created although the answer was lost");
    let token = &found[0].provider_payment_id;
    let (status, charge) = tpaga_get(&sb, &access, &format!("/charge/{token}")).await;
    assert_eq!(
        (status, charge["order_id"].as_str()),
        (200, Some("abc-123"))
    );
    let (status, body) = json_of(tpaga_create(&sb, &access).send().await.unwrap()).await;
    assert_eq!((status, body["field"].as_str()), (408, Some("order_id")));
    assert_eq!(
        admin.find_payments("tpaga", "abc-123").await.unwrap().len(),
        1
    );

    // Lost behind a 5xx in Tpaga's own error body.
    admin
        .fault(&Fault::lost_with_status("tpaga", 503, 1))
        .await
        .unwrap();
    let mut second = tpaga_request();
    second["order_id"] = json!("abc-124");
    let r = http()
        .post(format!("{}/api/pse/v1/public/charge", sb.base_url()))
        .bearer_auth(&access)
        .json(&second)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(r).await;
    assert_eq!((status, body["detail"].is_string()), (503, true));
    assert_eq!(
        admin.find_payments("tpaga", "abc-124").await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn belvo_lost_answer_by_timeout_keeps_the_payment_intent() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let body = belvo_link_body(&sb, "ORD-77").await;
    admin
        .fault(&Fault::lost_by_timeout("belvo", 3_000, 1))
        .await
        .unwrap();
    let impatient =
        shared::http::client(Duration::from_secs(2), Duration::from_millis(500)).unwrap();
    let started = Instant::now();
    let err = impatient
        .post(format!("{}/payments/payment-links/", sb.base_url()))
        .basic_auth(BELVO_ID, Some(BELVO_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let found = admin.find_payments("belvo", "ORD-77").await.unwrap();
    assert_eq!(found.len(), 1, "created although the answer never came");
    assert_eq!(
        (found[0].status.as_str(), found[0].amount_minor),
        ("REQUIRES_PAYMENT_METHOD", 100_000)
    );
    let path = format!(
        "/payments/payment-intents/{}/",
        found[0].provider_payment_id
    );
    assert_eq!(belvo_get(&sb, &path).await.0, 200);
    assert!(
        admin
            .find_payments("belvo", "ORD-78")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn create_only_delays_slow_the_create_and_spare_reads() {
    let sb = sandbox().await;
    let admin = sb.admin();
    let id = admin
        .create_payment("mono", 500_000)
        .await
        .unwrap()
        .provider_payment_id;
    admin
        .fault(&Fault::delay("mono", 400, 1).on_create())
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(mono_get(&sb, &id).await.0, 200);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "reads spared"
    );
    let key = "0b0c3e52-4a8c-4f5e-9a57-55e3d8f5a003";
    let started = Instant::now();
    assert_eq!(mono_create(&sb, key).send().await.unwrap().status(), 201);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "create slowed"
    );
    let started = Instant::now();
    assert_eq!(mono_create(&sb, key).send().await.unwrap().status(), 201);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "one use only"
    );
}

#[tokio::test]
async fn admin_refuses_malformed_create_faults_and_lookups() {
    let sb = sandbox().await;
    let admin = sb.admin();
    for fault in [
        Fault::lost_with_status("mono", 200, 1),
        Fault {
            lost_as: Some("vanish".to_owned()),
            ..Fault::lost_by_drop("mono", 1)
        },
        Fault {
            delay_ms: None,
            ..Fault::lost_by_timeout("belvo", 10, 1)
        },
    ] {
        let err = admin.fault(&fault).await.unwrap_err();
        assert!(
            matches!(err, sandbox::AdminError::Status { status: 422, .. }),
            "{fault:?}: {err}"
        );
    }
    let err = admin.find_payments("paypal", "ORD-1").await.unwrap_err();
    assert!(matches!(
        err,
        sandbox::AdminError::Status { status: 422, .. }
    ));
}

#[tokio::test]
async fn mono_idempotency_key_must_be_a_uuid() {
    let sb = sandbox().await;
    let (status, body) = json_of(mono_create(&sb, "ORD-1-attempt-1").send().await.unwrap()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["path"], "x-idempotency-key");
    assert!(
        sb.admin()
            .find_payments("mono", MONO_REFERENCE)
            .await
            .unwrap()
            .is_empty()
    );
}
