//! The three wire shapes providers send amounts in, each parsed exactly: digit by digit,
//! never through a float, refusing what cannot be converted instead of rounding it.

use serde::Deserialize;

use super::{AmountError, Currency};

fn parse_digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i64 = 0;
    for b in s.bytes() {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some(value)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Mono's shape: a JSON integer of centavos (`10000000` is COP 100,000.00).
///
/// `raw` is the JSON token exactly as received (see [`RawAmount`]), so
/// `100.0`, `1e7` and `"100"` are all rejected rather than coerced.
pub fn parse_minor_units(raw: &str) -> Result<i64, AmountError> {
    if let Some(rest) = raw.strip_prefix('-') {
        return if all_digits(rest) {
            Err(AmountError::Negative)
        } else {
            Err(AmountError::NotInteger)
        };
    }
    if !all_digits(raw) {
        return Err(AmountError::NotInteger);
    }
    parse_digits(raw).ok_or(AmountError::Overflow)
}

/// Belvo's shape: whole pesos, as a JSON integer or an integer string
/// (`350000` or `"350000"`), converted to centavos.
///
/// Belvo documents integers only. A decimal rendering whose fraction is all
/// zeros (`"350000.00"`) still denotes whole pesos and is accepted; any real
/// fraction is rejected because the API itself refuses decimals, so one would
/// mean something is wrong.
pub fn parse_whole_pesos(raw: &str) -> Result<i64, AmountError> {
    let text = unquote(raw);
    if let Some(rest) = text.strip_prefix('-') {
        return if all_digits(rest) {
            Err(AmountError::Negative)
        } else {
            Err(AmountError::NotWholePesos)
        };
    }
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    if !all_digits(int) {
        return Err(AmountError::NotWholePesos);
    }
    if let Some(frac) = frac
        && (frac.is_empty() || !frac.bytes().all(|b| b == b'0'))
    {
        return Err(AmountError::NotWholePesos);
    }
    let pesos = parse_digits(int).ok_or(AmountError::Overflow)?;
    pesos
        .checked_mul(Currency::Cop.minor_per_major())
        .ok_or(AmountError::Overflow)
}

/// Tpaga's shape: a decimal string of pesos with up to two decimals
/// (`"10000.00"` is 1,000,000 centavos). Accepts the JSON string token, its
/// content, or a JSON number token written the same way: the text is parsed
/// digit by digit, never through a float, so all three are exact.
pub fn parse_decimal_pesos(raw: &str) -> Result<i64, AmountError> {
    let text = unquote(raw);
    if let Some(rest) = text.strip_prefix('-') {
        return if parse_decimal_parts(rest).is_some() {
            Err(AmountError::Negative)
        } else {
            Err(AmountError::NotDecimalPesos)
        };
    }
    let (int, frac) = parse_decimal_parts(text).ok_or(AmountError::NotDecimalPesos)?;
    let pesos = parse_digits(int).ok_or(AmountError::Overflow)?;
    let mut cents = 0i64;
    for (i, b) in frac.bytes().enumerate() {
        let weight = if i == 0 { 10 } else { 1 };
        cents += i64::from(b - b'0') * weight;
    }
    pesos
        .checked_mul(Currency::Cop.minor_per_major())
        .and_then(|v| v.checked_add(cents))
        .ok_or(AmountError::Overflow)
}

fn parse_decimal_parts(text: &str) -> Option<(&str, &str)> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if !all_digits(int) || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.contains('.') && frac.is_empty() {
        return None;
    }
    Some((int, frac))
}

/// Strips one pair of JSON string quotes; the content of an amount string never
/// needs unescaping (digits and a dot only), so anything with escapes fails the
/// digit checks that follow.
pub(super) fn unquote(raw: &str) -> &str {
    raw.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(raw)
}

/// A JSON amount token kept verbatim so that parsers see exactly what the
/// provider sent (no float round-trip through `serde_json::Number`).
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct RawAmount(Box<serde_json::value::RawValue>);

impl RawAmount {
    pub fn text(&self) -> &str {
        self.0.get().trim()
    }
}
