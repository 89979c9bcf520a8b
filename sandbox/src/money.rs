//! Conversions between the sandbox's internal integer centavos and each
//! provider's wire shape (Belvo whole pesos, Tpaga decimal peso strings).
//! Never through floating point.

use serde::Serializer;
use shared::domain::money::{self, AmountError};

/// Why a decimal amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a number at all (`"12c"`, `"1e4"`, `""`).
    Invalid,
    /// More than two decimal places (`"10.005"`).
    TooManyDecimals,
}

/// `1000000` → `"10000.00"`: Tpaga's peso string with two decimals.
pub fn decimal_pesos(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses a peso amount with at most two decimals (`"10000"`, `"10000.5"`, `"10000.50"`)
/// into centavos, the way Tpaga's API reads a decimal field: it also takes a sign, `.5` and
/// `10.`, and answers "too many decimals" apart from "not a number". The digits themselves
/// go through the product's parser; values too large for `i64` saturate, so a range check
/// still refuses them.
pub fn parse_decimal_pesos(text: &str) -> Result<i64, DecimalError> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = rest.split_once('.').unwrap_or((rest, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(DecimalError::Invalid);
    }
    if frac_part.len() > 2 {
        return Err(DecimalError::TooManyDecimals);
    }
    let int_part = if int_part.is_empty() { "0" } else { int_part };
    let canonical = format!("{int_part}.{frac_part:0<2}");
    let minor = match money::parse_decimal_pesos(&canonical) {
        Ok(minor) => minor,
        Err(AmountError::Overflow) => i64::MAX,
        Err(_) => return Err(DecimalError::Invalid),
    };
    Ok(if negative { -minor } else { minor })
}

/// Centavos as whole pesos, when they are a whole number of pesos (Belvo refuses decimals).
pub fn whole_pesos(minor: i64) -> Option<i64> {
    (minor % 100 == 0).then_some(minor / 100)
}

/// Serde helper: centavos written as a JSON integer of whole pesos (Belvo payment intents).
pub fn ser_whole_pesos<S: Serializer>(minor: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(minor / 100)
}

/// Serde helper: centavos written as a string of whole pesos (Belvo transactions, `"350000"`).
pub fn ser_whole_pesos_string<S: Serializer>(minor: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&(minor / 100).to_string())
}

/// Serde helper: centavos written as a two-decimal peso string (Tpaga, `"10000.00"`).
pub fn ser_decimal_pesos<S: Serializer>(minor: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&decimal_pesos(*minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_two_decimals() {
        assert_eq!(decimal_pesos(1_000_000), "10000.00");
        assert_eq!(decimal_pesos(1_005), "10.05");
        assert_eq!(decimal_pesos(5), "0.05");
        assert_eq!(decimal_pesos(-150), "-1.50");
    }

    #[test]
    fn parses_up_to_two_decimals_exactly() {
        assert_eq!(parse_decimal_pesos("10000.0"), Ok(1_000_000));
        assert_eq!(parse_decimal_pesos("10000"), Ok(1_000_000));
        assert_eq!(parse_decimal_pesos("10.1"), Ok(1_010));
        assert_eq!(parse_decimal_pesos("10.01"), Ok(1_001));
        assert_eq!(parse_decimal_pesos("0.29"), Ok(29));
        assert_eq!(parse_decimal_pesos(".5"), Ok(50));
        assert_eq!(parse_decimal_pesos("-3"), Ok(-300));
        assert_eq!(
            parse_decimal_pesos("10.005"),
            Err(DecimalError::TooManyDecimals)
        );
        for bad in ["", ".", "12c", "1e4", "1,000", " 1", "--1", "1.2.3"] {
            assert_eq!(
                parse_decimal_pesos(bad),
                Err(DecimalError::Invalid),
                "{bad}"
            );
        }
        assert_eq!(parse_decimal_pesos(&"9".repeat(40)), Ok(i64::MAX));
    }

    #[test]
    fn whole_pesos_only_when_exact() {
        assert_eq!(whole_pesos(10_000_000), Some(100_000));
        assert_eq!(whole_pesos(10_000_050), None);
    }
}
