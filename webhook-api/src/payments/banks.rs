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
        let now = Instant::now();
        let mut cached = self.inner.lock().await;
        if let Some((banks, at)) = &cached.banks
            && (now.duration_since(*at) < TTL || cached.next_try.is_some_and(|t| now < t))
        {
            return Ok(Banks {
                banks: banks.clone(),
                stale: now.duration_since(*at) >= TTL,
            });
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
