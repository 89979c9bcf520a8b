//! A validated request to register an expected payment.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Money, PayerDocument, Provider};

/// The merchant's own order reference: 1–64 of `A-Z a-z 0-9 . _ : -`, so it is
/// safe in a URL path and a CSV cell without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference(String);

impl Reference {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.is_empty() || s.len() > 64 {
            return Err("must have 1 to 64 characters");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        {
            return Err("may contain only letters, digits, '.', '_', ':' and '-'");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, checked loosely (one `@`, no spaces); providers do the rest.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        let ok = s.len() <= 254
            && !s.chars().any(char::is_whitespace)
            && matches!(s.split_once('@'), Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.') && !domain.ends_with('.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err("is not an e-mail address")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email([redacted])")
    }
}

/// `Debug` by hand: the document shows masked, the e-mail and name not at all.
#[derive(Clone, PartialEq, Eq)]
pub struct Payer {
    pub document: PayerDocument,
    pub email: Option<Email>,
    pub name: Option<String>,
}

impl fmt::Debug for Payer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payer")
            .field("document", &self.document)
            .field("email", &self.email)
            .field(
                "name",
                &format_args!(
                    "{}",
                    if self.name.is_some() {
                        "Some([redacted])"
                    } else {
                        "None"
                    }
                ),
            )
            .finish()
    }
}

/// Everything needed to create an order, already valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub reference: Reference,
    pub provider: Provider,
    pub provider_payment_id: String,
    /// Strictly positive.
    pub amount: Money,
    pub description: Option<String>,
    pub payer: Option<Payer>,
}

#[derive(Serialize)]
struct CanonicalPayer<'a> {
    document_type: &'a str,
    document_number: String,
    email: Option<&'a str>,
    name: Option<&'a str>,
}

#[derive(Serialize)]
struct Canonical<'a> {
    reference: &'a str,
    provider: &'a str,
    provider_payment_id: &'a str,
    amount: i64,
    currency: &'a str,
    description: Option<&'a str>,
    payer: Option<CanonicalPayer<'a>>,
}

impl NewOrder {
    /// The payer as stored (JSON), or `None`.
    pub fn payer_json(&self) -> Option<serde_json::Value> {
        self.canonical_payer()
            .map(|p| serde_json::to_value(p).unwrap_or(serde_json::Value::Null))
    }

    fn canonical_payer(&self) -> Option<CanonicalPayer<'_>> {
        self.payer.as_ref().map(|p| CanonicalPayer {
            document_type: p.document.type_code(),
            document_number: p.document.number(),
            email: p.email.as_ref().map(Email::as_str),
            name: p.name.as_deref(),
        })
    }

    /// A fingerprint of the request in canonical form: the same order sent
    /// twice (even with a differently formatted NIT) hashes the same, so the
    /// second request is an idempotent replay rather than a conflict.
    pub fn request_hash(&self) -> String {
        let canonical = Canonical {
            reference: self.reference.as_str(),
            provider: self.provider.as_str(),
            provider_payment_id: &self.provider_payment_id,
            amount: self.amount.minor_units(),
            currency: self.amount.currency().code(),
            description: self.description.as_deref(),
            payer: self.canonical_payer(),
        };
        let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
        hex::encode(Sha256::digest(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(nit: &str) -> NewOrder {
        NewOrder {
            reference: Reference::parse("ORD-1").unwrap(),
            provider: Provider::Mono,
            provider_payment_id: "cint_5dHsMj4uwhhujcVUTuw1OP".into(),
            amount: Money::cop(100).unwrap(),
            description: None,
            payer: Some(Payer {
                document: PayerDocument::parse("NIT", nit).unwrap(),
                email: None,
                name: None,
            }),
        }
    }

    #[test]
    fn hash_ignores_document_formatting_but_not_content() {
        assert_eq!(
            order("800197268-4").request_hash(),
            order("800.197.268-4").request_hash()
        );
        assert_ne!(
            order("800197268-4").request_hash(),
            order("890903938-8").request_hash()
        );
    }

    #[test]
    fn debug_shows_no_personal_data() {
        let mut o = order("800197268-4");
        o.payer = Some(Payer {
            document: PayerDocument::parse("CC", "1033711400").unwrap(),
            email: Some(Email::parse("ana@example.com").unwrap()),
            name: Some("Ana Restrepo".into()),
        });
        let debug = format!("{o:?} {o:#?} {:?}", o.payer);
        for pii in ["1033711400", "ana@example.com", "Ana Restrepo", "Restrepo"] {
            assert!(!debug.contains(pii), "{pii:?} in {debug}");
        }
        assert!(debug.contains("CC ***400"), "{debug}");
    }

    #[test]
    fn reference_and_email_rules() {
        assert!(Reference::parse("ORD-1001").is_ok());
        assert!(Reference::parse("").is_err());
        assert!(Reference::parse("a/b").is_err());
        assert!(Reference::parse(&"x".repeat(65)).is_err());
        assert!(Email::parse("someone@gmail.com").is_ok());
        for bad in ["someone", "a@b", "@b.co", "a b@c.co", "a@@b.co", "a@.co"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", Email::parse("someone@gmail.com").unwrap()).contains("someone"));
    }
}
