//! In-process Mono, Belvo and Tpaga create endpoints speaking their wire
//! formats (docs/PROVIDERS.md, "Creating payments"), with the failures
//! `POST /v1/payments` must survive: a refusal, an outage, an answer lost
//! after the payment was stored, and an answer slower than our timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// 422 (Mono, Tpaga) / 400 (Belvo) naming a field; nothing stored.
    Reject,
    /// 503, nothing stored.
    Down,
    /// Stores the payment, then answers 500: the caller cannot know.
    LoseAnswer,
    /// Stores the payment, then answers after the caller gave up.
    Hang,
}

#[derive(Default)]
pub struct Seen {
    /// Payments actually created (Mono intents, Tpaga charges, Belvo links).
    pub created: Vec<Value>,
    pub customers: usize,
    /// Every create call received, including idempotent repeats.
    pub calls: usize,
    pub bank_calls: usize,
    pub mono_keys: HashMap<String, String>,
    /// Tpaga charges by order_id.
    pub tpaga_orders: HashMap<String, String>,
}

pub struct Fake {
    pub url: String,
    pub mode: Arc<Mutex<Mode>>,
    pub seen: Arc<Mutex<Seen>>,
    /// Tpaga's 408 names the existing charge (`token`) when true.
    pub tpaga_408_names_token: Arc<Mutex<bool>>,
}

impl Fake {
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn created(&self) -> usize {
        self.seen.lock().unwrap().created.len()
    }

    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap().calls
    }

    /// Configuration pointing every provider at this fake.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MONO_API_URL", self.url.clone()),
            ("BELVO_API_URL", self.url.clone()),
            ("TPAGA_API_URL", self.url.clone()),
            ("MONO_ACCOUNT_ID", "acc_5tgliBmzjZ6mpQPRbQjfKj".into()),
            (
                "BELVO_BENEFICIARY_ACCOUNT",
                "a80d5a9d-20ae-479a-8dd7-ff3443bcbbfc".into(),
            ),
            ("PROVIDER_TIMEOUT_MS", "1000".into()),
        ]
    }
}

struct Shared {
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
    names_token: Arc<Mutex<bool>>,
}

impl Shared {
    /// The lock is never held across an await.
    fn with<T>(&self, f: impl FnOnce(&mut Seen) -> T) -> T {
        f(&mut self.seen.lock().unwrap())
    }
}

pub async fn start() -> Fake {
    let mode = Arc::new(Mutex::new(Mode::Normal));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let names_token = Arc::new(Mutex::new(false));
    let data = web::Data::new(Shared {
        mode: mode.clone(),
        seen: seen.clone(),
        names_token: names_token.clone(),
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v1/collection_intents", web::post().to(mono))
            .route("/o/token/", web::post().to(token))
            .route("/api/pse/v1/public/charge", web::post().to(tpaga))
            .route(
                "/api/pse/v1/public/charge/{token}",
                web::get().to(tpaga_get),
            )
            .route("/api/pse/v1/public/banks", web::get().to(banks))
            .route("/payments/customers/", web::post().to(customer))
            .route("/payments/payment-links/", web::post().to(link))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Fake {
        url: format!("http://127.0.0.1:{port}"),
        mode,
        seen,
        tpaga_408_names_token: names_token,
    }
}

/// Answers `ok` per the mode, after `store` ran for the modes that store.
async fn answer(
    s: &Shared,
    store: impl FnOnce(&mut Seen),
    ok: HttpResponse,
    reject: HttpResponse,
) -> HttpResponse {
    let mode = *s.mode.lock().unwrap();
    match mode {
        Mode::Reject => return reject,
        Mode::Down => return HttpResponse::ServiceUnavailable().finish(),
        _ => {}
    }
    store(&mut s.seen.lock().unwrap());
    match mode {
        Mode::LoseAnswer => HttpResponse::InternalServerError().finish(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            ok
        }
        _ => ok,
    }
}

async fn mono(s: web::Data<Shared>, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    let key = req
        .headers()
        .get("x-idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (id, replay) = s.with(|seen| {
        seen.calls += 1;
        let id = seen
            .mono_keys
            .get(&key)
            .cloned()
            .unwrap_or_else(|| format!("cint_{:0>22}", seen.mono_keys.len() + 1));
        (id, seen.mono_keys.contains_key(&key))
    });
    let mut intent = body.into_inner();
    intent["id"] = json!(id);
    intent["state"] = json!("created");
    intent["payment"] = json!({"provider": "pse", "transaction_id": "1115065899",
        "url": format!("https://registro.desarrollo.pse.com.co/PSENF/index.html?enc={id}")});
    let reject = HttpResponse::UnprocessableEntity().json(json!({"code": "422 Unprocessable Entity",
        "errors": [{"error_code": "missing_field", "message": "The field is missing on the request body or parameters.",
                    "path": "#/payer/email", "url": null}], "id": "log_7MkWaFqvfosB8fzHhb1Eql", "message": "Validation errors"}));
    let ok = HttpResponse::Created().json(&intent);
    if replay {
        return ok;
    }
    answer(
        &s,
        |seen| {
            seen.mono_keys.insert(key, id);
            seen.created.push(intent.clone());
        },
        ok,
        reject,
    )
    .await
}

async fn token() -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({"access_token": "tpaga-access", "token_type": "Bearer", "expires_in": 3600}))
}

async fn tpaga(s: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    let order_id = body["order_id"].as_str().unwrap_or_default().to_owned();
    let (existing, n) = s.with(|seen| {
        seen.calls += 1;
        (
            seen.tpaga_orders.get(&order_id).cloned(),
            seen.tpaga_orders.len() + 1,
        )
    });
    if let Some(token) = existing {
        let mut refusal = json!({"error_message": "The charge already exist", "field": "order_id", "value": order_id});
        if *s.names_token.lock().unwrap() {
            refusal["token"] = json!(token);
        }
        return HttpResponse::build(actix_web::http::StatusCode::REQUEST_TIMEOUT).json(refusal);
    }
    let token = format!("pse-{n:0>32}");

    let mut charge = body.into_inner();
    charge["token"] = json!(token);
    charge["status"] = json!("pending");
    charge["bank_url"] = json!(format!(
        "https://registro.desarrollo.pse.com.co/PSENF/index.html?enc={token}"
    ));
    let reject = HttpResponse::UnprocessableEntity()
        .json(json!({"error_message": "Objeto con code=XXXX no existe.",
        "field": "bank_code", "value": "XXXX"}));
    let ok = HttpResponse::Created().json(&charge);
    answer(
        &s,
        |seen| {
            seen.tpaga_orders.insert(order_id, token);
            seen.created.push(charge.clone());
        },
        ok,
        reject,
    )
    .await
}

async fn tpaga_get(s: web::Data<Shared>, token: web::Path<String>) -> HttpResponse {
    let seen = s.seen.lock().unwrap();
    match seen.created.iter().find(|c| c["token"] == json!(*token)) {
        Some(c) => HttpResponse::Ok().json(c),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn banks(s: web::Data<Shared>) -> HttpResponse {
    s.seen.lock().unwrap().bank_calls += 1;
    if *s.mode.lock().unwrap() == Mode::Down {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok().json(json!([{"name": "BANCO UNION COLOMBIANO", "code": "1022"}, {"name": "BAN100", "code": "1558"}]))
}

async fn customer(s: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    let n = s.with(|seen| {
        seen.customers += 1;
        seen.customers
    });
    let mut c = body.into_inner();
    c["id"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
    HttpResponse::Created().json(c)
}

async fn link(s: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    let n = s.with(|seen| {
        seen.calls += 1;
        seen.created.len() + 1
    });
    let mut l = body.into_inner();
    l["payment_intent"] = json!(format!("b7dd85b1-671e-45c7-aba6-{n:012}"));
    l["payment_url"] = json!(format!("https://pay.belvo.io/link-{n}"));
    l["status"] = json!("ACTIVE");
    let reject = HttpResponse::BadRequest().json(json!([{"request_id": "r1", "code": "invalid",
        "message": "A valid integer is required.", "field": "amount"}]));
    let ok = HttpResponse::Created().json(&l);
    answer(&s, |seen| seen.created.push(l.clone()), ok, reject).await
}
