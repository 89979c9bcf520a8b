//! The load generator: closed-loop (N connections, each sending its next
//! request as soon as the previous answer arrives) for throughput, and
//! open-loop (a precomputed send schedule) for latency.
//!
//! Open-loop latency is measured from each request's INTENDED send time, not
//! from when it was actually written: when the server stalls, the requests
//! that should have gone out meanwhile are charged for the whole wait, as a
//! real provider sending at a fixed rate would experience it (Gil Tene's
//! "coordinated omission"). The time from the actual write is kept too, to
//! show the difference.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::hist::{Latencies, Summary};
use crate::http::Conn;

/// Pre-serialised requests, each sent at most once.
pub type Requests = Arc<Vec<Vec<u8>>>;

#[derive(Default)]
struct Tally {
    ok: u64,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    latency: Latencies,
    service: Latencies,
    lateness: Latencies,
    /// (request index, unix µs when its 200 arrived), when asked for.
    done_at: Vec<(usize, i64)>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.errors += other.errors;
        self.latency.merge(&other.latency);
        self.service.merge(&other.service);
        self.lateness.merge(&other.lateness);
        self.done_at.extend(other.done_at);
    }

    fn outcome(&mut self, result: std::io::Result<crate::http::Response>) -> bool {
        match result {
            Ok(r) => {
                *self.statuses.entry(r.status).or_default() += 1;
                if r.status == 200 {
                    self.ok += 1;
                    return true;
                }
            }
            Err(_) => self.errors += 1,
        }
        false
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClosedResult {
    pub connections: usize,
    /// Answers with status 200 inside the measured window.
    pub ok: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: u64,
    pub measured_secs: f64,
    /// 200s per second over the measured window.
    pub rate: f64,
    /// The pre-generated requests ran out before the window ended (the rate is still right).
    pub exhausted: bool,
    pub requests_used: usize,
    pub latency: Summary,
}

/// `connections` loops sending `requests` in order, as fast as answers come,
/// for `warmup` (not counted) then `duration`.
pub async fn closed_loop(
    addr: SocketAddr,
    requests: Requests,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> ClosedResult {
    let next = Arc::new(AtomicUsize::new(0));
    let exhausted = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (requests, next, exhausted) = (requests.clone(), next.clone(), exhausted.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut tally = Tally::default();
            let mut last = measure_from;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else {
                    exhausted.store(true, Ordering::Relaxed);
                    break;
                };
                let result = conn.request(request).await;
                let done = Instant::now();
                if sent >= measure_from {
                    last = last.max(done);
                    if tally.outcome(result) {
                        tally.latency.record(done - sent);
                    }
                }
            }
            (tally, last)
        }));
    }
    let mut total = Tally::default();
    let mut last = measure_from;
    for t in tasks {
        if let Ok((tally, l)) = t.await {
            total.add(tally);
            last = last.max(l);
        }
    }
    let was_exhausted = exhausted.load(Ordering::Relaxed);
    let measured = if was_exhausted {
        last.saturating_duration_since(measure_from)
    } else {
        duration
    }
    .as_secs_f64()
    .max(1e-6);
    ClosedResult {
        connections,
        ok: total.ok,
        rate: total.ok as f64 / measured,
        statuses: total.statuses,
        errors: total.errors,
        measured_secs: measured,
        exhausted: was_exhausted,
        requests_used: next.load(Ordering::Relaxed).min(requests.len()),
        latency: total.latency.summary(),
    }
}

/// Send offsets for a constant rate: request `i` is due at `i / rate`.
pub fn constant_schedule(rate: f64, duration: Duration) -> Vec<Duration> {
    if rate <= 0.0 {
        return Vec::new();
    }
    let n = (rate * duration.as_secs_f64()).floor() as usize;
    (0..n)
        .map(|i| Duration::from_secs_f64(i as f64 / rate))
        .collect()
}

/// Connections an open-loop run needs so that a normal answer never makes a
/// request wait for a free connection: rate × 100 ms, at least 16, at most 512.
pub fn open_loop_connections(rate: f64) -> usize {
    ((rate * 0.1).ceil() as usize).clamp(16, 512)
}

#[derive(Debug, Clone, Serialize)]
pub struct OpenResult {
    pub target_rate: f64,
    pub connections: usize,
    pub scheduled: usize,
    pub ok: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: u64,
    pub elapsed_secs: f64,
    pub achieved_rate: f64,
    /// From the intended send time to the answer (coordinated omission corrected).
    pub latency: Summary,
    /// From the actual write to the answer (what a closed-loop tool would report).
    pub service_time: Summary,
    /// How late requests were written relative to the schedule (generator timer
    /// granularity plus any wait for a free connection).
    pub send_lateness: Summary,
    #[serde(skip)]
    pub done_at: Vec<(usize, i64)>,
}

/// Sends `requests[i]` at `start + schedule[i]` over up to `connections`
/// connections; with `keep_done_times`, records when each 200 arrived (unix µs).
pub async fn open_loop(
    addr: SocketAddr,
    requests: Requests,
    schedule: Arc<Vec<Duration>>,
    connections: usize,
    keep_done_times: bool,
) -> OpenResult {
    let n = schedule.len().min(requests.len());
    let next = Arc::new(AtomicUsize::new(0));
    // A short lead so every task is waiting before the first slot.
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (requests, schedule, next) = (requests.clone(), schedule.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let intended = start + schedule[i];
                tokio::time::sleep_until(intended).await;
                let sent = Instant::now();
                let result = conn.request(&requests[i]).await;
                let done = Instant::now();
                tally
                    .lateness
                    .record(sent.saturating_duration_since(intended));
                if tally.outcome(result) {
                    tally.latency.record(done - intended);
                    tally.service.record(done - sent);
                    if keep_done_times {
                        tally
                            .done_at
                            .push((i, chrono::Utc::now().timestamp_micros()));
                    }
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for t in tasks {
        if let Ok(tally) = t.await {
            total.add(tally);
        }
    }
    let elapsed = start.elapsed().as_secs_f64().max(1e-6);
    let planned = schedule
        .get(n.saturating_sub(1))
        .copied()
        .unwrap_or_default();
    OpenResult {
        target_rate: if planned.is_zero() {
            0.0
        } else {
            (n.saturating_sub(1)) as f64 / planned.as_secs_f64()
        },
        connections,
        scheduled: n,
        ok: total.ok,
        achieved_rate: total.ok as f64 / elapsed,
        statuses: total.statuses,
        errors: total.errors,
        elapsed_secs: elapsed,
        latency: total.latency.summary(),
        service_time: total.service.summary(),
        send_lateness: total.lateness.summary(),
        done_at: total.done_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn constant_schedule_is_evenly_spaced() {
        let s = constant_schedule(1000.0, Duration::from_secs(2));
        assert_eq!(s.len(), 2000);
        assert_eq!(s[0], Duration::ZERO);
        assert_eq!(s[1], Duration::from_millis(1));
        assert_eq!(s[1999], Duration::from_millis(1999));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        let s = constant_schedule(3.0, Duration::from_secs(1));
        assert_eq!(s.len(), 3);
        assert!((s[2].as_secs_f64() - 2.0 / 3.0).abs() < 1e-9);
        assert!(constant_schedule(0.0, Duration::from_secs(1)).is_empty());
    }

    #[test]
    fn connection_count_follows_rate() {
        assert_eq!(open_loop_connections(10.0), 16);
        assert_eq!(open_loop_connections(1000.0), 100);
        assert_eq!(open_loop_connections(1e6), 512);
    }

    /// A server whose every answer waits for one lock; `stall` holds the lock
    /// once, for that long, `stall_after` after the first request.
    async fn stalling_server(stall_after: Duration, stall: Duration) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        let first = Arc::new(std::sync::OnceLock::<Instant>::new());
        let stalled = Arc::new(AtomicBool::new(false));
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let (lock, first, stalled) = (lock.clone(), first.clone(), stalled.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let t0 = *first.get_or_init(Instant::now);
                        let guard = lock.lock().await;
                        if t0.elapsed() >= stall_after && !stalled.swap(true, Ordering::SeqCst) {
                            tokio::time::sleep(stall).await;
                        }
                        drop(guard);
                        if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_charges_a_stall_to_every_request_it_delayed() {
        let addr = stalling_server(Duration::from_millis(300), Duration::from_millis(500)).await;
        let rate = 200.0;
        let schedule = constant_schedule(rate, Duration::from_millis(1500));
        let n = schedule.len();
        let requests: Requests = Arc::new(vec![crate::http::post("x", "/", &[], b"{}"); n]);
        let r = open_loop(addr, requests, Arc::new(schedule), 4, true).await;
        assert_eq!(r.ok as usize, n, "{r:?}");
        assert_eq!(r.done_at.len(), n);
        // ~100 requests were due during the 500 ms stall: over 6 % of the run
        // waited 100 ms or more, so the corrected p90+ tail shows it…
        assert!(r.latency.p99_ms >= 300.0, "{:?}", r.latency);
        assert!(r.latency.p90_ms >= 100.0, "{:?}", r.latency);
        // …while timing from the actual write hides all but the 4 in flight.
        assert!(r.service_time.p90_ms < 50.0, "{:?}", r.service_time);
        assert!(r.service_time.max_ms >= 400.0, "{:?}", r.service_time);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closed_loop_counts_only_the_measured_window_and_stops_when_exhausted() {
        let addr = stalling_server(Duration::from_secs(3600), Duration::ZERO).await;
        let requests: Requests = Arc::new(vec![crate::http::post("x", "/", &[], b"{}"); 300]);
        let r = closed_loop(addr, requests, 4, Duration::ZERO, Duration::from_secs(5)).await;
        assert!(r.exhausted);
        assert_eq!(r.requests_used, 300);
        assert_eq!(r.ok, 300, "{r:?}");
        assert!(r.measured_secs < 5.0);
        assert!(r.rate > 0.0);
        assert_eq!(r.errors, 0);
    }
}
