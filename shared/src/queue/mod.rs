//! RabbitMQ: topology, the supervised connection, and (later) publishing.

pub mod broker;
pub mod message;
pub mod relay;
pub mod topology;

pub use broker::{Broker, BrokerError};
pub use topology::Topology;
