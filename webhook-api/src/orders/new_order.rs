//! `POST /v1/orders` body → [`NewOrder`], reporting every invalid field at once
//! with its JSON path. Messages never echo the submitted values (they may be
//! personal data).

use serde_json::{Map, Value};
use shared::domain::money::format_major;
use shared::domain::money::parse_minor_units;
use shared::domain::{
    AmountLimits, Currency, DocumentError, Email, NewOrder, Payer, PayerDocument, Provider,
    Reference,
};
use shared::providers;

use crate::error::{ApiError, FieldError};

pub struct Parsed {
    pub order: NewOrder,
    /// Accepted but worth a second look (e.g. an unusual CE number).
    pub warnings: Vec<String>,
}

#[derive(Default)]
struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// A string member; `None` (with an error if `required`) when absent, null or not a string.
    fn string<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
        required: bool,
    ) -> Option<&'a str> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(path, "is required");
                }
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => {
                self.fail(path, "must be a string");
                None
            }
        }
    }

    fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'a Map<String, Value>> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(key, "is required");
                }
                None
            }
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                self.fail(key, "must be an object");
                None
            }
        }
    }

    fn check<T, E: std::fmt::Display>(&mut self, path: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(path, e.to_string());
                None
            }
        }
    }
}

/// The range in centavos and, for people, in pesos.
fn out_of_range(limits: AmountLimits) -> String {
    format!(
        "must be an integer number of centavos from {} to {} ({} to {})",
        limits.min_minor,
        limits.max_minor,
        format_major(limits.min_minor, Currency::Cop),
        format_major(limits.max_minor, Currency::Cop),
    )
}

pub fn parse(body: &[u8]) -> Result<Parsed, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedPayload(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::MalformedPayload(
            "the body must be a JSON object".to_owned(),
        ));
    };
    let mut f = Fields::default();
    let mut warnings = Vec::new();

    let reference = f
        .string(&obj, "reference", "reference", true)
        .and_then(|s| f.check("reference", Reference::parse(s)));

    let provider = f.string(&obj, "provider", "provider", true).and_then(|s| {
        f.check(
            "provider",
            s.parse::<Provider>().map_err(|_| Provider::expected()),
        )
    });

    let payment_id = f.string(&obj, "provider_payment_id", "provider_payment_id", true);
    if let (Some(p), Some(id)) = (provider, payment_id) {
        f.check("provider_payment_id", providers::validate_payment_id(p, id));
    }

    let amount = f.object(&obj, "amount", true).and_then(|a| {
        let minor = match a.get("amount") {
            None | Some(Value::Null) => {
                f.fail("amount.amount", "is required");
                None
            }
            Some(Value::Number(n)) => match parse_minor_units(&n.to_string()) {
                Ok(0) => {
                    f.fail("amount.amount", "must be greater than zero");
                    None
                }
                other => f.check("amount.amount", other),
            },
            Some(_) => {
                f.fail(
                    "amount.amount",
                    "must be an integer number of minor units (centavos)",
                );
                None
            }
        };
        let currency = f
            .string(a, "currency", "amount.currency", true)
            .and_then(|c| f.check("amount.currency", c.parse::<Currency>()));
        // The provider's documented range where it has one; the product-wide
        // range when the provider itself is invalid (that error is reported apart).
        let limits = provider.map_or(AmountLimits::ORDER, providers::amount_limits);
        let minor = minor.and_then(|m| {
            if limits.contains(m) {
                Some(m)
            } else {
                f.fail("amount.amount", out_of_range(limits));
                None
            }
        });
        match (minor, currency) {
            (Some(m), Some(c)) => f.check("amount.amount", limits.money(m, c)),
            _ => None,
        }
    });

    let description = f
        .string(&obj, "description", "description", false)
        .and_then(|d| {
            if d.chars().count() > 255 {
                f.fail("description", "must have at most 255 characters");
                None
            } else {
                Some(d.to_owned())
            }
        });

    let payer = match f.object(&obj, "payer", false) {
        None => Ok(None),
        Some(p) => parse_payer(&mut f, p, &mut warnings).ok_or(()).map(Some),
    };

    match (reference, provider, payment_id, amount, payer) {
        (Some(reference), Some(provider), Some(id), Some(amount), Ok(payer))
            if f.errors.is_empty() =>
        {
            Ok(Parsed {
                order: NewOrder {
                    reference,
                    provider,
                    provider_payment_id: id.to_owned(),
                    amount,
                    description,
                    payer,
                },
                warnings,
            })
        }
        _ => Err(ApiError::Validation(f.errors)),
    }
}

fn parse_payer(
    f: &mut Fields,
    p: &Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Option<Payer> {
    let doc_type = f.string(p, "document_type", "payer.document_type", true);
    let doc_number = f.string(p, "document_number", "payer.document_number", true);
    let document = match (doc_type, doc_number) {
        (Some(t), Some(n)) => match PayerDocument::parse(t, n) {
            Ok(d) => Some(d),
            Err(e @ DocumentError::UnknownType(_)) => {
                f.fail("payer.document_type", "must be one of CC, NIT, CE, TI, PP");
                let _ = e;
                None
            }
            Err(e) => {
                f.fail("payer.document_number", e.to_string());
                None
            }
        },
        _ => None,
    };
    if let Some(d) = &document
        && !d.looks_usual()
    {
        warnings.push(format!(
            "payer.document_number: unusual format for a {} number; accepted, please double-check it",
            d.type_code()
        ));
    }
    let email = f
        .string(p, "email", "payer.email", false)
        .and_then(|e| f.check("payer.email", Email::parse(e)));
    let name = f.string(p, "name", "payer.name", false).and_then(|n| {
        if n.chars().count() > 255 {
            f.fail("payer.name", "must have at most 255 characters");
            None
        } else {
            Some(n.to_owned())
        }
    });
    document.map(|document| Payer {
        document,
        email,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"reference": "ORD-1001", "provider": "mono", "provider_payment_id": "cint_5dHsMj4uwhhujcVUTuw1OP",
               "amount": {"amount": 10000000, "currency": "COP"}, "description": "Invoice 1001",
               "payer": {"document_type": "CC", "document_number": "1033711400", "email": "a@b.co", "name": "Ana"}})
    }

    fn fields_of(v: Value) -> Vec<String> {
        match parse(v.to_string().as_bytes()) {
            Err(ApiError::Validation(f)) => f.into_iter().map(|e| e.field).collect(),
            Err(e) => panic!("unexpected {e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn accepts_the_design_example() {
        let p = parse(valid().to_string().as_bytes()).unwrap();
        assert_eq!(p.order.amount.minor_units(), 10_000_000);
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn names_each_bad_field() {
        let mut v = valid();
        v["amount"]["amount"] = json!(100.5);
        assert_eq!(fields_of(v), ["amount.amount"]);

        let mut v = valid();
        v["amount"]["currency"] = json!("USD");
        assert_eq!(fields_of(v), ["amount.currency"]);

        let mut v = valid();
        v["payer"] = json!({"document_type": "NIT", "document_number": "800197268-5"});
        assert_eq!(fields_of(v), ["payer.document_number"]);

        let v = json!({"amount": {"amount": "10"}, "provider": "stripe", "payer": {"document_type": "XX", "document_number": "1"}});
        assert_eq!(
            fields_of(v),
            [
                "reference",
                "provider",
                "provider_payment_id",
                "amount.amount",
                "amount.currency",
                "payer.document_type"
            ]
        );
    }

    #[test]
    fn zero_and_negative_amounts() {
        for bad in [json!(0), json!(-5), json!(1e3)] {
            let mut v = valid();
            v["amount"]["amount"] = bad;
            assert_eq!(fields_of(v), ["amount.amount"]);
        }
    }

    #[test]
    fn amounts_are_bounded() {
        let with = |provider: &str, id: &str, amount: Value| {
            let mut v = valid();
            v["provider"] = json!(provider);
            v["provider_payment_id"] = json!(id);
            v["amount"]["amount"] = amount;
            v
        };
        let mono = |a: Value| with("mono", "cint_5dHsMj4uwhhujcVUTuw1OP", a);
        let tpaga = |a: Value| with("tpaga", "pse-c542f18edadb441d8b4639edbfb566e5", a);
        for ok in [json!(1), json!(10_000_000_000_000i64)] {
            assert!(
                parse(mono(ok.clone()).to_string().as_bytes()).is_ok(),
                "{ok}"
            );
        }
        for ok in [json!(100_000), json!(4_000_000_000i64)] {
            assert!(
                parse(tpaga(ok.clone()).to_string().as_bytes()).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            json!(10_000_000_000_001i64),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(-1),
        ] {
            assert_eq!(fields_of(mono(bad.clone())), ["amount.amount"], "{bad}");
        }
        for bad in [json!(99_999), json!(4_000_000_001i64), json!(1)] {
            assert_eq!(fields_of(tpaga(bad.clone())), ["amount.amount"], "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_amount_is_accepted_only_within_bounds(a in proptest::prelude::any::<i64>()) {
            let mut v = valid();
            v["amount"]["amount"] = json!(a);
            match parse(v.to_string().as_bytes()) {
                Ok(p) => proptest::prop_assert!((1..=10_000_000_000_000).contains(&p.order.amount.minor_units())),
                Err(ApiError::Validation(f)) => {
                    proptest::prop_assert!(!(1..=10_000_000_000_000).contains(&a));
                    proptest::prop_assert_eq!(f[0].field.as_str(), "amount.amount");
                }
                Err(e) => proptest::prop_assert!(false, "unexpected {e:?}"),
            }
        }

        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn any_text_in_any_field_never_panics(
            field in proptest::sample::select(vec![
                "reference", "provider", "provider_payment_id", "description",
                "amount.amount", "amount.currency", "payer.document_type",
                "payer.document_number", "payer.email", "payer.name",
            ]),
            text in any_text(),
            doc_type in proptest::sample::select(vec!["CC", "NIT", "CE", "TI", "PP"]),
        ) {
            let mut v = valid();
            v["payer"]["document_type"] = json!(doc_type);
            match field.split_once('.') {
                Some((a, b)) => v[a][b] = json!(text),
                None => v[field] = json!(text),
            }
            let _ = parse(v.to_string().as_bytes());
        }

        #[test]
        fn any_json_value_in_any_field_never_panics(
            field in proptest::sample::select(vec![
                "reference", "provider", "provider_payment_id", "description", "amount",
                "amount.amount", "amount.currency", "payer", "payer.document_type",
                "payer.document_number", "payer.email", "payer.name",
            ]),
            value in json_value(),
        ) {
            let mut v = valid();
            match field.split_once('.') {
                Some((a, b)) => v[a][b] = value,
                None => v[field] = value,
            }
            let _ = parse(v.to_string().as_bytes());
        }
    }

    /// Arbitrary Unicode: fully random strings plus strings made of the
    /// characters parsers trip on (multi-byte, combining, control, emoji).
    fn any_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let edge = prop_oneof![
            3 => proptest::sample::select(vec![
                '0', '9', '-', '.', '@', ' ', '\t', '\r', '\0', '\u{7f}', '\u{301}', '\u{200d}',
                '\u{feff}', 'é', '٣', '😀', '\u{10ffff}',
            ]),
            1 => any::<char>(),
        ];
        prop_oneof![
            any::<String>(),
            proptest::string::string_regex("(?s:.{0,40})").unwrap(),
            ("[0-9.\\- ]{0,14}", proptest::collection::vec(edge, 0..3))
                .prop_map(|(h, t)| h + &t.into_iter().collect::<String>()),
        ]
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(any_text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The incident's input: a NIT ending in a two-byte character.
    #[test]
    fn multibyte_nit_is_a_field_error() {
        let mut v = valid();
        v["payer"] = json!({"document_type": "NIT", "document_number": "80019726é"});
        assert_eq!(fields_of(v), ["payer.document_number"]);
    }

    #[test]
    fn malformed_json_is_400_not_422() {
        assert!(matches!(
            parse(b"{nope"),
            Err(ApiError::MalformedPayload(_))
        ));
        assert!(matches!(parse(b"[1]"), Err(ApiError::MalformedPayload(_))));
    }

    #[test]
    fn unusual_loose_document_is_a_warning() {
        let mut v = valid();
        v["payer"] = json!({"document_type": "CE", "document_number": "E-12/34"});
        let p = parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert!(!p.warnings[0].contains("12/34"));
    }
}
