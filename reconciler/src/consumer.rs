//! Consumes `reconciler.events`: at most `RECONCILER_CONCURRENCY` messages
//! processed at once, one task per delivery, ack only after the database
//! commit. The broker's prefetch window is a little wider than that
//! ([`prefetch_for`]), so the next message is already here when a slot
//! frees. Retryable failures go to a delay queue, hopeless ones to
//! `reconciler.dead`. On shutdown it cancels the subscription and finishes
//! what is in flight; when a channel dies it starts a new session with
//! backoff (unacked messages are redelivered, and processing is idempotent).
//!
//! [`serve`] is written against `shared::queue::Transport`, so the same loop
//! runs on RabbitMQ in production and in memory in the handling tests.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use shared::queue::amqp::AmqpTransport;
use shared::queue::metrics::QueueMetrics;
use shared::queue::{
    Acker, Consumer, Delivery, Header, Message, Producer, QueueError, Topology, Transport,
};
use shared::telemetry::ErrorChain;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::context::Ctx;
use crate::handle::{self, Disposition};

pub const ATTEMPT_HEADER: &str = "x-attempt";
pub const DEAD_REASON_HEADER: &str = "x-dead-reason";
pub const DEAD_ERROR_HEADER: &str = "x-dead-error";
pub const ROUTING_KEY_HEADER: &str = "x-original-routing-key";

/// Waits between tries of one forward. Bounded (about 5 s in all) because the
/// delivery holds a prefetch slot meanwhile; after the last it is requeued.
const FORWARD_BACKOFF: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_secs(1),
    Duration::from_secs(4),
];

/// A session that lasted this long was healthy: the next failure starts the
/// reconnect backoff from the beginning again.
const HEALTHY_SESSION: Duration = Duration::from_secs(30);

/// What becomes of a delivery once its handler is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Ack,
    /// Publish a copy to `queue` (a delay queue or the dead queue) carrying
    /// `attempt`, and ack the original only once the broker confirmed it.
    Forward {
        queue: String,
        attempt: usize,
        dead: Option<(String, String)>,
    },
}

/// Everything [`serve`] needs besides the transport and the handler.
#[derive(Clone)]
pub struct Settings {
    pub queue: String,
    /// Unacked deliveries the broker may push (`basic.qos`).
    pub prefetch: u16,
    /// Deliveries handled at once; the rest of the window waits its turn.
    pub concurrency: u16,
    pub tag: String,
    pub topology: Topology,
    pub metrics: Arc<QueueMetrics>,
}

impl Settings {
    /// The reconciler's own subscription to `reconciler.events`.
    pub fn events(ctx: &Ctx) -> Self {
        Self {
            queue: ctx.broker.topology().events_queue(),
            prefetch: prefetch_for(ctx.config.reconciler_concurrency),
            concurrency: ctx.config.reconciler_concurrency,
            tag: format!("reconciler-{}", std::process::id()),
            topology: ctx.broker.topology().clone(),
            metrics: ctx.queue_metrics.clone(),
        }
    }
}

/// The broker's window for `concurrency` handlers: a quarter more. A slot
/// freed by an ack would otherwise sit idle for the broker's round trip (the
/// ack travels, RabbitMQ applies it to the quorum queue's log, then delivers
/// the next message) in every check's cycle (docs/ARCHITECTURE.md,
/// "Reconciler: prefetch", with what it measured). The headroom is small so
/// competing reconcilers still share the queue and a stopping one has little
/// waiting to finish.
pub fn prefetch_for(concurrency: u16) -> u16 {
    concurrency.saturating_add(concurrency.div_ceil(4))
}

pub enum Ended {
    Shutdown,
    Disconnected,
}

pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let transport = AmqpTransport::new(ctx.broker.clone());
    let settings = Settings::events(&ctx);
    let mut backoff = Duration::from_millis(200);
    loop {
        if !until_connected(&ctx, &mut shutdown).await {
            return;
        }
        let started = Instant::now();
        match serve(
            &transport,
            &settings,
            &mut shutdown,
            checks_handler(ctx.clone()),
        )
        .await
        {
            Ok(Ended::Shutdown) => return,
            Ok(Ended::Disconnected) => {}
            Err(e) => tracing::warn!(error = %ErrorChain(&e), "consumer failed; reconnecting"),
        }
        if started.elapsed() >= HEALTHY_SESSION {
            backoff = Duration::from_millis(200);
        }
        if !pause(&mut shutdown, backoff).await {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Sleeps `wait` unless shutdown comes first; `false` if it did.
pub async fn pause(shutdown: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        changed = shutdown.changed() => if changed.is_err() { return false },
    }
    !*shutdown.borrow()
}

/// Waits for the broker connection; `false` if shutdown came first.
pub async fn until_connected(ctx: &Ctx, shutdown: &mut watch::Receiver<bool>) -> bool {
    while !ctx.broker.is_connected() && !*shutdown.borrow() {
        tokio::select! {
            _ = ctx.broker.connected(Duration::from_secs(3600)) => {}
            changed = shutdown.changed() => if changed.is_err() { return false },
        }
    }
    !*shutdown.borrow()
}

/// The handler of check messages: the state machine in [`handle`], its
/// metrics, and the route its disposition means.
pub fn checks_handler(
    ctx: Arc<Ctx>,
) -> impl Fn(Message, usize) -> BoxFuture<'static, Route> + Clone + Send + Sync + 'static {
    move |message, attempt| {
        let ctx = ctx.clone();
        async move { route_check(&ctx, &message, attempt).await }.boxed()
    }
}

/// One session: consume until shutdown or until a channel dies. Every
/// delivery is settled exactly once, even when its handler panics.
pub async fn serve<T, H, F>(
    transport: &T,
    settings: &Settings,
    shutdown: &mut watch::Receiver<bool>,
    handler: H,
) -> Result<Ended, QueueError>
where
    T: Transport,
    H: Fn(Message, usize) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Route> + Send + 'static,
{
    let mut consumer = transport
        .consume(&settings.queue, settings.prefetch, &settings.tag)
        .await?;
    let producer = transport.producer().await?;
    tracing::info!(queue = %settings.queue, prefetch = settings.prefetch, "consuming");
    let mut tasks = JoinSet::new();
    // Fair (FIFO): deliveries start in the order the broker sent them.
    let slots = Arc::new(Semaphore::new(usize::from(settings.concurrency.max(1))));
    let mut health = tokio::time::interval(Duration::from_millis(500));
    let ended = loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    consumer.cancel().await;
                    break Ended::Shutdown;
                }
            }
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let (handler, producer, settings) =
                        (handler.clone(), producer.clone(), settings.clone());
                    let slots = slots.clone();
                    tasks.spawn(async move {
                        // Never closed, so this only waits; held until the delivery is settled.
                        let _slot = slots.acquire_owned().await;
                        settle(handler, producer, settings, delivery).await;
                    });
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %ErrorChain(&e), "consumer stream failed");
                    break Ended::Disconnected;
                }
                None => break Ended::Disconnected,
            },
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = joined {
                    tracing::error!(error = %ErrorChain(&e), "a delivery task ended abnormally");
                }
            }
            _ = health.tick() => if !producer.is_open() {
                // Forwards would all fail from here on; a new session opens a new channel.
                tracing::warn!(queue = %settings.queue, "the publishing channel died; restarting the consumer");
                settings.metrics.reconnects.with_label_values(&[&settings.queue]).inc();
                break Ended::Disconnected;
            },
        }
    };
    let in_flight = tasks.len();
    if in_flight > 0 {
        tracing::info!(in_flight, "finishing messages in flight");
    }
    while tasks.join_next().await.is_some() {}
    Ok(ended)
}

/// Runs the handler, catching a panic, and settles the delivery by its route.
async fn settle<A, P, H, F>(handler: H, producer: P, settings: Settings, delivery: Delivery<A>)
where
    A: Acker,
    P: Producer,
    H: Fn(Message, usize) -> F,
    F: Future<Output = Route>,
{
    let Delivery { message, acker } = delivery;
    let attempt = message.header_i64(ATTEMPT_HEADER).unwrap_or(0).max(0) as usize;
    let route = match AssertUnwindSafe(handler(message.clone(), attempt))
        .catch_unwind()
        .await
    {
        Ok(route) => route,
        Err(_) => {
            // The panic hook logged where; the payload is not logged (it may carry payer data).
            settings
                .metrics
                .handler_panics
                .with_label_values(&[&settings.queue])
                .inc();
            tracing::error!(queue = %settings.queue, attempt, message_id = ?message.message_id,
                "message handler panicked; the delivery goes to retry");
            after_panic(&settings.topology, attempt)
        }
    };
    let forwarded = match route {
        Route::Ack => Ok(()),
        Route::Forward {
            queue,
            attempt,
            dead,
        } => {
            let copy = forward_copy(&message, attempt, dead);
            forward(&producer, &settings, &queue, &copy).await
        }
    };
    match forwarded {
        Ok(()) => {
            if let Err(e) = acker.ack().await {
                tracing::warn!(error = %ErrorChain(&e), "ack failed; the message will be redelivered and re-processed harmlessly");
            }
        }
        Err(e) => {
            tracing::warn!(error = %ErrorChain(&e), "could not forward the message; returning it to the queue");
            if let Err(e) = acker.requeue().await {
                tracing::warn!(error = %ErrorChain(&e), "requeue failed; the broker returns the message when the channel closes");
            }
        }
    }
}

/// A panicking handler is treated as a retryable failure: its own delay queue
/// while attempts remain, the dead queue after the last.
pub fn after_panic(topology: &Topology, attempt: usize) -> Route {
    let delays = topology.retry_delays();
    match topology.retry_queue(attempt.min(delays.len().saturating_sub(1))) {
        Some(queue) if attempt < delays.len() => Route::Forward {
            queue,
            attempt: attempt + 1,
            dead: None,
        },
        _ => Route::Forward {
            queue: topology.dead_queue(),
            attempt,
            dead: Some((
                "handler_panicked".to_owned(),
                format!("the handler panicked on attempt {attempt}"),
            )),
        },
    }
}

/// Publishes with confirms, retrying with backoff while the channel lives.
async fn forward<P: Producer>(
    producer: &P,
    settings: &Settings,
    queue: &str,
    copy: &Message,
) -> Result<(), QueueError> {
    let target = if queue == settings.topology.dead_queue() {
        "dead"
    } else {
        "retry"
    };
    let mut waits = FORWARD_BACKOFF.iter();
    loop {
        let Err(e) = producer.send(queue, copy).await else {
            return Ok(());
        };
        settings
            .metrics
            .forward_failures
            .with_label_values(&[target])
            .inc();
        match waits.next() {
            Some(wait) if producer.is_open() => {
                tracing::warn!(error = %ErrorChain(&e), target, retry_in_ms = wait.as_millis() as u64, "forward not confirmed; retrying");
                tokio::time::sleep(*wait).await;
            }
            _ => return Err(e),
        }
    }
}

/// The copy sent on: the original body and id with the attempt count, the
/// routing key it first arrived with and, for the dead queue, why.
fn forward_copy(message: &Message, attempt: usize, dead: Option<(String, String)>) -> Message {
    let mut copy = message
        .clone()
        .with_header(ATTEMPT_HEADER, Header::Int(attempt as i64));
    if copy.header_str(ROUTING_KEY_HEADER).is_none() {
        let key = Header::Text(message.routing_key.clone());
        copy = copy.with_header(ROUTING_KEY_HEADER, key);
    }
    if let Some((reason, error)) = dead {
        let error: String = error.chars().take(500).collect();
        copy = copy
            .with_header(DEAD_REASON_HEADER, Header::Text(reason))
            .with_header(DEAD_ERROR_HEADER, Header::Text(error));
    }
    copy
}

fn outcome_class(outcome: &str) -> &str {
    outcome.split(':').next().unwrap_or(outcome)
}

/// Processes one check message and turns its disposition into a route,
/// counting it on the way.
async fn route_check(ctx: &Ctx, message: &Message, attempt: usize) -> Route {
    let (check, disposition) = handle::process_attempt(ctx, &message.body, attempt).await;
    let provider = check
        .as_ref()
        .map(|m| m.target.provider.as_str())
        .unwrap_or("unknown");
    let topology = ctx.broker.topology();
    let delays = topology.retry_delays();
    let m = &ctx.metrics;
    match disposition {
        Disposition::Done { outcome } => {
            m.events_processed
                .with_label_values(&[provider, outcome_class(&outcome)])
                .inc();
            Route::Ack
        }
        Disposition::Retry { reason, tier } => {
            let index = tier.min(delays.len().saturating_sub(1));
            tracing::warn!(provider, attempt = attempt + 1, delay_secs = delays.get(index).map(Duration::as_secs).unwrap_or(0), %reason, "provider check failed; will retry");
            m.retries.with_label_values(&[provider]).inc();
            m.events_processed
                .with_label_values(&[provider, "retried"])
                .inc();
            Route::Forward {
                queue: topology.retry_queue(index).unwrap_or_default(),
                attempt: attempt + 1,
                dead: None,
            }
        }
        Disposition::Deferred => {
            // Same attempt count: waiting behind another process's check is not a failure.
            tracing::debug!(provider, "object is being checked elsewhere; deferred");
            m.checks_deferred.with_label_values(&[provider]).inc();
            Route::Forward {
                queue: topology.retry_queue(0).unwrap_or_default(),
                attempt,
                dead: None,
            }
        }
        Disposition::Dead { reason, error } => {
            tracing::error!(provider, reason, %error, "check dead-lettered");
            m.dead_letters.with_label_values(&[provider, reason]).inc();
            m.events_processed
                .with_label_values(&[provider, "dead"])
                .inc();
            Route::Forward {
                queue: topology.dead_queue(),
                attempt,
                dead: Some((reason.to_owned(), error)),
            }
        }
    }
}

/// The delay queue for a retry: the attempt's own tier, or a later one long
/// enough to honour the provider's `Retry-After`.
pub fn retry_tier(delays: &[Duration], attempt: usize, retry_after: Option<Duration>) -> usize {
    let last = delays.len().saturating_sub(1);
    let base = attempt.min(last);
    match retry_after {
        Some(wait) => (base..delays.len())
            .find(|&i| delays[i] >= wait)
            .unwrap_or(last),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use shared::queue::memory::MemoryTransport;

    use super::*;

    fn settings() -> Settings {
        let topology = Topology::new("", vec![Duration::from_secs(1), Duration::from_secs(5)]);
        Settings {
            queue: topology.events_queue(),
            prefetch: 2,
            concurrency: 2,
            tag: "test".to_owned(),
            topology,
            metrics: Arc::new(QueueMetrics::register(
                shared::metrics::Metrics::new().registry(),
            )),
        }
    }

    /// Serves `memory` with `handler` until `done` holds, then stops the session.
    async fn serve_until<H, F>(
        memory: &MemoryTransport,
        settings: &Settings,
        handler: H,
        done: impl Fn(&MemoryTransport) -> bool,
    ) where
        H: Fn(Message, usize) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = Route> + Send + 'static,
    {
        let (stop, mut rx) = watch::channel(false);
        let (m, s) = (memory.clone(), settings.clone());
        let session = tokio::spawn(async move { serve(&m, &s, &mut rx, handler).await });
        let deadline = Instant::now() + Duration::from_secs(15);
        while !done(memory) {
            assert!(Instant::now() < deadline, "the session never got there");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(true).unwrap();
        assert!(matches!(session.await.unwrap(), Ok(Ended::Shutdown)));
    }

    fn panicking(_: Message, attempt: usize) -> BoxFuture<'static, Route> {
        async move { panic!("handler bug on attempt {attempt}") }.boxed()
    }

    #[tokio::test]
    async fn the_broker_window_is_wider_than_the_handlers_running_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let memory = MemoryTransport::new();
        let s = Settings {
            prefetch: 4,
            concurrency: 2,
            ..settings()
        };
        for i in 0..8 {
            memory.push(&s.queue, Message::new(format!("m{i}")));
        }
        let running = Arc::new(AtomicUsize::new(0));
        let most_running = Arc::new(AtomicUsize::new(0));
        let most_delivered = Arc::new(AtomicUsize::new(0));
        let handler = {
            let (running, most_running) = (running.clone(), most_running.clone());
            move |_: Message, _: usize| {
                let (running, most_running) = (running.clone(), most_running.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most_running.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(60)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Route::Ack
                }
                .boxed()
            }
        };
        let (seen, queue) = (most_delivered.clone(), s.queue.clone());
        serve_until(&memory, &s, handler, move |m| {
            // Delivered and not yet acked: neither waiting in the queue nor done.
            seen.fetch_max(8 - m.messages(&queue).len() - m.acked(), Ordering::SeqCst);
            m.acked() == 8
        })
        .await;
        assert_eq!(
            most_running.load(Ordering::SeqCst),
            2,
            "RECONCILER_CONCURRENCY bounds the handlers"
        );
        assert_eq!(
            most_delivered.load(Ordering::SeqCst),
            4,
            "the next deliveries wait here, not at the broker"
        );
        assert_eq!(memory.unsettled(), 0);
    }

    #[test]
    fn the_window_is_a_quarter_wider_than_the_concurrency() {
        assert_eq!(prefetch_for(1), 2);
        assert_eq!(prefetch_for(32), 40);
        assert_eq!(prefetch_for(64), 80);
        assert_eq!(prefetch_for(u16::MAX), u16::MAX);
    }

    #[tokio::test]
    async fn a_panicking_handler_sends_its_delivery_to_retry_and_frees_the_slot() {
        let (memory, s) = (MemoryTransport::new(), settings());
        // More messages than prefetch slots: a leaked slot would stall the rest.
        for i in 0..5 {
            memory.push(&s.queue, Message::new(format!("m{i}")));
        }
        let retry = s.topology.retry_queue(0).unwrap();
        serve_until(&memory, &s, panicking, |m| m.acked() == 5).await;
        let retried = memory.messages(&retry);
        assert_eq!(retried.len(), 5);
        assert!(
            retried
                .iter()
                .all(|m| m.header_i64(ATTEMPT_HEADER) == Some(1))
        );
        assert_eq!(memory.unsettled(), 0);
        let panics = s
            .metrics
            .handler_panics
            .with_label_values(&[&s.queue])
            .get();
        assert_eq!(panics, 5);
    }

    #[tokio::test]
    async fn a_handler_that_panics_on_the_last_attempt_is_dead_lettered() {
        let (memory, s) = (MemoryTransport::new(), settings());
        memory.push(
            &s.queue,
            Message::new("x").with_header(ATTEMPT_HEADER, Header::Int(2)),
        );
        serve_until(&memory, &s, panicking, |m| m.acked() == 1).await;
        let dead = memory.messages(&s.topology.dead_queue());
        assert_eq!(dead.len(), 1);
        assert_eq!(
            dead[0].header_str(DEAD_REASON_HEADER),
            Some("handler_panicked")
        );
    }

    fn to_retry(_: Message, attempt: usize) -> BoxFuture<'static, Route> {
        async move {
            Route::Forward {
                queue: "retry".to_owned(),
                attempt: attempt + 1,
                dead: None,
            }
        }
        .boxed()
    }

    #[tokio::test]
    async fn an_unconfirmed_forward_is_retried_with_backoff_before_anything_is_requeued() {
        let (memory, s) = (MemoryTransport::new(), settings());
        memory.push(&s.queue, Message::new("x"));
        memory.fail_sends(2);
        let started = Instant::now();
        serve_until(&memory, &s, to_retry, |m| m.acked() == 1).await;
        assert!(
            started.elapsed() >= Duration::from_millis(1250),
            "waited between tries"
        );
        assert_eq!(memory.messages("retry").len(), 1);
        assert_eq!(memory.requeued(), 0);
        let failures = s
            .metrics
            .forward_failures
            .with_label_values(&["retry"])
            .get();
        assert_eq!(failures, 2);
    }

    #[tokio::test]
    async fn a_dead_publisher_channel_ends_the_session_and_returns_the_delivery() {
        let (memory, s) = (MemoryTransport::new(), settings());
        let (_stop, mut rx) = watch::channel(false);
        let (m, s2) = (memory.clone(), s.clone());
        let never = |_: Message, _: usize| futures_util::future::pending::<Route>().boxed();
        let session = tokio::spawn(async move { serve(&m, &s2, &mut rx, never).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        memory.kill_producers();
        let ended = tokio::time::timeout(Duration::from_secs(5), session).await;
        assert!(
            matches!(ended, Ok(Ok(Ok(Ended::Disconnected)))),
            "the session noticed"
        );
        let restarts = s.metrics.reconnects.with_label_values(&[&s.queue]).get();
        assert_eq!(restarts, 1);
    }

    #[test]
    fn retry_tiers_grow_and_honour_retry_after() {
        let d: Vec<Duration> = [5, 30, 120, 600]
            .into_iter()
            .map(Duration::from_secs)
            .collect();
        assert_eq!(retry_tier(&d, 0, None), 0);
        assert_eq!(retry_tier(&d, 2, None), 2);
        assert_eq!(retry_tier(&d, 9, None), 3);
        assert_eq!(retry_tier(&d, 0, Some(Duration::from_secs(60))), 2);
        assert_eq!(retry_tier(&d, 0, Some(Duration::from_secs(30))), 1);
        assert_eq!(retry_tier(&d, 1, Some(Duration::from_secs(1))), 1);
        assert_eq!(retry_tier(&d, 0, Some(Duration::from_secs(9999))), 3);
    }
}
