//! [`Transport`] in process, for tests of message handling without a broker.
//!
//! It keeps RabbitMQ's promises that handlers depend on: a prefetch window
//! whose slots are held until a delivery is settled, requeue to the head of
//! the queue, and producers that can be made to fail or die. A delivery
//! dropped without being settled keeps its slot, as on a live channel, and
//! is counted by [`MemoryTransport::unsettled`] so tests can assert none leak.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::transport::{Acker, Consumer, Delivery, Message, Producer, QueueError, Transport};

#[derive(Default)]
struct State {
    queues: HashMap<String, VecDeque<Message>>,
    acked: usize,
    requeued: usize,
    unsettled: usize,
    failing_sends: usize,
}

#[derive(Clone, Default)]
pub struct MemoryTransport {
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    producer_dead: Arc<AtomicBool>,
}

impl MemoryTransport {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has already failed.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, queue: &str, message: Message) {
        self.lock()
            .queues
            .entry(queue.to_owned())
            .or_default()
            .push_back(message);
        self.arrived.notify_waiters();
    }

    /// The messages waiting in `queue`, oldest first.
    pub fn messages(&self, queue: &str) -> Vec<Message> {
        self.lock()
            .queues
            .get(queue)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn acked(&self) -> usize {
        self.lock().acked
    }

    pub fn requeued(&self) -> usize {
        self.lock().requeued
    }

    /// Deliveries dropped without ack or requeue (each still holds a slot).
    pub fn unsettled(&self) -> usize {
        self.lock().unsettled
    }

    /// The next `n` sends fail as if the broker nacked them.
    pub fn fail_sends(&self, n: usize) {
        self.lock().failing_sends = n;
    }

    /// Every producer's channel dies, as when the broker closes it.
    pub fn kill_producers(&self) {
        self.producer_dead.store(true, Ordering::SeqCst);
    }

    pub fn revive_producers(&self) {
        self.producer_dead.store(false, Ordering::SeqCst);
    }
}

pub struct MemoryConsumer {
    transport: MemoryTransport,
    queue: String,
    window: Arc<Semaphore>,
    cancelled: bool,
}

pub struct MemoryAcker {
    transport: MemoryTransport,
    queue: String,
    message: Option<Message>,
    slot: Option<OwnedSemaphorePermit>,
}

#[derive(Clone)]
pub struct MemoryProducer {
    transport: MemoryTransport,
}

impl Transport for MemoryTransport {
    type Consumer = MemoryConsumer;
    type Producer = MemoryProducer;

    async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
        _tag: &str,
    ) -> Result<MemoryConsumer, QueueError> {
        Ok(MemoryConsumer {
            transport: self.clone(),
            queue: queue.to_owned(),
            window: Arc::new(Semaphore::new(usize::from(prefetch.max(1)))),
            cancelled: false,
        })
    }

    async fn producer(&self) -> Result<MemoryProducer, QueueError> {
        if self.producer_dead.load(Ordering::SeqCst) {
            return Err(QueueError::Closed("publisher"));
        }
        Ok(MemoryProducer {
            transport: self.clone(),
        })
    }
}

impl Consumer for MemoryConsumer {
    type Acker = MemoryAcker;

    async fn next(&mut self) -> Option<Result<Delivery<MemoryAcker>, QueueError>> {
        if self.cancelled {
            return None;
        }
        let slot = self.window.clone().acquire_owned().await.ok()?;
        loop {
            let arrived = self.transport.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let popped = self
                .transport
                .lock()
                .queues
                .get_mut(&self.queue)
                .and_then(VecDeque::pop_front);
            if let Some(message) = popped {
                return Some(Ok(Delivery {
                    message: message.clone(),
                    acker: MemoryAcker {
                        transport: self.transport.clone(),
                        queue: self.queue.clone(),
                        message: Some(message),
                        slot: Some(slot),
                    },
                }));
            }
            arrived.await;
        }
    }

    async fn cancel(&mut self) {
        self.cancelled = true;
    }
}

impl Acker for MemoryAcker {
    async fn ack(mut self) -> Result<(), QueueError> {
        self.message = None;
        self.transport.lock().acked += 1;
        Ok(())
    }

    async fn requeue(mut self) -> Result<(), QueueError> {
        if let Some(message) = self.message.take() {
            let mut state = self.transport.lock();
            state.requeued += 1;
            state
                .queues
                .entry(self.queue.clone())
                .or_default()
                .push_front(message);
        }
        self.transport.arrived.notify_waiters();
        Ok(())
    }
}

impl Drop for MemoryAcker {
    fn drop(&mut self) {
        if self.message.is_some() {
            self.transport.lock().unsettled += 1;
            // The slot stays taken, as an unsettled delivery's does on a channel.
            if let Some(slot) = self.slot.take() {
                slot.forget();
            }
        }
    }
}

impl Producer for MemoryProducer {
    async fn send(&self, queue: &str, message: &Message) -> Result<(), QueueError> {
        if !self.is_open() {
            return Err(QueueError::Closed("publisher"));
        }
        {
            let mut state = self.transport.lock();
            if state.failing_sends > 0 {
                state.failing_sends -= 1;
                return Err(QueueError::NotConfirmed("nacked"));
            }
        }
        self.transport.push(queue, message.clone());
        Ok(())
    }

    fn is_open(&self) -> bool {
        !self.transport.producer_dead.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unsettled_delivery_keeps_its_slot_and_requeue_goes_to_the_head() {
        let t = MemoryTransport::new();
        t.push("q", Message::new("a"));
        t.push("q", Message::new("b"));
        let mut c = t.consume("q", 1, "test").await.unwrap();
        let first = c.next().await.unwrap().unwrap();
        assert_eq!(first.message.body, b"a");
        first.acker.requeue().await.unwrap();
        let again = c.next().await.unwrap().unwrap();
        assert_eq!(again.message.body, b"a", "requeued to the head");
        drop(again);
        assert_eq!(t.unsettled(), 1);
        let blocked = tokio::time::timeout(std::time::Duration::from_millis(100), c.next()).await;
        assert!(blocked.is_err(), "the only prefetch slot is still held");
    }
}
