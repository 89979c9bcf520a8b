//! Injected failures: the next N calls to a provider answer an error status or
//! are answered late, to exercise the product's retries and timeouts.

use std::time::Duration;

use shared::domain::Provider;

use crate::admin_api::Fault;
use crate::registry::Endpoint;

/// What happens to one faulted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer this status with the provider's error body.
    Status(u16),
    /// Wait this long, then answer normally.
    Delay(Duration),
}

#[derive(Debug, Clone)]
struct Rule {
    provider: Provider,
    action: FaultAction,
    remaining: u32,
    include_token_endpoint: bool,
}

/// Pending faults, consumed in the order they were added.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
}

/// Longest delay accepted, so a typo cannot stall a worker for days.
const MAX_DELAY: Duration = Duration::from_secs(600);

impl Faults {
    /// Validates and queues a fault from the admin API.
    pub fn add(&mut self, fault: &Fault) -> Result<(), String> {
        let provider: Provider = fault.provider.parse().map_err(|e| format!("{e}"))?;
        if fault.count == 0 {
            return Err("count must be at least 1".to_owned());
        }
        let action = match fault.kind.as_str() {
            "status" => match fault.status {
                Some(s) if (400..=599).contains(&s) => FaultAction::Status(s),
                Some(s) => return Err(format!("status {s} is not an error status (400-599)")),
                None => return Err("kind \"status\" needs `status`".to_owned()),
            },
            "delay" => match fault.delay_ms {
                Some(ms) if Duration::from_millis(ms) <= MAX_DELAY => {
                    FaultAction::Delay(Duration::from_millis(ms))
                }
                Some(_) => {
                    return Err(format!(
                        "delay_ms must be at most {}",
                        MAX_DELAY.as_millis()
                    ));
                }
                None => return Err("kind \"delay\" needs `delay_ms`".to_owned()),
            },
            other => return Err(format!("kind {other:?} is not \"status\" or \"delay\"")),
        };
        self.rules.push(Rule {
            provider,
            action,
            remaining: fault.count,
            include_token_endpoint: fault.include_token_endpoint,
        });
        Ok(())
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Consumes one use of the oldest fault that applies to this call.
    /// Token endpoints are faulted only when the fault asks for them.
    pub fn take(&mut self, provider: Provider, endpoint: Endpoint) -> Option<FaultAction> {
        let index = self.rules.iter().position(|r| {
            r.provider == provider
                && r.remaining > 0
                && (endpoint != Endpoint::Token || r.include_token_endpoint)
        })?;
        let rule = &mut self.rules[index];
        rule.remaining -= 1;
        let action = rule.action;
        if rule.remaining == 0 {
            self.rules.remove(index);
        }
        Some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumes_in_order_and_respects_the_token_endpoint_flag() {
        let mut f = Faults::default();
        f.add(&Fault::status("tpaga", 503, 2)).unwrap();
        f.add(&Fault::delay("tpaga", 10, 1)).unwrap();
        assert_eq!(f.take(Provider::Tpaga, Endpoint::Token), None);
        assert_eq!(f.take(Provider::Mono, Endpoint::Data), None);
        assert_eq!(
            f.take(Provider::Tpaga, Endpoint::Data),
            Some(FaultAction::Status(503))
        );
        assert_eq!(
            f.take(Provider::Tpaga, Endpoint::Data),
            Some(FaultAction::Status(503))
        );
        assert_eq!(
            f.take(Provider::Tpaga, Endpoint::Data),
            Some(FaultAction::Delay(Duration::from_millis(10)))
        );
        assert_eq!(f.take(Provider::Tpaga, Endpoint::Data), None);
        let mut with_token = Fault::status("tpaga", 500, 1);
        with_token.include_token_endpoint = true;
        f.add(&with_token).unwrap();
        assert_eq!(
            f.take(Provider::Tpaga, Endpoint::Token),
            Some(FaultAction::Status(500))
        );
    }

    #[test]
    fn rejects_nonsense() {
        let mut f = Faults::default();
        assert!(f.add(&Fault::status("paypal", 500, 1)).is_err());
        assert!(f.add(&Fault::status("mono", 200, 1)).is_err());
        assert!(f.add(&Fault::status("mono", 500, 0)).is_err());
        assert!(f.add(&Fault::delay("mono", 10_000_000, 1)).is_err());
        let mut no_status = Fault::status("mono", 500, 1);
        no_status.status = None;
        assert!(f.add(&no_status).is_err());
        let mut odd = Fault::status("mono", 500, 1);
        odd.kind = "explode".to_owned();
        assert!(f.add(&odd).is_err());
    }
}
