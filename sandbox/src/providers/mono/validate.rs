//! Validation of a create-intent body, reporting every problem with its JSON pointer path
//! the way Mono's 422 does.

use serde_json::{Map, Value, json};

use super::wire::error_item;

/// The validated create request.
pub struct CreateRequest {
    pub account_id: String,
    pub amount: i64,
    pub bank_code: String,
    pub ip: String,
    pub note: Option<String>,
    pub payer: Value,
    pub redirect_url: String,
    pub reference: Option<String>,
}

/// `^[A-Za-z]{2,6}_[\w-]{22}$`, the documented id format, checked by the product's own rule.
pub fn valid_id(s: &str) -> bool {
    shared::providers::mono::validate_payment_id(s).is_ok()
}

/// The documented IPv4 pattern: four dot-separated numbers 0–255 of at most three digits.
pub fn valid_ip(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            (1..=3).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Collects every problem, each with its JSON pointer path, as Mono reports them.
pub fn validate(body: &Map<String, Value>) -> Result<CreateRequest, Vec<Value>> {
    let mut errors = Vec::new();
    let missing = |errors: &mut Vec<Value>, path: &str| {
        errors.push(error_item(
            "missing_field",
            "The field is missing on the request body or parameters.",
            Some(path),
        ));
    };
    let invalid = |errors: &mut Vec<Value>, path: &str, message: &str| {
        errors.push(error_item("validation_error", message, Some(path)));
    };
    let required_string = |errors: &mut Vec<Value>, name: &str| -> Option<String> {
        let path = format!("#/{name}");
        match body.get(name) {
            None | Some(Value::Null) => {
                missing(errors, &path);
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => {
                invalid(errors, &path, "must be a non-empty string");
                None
            }
        }
    };

    let account_id = required_string(&mut errors, "account_id");
    if let Some(id) = &account_id
        && !valid_id(id)
    {
        invalid(
            &mut errors,
            "#/account_id",
            "does not match ^[A-Za-z]{2,6}_[\\w-]{22}$",
        );
    }
    let bank_code = required_string(&mut errors, "bank_code");
    let ip = required_string(&mut errors, "ip");
    if let Some(ip) = &ip
        && !valid_ip(ip)
    {
        invalid(&mut errors, "#/ip", "must be an IPv4 address");
    }
    let redirect_url = required_string(&mut errors, "redirect_url");

    let mut amount = None;
    match body.get("amount") {
        None | Some(Value::Null) => missing(&mut errors, "#/amount"),
        Some(Value::Object(money)) => {
            match money.get("amount") {
                None | Some(Value::Null) => missing(&mut errors, "#/amount/amount"),
                Some(v) => match v.as_i64() {
                    Some(n) if n > 0 => amount = Some(n),
                    Some(_) => invalid(&mut errors, "#/amount/amount", "must be greater than 0"),
                    None => invalid(
                        &mut errors,
                        "#/amount/amount",
                        "must be an integer (minor units)",
                    ),
                },
            }
            match money.get("currency") {
                None | Some(Value::Null) => missing(&mut errors, "#/amount/currency"),
                Some(Value::String(c)) if c == "COP" => {}
                Some(_) => invalid(&mut errors, "#/amount/currency", "must be COP"),
            }
        }
        Some(_) => invalid(&mut errors, "#/amount", "must be a Money object"),
    }
    for name in ["payer", "payment"] {
        match body.get(name) {
            None | Some(Value::Null) => missing(&mut errors, &format!("#/{name}")),
            Some(Value::Object(_)) => {}
            Some(_) => invalid(&mut errors, &format!("#/{name}"), "must be an object"),
        }
    }
    let optional_string = |errors: &mut Vec<Value>, name: &str| -> Option<String> {
        match body.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                invalid(errors, &format!("#/{name}"), "must be a string or null");
                None
            }
        }
    };
    let note = optional_string(&mut errors, "note");
    let reference = optional_string(&mut errors, "reference");
    if !matches!(
        body.get("realtime_transfer"),
        None | Some(Value::Null | Value::Bool(_))
    ) {
        invalid(
            &mut errors,
            "#/realtime_transfer",
            "must be a boolean or null",
        );
    }

    match (account_id, amount, bank_code, ip, redirect_url) {
        (Some(account_id), Some(amount), Some(bank_code), Some(ip), Some(redirect_url))
            if errors.is_empty() =>
        {
            Ok(CreateRequest {
                account_id,
                amount,
                bank_code,
                ip,
                note,
                payer: body.get("payer").cloned().unwrap_or_else(|| json!({})),
                redirect_url,
                reference,
            })
        }
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_ip_patterns() {
        assert!(valid_id("acc_5tgliBmzjZ6mpQPRbQjfKj"));
        assert!(valid_id("cint_5dHsMj4uwhhujcVUTuw1OP"));
        assert!(valid_id("ab_abc-def_ghi-jkl_mno-pq"));
        assert!(!valid_id("a_5tgliBmzjZ6mpQPRbQjfKj"));
        assert!(!valid_id("acc_5tgliBmzjZ6mpQPRbQjfK"));
        assert!(!valid_id("ac1_5tgliBmzjZ6mpQPRbQjfKj"));
        assert!(!valid_id("acc_5tgliBmzjZ6mpQPRbQjf!j"));
        assert!(valid_ip("88.221.182.60"));
        assert!(valid_ip("001.0.0.255"));
        assert!(!valid_ip("256.1.1.1"));
        assert!(!valid_ip("1.1.1"));
        assert!(!valid_ip("1.1.1.1234"));
    }
}
