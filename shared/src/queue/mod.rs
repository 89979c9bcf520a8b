//! RabbitMQ: topology, the supervised connection, and the transport seam
//! ([`transport`]) that message handling is written against.

pub mod amqp;
pub mod broker;
pub mod depth;
pub mod memory;
pub mod message;
pub mod metrics;
pub mod relay;
pub mod topology;
pub mod transport;

pub use broker::{Broker, BrokerError};
pub use topology::Topology;
pub use transport::{Acker, Consumer, Delivery, Header, Message, Producer, QueueError, Transport};
