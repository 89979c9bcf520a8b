//! `GET /v1/banks?provider=`: Tpaga's PSE bank list, kept in memory for a TTL
//! and served stale while Tpaga is down (the answer says so in `X-Banks-Stale`).

use std::time::{Duration, Instant};

use shared::domain::Provider;
use shared::providers::create::PaymentCreator;
use shared::providers::tpaga::create::Bank;
use tokio::sync::Mutex;

use crate::error::ApiError;

/// How long a fetched list is served without asking again.
pub const TTL: Duration = Duration::from_secs(3600);
/// After a failed refresh, the stale list is served this long before Tpaga is asked again,
/// so an outage does not turn every request into a call.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Cached {
    banks: Option<(Vec<Bank>, Instant)>,
    next_try: Option<Instant>,
}

impl Cached {
    /// The list to answer without asking Tpaga, if any: a fresh one, or a
    /// stale one while the last failure's back-off lasts. `None`: ask Tpaga.
    fn serve(&self, now: Instant) -> Option<Banks> {
        let (banks, at) = self.banks.as_ref()?;
        let stale = now.saturating_duration_since(*at) >= TTL;
        let holding_back = self.next_try.is_some_and(|t| now < t);
        (!stale || holding_back).then(|| Banks {
            banks: banks.clone(),
            stale,
        })
    }
}

/// One list, refreshed by one request at a time (the lock is held while fetching).
#[derive(Default)]
pub struct BankCache {
    inner: Mutex<Cached>,
}

pub struct Banks {
    pub banks: Vec<Bank>,
    /// Older than the TTL: the last refresh failed.
    pub stale: bool,
}

impl BankCache {
    pub async fn get(
        &self,
        creator: &PaymentCreator,
        provider: Provider,
    ) -> Result<Banks, ApiError> {
        if provider != Provider::Tpaga {
            return Err(ApiError::NoBankList(format!(
                "{provider} publishes no PSE bank list{}; the PSE bank codes are the same across gateways: use GET /v1/banks?provider=tpaga",
                if provider == Provider::Belvo {
                    " (the payer chooses the bank in Belvo's payment page)"
                } else {
                    ""
                }
            )));
        }
        if let Some(reason) = creator.disabled_reason(provider) {
            return Err(ApiError::PaymentProviderDisabled(reason));
        }
        let mut cached = self.inner.lock().await;
        if let Some(served) = cached.serve(Instant::now()) {
            return Ok(served);
        }
        match creator.tpaga_banks().await {
            Ok(banks) => {
                cached.banks = Some((banks.clone(), Instant::now()));
                cached.next_try = None;
                Ok(Banks {
                    banks,
                    stale: false,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "Tpaga bank list refresh failed");
                cached.next_try = Some(Instant::now() + RETRY_AFTER_FAILURE);
                match &cached.banks {
                    Some((banks, _)) => Ok(Banks {
                        banks: banks.clone(),
                        stale: true,
                    }),
                    None => Err(ApiError::ProviderUnavailable {
                        timed_out: false,
                        message: format!("{e}; the bank list has never been fetched"),
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank() -> Vec<Bank> {
        vec![Bank {
            code: "1022".into(),
            name: "BANCO UNION COLOMBIANO".into(),
        }]
    }

    #[test]
    fn fresh_then_refetched_then_stale_while_tpaga_fails() {
        let t0 = Instant::now();
        let empty = Cached::default();
        assert!(empty.serve(t0).is_none(), "never fetched: ask");
        let mut c = Cached {
            banks: Some((bank(), t0)),
            next_try: None,
        };
        let fresh = c.serve(t0 + TTL / 2).unwrap();
        assert!(!fresh.stale);
        assert!(c.serve(t0 + TTL).is_none(), "expired: ask again");
        // The refresh failed: the old list is served, marked stale, without asking again.
        c.next_try = Some(t0 + TTL + RETRY_AFTER_FAILURE);
        let stale = c.serve(t0 + TTL + Duration::from_secs(1)).unwrap();
        assert!(stale.stale);
        assert_eq!(stale.banks, bank());
        assert!(
            c.serve(t0 + TTL + RETRY_AFTER_FAILURE).is_none(),
            "then ask again"
        );
    }
}
