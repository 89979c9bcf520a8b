//! When the sweeper re-checks an order that stays open, as offsets from its
//! creation: every `PENDING_RECHECK_AFTER_SECS` during the ~30-minute PSE
//! lifetime (as PSE gateways poll), at `ORDER_EXPIRY_SECS`, then hourly until
//! `STALE_AFTER_SECS` (24 h by default). A webhook that never comes is caught
//! within minutes, and a late success within an hour, for a day.

use std::time::Duration;

/// How long a PSE transaction can stay open at the bank.
pub const PSE_LIFETIME: Duration = Duration::from_secs(30 * 60);
const HOUR: Duration = Duration::from_secs(3600);

pub fn offsets(recheck_after: Duration, expiry: Duration, stale_after: Duration) -> Vec<Duration> {
    let step = recheck_after.max(Duration::from_secs(1));
    let lifetime = PSE_LIFETIME.min(expiry).min(stale_after);
    let mut out = Vec::new();
    let mut t = step;
    while t < lifetime {
        out.push(t);
        t += step;
    }
    let push = |t: Duration, out: &mut Vec<Duration>| {
        if out.last().is_none_or(|last| t > *last) && t <= stale_after {
            out.push(t);
        }
    };
    push(lifetime, &mut out);
    push(expiry, &mut out);
    let mut t = out.last().copied().unwrap_or_default();
    t = Duration::from_secs((t.as_secs() / HOUR.as_secs() + 1) * HOUR.as_secs());
    while t < stale_after {
        push(t, &mut out);
        t += HOUR;
    }
    push(stale_after, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[Duration]) -> Vec<u64> {
        v.iter().map(Duration::as_secs).collect()
    }

    #[test]
    fn default_schedule() {
        let o = offsets(
            Duration::from_secs(300),
            Duration::from_secs(3600),
            Duration::from_secs(86_400),
        );
        let s = secs(&o);
        assert_eq!(&s[..7], &[300, 600, 900, 1200, 1500, 1800, 3600]);
        assert_eq!(s[7], 7200);
        assert_eq!(*s.last().unwrap(), 86_400);
        assert_eq!(s.len(), 7 + 23);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn short_test_schedule() {
        let o = offsets(
            Duration::from_secs(1),
            Duration::from_secs(3),
            Duration::from_secs(5),
        );
        assert_eq!(secs(&o), [1, 2, 3, 5]);
    }

    #[test]
    fn never_empty_and_always_increasing() {
        for (r, e, s) in [
            (1, 1, 1),
            (600, 60, 86_400),
            (5000, 3600, 7200),
            (300, 100_000, 86_400),
        ] {
            let o = offsets(
                Duration::from_secs(r),
                Duration::from_secs(e),
                Duration::from_secs(s),
            );
            assert!(!o.is_empty());
            assert!(o.windows(2).all(|w| w[0] < w[1]), "{r} {e} {s}: {o:?}");
            assert!(o.iter().all(|d| d.as_secs() <= s));
        }
    }
}
