//! Validation of Belvo's create-customer and create-payment-link bodies, collecting every
//! problem as Belvo's 400 does. Amounts are whole pesos: anything with decimals is refused.

use chrono::Duration;
use serde_json::{Map, Value, json};

use super::wire::{FieldError, invalid, required};

pub type Object = Map<String, Value>;

pub fn parse_object(body: &[u8]) -> Option<Object> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn string_field(body: &Object, name: &str, errs: &mut Vec<FieldError>) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => {
            errs.push(required(name));
            None
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => {
            errs.push(invalid(name, "Not a valid string."));
            None
        }
    }
}

fn optional_string(body: &Object, name: &str, errs: &mut Vec<FieldError>) -> Option<String> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errs.push(invalid(name, "Not a valid string."));
            None
        }
    }
}

/// A valid create-customer request.
pub struct NewCustomer {
    pub customer_type: String,
    pub country: String,
    pub name: String,
    pub email: String,
    pub identifier_type: String,
    pub identifier: String,
    pub address: Option<String>,
    pub phone: Option<String>,
}

pub fn customer(body: &Object) -> Result<NewCustomer, Vec<FieldError>> {
    let mut errs = Vec::new();
    let customer_type = string_field(body, "customer_type", &mut errs);
    if let Some(t) = &customer_type
        && !matches!(t.as_str(), "INDIVIDUAL" | "BUSINESS")
    {
        errs.push(invalid(
            "customer_type",
            format!("\"{t}\" is not a valid choice."),
        ));
    }
    let country = string_field(body, "country", &mut errs);
    if let Some(c) = &country
        && c != "COL"
    {
        errs.push(invalid(
            "country",
            format!("\"{c}\" is not a valid choice."),
        ));
    }
    let name = string_field(body, "name", &mut errs);
    let email = string_field(body, "email", &mut errs);
    if let Some(e) = &email
        && !crate::email::valid(e)
    {
        errs.push(invalid("email", "Enter a valid email address."));
    }
    let identifier_type = string_field(body, "identifier_type", &mut errs);
    let identifier = string_field(body, "identifier", &mut errs);
    let address = optional_string(body, "address", &mut errs);
    let phone = optional_string(body, "phone", &mut errs);
    match (
        customer_type,
        country,
        name,
        email,
        identifier_type,
        identifier,
    ) {
        (
            Some(customer_type),
            Some(country),
            Some(name),
            Some(email),
            Some(identifier_type),
            Some(identifier),
        ) if errs.is_empty() => Ok(NewCustomer {
            customer_type,
            country,
            name,
            email,
            identifier_type,
            identifier,
            address,
            phone,
        }),
        _ => Err(errs),
    }
}

/// A valid create-payment-link request (the customer's existence is checked by the store).
pub struct NewLink {
    pub amount_minor: i64,
    pub customer: String,
    pub description: String,
    pub beneficiary: String,
    pub callback_urls: Value,
    pub metadata: Value,
    pub expires_in: String,
    pub lifetime: Duration,
}

pub fn link(body: &Object) -> Result<NewLink, Vec<FieldError>> {
    let mut errs = Vec::new();
    let amount = parse_amount(body.get("amount"))
        .map_err(|e| errs.push(e))
        .ok();
    let customer = string_field(body, "customer", &mut errs);
    let description = string_field(body, "description", &mut errs);
    match body.get("allowed_payment_method_types") {
        None | Some(Value::Null) => errs.push(required("allowed_payment_method_types")),
        Some(Value::Array(types)) if types.iter().any(|t| t == "pse") => {}
        Some(_) => errs.push(invalid(
            "allowed_payment_method_types",
            "Must be a list containing \"pse\".",
        )),
    }
    let beneficiary_path = "payment_method_details.pse.beneficiary_bank_account";
    let beneficiary = match body
        .get("payment_method_details")
        .and_then(|d| d.pointer("/pse/beneficiary_bank_account"))
    {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Value::Null) => {
            errs.push(required(beneficiary_path));
            None
        }
        Some(_) => {
            errs.push(invalid(beneficiary_path, "Not a valid string."));
            None
        }
    };
    let callback_urls = object_or(body, "callback_urls", Value::Null, &mut errs);
    let metadata = object_or(body, "metadata", json!({}), &mut errs);
    // Seed 002 sends `"provider": "payments_way"`; only its type is checked.
    optional_string(body, "provider", &mut errs);
    let expires_in =
        optional_string(body, "expires_in", &mut errs).unwrap_or_else(|| "7d".to_owned());
    let lifetime = parse_expires_in(&expires_in);
    if lifetime.is_none() {
        errs.push(invalid(
            "expires_in",
            "Use a number followed by d, h or m (e.g. \"7d\").",
        ));
    }
    match (amount, customer, description, beneficiary, lifetime) {
        (
            Some(amount_minor),
            Some(customer),
            Some(description),
            Some(beneficiary),
            Some(lifetime),
        ) if errs.is_empty() => Ok(NewLink {
            amount_minor,
            customer,
            description,
            beneficiary,
            callback_urls,
            metadata,
            expires_in,
            lifetime,
        }),
        _ => Err(errs),
    }
}

/// An optional object field; `default` when absent.
fn object_or(body: &Object, name: &str, default: Value, errs: &mut Vec<FieldError>) -> Value {
    match body.get(name) {
        None | Some(Value::Null) => default,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            errs.push(invalid(name, "Must be an object."));
            default
        }
    }
}

/// `amount`: whole pesos as an integer or an integer string; anything with decimals is refused.
pub fn parse_amount(v: Option<&Value>) -> Result<i64, FieldError> {
    let pesos = match v {
        None | Some(Value::Null) => return Err(required("amount")),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<i64>().ok()
        }
        Some(_) => None,
    };
    match pesos.and_then(|p| p.checked_mul(100)) {
        Some(minor) if minor > 0 => Ok(minor),
        _ => Err(invalid(
            "amount",
            "Only whole numbers (integers) greater than zero are allowed, without decimal points.",
        )),
    }
}

/// `"7d"`, `"24h"`, `"30m"`: the link lifetime.
pub fn parse_expires_in(s: &str) -> Option<Duration> {
    let unit = s.chars().last()?;
    let n: i64 = s[..s.len() - unit.len_utf8()]
        .parse()
        .ok()
        .filter(|n| *n > 0)?;
    match unit {
        'd' => Duration::try_days(n),
        'h' => Duration::try_hours(n),
        'm' => Duration::try_minutes(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_pesos() {
        assert_eq!(parse_amount(Some(&json!(1000))), Ok(100_000));
        assert_eq!(parse_amount(Some(&json!("350000"))), Ok(35_000_000));
        assert!(parse_amount(Some(&json!(1000.5))).is_err());
        assert!(parse_amount(Some(&json!("1000.00"))).is_err());
        assert!(parse_amount(Some(&json!(0))).is_err());
        assert!(parse_amount(Some(&json!(-5))).is_err());
        assert_eq!(parse_amount(None).unwrap_err().0, "required");
    }

    #[test]
    fn expiry() {
        assert_eq!(parse_expires_in("7d"), Duration::try_days(7));
        assert_eq!(parse_expires_in("30m"), Duration::try_minutes(30));
        assert_eq!(parse_expires_in("7"), None);
        assert_eq!(parse_expires_in("0d"), None);
        assert_eq!(parse_expires_in(""), None);
    }
}
