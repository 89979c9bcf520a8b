//! Hostile input to `POST /v1/orders`: answered with a specific 4xx, never a
//! panic or a dropped connection, and nothing half-written.

use serde_json::{Value, json};

use crate::helpers::*;

async fn status_code_fields(r: reqwest::Response) -> (u16, Value, Vec<String>) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("a JSON answer");
    let fields = body["error"]["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default();
    (status, body["error"]["code"].clone(), fields)
}

/// The incident: a NIT whose last character is not ASCII used to panic the
/// worker (connection dropped, number printed to stderr).
#[tokio::test]
async fn a_nit_ending_in_a_multibyte_character_is_422() {
    let app = spawn_app().await;
    for number in ["80019726é", "800197268😀", "1é"] {
        let mut body = order_body("ORD-NIT");
        body["payer"] = json!({"document_type": "NIT", "document_number": number});
        let (status, code, fields) = status_code_fields(app.post_order(&body).await).await;
        assert_eq!(
            (status, code, fields),
            (
                422,
                json!("validation_failed"),
                vec!["payer.document_number".to_owned()]
            ),
            "{number}"
        );
    }
    // The worker is still there.
    assert_eq!(app.post_order(&order_body("ORD-NIT")).await.status(), 201);
}

#[tokio::test]
async fn amounts_outside_the_contract_are_422_on_amount_amount() {
    let app = spawn_app().await;
    let mono = |reference: &str, amount: Value| {
        let mut b = order_body(reference);
        b["amount"]["amount"] = amount;
        b
    };
    let tpaga = |reference: &str, amount: Value| {
        let mut b = mono(reference, amount);
        b["provider"] = json!("tpaga");
        b["provider_payment_id"] = json!(format!("pse-{}", reference.to_ascii_lowercase()));
        b
    };
    let refused = [
        json!(0),
        json!(10_000_000_000_001i64),
        json!(i64::MAX),
        json!(u64::MAX),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, bad)| (mono(&format!("ORD-M{i}"), bad.clone()), bad))
    .chain(
        [json!(99_999), json!(4_000_000_001i64)]
            .into_iter()
            .enumerate()
            .map(|(i, bad)| (tpaga(&format!("ORD-T{i}"), bad.clone()), bad)),
    )
    .collect::<Vec<_>>();
    for (body, bad) in refused {
        let (status, code, fields) = status_code_fields(app.post_order(&body).await).await;
        assert_eq!(
            (status, code, fields),
            (
                422,
                json!("validation_failed"),
                vec!["amount.amount".to_owned()]
            ),
            "{bad}"
        );
    }
    // The edges are accepted.
    assert_eq!(
        app.post_order(&mono("ORD-MAX", json!(10_000_000_000_000i64)))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post_order(&tpaga("ORD-TMIN", json!(100_000)))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post_order(&tpaga("ORD-TMAX", json!(4_000_000_000i64)))
            .await
            .status(),
        201
    );
    let (orders,): (i64,) = app.count_orders();
    assert_eq!(orders, 3, "nothing half-written for the refused ones");
}

#[tokio::test]
async fn an_order_for_a_disabled_provider_is_422_provider_disabled() {
    let app = spawn_app_with(&[("BELVO_SECRET_ID", "")]).await;
    let mut body = order_body("ORD-B");
    body["provider"] = json!("belvo");
    body["provider_payment_id"] = json!("b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2");
    let (status, code, _) = status_code_fields(app.post_order(&body).await).await;
    assert_eq!((status, code), (422, json!("provider_disabled")));
    assert_eq!(app.count_orders(), (0,));
    // The webhook side of a disabled provider keeps its 404.
    let r = app
        .post_raw(
            "/webhooks/belvo",
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.status(), 404);
    // Enabled providers still work.
    assert_eq!(app.post_order(&order_body("ORD-M")).await.status(), 201);
}

impl TestApp {
    fn count_orders(&self) -> (i64,) {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N = diesel::sql_query("SELECT count(*) AS n FROM orders")
            .get_result(&mut self.db.connect())
            .unwrap();
        (n.n,)
    }
}
