//! The `/readyz` answer both binaries give: each names its own checks, the shape and the
//! status code come from here so an orchestrator reads them the same way.
//!
//! Framework-free like the rest of `shared`: the binaries turn [`Readiness::status`] and
//! [`Readiness::body`] into their HTTP response.

use serde_json::{Map, Value, json};

/// The outcome of a readiness probe, built one named check at a time.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    checks: Map<String, Value>,
    ready: bool,
}

impl Readiness {
    pub fn new() -> Self {
        Self {
            checks: Map::new(),
            ready: true,
        }
    }

    /// Adds a check, shown as `"ok"` or `"unavailable"`; any unavailable check makes the
    /// whole probe not ready.
    pub fn check(mut self, name: &str, ok: bool) -> Self {
        self.checks.insert(
            name.to_owned(),
            Value::from(if ok { "ok" } else { "unavailable" }),
        );
        self.ready &= ok;
        self
    }

    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// 200 when ready, else 503 (so a load balancer stops sending traffic).
    pub fn status(&self) -> u16 {
        if self.ready { 200 } else { 503 }
    }

    /// `{"status": "ready"|"not_ready", "checks": {name: "ok"|"unavailable", …}}`.
    pub fn body(&self) -> Value {
        json!({
            "status": if self.ready { "ready" } else { "not_ready" },
            "checks": self.checks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_is_ok() {
        let r = Readiness::new()
            .check("database", true)
            .check("broker", true);
        assert!(r.is_ready());
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.body(),
            json!({"status": "ready", "checks": {"database": "ok", "broker": "ok"}})
        );
        let r = Readiness::new()
            .check("database", true)
            .check("broker", false)
            .check("consumer", true);
        assert!(!r.is_ready());
        assert_eq!(r.status(), 503);
        assert_eq!(
            r.body(),
            json!({"status": "not_ready",
                   "checks": {"database": "ok", "broker": "unavailable", "consumer": "ok"}})
        );
    }
}
