//! A wrapper that keeps credentials out of logs and debug output.

use std::fmt;

use subtle::ConstantTimeEq;

/// A credential. It prints as `[redacted]`, and comparisons are constant-time.
///
/// Deliberately not `PartialEq`: a derived `==` compares byte by byte and stops
/// at the first difference, which leaks how much of a guess was right. Use
/// [`Secret::matches`] against untrusted input and [`Secret::ct_eq`] between two secrets.
#[derive(Clone)]
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

    /// Constant-time equality of two secrets.
    pub fn ct_eq(&self, other: &Secret) -> bool {
        self.matches(other.0.as_bytes())
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
        assert!(s.ct_eq(&Secret::new("whsec_abc")));
        assert!(!s.ct_eq(&Secret::new("whsec_abd")));
    }
}
