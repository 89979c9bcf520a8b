//! Money as an integer number of minor units (centavos) plus a currency.
//!
//! Providers send amounts in three shapes; each has an exact parser here so that
//! no float ever touches an amount and anything that cannot be converted exactly
//! is rejected instead of rounded.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// ISO 4217 currencies the product accepts. PSE settles only in Colombian pesos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "COP")]
    Cop,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Cop => "COP",
        }
    }

    /// Minor units per major unit (centavos per peso).
    pub fn minor_per_major(self) -> i64 {
        match self {
            Currency::Cop => 100,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "COP" => Ok(Currency::Cop),
            _ => Err(AmountError::UnsupportedCurrency),
        }
    }
}

/// Why an amount could not be turned into [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error(
        "must be an integer number of minor units (centavos), without a decimal point or exponent"
    )]
    NotInteger,
    #[error("must be a whole number of pesos")]
    NotWholePesos,
    #[error("must be a decimal number of pesos with at most two decimals")]
    NotDecimalPesos,
    #[error("must not be negative")]
    Negative,
    #[error("must be greater than zero")]
    Zero,
    #[error("is too large")]
    Overflow,
    #[error("currency must be COP")]
    UnsupportedCurrency,
    #[error("must be from {min} to {max} minor units (centavos)")]
    OutOfRange { min: i64, max: i64 },
}

/// The amounts an order may have, inclusive, in minor units.
///
/// Bounded so that no sum, difference or report total built from orders can
/// approach `i64::MAX`, and so a typo of a few extra digits is refused
/// instead of becoming an order nobody can pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmountLimits {
    pub min_minor: i64,
    pub max_minor: i64,
}

impl AmountLimits {
    /// Every order: 1 centavo to 100 billion pesos (10,000,000,000,000 centavos).
    pub const ORDER: AmountLimits = AmountLimits {
        min_minor: 1,
        max_minor: 10_000_000_000_000,
    };

    /// The tighter of two ranges (a provider's documented limits within [`Self::ORDER`]).
    pub const fn narrowed(self, other: AmountLimits) -> AmountLimits {
        AmountLimits {
            min_minor: if self.min_minor > other.min_minor {
                self.min_minor
            } else {
                other.min_minor
            },
            max_minor: if self.max_minor < other.max_minor {
                self.max_minor
            } else {
                other.max_minor
            },
        }
    }

    pub fn contains(self, minor: i64) -> bool {
        (self.min_minor..=self.max_minor).contains(&minor)
    }

    /// `Money` for an order, refused when outside the range.
    pub fn money(self, minor: i64, currency: Currency) -> Result<Money, AmountError> {
        if self.contains(minor) {
            Money::new(minor, currency)
        } else {
            Err(AmountError::OutOfRange {
                min: self.min_minor,
                max: self.max_minor,
            })
        }
    }
}

/// A non-negative amount of money in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Result<Self, AmountError> {
        if minor < 0 {
            return Err(AmountError::Negative);
        }
        Ok(Self { minor, currency })
    }

    /// Colombian pesos from centavos.
    pub fn cop(minor: i64) -> Result<Self, AmountError> {
        Self::new(minor, Currency::Cop)
    }

    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The signed difference `self - other` in minor units, for reports.
    /// `None` when the currencies differ (there is no meaningful difference).
    /// Both sides are non-negative `i64`s, so the result always fits.
    pub fn difference(&self, other: &Money) -> Option<i64> {
        (self.currency == other.currency).then(|| self.minor.saturating_sub(other.minor))
    }

    /// Human-readable amount with thousands separators: `COP 100,000.00`.
    pub fn display_major(&self) -> String {
        format_major(self.minor, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_major())
    }
}

/// Formats signed minor units as `COP -1,234.56` (used for differences too).
/// Takes `i128` so report sums, which may exceed `i64`, format as well.
pub fn format_major(minor: impl Into<i128>, currency: Currency) -> String {
    let minor: i128 = minor.into();
    let per = currency.minor_per_major().unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let major = abs / u128::from(per);
    let cents = abs % u128::from(per);
    let digits = major.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{} {sign}{grouped}.{cents:02}", currency.code())
}

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
fn unquote(raw: &str) -> &str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz_support::{any_bytes, any_text, json_value};
    use proptest::prelude::*;

    #[test]
    fn mono_integer_centavos() {
        assert_eq!(parse_minor_units("10000000"), Ok(10_000_000));
        assert_eq!(parse_minor_units("0"), Ok(0));
        assert_eq!(parse_minor_units("100.5"), Err(AmountError::NotInteger));
        assert_eq!(parse_minor_units("100.0"), Err(AmountError::NotInteger));
        assert_eq!(parse_minor_units("1e7"), Err(AmountError::NotInteger));
        assert_eq!(parse_minor_units("\"100\""), Err(AmountError::NotInteger));
        assert_eq!(parse_minor_units("-5"), Err(AmountError::Negative));
        assert_eq!(
            parse_minor_units("9223372036854775808"),
            Err(AmountError::Overflow)
        );
        assert_eq!(parse_minor_units(""), Err(AmountError::NotInteger));
    }

    #[test]
    fn belvo_whole_pesos() {
        assert_eq!(parse_whole_pesos("350000"), Ok(35_000_000));
        assert_eq!(parse_whole_pesos("\"350000\""), Ok(35_000_000));
        assert_eq!(parse_whole_pesos("\"350000.00\""), Ok(35_000_000));
        assert_eq!(parse_whole_pesos("1000"), Ok(100_000));
        assert_eq!(
            parse_whole_pesos("\"350000.50\""),
            Err(AmountError::NotWholePesos)
        );
        assert_eq!(
            parse_whole_pesos("350000."),
            Err(AmountError::NotWholePesos)
        );
        assert_eq!(parse_whole_pesos("3.5e5"), Err(AmountError::NotWholePesos));
        assert_eq!(parse_whole_pesos("\"-1\""), Err(AmountError::Negative));
        assert_eq!(
            parse_whole_pesos("92233720368547759"),
            Err(AmountError::Overflow)
        );
        assert_eq!(parse_whole_pesos("null"), Err(AmountError::NotWholePesos));
    }

    #[test]
    fn tpaga_decimal_pesos() {
        assert_eq!(parse_decimal_pesos("\"10000.00\""), Ok(1_000_000));
        assert_eq!(parse_decimal_pesos("10000.00"), Ok(1_000_000));
        assert_eq!(parse_decimal_pesos("\"9999.99\""), Ok(999_999));
        assert_eq!(parse_decimal_pesos("\"10000.0\""), Ok(1_000_000));
        assert_eq!(parse_decimal_pesos("\"10000.5\""), Ok(1_000_050));
        assert_eq!(parse_decimal_pesos("\"10000\""), Ok(1_000_000));
        assert_eq!(parse_decimal_pesos("\"0.01\""), Ok(1));
        assert_eq!(
            parse_decimal_pesos("\"10000.001\""),
            Err(AmountError::NotDecimalPesos)
        );
        assert_eq!(
            parse_decimal_pesos("\"1e4\""),
            Err(AmountError::NotDecimalPesos)
        );
        assert_eq!(
            parse_decimal_pesos("\".5\""),
            Err(AmountError::NotDecimalPesos)
        );
        assert_eq!(
            parse_decimal_pesos("\"5.\""),
            Err(AmountError::NotDecimalPesos)
        );
        assert_eq!(
            parse_decimal_pesos("\" 5\""),
            Err(AmountError::NotDecimalPesos)
        );
        assert_eq!(parse_decimal_pesos("\"-5.00\""), Err(AmountError::Negative));
        assert_eq!(
            parse_decimal_pesos("\"\""),
            Err(AmountError::NotDecimalPesos)
        );
    }

    #[test]
    fn money_rejects_negative_and_formats() {
        assert_eq!(Money::cop(-1), Err(AmountError::Negative));
        let m = Money::cop(10_000_000).unwrap();
        assert_eq!(m.display_major(), "COP 100,000.00");
        assert_eq!(format_major(-123_456, Currency::Cop), "COP -1,234.56");
        assert_eq!(format_major(5, Currency::Cop), "COP 0.05");
        assert_eq!("COP".parse::<Currency>(), Ok(Currency::Cop));
        assert!("USD".parse::<Currency>().is_err());
        assert!("cop".parse::<Currency>().is_err());
    }

    #[test]
    fn order_amount_bounds() {
        let l = AmountLimits::ORDER;
        assert!(l.money(1, Currency::Cop).is_ok());
        assert!(l.money(10_000_000_000_000, Currency::Cop).is_ok());
        for bad in [0, -1, 10_000_000_000_001, i64::MAX, i64::MIN] {
            assert_eq!(
                l.money(bad, Currency::Cop),
                Err(AmountError::OutOfRange {
                    min: 1,
                    max: 10_000_000_000_000
                }),
                "{bad}"
            );
        }
        let narrow = AmountLimits {
            min_minor: 100_000,
            max_minor: 4_000_000_000,
        };
        assert_eq!(l.narrowed(narrow), narrow);
        assert_eq!(narrow.narrowed(l), narrow);
    }

    #[test]
    fn sums_beyond_i64_format() {
        let two_max = 2 * i128::from(i64::MAX);
        assert_eq!(
            format_major(two_max, Currency::Cop),
            "COP 184,467,440,737,095,516.14"
        );
        assert_eq!(
            format_major(i64::MIN, Currency::Cop),
            "COP -92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn raw_amount_keeps_the_token() {
        #[derive(Deserialize)]
        struct W {
            amount: RawAmount,
        }
        let w: W = serde_json::from_str(r#"{"amount": 100.50}"#).unwrap();
        assert_eq!(w.amount.text(), "100.50");
        let w: W = serde_json::from_str(r#"{"amount": "350000"}"#).unwrap();
        assert_eq!(w.amount.text(), "\"350000\"");
    }

    proptest! {
        #[test]
        fn minor_units_round_trip(v in 0i64..=i64::MAX) {
            prop_assert_eq!(parse_minor_units(&v.to_string()), Ok(v));
        }

        #[test]
        fn whole_pesos_is_times_100(v in 0i64..=(i64::MAX / 100)) {
            prop_assert_eq!(parse_whole_pesos(&v.to_string()), Ok(v * 100));
            prop_assert_eq!(parse_whole_pesos(&format!("\"{v}\"")), Ok(v * 100));
        }

        #[test]
        fn decimal_pesos_round_trip(minor in 0i64..=(i64::MAX / 100)) {
            let text = format!("\"{}.{:02}\"", minor / 100, minor % 100);
            prop_assert_eq!(parse_decimal_pesos(&text), Ok(minor));
        }

        #[test]
        fn three_decimals_never_parse(pesos in 0u32.., frac in 0u32..1000) {
            let text = format!("\"{pesos}.{frac:03}\"");
            prop_assert!(parse_decimal_pesos(&text).is_err());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = parse_minor_units(&s);
            let _ = parse_whole_pesos(&s);
            let _ = parse_decimal_pesos(&s);
        }

        #[test]
        fn parsers_are_total_on_any_text(s in any_text()) {
            for v in [parse_minor_units(&s), parse_whole_pesos(&s), parse_decimal_pesos(&s)]
                .into_iter()
                .flatten()
            {
                prop_assert!(v >= 0);
            }
            let _ = s.parse::<Currency>();
        }

        #[test]
        fn parsers_are_total_on_any_bytes(bytes in any_bytes(64)) {
            let s = String::from_utf8_lossy(&bytes);
            let _ = parse_minor_units(&s);
            let _ = parse_whole_pesos(&s);
            let _ = parse_decimal_pesos(&s);
        }

        /// `RawAmount` is fed whatever JSON a provider sends; its text then
        /// goes through every amount parser.
        #[test]
        fn raw_amount_from_any_json(v in json_value(&["amount"])) {
            let body = serde_json::json!({ "amount": v }).to_string();
            #[derive(Deserialize)]
            struct W {
                amount: RawAmount,
            }
            if let Ok(w) = serde_json::from_str::<W>(&body) {
                let _ = parse_minor_units(w.amount.text());
                let _ = parse_whole_pesos(w.amount.text());
                let _ = parse_decimal_pesos(w.amount.text());
            }
        }

        #[test]
        fn raw_amount_from_any_bytes(bytes in any_bytes(64)) {
            if let Ok(a) = serde_json::from_slice::<RawAmount>(&bytes) {
                let _ = parse_minor_units(a.text());
                let _ = parse_decimal_pesos(a.text());
            }
        }

        #[test]
        fn order_limits_hold(minor in any::<i64>()) {
            match AmountLimits::ORDER.money(minor, Currency::Cop) {
                Ok(m) => prop_assert!((1..=10_000_000_000_000).contains(&m.minor_units())),
                Err(e) => prop_assert!(!(1..=10_000_000_000_000).contains(&minor), "{e}"),
            }
        }

        #[test]
        fn format_major_never_panics(minor in any::<i128>()) {
            prop_assert!(format_major(minor, Currency::Cop).starts_with("COP "));
        }

        #[test]
        fn any_accepted_amount_is_exact(s in "[-0-9.\"e]{0,24}") {
            // Whatever a parser accepts must print back to the same number.
            if let Ok(v) = parse_decimal_pesos(&s) {
                let text = unquote(&s);
                let (i, f) = text.split_once('.').unwrap_or((text, ""));
                let expected = i.parse::<i128>().unwrap() * 100
                    + format!("{f:0<2}").parse::<i128>().unwrap();
                prop_assert_eq!(i128::from(v), expected);
            }
            if let Ok(v) = parse_minor_units(&s) {
                prop_assert_eq!(i128::from(v), s.parse::<i128>().unwrap());
            }
        }
    }
}
