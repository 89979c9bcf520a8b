//! Injected failures: the next N calls to a provider answer an error status, are answered
//! late, or — on the calls that create a payment — run and then lose their answer, to
//! exercise the product's retries, timeouts and "created but never heard back" recovery.

use std::time::Duration;

use shared::domain::Provider;

use crate::admin_api::Fault;
use crate::registry::Endpoint;

/// How a lost answer is lost, after the call stored what it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The provider's error body with this status.
    Status(u16),
    /// The connection is closed without a byte of answer.
    Drop,
    /// Nothing for this long, then the connection is closed without an answer.
    Timeout(Duration),
}

/// What happens to one faulted call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer this status with the provider's error body (the handler does not run).
    Status(u16),
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Run the handler (the payment is created), then lose its answer.
    Lost(Lost),
}

#[derive(Debug, Clone)]
struct Rule {
    provider: Provider,
    action: FaultAction,
    remaining: u32,
    include_token_endpoint: bool,
    create_only: bool,
}

/// Pending faults, consumed in the order they were added.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
}

/// Longest delay accepted, so a typo cannot stall a worker for days.
const MAX_DELAY: Duration = Duration::from_secs(600);

fn error_status(fault: &Fault) -> Result<u16, String> {
    match fault.status {
        Some(s) if (400..=599).contains(&s) => Ok(s),
        Some(s) => Err(format!("status {s} is not an error status (400-599)")),
        None => Err(format!("kind {:?} needs `status`", fault.kind)),
    }
}

fn delay(fault: &Fault) -> Result<Duration, String> {
    match fault.delay_ms {
        Some(ms) if Duration::from_millis(ms) <= MAX_DELAY => Ok(Duration::from_millis(ms)),
        Some(_) => Err(format!(
            "delay_ms must be at most {}",
            MAX_DELAY.as_millis()
        )),
        None => Err(format!("kind {:?} needs `delay_ms`", fault.kind)),
    }
}

fn lost(fault: &Fault) -> Result<Lost, String> {
    match fault.lost_as.as_deref() {
        Some("status") => Ok(Lost::Status(error_status(fault)?)),
        Some("drop") => Ok(Lost::Drop),
        Some("timeout") => Ok(Lost::Timeout(delay(fault)?)),
        Some(other) => Err(format!(
            "lost_as {other:?} is not \"status\", \"drop\" or \"timeout\""
        )),
        None => Err("kind \"lost\" needs `lost_as`".to_owned()),
    }
}

impl Faults {
    /// Validates and queues a fault from the admin API.
    pub fn add(&mut self, fault: &Fault) -> Result<(), String> {
        let provider: Provider = fault.provider.parse().map_err(|e| format!("{e}"))?;
        if fault.count == 0 {
            return Err("count must be at least 1".to_owned());
        }
        let action = match fault.kind.as_str() {
            "status" => FaultAction::Status(error_status(fault)?),
            "delay" => FaultAction::Delay(delay(fault)?),
            "lost" => FaultAction::Lost(lost(fault)?),
            other => {
                return Err(format!(
                    "kind {other:?} is not \"status\", \"delay\" or \"lost\""
                ));
            }
        };
        self.rules.push(Rule {
            provider,
            action,
            remaining: fault.count,
            include_token_endpoint: fault.include_token_endpoint,
            // Only a call that creates something can create it and then lose the answer.
            create_only: fault.create_only || matches!(action, FaultAction::Lost(_)),
        });
        Ok(())
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Consumes one use of the oldest fault that applies to this call. Token endpoints are
    /// faulted only when the fault asks for them; create-only faults skip every other call.
    pub fn take(&mut self, provider: Provider, endpoint: Endpoint) -> Option<FaultAction> {
        let index = self.rules.iter().position(|r| {
            r.provider == provider
                && r.remaining > 0
                && (endpoint != Endpoint::Token || r.include_token_endpoint)
                && (!r.create_only || endpoint == Endpoint::Create)
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
            f.take(Provider::Tpaga, Endpoint::Create),
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
    fn create_only_and_lost_faults_wait_for_a_create() {
        let mut f = Faults::default();
        f.add(&Fault::delay("mono", 50, 1).on_create()).unwrap();
        f.add(&Fault::lost_with_status("mono", 502, 1)).unwrap();
        f.add(&Fault::lost_by_drop("mono", 1)).unwrap();
        f.add(&Fault::lost_by_timeout("mono", 20, 1)).unwrap();
        assert_eq!(f.take(Provider::Mono, Endpoint::Data), None);
        assert_eq!(f.take(Provider::Mono, Endpoint::Token), None);
        assert_eq!(
            f.take(Provider::Mono, Endpoint::Create),
            Some(FaultAction::Delay(Duration::from_millis(50)))
        );
        assert_eq!(f.take(Provider::Mono, Endpoint::Data), None);
        assert_eq!(
            f.take(Provider::Mono, Endpoint::Create),
            Some(FaultAction::Lost(Lost::Status(502)))
        );
        assert_eq!(
            f.take(Provider::Mono, Endpoint::Create),
            Some(FaultAction::Lost(Lost::Drop))
        );
        assert_eq!(
            f.take(Provider::Mono, Endpoint::Create),
            Some(FaultAction::Lost(Lost::Timeout(Duration::from_millis(20))))
        );
        assert_eq!(f.take(Provider::Mono, Endpoint::Create), None);
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
        assert!(f.add(&Fault::lost_with_status("mono", 302, 1)).is_err());
        assert!(
            f.add(&Fault::lost_by_timeout("mono", 10_000_000, 1))
                .is_err()
        );
        let mut no_how = Fault::lost_by_drop("mono", 1);
        no_how.lost_as = None;
        assert!(f.add(&no_how).is_err());
        no_how.lost_as = Some("vanish".to_owned());
        assert!(f.add(&no_how).is_err());
        let mut no_delay = Fault::lost_by_timeout("mono", 10, 1);
        no_delay.delay_ms = None;
        assert!(f.add(&no_delay).is_err());
    }
}
