//! Colombian identity documents carried as payer data.
//!
//! Document numbers are personal data: `Debug` and `Display` never show them
//! whole (see [`PayerDocument::masked`]), so a stray `{:?}` cannot leak one into a log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// DIAN modulus-11 weights, applied to the NIT digits from right to left.
const NIT_WEIGHTS: [u32; 15] = [3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("a NIT has 9 or 10 digits followed by its check digit, e.g. 800197268-4")]
    NitFormat,
    #[error("the NIT check digit is wrong")]
    NitCheckDigit,
    #[error("a CC (cédula de ciudadanía) has 4 to 10 digits and nothing else")]
    CcFormat,
    #[error("the document number must have 1 to 20 characters")]
    Length,
    #[error("unknown document type {0:?}; expected one of CC, NIT, CE, TI, PP")]
    UnknownType(String),
}

/// Computes the DIAN check digit of a NIT base number (digits only).
pub fn nit_check_digit(base: &str) -> Option<u8> {
    if base.is_empty() || base.len() > NIT_WEIGHTS.len() {
        return None;
    }
    let mut sum = 0u32;
    for (digit, weight) in base.bytes().rev().zip(NIT_WEIGHTS) {
        if !digit.is_ascii_digit() {
            return None;
        }
        sum += u32::from(digit - b'0') * weight;
    }
    let r = sum % 11;
    let dv = if r < 2 { r } else { 11 - r };
    u8::try_from(dv).ok()
}

/// A company tax id whose DIAN check digit has been verified.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Nit {
    base: String,
    check_digit: u8,
}

impl Nit {
    /// Accepts `800197268-4`, `800.197.268-4` or `8001972684` (last digit is the
    /// check digit when there is no hyphen).
    pub fn parse(input: &str) -> Result<Self, DocumentError> {
        let cleaned: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, '.' | ' '))
            .collect();
        // Everything below indexes bytes, which is only sound on ASCII: a
        // multi-byte last character once made `split_at` panic mid-character.
        if !cleaned.is_ascii() {
            return Err(DocumentError::NitFormat);
        }
        let (base, dv) = match cleaned.split_once('-') {
            Some((base, dv)) => (base.to_owned(), dv.to_owned()),
            None if cleaned.len() >= 2 => {
                let (b, d) = cleaned.split_at(cleaned.len() - 1);
                (b.to_owned(), d.to_owned())
            }
            None => return Err(DocumentError::NitFormat),
        };
        let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(&base) || !(9..=10).contains(&base.len()) || dv.len() != 1 || !digits_ok(&dv)
        {
            return Err(DocumentError::NitFormat);
        }
        let given: u8 = dv.as_bytes()[0] - b'0';
        let expected = nit_check_digit(&base).ok_or(DocumentError::NitFormat)?;
        if given != expected {
            return Err(DocumentError::NitCheckDigit);
        }
        Ok(Self {
            base,
            check_digit: given,
        })
    }

    /// Canonical form, `800197268-4`.
    pub fn canonical(&self) -> String {
        format!("{}-{}", self.base, self.check_digit)
    }
}

/// A citizen id (cédula de ciudadanía): digits only, no check digit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cc(String);

impl Cc {
    /// 6–10 digits is the rule; some gateways accept 4, so 4 is the floor here.
    pub fn parse(input: &str) -> Result<Self, DocumentError> {
        let s: String = input.trim().chars().filter(|c| *c != '.').collect();
        if (4..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s))
        } else {
            Err(DocumentError::CcFormat)
        }
    }
}

/// Document kinds validated loosely (CE, TI, passport): a payment is never
/// refused for their format alone, but an unusual one is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LooseKind {
    #[serde(rename = "CE")]
    Ce,
    #[serde(rename = "TI")]
    Ti,
    #[serde(rename = "PP")]
    Pp,
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LooseDocument {
    kind: LooseKind,
    value: String,
}

impl LooseDocument {
    pub fn parse(kind: LooseKind, input: &str) -> Result<Self, DocumentError> {
        let value = input.trim();
        if value.is_empty() || value.chars().count() > 20 {
            return Err(DocumentError::Length);
        }
        Ok(Self {
            kind,
            value: value.to_owned(),
        })
    }

    /// Whether the number looks like what the issuer usually produces:
    /// CE up to two letters then digits, TI digits, passports alphanumeric.
    pub fn looks_usual(&self) -> bool {
        let v = self.value.as_bytes();
        match self.kind {
            LooseKind::Ti => (6..=11).contains(&v.len()) && v.iter().all(u8::is_ascii_digit),
            LooseKind::Ce => {
                let letters = v.iter().take_while(|b| b.is_ascii_alphabetic()).count();
                letters <= 2
                    && v.len() - letters >= 3
                    && v[letters..].iter().all(u8::is_ascii_digit)
            }
            LooseKind::Pp => (5..=20).contains(&v.len()) && v.iter().all(u8::is_ascii_alphanumeric),
        }
    }
}

/// A payer's identity document, parsed according to its type.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum PayerDocument {
    Cc(Cc),
    Nit(Nit),
    Loose(LooseDocument),
}

impl PayerDocument {
    pub fn parse(document_type: &str, number: &str) -> Result<Self, DocumentError> {
        match document_type {
            "CC" => Cc::parse(number).map(PayerDocument::Cc),
            "NIT" => Nit::parse(number).map(PayerDocument::Nit),
            "CE" => LooseDocument::parse(LooseKind::Ce, number).map(PayerDocument::Loose),
            "TI" => LooseDocument::parse(LooseKind::Ti, number).map(PayerDocument::Loose),
            "PP" => LooseDocument::parse(LooseKind::Pp, number).map(PayerDocument::Loose),
            other => Err(DocumentError::UnknownType(other.to_owned())),
        }
    }

    pub fn type_code(&self) -> &'static str {
        match self {
            PayerDocument::Cc(_) => "CC",
            PayerDocument::Nit(_) => "NIT",
            PayerDocument::Loose(d) => match d.kind {
                LooseKind::Ce => "CE",
                LooseKind::Ti => "TI",
                LooseKind::Pp => "PP",
            },
        }
    }

    /// The number in canonical form, for storage. Never log it.
    pub fn number(&self) -> String {
        match self {
            PayerDocument::Cc(c) => c.0.clone(),
            PayerDocument::Nit(n) => n.canonical(),
            PayerDocument::Loose(d) => d.value.clone(),
        }
    }

    /// Only the last three characters, for logs and support screens.
    pub fn masked(&self) -> String {
        let n = self.number();
        let tail: String = n
            .chars()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("{} ***{tail}", self.type_code())
    }

    /// `false` for a loosely validated document with an unusual format.
    pub fn looks_usual(&self) -> bool {
        match self {
            PayerDocument::Loose(d) => d.looks_usual(),
            _ => true,
        }
    }
}

impl fmt::Debug for PayerDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for Nit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&PayerDocument::Nit(self.clone()).masked())
    }
}

impl fmt::Debug for Cc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&PayerDocument::Cc(self.clone()).masked())
    }
}

impl fmt::Debug for LooseDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&PayerDocument::Loose(self.clone()).masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz_support::{any_bytes, any_text};
    use proptest::prelude::*;

    /// The input from the incident: a NIT whose last character is two bytes
    /// long used to panic in `split_at` (and print the number in the panic).
    #[test]
    fn nit_ending_in_a_multibyte_character_is_refused_not_a_panic() {
        assert_eq!(Nit::parse("80019726é"), Err(DocumentError::NitFormat));
        assert_eq!(
            PayerDocument::parse("NIT", "80019726é"),
            Err(DocumentError::NitFormat)
        );
        for bad in ["1é", "800197268😀", "8001972684\u{301}", "é", "٣٣٣٣٣٣٣٣٣٣"] {
            assert_eq!(Nit::parse(bad), Err(DocumentError::NitFormat), "{bad:?}");
        }
    }

    #[test]
    fn known_valid_nits() {
        for nit in [
            "800197268-4",
            "890903938-8",
            "899999068-1",
            "800.197.268-4",
            "8001972684",
        ] {
            assert!(Nit::parse(nit).is_ok(), "{nit}");
        }
        assert_eq!(
            Nit::parse("800197268-4").unwrap().canonical(),
            "800197268-4"
        );
    }

    #[test]
    fn wrong_check_digit_is_rejected() {
        assert_eq!(Nit::parse("800197268-5"), Err(DocumentError::NitCheckDigit));
        assert_eq!(Nit::parse("890903938-1"), Err(DocumentError::NitCheckDigit));
    }

    #[test]
    fn malformed_nits() {
        for bad in [
            "",
            "-",
            "12345-6",
            "80019726A-4",
            "800197268-44",
            "800197268-",
            "1234567890123-1",
        ] {
            assert_eq!(Nit::parse(bad), Err(DocumentError::NitFormat), "{bad:?}");
        }
    }

    #[test]
    fn cc_rules() {
        assert!(Cc::parse("1033711400").is_ok());
        assert!(Cc::parse("1234").is_ok());
        assert!(Cc::parse("123").is_err());
        assert!(Cc::parse("12345678901").is_err());
        assert!(Cc::parse("12a456").is_err());
    }

    #[test]
    fn loose_documents_are_flagged_not_refused() {
        let d = PayerDocument::parse("CE", "E-12/34").unwrap();
        assert!(!d.looks_usual());
        assert!(PayerDocument::parse("CE", "E123456").unwrap().looks_usual());
        assert!(
            PayerDocument::parse("PP", "AB1234567")
                .unwrap()
                .looks_usual()
        );
        assert!(PayerDocument::parse("PP", "").is_err());
        assert!(matches!(
            PayerDocument::parse("RUT", "1"),
            Err(DocumentError::UnknownType(_))
        ));
    }

    #[test]
    fn debug_never_shows_the_number() {
        let d = PayerDocument::parse("CC", "1033711400").unwrap();
        assert_eq!(format!("{d:?}"), "CC ***400");
        assert!(!format!("{:?}", Nit::parse("800197268-4").unwrap()).contains("800197"));
    }

    proptest! {
        #[test]
        fn computed_check_digit_always_verifies(base in "[1-9][0-9]{8,9}") {
            let dv = nit_check_digit(&base).unwrap();
            let nit = format!("{base}-{dv}");
            prop_assert!(Nit::parse(&nit).is_ok());
            let wrong = (dv + 1) % 10;
            prop_assert_eq!(Nit::parse(&format!("{base}-{wrong}")), Err(DocumentError::NitCheckDigit));
        }

        #[test]
        fn parsing_never_panics(t in "\\PC{0,5}", n in "\\PC{0,30}") {
            let _ = PayerDocument::parse(&t, &n);
        }

        #[test]
        fn every_document_parser_is_total_on_any_text(n in any_text()) {
            for kind in ["CC", "NIT", "CE", "TI", "PP"] {
                if let Ok(d) = PayerDocument::parse(kind, &n) {
                    let _ = (d.looks_usual(), d.masked(), format!("{d:?}"));
                }
            }
            let _ = Nit::parse(&n);
            let _ = Cc::parse(&n);
            for kind in [LooseKind::Ce, LooseKind::Ti, LooseKind::Pp] {
                if let Ok(d) = LooseDocument::parse(kind, &n) {
                    let _ = d.looks_usual();
                }
            }
            let _ = nit_check_digit(&n);
        }

        #[test]
        fn every_document_parser_is_total_on_any_bytes(bytes in any_bytes(64)) {
            let n = String::from_utf8_lossy(&bytes);
            for kind in ["CC", "NIT", "CE", "TI", "PP"] {
                let _ = PayerDocument::parse(kind, &n);
            }
        }

        #[test]
        fn a_parsed_nit_is_ascii_and_canonical(n in any_text()) {
            if let Ok(nit) = Nit::parse(&n) {
                prop_assert!(nit.canonical().is_ascii());
                prop_assert_eq!(Nit::parse(&nit.canonical()), Ok(nit));
            }
        }
    }
}
