//! A wrapper that keeps credentials out of logs and debug output.

use std::fmt;

use subtle::ConstantTimeEq;

/// A credential. It prints as `[redacted]`, and comparisons are constant-time.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send or use it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time equality against untrusted input (length still leaks, as with any MAC check).
    pub fn matches(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("whsec_abc");
        assert!(!format!("{s:?} {s}").contains("whsec"));
        assert!(s.matches(b"whsec_abc"));
        assert!(!s.matches(b"whsec_abd"));
        assert!(!s.matches(b"whsec_ab"));
    }
}
