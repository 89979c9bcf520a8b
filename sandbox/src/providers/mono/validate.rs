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

/// The problems found so far, each with its JSON pointer path, in the order Mono lists them.
struct Problems<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<Value>,
}

impl Problems<'_> {
    fn missing(&mut self, path: &str) {
        self.errors.push(error_item(
            "missing_field",
            "The field is missing on the request body or parameters.",
            Some(path),
        ));
    }

    fn invalid(&mut self, path: &str, message: &str) {
        self.errors
            .push(error_item("validation_error", message, Some(path)));
    }

    fn required_string(&mut self, name: &str) -> Option<String> {
        let path = format!("#/{name}");
        match self.body.get(name) {
            None | Some(Value::Null) => {
                self.missing(&path);
                None
            }
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(_) => {
                self.invalid(&path, "must be a non-empty string");
                None
            }
        }
    }

    fn optional_string(&mut self, name: &str) -> Option<String> {
        match self.body.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.invalid(&format!("#/{name}"), "must be a string or null");
                None
            }
        }
    }

    /// `amount`: a Money object of positive integer centavos in COP.
    fn amount(&mut self) -> Option<i64> {
        let money = match self.body.get("amount") {
            None | Some(Value::Null) => {
                self.missing("#/amount");
                return None;
            }
            Some(Value::Object(money)) => money,
            Some(_) => {
                self.invalid("#/amount", "must be a Money object");
                return None;
            }
        };
        let amount = match money.get("amount") {
            None | Some(Value::Null) => {
                self.missing("#/amount/amount");
                None
            }
            Some(v) => match v.as_i64() {
                Some(n) if n > 0 => Some(n),
                Some(_) => {
                    self.invalid("#/amount/amount", "must be greater than 0");
                    None
                }
                None => {
                    self.invalid("#/amount/amount", "must be an integer (minor units)");
                    None
                }
            },
        };
        match money.get("currency") {
            None | Some(Value::Null) => self.missing("#/amount/currency"),
            Some(Value::String(c)) if c == "COP" => {}
            Some(_) => self.invalid("#/amount/currency", "must be COP"),
        }
        amount
    }

    fn object(&mut self, name: &str) {
        match self.body.get(name) {
            None | Some(Value::Null) => self.missing(&format!("#/{name}")),
            Some(Value::Object(_)) => {}
            Some(_) => self.invalid(&format!("#/{name}"), "must be an object"),
        }
    }
}

/// Collects every problem, each with its JSON pointer path, as Mono reports them.
pub fn validate(body: &Map<String, Value>) -> Result<CreateRequest, Vec<Value>> {
    let mut p = Problems {
        body,
        errors: Vec::new(),
    };
    let account_id = p.required_string("account_id");
    if account_id.as_deref().is_some_and(|id| !valid_id(id)) {
        p.invalid("#/account_id", "does not match ^[A-Za-z]{2,6}_[\\w-]{22}$");
    }
    let bank_code = p.required_string("bank_code");
    let ip = p.required_string("ip");
    if ip.as_deref().is_some_and(|ip| !valid_ip(ip)) {
        p.invalid("#/ip", "must be an IPv4 address");
    }
    let redirect_url = p.required_string("redirect_url");
    let amount = p.amount();
    p.object("payer");
    p.object("payment");
    let note = p.optional_string("note");
    let reference = p.optional_string("reference");
    if !matches!(
        body.get("realtime_transfer"),
        None | Some(Value::Null | Value::Bool(_))
    ) {
        p.invalid("#/realtime_transfer", "must be a boolean or null");
    }
    match (account_id, amount, bank_code, ip, redirect_url) {
        (Some(account_id), Some(amount), Some(bank_code), Some(ip), Some(redirect_url))
            if p.errors.is_empty() =>
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
        _ => Err(p.errors),
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
