//! `POST /v1/payments` and `GET /v1/banks` against in-process provider fakes.

use serde_json::{Value, json};
use shared::testing::MERCHANT_KEY;

use crate::fake_providers::{self, Fake, Mode};
use crate::helpers::{TestApp, spawn_app_with};

pub fn payment(reference: &str, provider: &str) -> Value {
    json!({"reference": reference, "provider": provider,
           "amount": {"amount": 10_000_000, "currency": "COP"}, "description": "Invoice 1001",
           "bank_code": "1022", "payer_ip": "88.221.182.60", "redirect_url": "https://shop.example/orders/1001",
           "payer": {"document_type": "CC", "document_number": "1033711400", "email": "ana@example.com",
                     "name": "Ana Restrepo", "phone": "+57 300 000 0000", "person_type": "natural"}})
}

async fn stack(extra: &[(&str, &str)]) -> (TestApp, Fake) {
    let fake = fake_providers::start().await;
    let env = fake.env();
    let mut vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars.push(("ALLOW_INSECURE_PROVIDER_URLS", "1"));
    vars.extend_from_slice(extra);
    (spawn_app_with(&vars).await, fake)
}

impl TestApp {
    pub async fn pay(&self, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url("/v1/payments"))
            .bearer_auth(MERCHANT_KEY)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    fn attempt_state(&self, reference: &str) -> Option<String> {
        let mut conn = self.db.connect();
        shared::db::payments::find(&mut conn, reference)
            .unwrap()
            .map(|a| a.state)
    }

    fn open_provider_errors(&self) -> i64 {
        use diesel::RunQueryDsl;
        let mut conn = self.db.connect();
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM reconciliation_exceptions WHERE kind = 'provider_error')",
        ))
        .get_result(&mut conn)
        .unwrap()
    }
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn each_provider_creates_once_and_a_repeat_answers_the_same() {
    let (app, fake) = stack(&[]).await;
    for (provider, reference) in [("mono", "PAY-M1"), ("tpaga", "PAY-T1"), ("belvo", "PAY-B1")] {
        let body = payment(reference, provider);
        let (status, first) = app.pay(&body).await;
        assert_eq!(status, 201, "{provider}: {first}");
        assert!(
            first["payment_url"]
                .as_str()
                .unwrap()
                .starts_with("https://"),
            "{first}"
        );
        assert_eq!(first["order"]["state"], "pending");
        assert_eq!(first["order"]["reference"], reference);
        let (status, again) = app.pay(&body).await;
        assert_eq!(status, 200, "{provider}: {again}");
        assert_eq!(again["order"]["id"], first["order"]["id"]);
        assert_eq!(again["payment_url"], first["payment_url"]);
        let order: Value = app
            .get_as(MERCHANT_KEY, &format!("/v1/orders/{reference}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            order["provider_payment_id"],
            first["order"]["provider_payment_id"]
        );
    }
    assert_eq!(fake.created(), 3, "one provider payment per reference");
    assert_eq!(fake.calls(), 3, "a repeat makes no provider call");
    assert_eq!(fake.seen.lock().unwrap().customers, 1);
    // The wire shapes: Tpaga decimal pesos and a 20-character order_id; Belvo whole pesos.
    let seen = fake.seen.lock().unwrap().created.clone();
    let tpaga = seen.iter().find(|c| c.get("order_id").is_some()).unwrap();
    assert_eq!(tpaga["amount"], "100000.00");
    assert_eq!(tpaga["order_id"].as_str().unwrap().len(), 20);
    assert_eq!(tpaga["buyer_phone_number"], "3000000000");
    let belvo = seen.iter().find(|c| c.get("customer").is_some()).unwrap();
    assert_eq!(belvo["amount"], 100_000);

    let mut other = payment("PAY-M1", "mono");
    other["amount"]["amount"] = json!(20_000_000);
    let (status, body) = app.pay(&other).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "reference_conflict");

    let m = app.metrics().await;
    assert_eq!(
        metric(
            &m,
            r#"payments_created_total{outcome="created",provider="mono"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            r#"payments_created_total{outcome="replayed",provider="belvo"}"#
        ),
        1.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, r#"provider_create_seconds_count{provider="belvo"}"#),
        2.0,
        "{m}"
    );
}

#[tokio::test]
async fn a_provider_refusal_is_422_leaves_no_order_and_frees_the_reference() {
    let (app, fake) = stack(&[]).await;
    fake.set(Mode::Reject);
    let (status, body) = app.pay(&payment("PAY-R1", "tpaga")).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "provider_rejected");
    assert_eq!(body["error"]["fields"][0]["field"], "bank_code");
    assert_eq!(
        app.get_as(MERCHANT_KEY, "/v1/orders/PAY-R1").await.status(),
        404
    );
    assert_eq!(app.attempt_state("PAY-R1").as_deref(), Some("rejected"));

    fake.set(Mode::Normal);
    let mut fixed = payment("PAY-R1", "tpaga");
    fixed["bank_code"] = json!("1558");
    let (status, body) = app.pay(&fixed).await;
    assert_eq!(status, 201, "{body}");
    let m = app.metrics().await;
    assert_eq!(
        metric(
            &m,
            r#"payments_created_total{outcome="rejected",provider="tpaga"}"#
        ),
        1.0,
        "{m}"
    );
}

#[tokio::test]
async fn belvo_refuses_centavos_before_calling() {
    let (app, fake) = stack(&[]).await;
    let mut body = payment("PAY-B2", "belvo");
    body["amount"]["amount"] = json!(10_000_050);
    let (status, answer) = app.pay(&body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["fields"][0]["field"], "amount.amount");
    assert_eq!(fake.calls() + fake.seen.lock().unwrap().customers, 0);
}

#[tokio::test]
async fn an_outage_is_502_and_the_same_request_later_creates_it() {
    let (app, fake) = stack(&[]).await;
    fake.set(Mode::Down);
    let (status, body) = app.pay(&payment("PAY-D1", "mono")).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "provider_unavailable");
    assert_eq!(app.attempt_state("PAY-D1").as_deref(), Some("unknown"));
    fake.set(Mode::Normal);
    let (status, _) = app.pay(&payment("PAY-D1", "mono")).await;
    assert_eq!(status, 201);
    assert_eq!(fake.created(), 1);
}

#[tokio::test]
async fn mono_created_but_the_answer_lost_or_late_is_completed_by_the_retry() {
    let (app, fake) = stack(&[]).await;
    for (reference, mode, code) in [
        ("PAY-L1", Mode::LoseAnswer, 502),
        ("PAY-H1", Mode::Hang, 504),
    ] {
        fake.set(mode);
        let (status, body) = app.pay(&payment(reference, "mono")).await;
        assert_eq!(status, code, "{body}");
        assert_eq!(body["error"]["code"], "provider_unavailable");
        fake.set(Mode::Normal);
        let (status, body) = app.pay(&payment(reference, "mono")).await;
        assert_eq!(status, 201, "{body}");
    }
    assert_eq!(
        fake.created(),
        2,
        "the retries found the intents already created"
    );
    assert_eq!(fake.calls(), 4);
    let ids: Vec<String> = fake
        .seen
        .lock()
        .unwrap()
        .created
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let order: Value = app
        .get_as(MERCHANT_KEY, "/v1/orders/PAY-L1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["provider_payment_id"], ids[0].as_str());
}

#[tokio::test]
async fn tpaga_answer_lost_then_408() {
    let (app, fake) = stack(&[]).await;
    // Tpaga names the existing charge in its 408: the retry completes it.
    *fake.tpaga_408_names_token.lock().unwrap() = true;
    fake.set(Mode::LoseAnswer);
    assert_eq!(app.pay(&payment("PAY-T2", "tpaga")).await.0, 502);
    fake.set(Mode::Normal);
    let (status, body) = app.pay(&payment("PAY-T2", "tpaga")).await;
    assert_eq!(status, 201, "{body}");
    // Without the token (what the docs show), nobody can find the charge: abandoned, for finance.
    *fake.tpaga_408_names_token.lock().unwrap() = false;
    fake.set(Mode::LoseAnswer);
    assert_eq!(app.pay(&payment("PAY-T3", "tpaga")).await.0, 502);
    fake.set(Mode::Normal);
    let (status, body) = app.pay(&payment("PAY-T3", "tpaga")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "payment_abandoned");
    assert_eq!(app.attempt_state("PAY-T3").as_deref(), Some("abandoned"));
    assert_eq!(app.open_provider_errors(), 1);
    assert_eq!(fake.created(), 2, "never a second charge");
}

#[tokio::test]
async fn belvo_link_answer_lost_is_abandoned_never_repeated() {
    let (app, fake) = stack(&[]).await;
    fake.set(Mode::LoseAnswer);
    let (status, body) = app.pay(&payment("PAY-B3", "belvo")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "payment_abandoned");
    fake.set(Mode::Normal);
    let (status, _) = app.pay(&payment("PAY-B3", "belvo")).await;
    assert_eq!(status, 409);
    assert_eq!(fake.calls(), 1, "the link call is never repeated");
    assert_eq!(app.open_provider_errors(), 1);
}

#[tokio::test]
async fn missing_account_settings_disable_payments_naming_the_variable() {
    let (app, fake) = stack(&[("MONO_ACCOUNT_ID", ""), ("BELVO_BENEFICIARY_ACCOUNT", "")]).await;
    for (provider, variable) in [
        ("mono", "MONO_ACCOUNT_ID"),
        ("belvo", "BELVO_BENEFICIARY_ACCOUNT"),
    ] {
        let (status, body) = app.pay(&payment("PAY-X1", provider)).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "provider_disabled");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(variable),
            "{body}"
        );
    }
    assert_eq!(fake.calls(), 0);
}

#[tokio::test]
async fn banks_are_cached_and_only_tpaga_publishes_them() {
    let (app, fake) = stack(&[]).await;
    fake.set(Mode::Down);
    let r = app.get_as(MERCHANT_KEY, "/v1/banks?provider=tpaga").await;
    assert_eq!(r.status(), 502, "never fetched: nothing to serve");
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    fake.set(Mode::Normal);
    // The failure holds further calls back for a while; a new app starts with an empty cache.
    let (app, fake) = stack(&[]).await;
    for _ in 0..2 {
        let r = app.get_as(MERCHANT_KEY, "/v1/banks?provider=tpaga").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-banks-stale"], "false");
        let banks: Value = r.json().await.unwrap();
        assert_eq!(
            banks[0],
            json!({"code": "1022", "name": "BANCO UNION COLOMBIANO"})
        );
    }
    assert_eq!(fake.seen.lock().unwrap().bank_calls, 1);
    let r = app.get_as(MERCHANT_KEY, "/v1/banks?provider=mono").await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bank_list_not_published");
    assert_eq!(app.get_as(MERCHANT_KEY, "/v1/banks").await.status(), 422);
}

/// `POST /v1/orders` and `POST /v1/payments` racing for one reference: the
/// reference lock lets exactly one win, the other gets 409 `reference_conflict`,
/// and the provider saw a creation only when the payment won (no orphan payment).
#[tokio::test]
async fn an_order_and_a_payment_racing_for_a_reference_have_one_winner_and_no_orphan() {
    let (app, fake) = stack(&[]).await;
    let (mut orders_won, mut payments_won) = (0, 0);
    for round in 0..20 {
        let reference = format!("RACE-{round}");
        let created_before = fake.created();
        let order = crate::helpers::order_body(&reference);
        let pay = payment(&reference, "mono");
        let (order_answer, (pay_status, pay_body)) =
            tokio::join!(app.post_order(&order), app.pay(&pay));
        let order_status = order_answer.status().as_u16();
        let order_body: Value = order_answer.json().await.unwrap_or(Value::Null);
        let created = fake.created() - created_before;
        assert!(
            order_status != 500 && pay_status != 500,
            "round {round}: order {order_status} {order_body}, payment {pay_status} {pay_body}"
        );
        match (order_status, pay_status) {
            (201, 409) => {
                assert_eq!(
                    pay_body["error"]["code"], "reference_conflict",
                    "{pay_body}"
                );
                assert_eq!(
                    created, 0,
                    "round {round}: the order won, yet the provider created a payment"
                );
                orders_won += 1;
            }
            (409, 201) => {
                assert_eq!(
                    order_body["error"]["code"], "reference_conflict",
                    "{order_body}"
                );
                assert_eq!(created, 1, "round {round}");
                payments_won += 1;
            }
            other => {
                panic!("round {round}: not exactly one winner: {other:?} {order_body} {pay_body}")
            }
        }
        let stored: Value = app
            .get_as(MERCHANT_KEY, &format!("/v1/orders/{reference}"))
            .await
            .json()
            .await
            .unwrap();
        let expected = if pay_status == 201 {
            pay_body["order"]["provider_payment_id"].clone()
        } else {
            order["provider_payment_id"].clone()
        };
        assert_eq!(stored["provider_payment_id"], expected, "round {round}");
    }
    assert_eq!(orders_won + payments_won, 20);
}

#[tokio::test]
async fn a_reference_registered_by_post_orders_is_409_for_payments_without_a_provider_call() {
    let (app, fake) = stack(&[]).await;
    assert_eq!(
        app.post_order(&crate::helpers::order_body("PAY-O1"))
            .await
            .status(),
        201
    );
    let (status, body) = app.pay(&payment("PAY-O1", "mono")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "reference_conflict");
    // A refused attempt frees its reference; an order registered since keeps it.
    fake.set(Mode::Reject);
    assert_eq!(app.pay(&payment("PAY-O2", "mono")).await.0, 422);
    assert_eq!(
        app.post_order(&crate::helpers::order_body("PAY-O2"))
            .await
            .status(),
        201
    );
    fake.set(Mode::Normal);
    let calls = fake.calls();
    let (status, body) = app.pay(&payment("PAY-O2", "mono")).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "reference_conflict");
    assert_eq!(
        fake.calls(),
        calls,
        "no provider call for a taken reference"
    );
    assert_eq!(fake.created(), 0);
}

#[tokio::test]
async fn a_reference_held_by_a_payment_attempt_is_409_for_post_orders_and_the_attempt_completes() {
    let (app, fake) = stack(&[]).await;
    fake.set(Mode::Down);
    assert_eq!(app.pay(&payment("PAY-A1", "mono")).await.0, 502);
    let r = app.post_order(&crate::helpers::order_body("PAY-A1")).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "reference_conflict");
    assert_eq!(
        app.attempt_state("PAY-A1").as_deref(),
        Some("unknown"),
        "the attempt is unaffected"
    );
    fake.set(Mode::Normal);
    let (status, body) = app.pay(&payment("PAY-A1", "mono")).await;
    assert_eq!(status, 201, "{body}");
    // Once created, the order's own reference is taken as any order's is.
    let r = app.post_order(&crate::helpers::order_body("PAY-A1")).await;
    assert_eq!(r.status(), 409);
    assert_eq!(fake.created(), 1);
}

/// Every create call (also an unanswered one from an earlier try) is in the
/// order's evidence, without the payer's details or our credentials.
#[tokio::test]
async fn create_calls_are_in_the_evidence_without_payer_data_or_secrets() {
    use shared::testing::FINANCE_KEY;
    let (app, fake) = stack(&[]).await;
    fake.set(Mode::LoseAnswer);
    assert_eq!(app.pay(&payment("PAY-E1", "mono")).await.0, 502);
    fake.set(Mode::Normal);
    assert_eq!(app.pay(&payment("PAY-E1", "mono")).await.0, 201);
    assert_eq!(app.pay(&payment("PAY-E2", "tpaga")).await.0, 201);
    for (reference, path, statuses) in [
        ("PAY-E1", "/v1/collection_intents", vec![500, 201]),
        ("PAY-E2", "/api/pse/v1/public/charge", vec![201]),
    ] {
        let r = app
            .get_as(FINANCE_KEY, &format!("/v1/orders/{reference}/evidence"))
            .await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let bundle: Value = serde_json::from_str(&text).unwrap();
        let creates: Vec<&Value> = bundle["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "provider_query" && e["path"] == path)
            .collect();
        let seen: Vec<i64> = creates
            .iter()
            .map(|e| e["status_code"].as_i64().unwrap())
            .collect();
        assert_eq!(seen, statuses, "{reference}: {text}");
        let last = creates.last().unwrap();
        assert_eq!(last["method"], "POST");
        assert!(last["duration_ms"].is_i64(), "{last}");
        let body = last["response_body"].as_str().unwrap();
        assert!(body.contains("[redacted]"), "{body}");
        for hidden in [
            "1033711400",
            "ana@example.com",
            "Ana Restrepo",
            "3000000000",
            "88.221.182.60",
            "mono-api-key",
            "tpaga-secret",
            "tpaga-access",
        ] {
            assert!(!text.contains(hidden), "{reference}: {hidden} in {text}");
        }
    }
}
