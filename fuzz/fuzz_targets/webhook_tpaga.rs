//! Tpaga's webhook path: the secret path token (Tpaga documents no
//! authentication, so the operator's token is the only gate) with arbitrary
//! headers and path segment, then the `{"charge_token": …}` parser.
//! Input: [`Framed`] (`@path:` is the path segment).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pse_fuzz::{Framed, FuzzHeaders, TPAGA_TOKEN, check_event, client, config};
use shared::providers::Connector;
use shared::providers::tpaga::{self, Tpaga};
use std::sync::OnceLock;

fn tpaga() -> &'static Tpaga {
    static TPAGA: OnceLock<Tpaga> = OnceLock::new();
    TPAGA.get_or_init(|| Tpaga::new(config("https://provider.invalid").tpaga, client()))
}

fuzz_target!(|data: &[u8]| {
    let i = Framed::decode(data);
    let headers = FuzzHeaders::from_pairs(&i.headers);
    let token = if i.credential {
        Some(TPAGA_TOKEN)
    } else {
        i.path_token
    };
    match tpaga().verify_request(&headers, token) {
        Ok(_) => assert_eq!(token, Some(TPAGA_TOKEN), "accepted a token not configured"),
        Err(_) => assert_ne!(token, Some(TPAGA_TOKEN), "refused the configured token"),
    }
    if let Ok(event) = tpaga::webhook::parse(i.body) {
        check_event(&event);
        assert_eq!(
            event.check.as_ref().map(|c| c.object_id.as_str()),
            event.object_id.as_deref(),
            "the check is not about the charge the body names"
        );
    }
});
