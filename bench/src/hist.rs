//! Latency histograms (HdrHistogram, microseconds) and their summaries.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Highest latency recorded (values above are clamped): one minute.
const MAX_US: u64 = 60_000_000;

/// A latency histogram in microseconds, 3 significant figures.
#[derive(Clone)]
pub struct Latencies {
    h: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    // The bounds are constants hdrhistogram accepts (1 ≤ low, high ≥ 2·low, 3 figures).
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        let h = Histogram::new_with_bounds(1, MAX_US, 3).expect("constant bounds are valid");
        Self { h }
    }

    pub fn record(&mut self, d: Duration) {
        self.record_us(d.as_micros().min(u128::from(MAX_US)) as u64);
    }

    pub fn record_us(&mut self, us: u64) {
        let _ = self.h.record(us.clamp(1, MAX_US));
    }

    pub fn merge(&mut self, other: &Latencies) {
        let _ = self.h.add(&other.h);
    }

    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.h.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.h.is_empty()
    }

    pub fn summary(&self) -> Summary {
        let ms = |us: u64| us as f64 / 1000.0;
        if self.h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: self.h.len(),
            mean_ms: self.h.mean() / 1000.0,
            p50_ms: ms(self.h.value_at_quantile(0.50)),
            p90_ms: ms(self.h.value_at_quantile(0.90)),
            p99_ms: ms(self.h.value_at_quantile(0.99)),
            p999_ms: ms(self.h.value_at_quantile(0.999)),
            max_ms: ms(self.h.max()),
        }
    }
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.002 + 0.002
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let mut h = Latencies::new();
        for us in 1..=100_000u64 {
            h.record_us(us);
        }
        let s = h.summary();
        assert_eq!(s.count, 100_000);
        assert!(close(s.p50_ms, 50.0), "{s:?}");
        assert!(close(s.p99_ms, 99.0), "{s:?}");
        assert!(close(s.p999_ms, 99.9), "{s:?}");
        assert!(close(s.max_ms, 100.0), "{s:?}");
        assert!(close(s.mean_ms, 50.0), "{s:?}");
    }

    #[test]
    fn one_slow_percent_shows_in_p99_not_p50() {
        let mut h = Latencies::new();
        for _ in 0..989 {
            h.record(Duration::from_millis(1));
        }
        for _ in 0..11 {
            h.record(Duration::from_millis(200));
        }
        let s = h.summary();
        assert!(close(s.p50_ms, 1.0), "{s:?}");
        assert!(close(s.p99_ms, 200.0), "{s:?}");
    }

    #[test]
    fn merge_clamp_and_empty() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        a.record_us(0); // clamped to 1 µs
        b.record(Duration::from_secs(3600)); // clamped to the maximum
        a.merge(&b);
        assert_eq!(a.len(), 2);
        assert!(a.summary().max_ms >= 59_000.0);
        assert_eq!(Latencies::new().summary(), Summary::default());
        assert!(Latencies::new().is_empty());
    }
}
