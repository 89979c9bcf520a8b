//! Money as an integer number of minor units (centavos) plus a currency.
//!
//! Providers send amounts in three shapes; each has an exact parser here so that
//! no float ever touches an amount and anything that cannot be converted exactly
//! is rejected instead of rounded.

mod wire;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use wire::{RawAmount, parse_decimal_pesos, parse_minor_units, parse_whole_pesos};

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

/// Colombian pesos as people in Colombia read them: `$ 1.234.567`, dot
/// thousands, and centavos (`,50`) only when there are some, since almost all
/// PSE amounts are whole pesos. The one formatter for humans (the report page
/// and the sandbox demo), so the two never disagree; machine outputs (JSON,
/// CSV) keep integer centavos. `i128` so report sums format too.
pub fn format_cop(minor: impl Into<i128>) -> String {
    let minor: i128 = minor.into();
    let per = Currency::Cop.minor_per_major().unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let (major, cents) = (abs / u128::from(per), abs % u128::from(per));
    let digits = major.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    if cents == 0 {
        format!("{sign}$ {grouped}")
    } else {
        format!("{sign}$ {grouped},{cents:02}")
    }
}

#[cfg(test)]
mod tests;
