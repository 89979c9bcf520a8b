//! `POST /v1/payments` body → [`PaymentRequest`]. The order fields are parsed
//! by the `POST /v1/orders` parser itself (same rules, same messages); this
//! adds what the providers need and each provider's own limits, so nothing a
//! provider would refuse for a documented reason is ever sent. Messages never
//! echo submitted values (personal data).

use std::net::Ipv4Addr;

use serde_json::{Map, Value};
use shared::domain::Provider;
use shared::providers::create::{PaymentPayer, PaymentRequest, PersonType};
use shared::providers::tpaga::create::MAX_DESCRIPTION;

use crate::error::{ApiError, FieldError};
use crate::extract::FieldErrors;
use crate::orders::new_order;

/// Stand-in ids so the orders parser can run: the provider's id does not exist yet.
fn placeholder_id(provider: Option<&str>) -> &'static str {
    match provider {
        Some("belvo") => "00000000-0000-0000-0000-000000000000",
        Some("tpaga") => "pse-placeholder",
        _ => "cint_0000000000000000000000",
    }
}

pub struct Parsed {
    pub request: PaymentRequest,
    pub warnings: Vec<String>,
}

pub fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedPayload(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(ApiError::MalformedPayload(
            "the body must be a JSON object".to_owned(),
        ));
    };
    let mut errors = FieldErrors::default();
    if obj.contains_key("provider_payment_id") {
        errors.push(
            "provider_payment_id",
            "is not accepted: the provider assigns it (use POST /v1/orders to register an existing payment)",
        );
    }
    let provider_name = obj
        .get("provider")
        .and_then(Value::as_str)
        .map(str::to_owned);
    obj.insert(
        "provider_payment_id".to_owned(),
        Value::from(placeholder_id(provider_name.as_deref())),
    );
    // The payer is optional for orders, required here (every provider needs it).
    if obj.get("payer").is_none_or(Value::is_null) {
        errors.push("payer", "is required");
    }
    let extra = Extra::parse(&obj, &mut errors);
    let order = match new_order::parse(&Value::Object(obj).to_string().into_bytes()) {
        Ok(p) => Some(p),
        Err(ApiError::Validation(fields)) => {
            for FieldError { field, message } in fields {
                errors.push(&field, message);
            }
            None
        }
        Err(other) => return Err(other),
    };
    let (Some(parsed), Some(extra)) = (order, extra) else {
        return Err(errors
            .finish(())
            .err()
            .unwrap_or_else(|| ApiError::validation("payer", "is required")));
    };
    let o = parsed.order;
    let Some(payer) = o.payer else {
        return Err(errors
            .finish(())
            .err()
            .unwrap_or_else(|| ApiError::validation("payer", "is required")));
    };
    let request = PaymentRequest {
        reference: o.reference.as_str().to_owned(),
        provider: o.provider,
        amount_minor: o.amount.minor_units(),
        currency: o.amount.currency(),
        description: o.description,
        payer: PaymentPayer {
            document_type: payer.document.type_code().to_owned(),
            document_number: payer.document.number(),
            email: payer
                .email
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
            name: payer.name.unwrap_or_default(),
            phone: extra.phone,
            person_type: extra.person_type,
        },
        bank_code: extra.bank_code,
        payer_ip: extra.payer_ip,
        redirect_url: extra.redirect_url,
    };
    provider_limits(&request, &obj_fields(&request), &mut errors);
    errors.finish(Parsed {
        request,
        warnings: parsed.warnings,
    })
}

/// Presence of the payer fields every provider requires (the orders parser
/// treats e-mail and name as optional).
fn obj_fields(r: &PaymentRequest) -> [(&'static str, bool); 2] {
    [
        ("payer.email", !r.payer.email.is_empty()),
        ("payer.name", !r.payer.name.trim().is_empty()),
    ]
}

/// What each provider documents as required or bounded.
fn provider_limits(r: &PaymentRequest, present: &[(&'static str, bool)], errors: &mut FieldErrors) {
    for (field, ok) in present {
        if !ok {
            errors.push(field, "is required for payments");
        }
    }
    let needs_bank = matches!(r.provider, Provider::Mono | Provider::Tpaga);
    if needs_bank && r.bank_code.is_none() {
        errors.push(
            "bank_code",
            format!("is required for {} payments (GET /v1/banks)", r.provider),
        );
    }
    if r.provider == Provider::Mono && r.payer_ip.is_none() {
        errors.push("payer_ip", "is required for Mono payments");
    }
    if r.provider == Provider::Belvo && r.amount_minor % 100 != 0 {
        errors.push(
            "amount.amount",
            "Belvo charges whole pesos only: must be a multiple of 100 centavos",
        );
    }
    if r.provider == Provider::Tpaga && r.label().chars().count() > MAX_DESCRIPTION {
        errors.push(
            "description",
            format!("must have at most {MAX_DESCRIPTION} characters for Tpaga"),
        );
    }
}

struct Extra {
    bank_code: Option<String>,
    payer_ip: Option<String>,
    redirect_url: String,
    phone: String,
    person_type: PersonType,
}

fn text<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut FieldErrors,
) -> Option<&'a str> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            errors.push(path, "must be a string");
            None
        }
    }
}

impl Extra {
    fn parse(obj: &Map<String, Value>, errors: &mut FieldErrors) -> Option<Self> {
        let bank_code = text(obj, "bank_code", "bank_code", errors).and_then(|b| {
            let ok = (1..=35).contains(&b.len()) && b.bytes().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                errors.push(
                    "bank_code",
                    "must be 1 to 35 letters or digits (a code from GET /v1/banks)",
                );
            }
            ok.then(|| b.to_owned())
        });
        let payer_ip =
            text(obj, "payer_ip", "payer_ip", errors).and_then(|ip| match ip.parse::<Ipv4Addr>() {
                Ok(a) => Some(a.to_string()),
                Err(_) => {
                    errors.push(
                        "payer_ip",
                        "must be the payer's IPv4 address (Mono accepts IPv4 only)",
                    );
                    None
                }
            });
        let redirect_url = match text(obj, "redirect_url", "redirect_url", errors) {
            None => {
                errors.push("redirect_url", "is required");
                None
            }
            Some(u) => redirect_url(u)
                .map_err(|m| errors.push("redirect_url", m))
                .ok(),
        };
        let payer = obj.get("payer").and_then(Value::as_object);
        let phone = match payer.and_then(|p| text(p, "phone", "payer.phone", errors)) {
            None => {
                errors.push("payer.phone", "is required for payments");
                None
            }
            Some(p) => phone(p).map_err(|m| errors.push("payer.phone", m)).ok(),
        };
        let person_type =
            match payer.and_then(|p| text(p, "person_type", "payer.person_type", errors)) {
                Some("natural") => Some(PersonType::Natural),
                Some("legal") => Some(PersonType::Legal),
                _ => {
                    errors.push("payer.person_type", "must be natural or legal");
                    None
                }
            };
        Some(Self {
            bank_code,
            payer_ip,
            redirect_url: redirect_url?,
            phone: phone?,
            person_type: person_type?,
        })
    }
}

/// `http(s)://…`, at most 500 characters (Tpaga's limit), nothing a provider could misread.
fn redirect_url(u: &str) -> Result<String, &'static str> {
    let scheme_ok = u.starts_with("https://") || u.starts_with("http://");
    if !scheme_ok || u.len() > 500 || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an http(s) URL of at most 500 characters without spaces");
    }
    Ok(u.to_owned())
}

/// A Colombian number: digits (spaces, dashes, dots and parentheses allowed),
/// optionally `+57`/`57` first; kept as the 7–10 national digits (Tpaga wants
/// no country code, Mono gets `+57` added).
fn phone(p: &str) -> Result<String, &'static str> {
    const MESSAGE: &str = "must be a Colombian phone number (7 to 10 digits, optionally +57 first)";
    if p.len() > 32 {
        return Err(MESSAGE);
    }
    let trimmed = p.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, trimmed),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
    {
        return Err(MESSAGE);
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.strip_prefix("57") {
        Some(n) if plus || digits.len() == 12 => n.to_owned(),
        _ if plus => return Err(MESSAGE),
        _ => digits,
    };
    if (7..=10).contains(&national.len()) {
        Ok(national)
    } else {
        Err(MESSAGE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    pub fn valid(provider: &str) -> Value {
        json!({"reference": "PAY-1", "provider": provider,
               "amount": {"amount": 10_000_000, "currency": "COP"}, "description": "Invoice 1",
               "bank_code": "1007", "payer_ip": "88.221.182.60", "redirect_url": "https://shop.example/done",
               "payer": {"document_type": "CC", "document_number": "1033711400", "email": "ana@example.com",
                         "name": "Ana", "phone": "+57 300 000 0000", "person_type": "natural"}})
    }

    fn fields(v: Value) -> Vec<String> {
        match parse(v.to_string().as_bytes()) {
            Err(ApiError::Validation(f)) => f.into_iter().map(|e| e.field).collect(),
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn accepts_each_provider() {
        for p in ["mono", "belvo", "tpaga"] {
            let r = parse(valid(p).to_string().as_bytes()).unwrap().request;
            assert_eq!(r.payer.phone, "3000000000");
        }
    }

    #[test]
    fn provider_rules() {
        let mut v = valid("belvo");
        v["amount"]["amount"] = json!(10_000_050);
        assert_eq!(fields(v), ["amount.amount"]);
        let mut v = valid("mono");
        v.as_object_mut().unwrap().remove("payer_ip");
        v.as_object_mut().unwrap().remove("bank_code");
        assert_eq!(fields(v), ["bank_code", "payer_ip"]);
        let mut v = valid("tpaga");
        v["description"] = json!("x".repeat(81));
        assert_eq!(fields(v), ["description"]);
        let mut v = valid("tpaga");
        v["provider_payment_id"] = json!("pse-1");
        assert_eq!(fields(v), ["provider_payment_id"]);
        let mut v = valid("mono");
        v.as_object_mut().unwrap().remove("payer");
        assert!(fields(v).contains(&"payer".to_owned()));
    }

    #[test]
    fn phones() {
        assert_eq!(phone("3057788996").unwrap(), "3057788996");
        assert_eq!(phone("+573000000000").unwrap(), "3000000000");
        assert_eq!(phone("573000000000").unwrap(), "3000000000");
        for bad in ["+1 555 0100", "12", "300abc", "+57"] {
            assert!(phone(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_text_in_the_new_fields_never_panics(
            field in proptest::sample::select(vec!["bank_code", "payer_ip", "redirect_url", "payer.phone", "payer.person_type"]),
            text in any::<String>(),
        ) {
            let mut v = valid("mono");
            match field.split_once('.') {
                Some((a, b)) => v[a][b] = json!(text),
                None => v[field] = json!(text),
            }
            let _ = parse(v.to_string().as_bytes());
        }
    }
}
