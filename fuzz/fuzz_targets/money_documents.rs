//! The parsers merchants and providers feed directly: money in its three wire
//! shapes (integer centavos, whole pesos, decimal pesos) and payer documents
//! (NIT with its DIAN check digit, CC, and the loose CE/TI/PP).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::domain::PayerDocument;
use shared::domain::money::{parse_decimal_pesos, parse_minor_units, parse_whole_pesos};

fuzz_target!(|data: &[u8]| {
    // Input: UTF-8 text `amount\ndocument type\ndocument number` (what JSON
    // strings carry; the number may itself contain newlines).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let amount = parts.next().unwrap_or_default();
    let document_type = parts.next().unwrap_or_default();
    let document_number = parts.next().unwrap_or_default();

    if let Ok(minor) = parse_minor_units(amount) {
        assert!(minor >= 0, "negative centavos from {:?}", amount);
    }
    if let Ok(minor) = parse_whole_pesos(amount) {
        assert!(minor >= 0 && minor % 100 == 0, "whole pesos gave {minor}");
    }
    if let Ok(minor) = parse_decimal_pesos(amount) {
        assert!(minor >= 0, "negative centavos from {:?}", amount);
        // Whole pesos are also decimal pesos, to the centavo.
        if let Ok(whole) = parse_whole_pesos(amount)
            && !amount.contains('.')
        {
            assert_eq!(whole, minor);
        }
    }

    if let Ok(document) = PayerDocument::parse(document_type, document_number) {
        let number = document.number();
        let masked = document.masked();
        let shown = format!("{document:?}");
        assert_eq!(document.type_code(), document_type);
        let _ = document.looks_usual();
        // Debug and the masked form show three characters at most.
        if number.chars().count() > 3 && number.chars().all(char::is_alphanumeric) {
            assert!(!masked.contains(&number), "masked form shows the number");
            assert!(!shown.contains(&number), "Debug shows the number");
        }
        // The canonical number parses again to the same document.
        match PayerDocument::parse(document_type, &number) {
            Ok(again) => assert_eq!(again, document, "canonical form is not stable"),
            Err(e) => panic!("the canonical form does not parse again: {e:?}"),
        }
    }
});
