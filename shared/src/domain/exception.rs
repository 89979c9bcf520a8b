//! Kinds of reconciliation exceptions finance must look at (docs/ARCHITECTURE.md, "Exceptions").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExceptionKind {
    AmountMismatch,
    /// The provider reports money for no registered order.
    UnknownPayment,
    /// A second successful payment for an order already paid.
    DuplicatePayment,
    /// A final status contradicted by a later one.
    StatusConflict,
    /// Paid after the order expired.
    LateSuccess,
    /// Still not final after the polling schedule.
    StalePending,
    /// The provider could not be queried after all retries.
    ProviderError,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 7] = [
        ExceptionKind::AmountMismatch,
        ExceptionKind::UnknownPayment,
        ExceptionKind::DuplicatePayment,
        ExceptionKind::StatusConflict,
        ExceptionKind::LateSuccess,
        ExceptionKind::StalePending,
        ExceptionKind::ProviderError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionKind::AmountMismatch => "amount_mismatch",
            ExceptionKind::UnknownPayment => "unknown_payment",
            ExceptionKind::DuplicatePayment => "duplicate_payment",
            ExceptionKind::StatusConflict => "status_conflict",
            ExceptionKind::LateSuccess => "late_success",
            ExceptionKind::StalePending => "stale_pending",
            ExceptionKind::ProviderError => "provider_error",
        }
    }
}

impl fmt::Display for ExceptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown exception kind {0:?}")]
pub struct UnknownExceptionKind(pub String);

impl FromStr for ExceptionKind {
    type Err = UnknownExceptionKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExceptionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownExceptionKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in ExceptionKind::ALL {
            assert_eq!(k.as_str().parse::<ExceptionKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
    }
}
