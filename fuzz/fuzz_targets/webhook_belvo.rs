//! Belvo's webhook path: the `Authorization` comparison (Belvo does not sign;
//! it sends back the value the merchant registered) with an arbitrary header,
//! then the envelope parser. Input: [`Framed`].
#![no_main]

use libfuzzer_sys::fuzz_target;
use pse_fuzz::{BELVO_AUTH, Framed, FuzzHeaders, check_event, client, config};
use shared::providers::Connector;
use shared::providers::belvo::{self, Belvo};
use std::sync::OnceLock;

fn belvo() -> &'static Belvo {
    static BELVO: OnceLock<Belvo> = OnceLock::new();
    BELVO.get_or_init(|| Belvo::new(config("https://provider.invalid").belvo, client()))
}

fuzz_target!(|data: &[u8]| {
    let i = Framed::decode(data);
    let mut headers = FuzzHeaders::from_pairs(&i.headers);
    if i.credential {
        headers.put_first("Authorization", BELVO_AUTH.to_owned());
    }
    let presented = shared::providers::webhook::Headers::get(&headers, "Authorization");
    match belvo().verify_request(&headers, None) {
        Ok(_) => assert_eq!(
            presented,
            Some(BELVO_AUTH),
            "accepted a value not configured"
        ),
        Err(_) => assert_ne!(presented, Some(BELVO_AUTH), "refused the configured value"),
    }
    if let Ok(event) = belvo::webhook::parse(i.body) {
        check_event(&event);
    }
});
