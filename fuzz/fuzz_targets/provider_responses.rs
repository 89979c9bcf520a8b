//! The provider API response parsers, reached the way the reconciler reaches
//! them: `fetch_intent` (Mono), `fetch_payment_intent` / `fetch_transaction`
//! (Belvo) and `fetch_charge` (Tpaga, OAuth2 token included) call a loopback
//! HTTP server that answers with the fuzz input. The parsers are private to
//! those functions, so this also covers status classification, the exact
//! amount parsers behind `RawAmount`, and the record of every call.
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use pse_fuzz::{client, config};
use shared::Secret;
use shared::config::Config;
use shared::providers::check::RecordedCall;
use shared::providers::webhook::safe_id;
use shared::providers::{belvo, mono, tpaga};

const ACCESS_TOKEN: &str = "fuzzing-tpaga-access-token-0123456789";
const TOKEN_BODY: &str = r#"{"access_token":"fuzzing-tpaga-access-token-0123456789","token_type":"Bearer","expires_in":3600}"#;

/// What the server answers next: (status, object body, linked intent body).
static NEXT: Mutex<(u16, Vec<u8>, Vec<u8>)> = Mutex::new((200, Vec::new(), Vec::new()));

struct World {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    config: Config,
    tokens: tpaga::client::TokenCache,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let listener = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("cannot listen on loopback: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => panic!("cannot build a runtime: {e}"),
        };
        World {
            runtime,
            client: client(),
            config: config(&format!("http://127.0.0.1:{port}")),
            tokens: tpaga::client::TokenCache::default(),
        }
    })
}

/// A minimal HTTP/1.1 server: keep-alive, `Content-Length` request bodies.
fn serve(stream: TcpStream) {
    // One write per answer and no Nagle delay: otherwise each call waits ~40 ms
    // for a delayed ACK.
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut discard = vec![0; length];
        if reader.read_exact(&mut discard).is_err() {
            return;
        }
        let path = request_line.split(' ').nth(1).unwrap_or("");
        let (status, body) = {
            let next = NEXT.lock().unwrap_or_else(|p| p.into_inner());
            if path.starts_with("/o/token/") {
                (200, TOKEN_BODY.as_bytes().to_vec())
            } else if path.starts_with("/payments/payment-intents/") && !next.2.is_empty() {
                (200, next.2.clone())
            } else {
                (next.0, next.1.clone())
            }
        };
        let mut answer = format!(
            "HTTP/1.1 {status} Fuzz\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&body);
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

const STATUSES: [u16; 8] = [200, 200, 200, 200, 404, 401, 429, 503];

/// Input: byte 0 picks the call, byte 1 the HTTP status, then the response
/// body; for a Belvo transaction, a line `#linked` separates the transaction
/// from the payment intent it links to.
struct Input<'a> {
    which: u8,
    status: u8,
    body: &'a [u8],
    linked: &'a [u8],
}

impl<'a> Input<'a> {
    fn decode(data: &'a [u8]) -> Self {
        const SEPARATOR: &[u8] = b"\n#linked\n";
        let rest = data.get(2..).unwrap_or_default();
        let (body, linked) = match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(at) => (&rest[..at], &rest[at + SEPARATOR.len()..]),
            None => (rest, &[][..]),
        };
        Input {
            which: data.first().copied().unwrap_or(0),
            status: data.get(1).copied().unwrap_or(0),
            body,
            linked,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let i = Input::decode(data);
    let w = world();
    *NEXT.lock().unwrap_or_else(|p| p.into_inner()) = (
        STATUSES[usize::from(i.status) % STATUSES.len()],
        i.body.to_vec(),
        i.linked.to_vec(),
    );
    let mut calls: Vec<RecordedCall> = Vec::new();
    let mono_key = Secret::new("fuzzing-mono-api-key-0123456789");
    w.runtime.block_on(async {
        match i.which % 4 {
            0 => {
                let id = "cint_5dHsMj4uwhhujcVUTuw1OP";
                let r = mono::client::fetch_intent(
                    &w.client,
                    &w.config.mono.api_url,
                    &mono_key,
                    id,
                    &mut calls,
                )
                .await;
                if let Ok(report) = r {
                    assert_eq!(
                        mono::client::map_state(&report.status),
                        Some(report.maps_to)
                    );
                    assert!(report.amount.is_none_or(|m| m.minor_units() >= 0));
                }
            }
            1 => {
                let id = "b7dd85b1-671e-45c7-aba6-b4b37a8fc0c2";
                let r =
                    belvo::client::fetch_payment_intent(&w.client, &w.config.belvo, id, &mut calls)
                        .await;
                if let Ok(report) = r {
                    assert_eq!(
                        belvo::client::map_status(&report.status),
                        Some(report.maps_to)
                    );
                    assert!(report.amount.is_none_or(|m| m.minor_units() >= 0));
                }
            }
            2 => {
                let id = "d2e40773-19f6-48d1-93c3-3590ec0c74df";
                let r =
                    belvo::client::fetch_transaction(&w.client, &w.config.belvo, id, &mut calls)
                        .await;
                if let Ok(Some(report)) = r {
                    assert!(report.amount.is_none_or(|m| m.minor_units() >= 0));
                }
            }
            _ => {
                let token = "pse-c542f18edadb441d8b4639edbfb566e5";
                let r = tpaga::client::fetch_charge(
                    &w.client,
                    &w.config.tpaga,
                    &w.tokens,
                    token,
                    &mut calls,
                )
                .await;
                if let Ok(report) = r {
                    assert_eq!(
                        tpaga::client::map_status(&report.status),
                        Some(report.maps_to)
                    );
                    assert!(report.amount.is_none_or(|m| m.minor_units() >= 0));
                }
            }
        }
    });
    assert!(
        !calls.is_empty(),
        "a provider call was made but not recorded"
    );
    for call in &calls {
        // The token grant's answer is a credential: never stored as it came.
        if call.path == "/o/token/" {
            assert!(
                !call.body.as_deref().unwrap_or("").contains(ACCESS_TOKEN),
                "an access token reached provider_checks"
            );
        }
        // Every segment of every path requested is a URL-safe word: ids taken
        // from a response (Belvo's `payment_intent`) cannot steer the request.
        assert!(
            call.path.trim_matches('/').split('/').all(safe_id),
            "requested a provider path built from {:?}",
            call.path
        );
    }
});
