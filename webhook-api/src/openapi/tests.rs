use std::collections::BTreeSet;

use actix_web::ResponseError as _;
use serde_json::Value;

use super::*;
use crate::error::ApiError;
use crate::routes::Listing;

fn document() -> Value {
    let doc = Document::build().unwrap();
    serde_json::from_slice(&doc.0).unwrap()
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

/// One of each error, so codes and statuses come from `error.rs`, not from this file.
fn every_error() -> Vec<ApiError> {
    vec![
        ApiError::Unauthorized,
        ApiError::Forbidden("x"),
        ApiError::NotFound("x".into()),
        ApiError::NoRoute,
        ApiError::ProviderDisabled("x".into()),
        ApiError::OrderProviderDisabled("x".into()),
        ApiError::MalformedPayload("x".into()),
        ApiError::validation("x", "y"),
        ApiError::Conflict {
            code: "reference_conflict",
            message: "x".into(),
        },
        ApiError::Conflict {
            code: "provider_payment_id_conflict",
            message: "x".into(),
        },
        ApiError::Conflict {
            code: "payment_in_progress",
            message: "x".into(),
        },
        ApiError::Conflict {
            code: "payment_abandoned",
            message: "x".into(),
        },
        ApiError::PayloadTooLarge { limit: 1 },
        ApiError::UnsupportedMediaType,
        ApiError::Unavailable("x".into()),
        ApiError::ReportsBusy,
        ApiError::PaymentProviderDisabled("x".into()),
        ApiError::ProviderRejected {
            provider: "x".into(),
            field: None,
            message: "x".into(),
        },
        ApiError::ProviderUnavailable {
            timed_out: false,
            message: "x".into(),
        },
        ApiError::ProviderUnavailable {
            timed_out: true,
            message: "x".into(),
        },
        ApiError::NoBankList("x".into()),
        ApiError::Internal("x".into()),
    ]
}

/// Fails when `startup::mount_all` serves a route the document lacks (or the reverse):
/// the list comes from the same `routes` functions the server mounts.
#[test]
fn every_mounted_route_is_documented_and_nothing_else() {
    let mut mounted = Listing::default();
    crate::startup::mount_all(&mut mounted);
    let mounted: BTreeSet<(String, String)> = mounted
        .0
        .iter()
        .map(|(m, p)| (m.as_str().to_ascii_lowercase(), (*p).to_owned()))
        .collect();
    assert!(mounted.len() >= 16, "{mounted:?}");
    // The finance console's routes are browser pages (HTML, a session cookie, redirects to
    // its sign-in page), not API: they are left out of the document on purpose and listed
    // from `console::routes` itself, so nothing else can hide behind the exception.
    let mut console = Listing::default();
    crate::console::routes(&mut console);
    let console: BTreeSet<(String, String)> = console
        .0
        .iter()
        .map(|(m, p)| (m.as_str().to_ascii_lowercase(), (*p).to_owned()))
        .collect();
    assert!(
        console.iter().all(|(_, p)| p.starts_with("/console")),
        "{console:?}"
    );
    assert!(console.is_subset(&mounted), "the console is mounted");
    let mounted: BTreeSet<(String, String)> = mounted.difference(&console).cloned().collect();
    let doc = document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let undocumented: Vec<_> = mounted.difference(&documented).collect();
    let unmounted: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        undocumented.is_empty(),
        "mounted but not in /openapi.json: {undocumented:?}"
    );
    assert!(
        unmounted.is_empty(),
        "in /openapi.json but not mounted: {unmounted:?}"
    );
    assert!(
        !doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .any(|p| p.starts_with("/console")),
        "console pages are not API"
    );
}

#[test]
fn the_document_is_openapi_3_1_with_resolvable_references() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].as_str().is_some_and(|t| !t.is_empty()));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["api_key"]["type"], "http");
    assert_eq!(schemes["api_key"]["scheme"], "bearer");
    assert_eq!(schemes["mono_signature"]["name"], "Mono-Signature");
    assert_eq!(schemes["belvo_authorization"]["name"], "Authorization");
    // Every `$ref` points at a schema that exists.
    let text = serde_json::to_string(&doc).unwrap();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let name = reference.split('"').next().unwrap();
        let name = name.strip_prefix("#/components/schemas/").unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
            let bearer = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("api_key").is_some()));
            if bearer {
                let text = op["description"].as_str().unwrap_or_default();
                assert!(text.contains("Roles: "), "{method} {path} says no roles");
                for (status, code) in [("401", "`unauthorized`"), ("403", "`forbidden`")] {
                    let d = op["responses"][status]["description"]
                        .as_str()
                        .unwrap_or_default();
                    assert!(d.contains(code), "{method} {path} {status}");
                }
            }
        }
    }
}

/// Every error response carries the error body and only codes `error.rs` can answer with
/// at that status.
#[test]
fn error_responses_use_the_error_body_and_real_codes() {
    let doc = document();
    let known: Vec<(u16, &str)> = every_error()
        .iter()
        .map(|e| (e.status_code().as_u16(), e.code()))
        .collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let status: u16 = status.parse().unwrap();
                if status < 400 || path == "/readyz" {
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
                let text = response["description"].as_str().unwrap();
                let codes: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
                assert!(!codes.is_empty(), "{method} {path} {status} names no code");
                for code in codes {
                    assert!(
                        known.contains(&(status, code)),
                        "{method} {path}: {status} `{code}` is not an answer of ApiError"
                    );
                }
            }
        }
    }
}

/// What some routes answer, checked against the document's status and its listed codes.
#[test]
fn routes_document_the_errors_they_return() {
    let doc = document();
    let auth = || {
        vec![
            ApiError::Unauthorized,
            ApiError::Forbidden("x"),
            ApiError::Internal("x".into()),
        ]
    };
    let body = || {
        vec![
            ApiError::MalformedPayload("x".into()),
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::UnsupportedMediaType,
            ApiError::validation("x", "y"),
            ApiError::Unavailable("x".into()),
        ]
    };
    let conflict = |code| ApiError::Conflict {
        code,
        message: "x".into(),
    };
    let cases: Vec<(&str, &str, Vec<ApiError>)> = vec![
        (
            "POST",
            "/v1/orders",
            [
                auth(),
                body(),
                vec![
                    conflict("reference_conflict"),
                    conflict("provider_payment_id_conflict"),
                    ApiError::OrderProviderDisabled("x".into()),
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        (
            "GET",
            "/v1/orders/{reference}",
            [auth(), vec![ApiError::NotFound("order".into())]]
                .into_iter()
                .flatten()
                .collect(),
        ),
        (
            "POST",
            "/v1/payments",
            [
                auth(),
                body(),
                vec![
                    conflict("reference_conflict"),
                    conflict("payment_in_progress"),
                    conflict("payment_abandoned"),
                    ApiError::PaymentProviderDisabled("x".into()),
                    ApiError::ProviderRejected {
                        provider: "x".into(),
                        field: None,
                        message: "x".into(),
                    },
                    ApiError::ProviderUnavailable {
                        timed_out: false,
                        message: "x".into(),
                    },
                    ApiError::ProviderUnavailable {
                        timed_out: true,
                        message: "x".into(),
                    },
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        (
            "GET",
            "/v1/banks",
            [
                auth(),
                vec![
                    ApiError::NoBankList("x".into()),
                    ApiError::PaymentProviderDisabled("x".into()),
                    ApiError::ProviderUnavailable {
                        timed_out: true,
                        message: "x".into(),
                    },
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        (
            "GET",
            "/v1/reports/reconciliation",
            [
                auth(),
                vec![
                    ApiError::ReportsBusy,
                    ApiError::Unavailable("x".into()),
                    ApiError::validation("date", "y"),
                ],
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        (
            "POST",
            "/webhooks/{provider}",
            vec![
                ApiError::Unauthorized,
                ApiError::NoRoute,
                ApiError::ProviderDisabled("x".into()),
                ApiError::MalformedPayload("x".into()),
                ApiError::PayloadTooLarge { limit: 1 },
                ApiError::UnsupportedMediaType,
                ApiError::Unavailable("x".into()),
            ],
        ),
        (
            "POST",
            "/v1/exceptions/{id}/resolve",
            [auth(), body(), vec![ApiError::NotFound("x".into())]]
                .into_iter()
                .flatten()
                .collect(),
        ),
    ];
    for (method, path, errors) in cases {
        let op = operation(&doc, method, path);
        for e in errors {
            let status = e.status_code().as_u16().to_string();
            let text = op["responses"][&status]["description"]
                .as_str()
                .unwrap_or_default();
            assert!(
                text.contains(&format!("`{}`", e.code())),
                "{method} {path} does not document {status} `{}`",
                e.code()
            );
        }
    }
}
