//! The seam between message handling and the broker.
//!
//! Handlers see a [`Message`] and settle it through its [`Acker`]; forwarding
//! goes through a [`Producer`] whose `send` returns only once the broker has
//! taken responsibility for the copy. [`super::amqp`] implements this on
//! RabbitMQ, [`super::memory`] in process, so the reconciler's handling is
//! tested without a broker while the broker tests keep the wire honest.

use std::collections::BTreeMap;
use std::future::Future;

use super::broker::BrokerError;

/// One header value. AMQP tables hold more types, but everything the product
/// reads or writes is an integer or a text; other values are not carried over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    Int(i64),
    Text(String),
}

/// A message as handlers see it, whatever carried it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub body: Vec<u8>,
    /// The routing key it was published with (the queue name when it came
    /// through the default exchange).
    pub routing_key: String,
    pub message_id: Option<String>,
    pub headers: BTreeMap<String, Header>,
}

/// Bodies carry provider object ids and may carry payer data: never printed.
impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("body_len", &self.body.len())
            .field("routing_key", &self.routing_key)
            .field("message_id", &self.message_id)
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Message {
    pub fn new(body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            ..Self::default()
        }
    }

    pub fn header_i64(&self, name: &str) -> Option<i64> {
        match self.headers.get(name)? {
            Header::Int(v) => Some(*v),
            Header::Text(_) => None,
        }
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        match self.headers.get(name)? {
            Header::Text(s) => Some(s),
            Header::Int(_) => None,
        }
    }

    pub fn with_header(mut self, name: &str, value: Header) -> Self {
        self.headers.insert(name.to_owned(), value);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("AMQP operation failed")]
    Amqp(#[from] lapin::Error),
    /// Publisher confirms say the broker did not take the message.
    #[error("the broker did not confirm the message ({0})")]
    NotConfirmed(&'static str),
    /// The channel (or in-memory transport) behind this handle is gone.
    #[error("the {0} channel is closed")]
    Closed(&'static str),
}

/// Settles one delivery. Consuming `self` makes settling twice a compile
/// error; dropping it unsettled leaves the message held until the channel
/// closes, which is exactly the leak callers must avoid.
pub trait Acker: Send + 'static {
    /// Done with it: the broker forgets the message.
    fn ack(self) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// Give it back to the head of its queue for another delivery.
    fn requeue(self) -> impl Future<Output = Result<(), QueueError>> + Send;
}

pub struct Delivery<A> {
    pub message: Message,
    pub acker: A,
}

/// A subscription with a prefetch window.
pub trait Consumer: Send + 'static {
    type Acker: Acker;
    /// The next delivery; `None` when the subscription ended (channel closed
    /// or cancelled).
    fn next(
        &mut self,
    ) -> impl Future<Output = Option<Result<Delivery<Self::Acker>, QueueError>>> + Send;
    /// Stops new deliveries; those already received can still be settled.
    fn cancel(&mut self) -> impl Future<Output = ()> + Send;
}

/// Confirmed publishing straight to a named queue.
pub trait Producer: Clone + Send + Sync + 'static {
    /// Returns once the broker confirmed it holds the message (routed to an
    /// existing queue and stored), so the original can then be acked.
    fn send(
        &self,
        queue: &str,
        message: &Message,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
    /// `false` once the channel under it died: every later send would fail.
    fn is_open(&self) -> bool;
}

/// Opens consumers and producers on one connection (or in process).
pub trait Transport: Send + Sync + 'static {
    type Consumer: Consumer;
    type Producer: Producer;
    fn consume(
        &self,
        queue: &str,
        prefetch: u16,
        tag: &str,
    ) -> impl Future<Output = Result<Self::Consumer, QueueError>> + Send;
    fn producer(&self) -> impl Future<Output = Result<Self::Producer, QueueError>> + Send;
}
