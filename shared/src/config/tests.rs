//! Configuration tests: every variable through [`Config::from_source`].

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

fn source(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_match_design() {
    let c = Config::from_source(&source(&[])).unwrap();
    assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
    assert_eq!(c.amqp_url.expose(), DEFAULT_AMQP_URL);
    assert_eq!(c.http_addr.to_string(), "0.0.0.0:8080");
    assert_eq!(c.webhook_body_limit, 262_144);
    assert_eq!(c.reconciler_concurrency, 32);
    assert_eq!((c.reconciler_batch_max, c.reconciler_writers), (32, 4));
    assert_eq!(c.sweep_interval, Duration::from_secs(60));
    assert_eq!(c.pending_recheck_after, Duration::from_secs(300));
    assert_eq!(c.order_expiry, Duration::from_secs(3600));
    assert_eq!(c.mono.signature_tolerance, Duration::from_secs(300));
    assert_eq!(c.mono.api_url, "https://api.cert.monoban.co");
    assert_eq!(c.belvo.api_url, "https://sandbox.belvo.com");
    assert_eq!(c.tpaga.api_url, "https://staging.apiv2.tpaga.co");
    assert_eq!(c.log_format, LogFormat::Text);
    assert!(c.api_keys.is_empty());
    for p in Provider::ALL {
        assert!(!c.provider_enabled(p));
    }
}

#[test]
fn malformed_values_name_the_variable() {
    for (var, value) in [
        ("WEBHOOK_BODY_LIMIT_BYTES", "lots"),
        ("RECONCILER_CONCURRENCY", "0"),
        ("RECONCILER_BATCH_MAX", "0"),
        ("RECONCILER_WRITERS", "65"),
        ("HTTP_ADDR", "localhost"),
        ("LOG_FORMAT", "xml"),
        ("MONO_API_URL", "not a url"),
        ("API_KEYS", "boss:abcdefghij"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_REPORT_URL", "replica:5432"),
        ("RETRY_DELAYS_SECS", "5,x"),
        ("SWEEP_INTERVAL_SECS", "-1"),
    ] {
        let e = Config::from_source(&source(&[(var, value)])).unwrap_err();
        assert_eq!(e.variable, var, "{e}");
    }
}

#[test]
fn reports_read_the_replica_when_one_is_named() {
    let c = Config::from_source(&source(&[])).unwrap();
    assert_eq!(c.report_database_url().expose(), DEFAULT_DATABASE_URL);
    let replica = "postgres://reader:s3cret@replica:5432/pse";
    let c = Config::from_source(&source(&[("DATABASE_REPORT_URL", replica)])).unwrap();
    assert_eq!(c.report_database_url().expose(), replica);
    assert_eq!(c.database_url.expose(), DEFAULT_DATABASE_URL);
    assert!(
        !format!("{c:?}").contains("s3cret"),
        "the password stays out of Debug"
    );
}

#[test]
fn api_keys_with_roles_and_names() {
    let c = Config::from_source(&source(&[(
        "API_KEYS",
        "merchant:mkey-12345, finance:ana:fkey-12345,admin:akey-12345",
    )]))
    .unwrap();
    let k = c.api_keys.find("fkey-12345").unwrap();
    assert_eq!((k.role, k.name.as_str()), (Role::Finance, "ana"));
    assert_eq!(c.api_keys.find("mkey-12345").unwrap().role, Role::Merchant);
    assert!(c.api_keys.find("nope").is_none());
    assert!(!format!("{c:?}").contains("fkey-12345"));
}

#[test]
fn providers_enable_when_credentials_are_complete() {
    let c = Config::from_source(&source(&[
        ("MONO_API_KEY", "k"),
        (
            "MONO_WEBHOOK_SECRETS",
            "whsec_aaaaaaaaaaaaaaaa, whsec_bbbbbbbbbbbbbbbb",
        ),
        ("BELVO_SECRET_ID", "id"),
        ("TPAGA_CLIENT_ID", "id"),
        ("TPAGA_CLIENT_SECRET", "s"),
        (
            "TPAGA_WEBHOOK_TOKEN",
            "tpaga-token-000000001,tpaga-token-000000002",
        ),
    ]))
    .unwrap();
    assert!(c.provider_enabled(Provider::Mono));
    assert_eq!(c.mono.webhook_secrets.len(), 2);
    assert_eq!(
        c.provider_disabled_reason(Provider::Belvo).unwrap(),
        "missing BELVO_SECRET_PASSWORD, BELVO_WEBHOOK_AUTH"
    );
    assert!(c.provider_enabled(Provider::Tpaga));
    assert_eq!(c.tpaga.webhook_tokens.len(), 2);
}

/// Tpaga's API client alone does not enable it: without a path token its
/// webhooks would be anonymous (fail closed).
#[test]
fn tpaga_without_a_webhook_token_is_disabled_and_says_why() {
    let c = Config::from_source(&source(&[
        ("TPAGA_CLIENT_ID", "id"),
        ("TPAGA_CLIENT_SECRET", "s"),
    ]))
    .unwrap();
    assert!(!c.provider_enabled(Provider::Tpaga));
    assert_eq!(
        c.provider_disabled_reason(Provider::Tpaga).unwrap(),
        "missing TPAGA_WEBHOOK_TOKEN"
    );
}

#[test]
fn short_webhook_credentials_stop_startup_without_printing_them() {
    for (var, value) in [
        ("MONO_WEBHOOK_SECRETS", "whsec_long_enough_1,whsec_short"),
        ("BELVO_WEBHOOK_AUTH", "Bearer tiny"),
        ("TPAGA_WEBHOOK_TOKEN", "fifteen-chars-x"),
    ] {
        let e = Config::from_source(&source(&[(var, value)])).unwrap_err();
        assert_eq!(e.variable, var, "{e}");
        assert!(e.message.contains("shorter than 16"), "{e}");
        for part in value.split(',') {
            assert!(!e.to_string().contains(part), "{e}");
        }
    }
    // Exactly the minimum is enough.
    let c = Config::from_source(&source(&[("TPAGA_WEBHOOK_TOKEN", "sixteen-chars-xx")])).unwrap();
    assert_eq!(c.tpaga.webhook_tokens.len(), 1);
}

#[test]
fn tpaga_tokens_must_be_path_safe() {
    for bad in [
        "sixteen/chars/xx",
        "with space inside",
        "percent%2Fencoded",
        "accented-tokén-00",
        "query?string=1234",
    ] {
        let e = Config::from_source(&source(&[("TPAGA_WEBHOOK_TOKEN", bad)])).unwrap_err();
        assert_eq!(e.variable, "TPAGA_WEBHOOK_TOKEN", "{bad}");
        assert!(!e.to_string().contains(bad), "{e}");
    }
    let c = Config::from_source(&source(&[(
        "TPAGA_WEBHOOK_TOKEN",
        "Az09-_.~Az09-_.~, second_token_0123",
    )]))
    .unwrap();
    assert_eq!(c.tpaga.webhook_tokens.len(), 2);
}

#[test]
fn provider_urls_need_https_unless_loopback_or_allowed() {
    for var in ["MONO_API_URL", "BELVO_API_URL", "TPAGA_API_URL"] {
        for ok in [
            "https://api.example.com",
            "http://127.0.0.1:9999",
            "http://127.3.4.5",
            "http://localhost:8000/",
            "http://[::1]:9999",
        ] {
            let c = Config::from_source(&source(&[(var, ok)]));
            assert!(c.is_ok(), "{var}={ok}: {:?}", c.err());
        }
        for bad in [
            "http://sandbox:9999",
            "http://10.0.0.1",
            "http://api.example.com",
            "http://localhost.example.com",
            "ftp://127.0.0.1",
        ] {
            let e = Config::from_source(&source(&[(var, bad)])).unwrap_err();
            assert_eq!(e.variable, var, "{bad}");
        }
        let c = Config::from_source(&source(&[
            (var, "http://sandbox:9999"),
            ("ALLOW_INSECURE_PROVIDER_URLS", "1"),
        ]));
        assert!(c.is_ok(), "{var}: {:?}", c.err());
    }
    let e = Config::from_source(&source(&[("ALLOW_INSECURE_PROVIDER_URLS", "maybe")])).unwrap_err();
    assert_eq!(e.variable, "ALLOW_INSECURE_PROVIDER_URLS");
}

#[test]
fn the_reconciler_ops_port_is_loopback_by_default() {
    let c = Config::from_source(&source(&[])).unwrap();
    assert_eq!(c.reconciler_http_addr.to_string(), "127.0.0.1:9100");
}
