//! The e-mail check the fake providers apply to payer addresses: the product's own rule
//! (`shared::domain::Email`), so the sandbox refuses what the product would.

/// Whether `s` is an e-mail address (one `@`, a local part, a dotted domain, no spaces).
pub fn valid(s: &str) -> bool {
    shared::domain::Email::parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(valid("demo@demo.com"));
        assert!(!valid("invalidemail.co"));
        assert!(!valid("a@b"));
        assert!(!valid("a b@c.co"));
        assert!(!valid("@c.co"));
        assert!(!valid("a@.co"));
    }
}
