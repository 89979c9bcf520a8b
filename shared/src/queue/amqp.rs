//! [`Transport`] on RabbitMQ through the supervised [`Broker`] connection.

use std::sync::Arc;

use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Confirmation};

use super::Broker;
use super::transport::{
    Acker, Consumer, Delivery, Header, Message, Producer, QueueError, Transport,
};

#[derive(Clone)]
pub struct AmqpTransport {
    broker: Broker,
}

impl AmqpTransport {
    pub fn new(broker: Broker) -> Self {
        Self { broker }
    }
}

pub struct AmqpConsumer {
    channel: Channel,
    consumer: lapin::Consumer,
    tag: String,
}

pub struct AmqpAcker(lapin::Acker);

#[derive(Clone)]
pub struct AmqpProducer {
    channel: Arc<OwnedChannel>,
}

impl Transport for AmqpTransport {
    type Consumer = AmqpConsumer;
    type Producer = AmqpProducer;

    async fn consume(
        &self,
        queue: &str,
        prefetch: u16,
        tag: &str,
    ) -> Result<AmqpConsumer, QueueError> {
        let channel = self.broker.channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(AmqpConsumer {
            channel,
            consumer,
            tag: tag.to_owned(),
        })
    }

    async fn producer(&self) -> Result<AmqpProducer, QueueError> {
        let channel = self.broker.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(AmqpProducer {
            channel: Arc::new(OwnedChannel(channel)),
        })
    }
}

impl Consumer for AmqpConsumer {
    type Acker = AmqpAcker;

    async fn next(&mut self) -> Option<Result<Delivery<AmqpAcker>, QueueError>> {
        match self.consumer.next().await? {
            Ok(d) => Some(Ok(Delivery {
                message: from_amqp(&d.properties, d.routing_key.as_str(), d.data),
                acker: AmqpAcker(d.acker),
            })),
            Err(e) => Some(Err(e.into())),
        }
    }

    async fn cancel(&mut self) {
        let _ = self
            .channel
            .basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default())
            .await;
    }
}

impl Drop for AmqpConsumer {
    /// Closing the channel hands every unsettled delivery back to the broker.
    fn drop(&mut self) {
        close_later(self.channel.clone(), "consumer done");
    }
}

impl Acker for AmqpAcker {
    async fn ack(self) -> Result<(), QueueError> {
        self.0.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    async fn requeue(self) -> Result<(), QueueError> {
        self.0
            .nack(BasicNackOptions {
                requeue: true,
                multiple: false,
            })
            .await?;
        Ok(())
    }
}

impl Producer for AmqpProducer {
    async fn send(&self, queue: &str, message: &Message) -> Result<(), QueueError> {
        if !self.is_open() {
            return Err(QueueError::Closed("publisher"));
        }
        let mut props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_headers(to_table(message));
        if let Some(id) = &message.message_id {
            props = props.with_message_id(id.as_str().into());
        }
        let confirm = self
            .channel
            .0
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    immediate: false,
                },
                &message.body,
                props,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(_)) => Err(QueueError::NotConfirmed("unroutable")),
            Confirmation::Nack(_) => Err(QueueError::NotConfirmed("nacked")),
            Confirmation::NotRequested => Err(QueueError::NotConfirmed("confirms off")),
        }
    }

    fn is_open(&self) -> bool {
        self.channel.0.status().connected()
    }
}

/// Closes its channel when the last clone of the producer goes.
struct OwnedChannel(Channel);

impl Drop for OwnedChannel {
    fn drop(&mut self) {
        close_later(self.0.clone(), "publisher done");
    }
}

fn close_later(channel: Channel, why: &'static str) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = channel.close(200, why.into()).await;
        });
    }
}

fn to_table(message: &Message) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in &message.headers {
        let value = match value {
            Header::Int(v) => AMQPValue::LongLongInt(*v),
            Header::Text(s) => AMQPValue::LongString(LongString::from(s.as_str())),
        };
        table.insert(ShortString::from(name.as_str()), value);
    }
    table
}

/// Keeps the integer and text headers; arrays and tables (RabbitMQ's
/// `x-death`) are the broker's bookkeeping and are not carried over.
pub fn from_amqp(props: &BasicProperties, routing_key: &str, body: Vec<u8>) -> Message {
    let mut headers = std::collections::BTreeMap::new();
    if let Some(table) = props.headers() {
        for (name, value) in table.inner() {
            let value = match value {
                AMQPValue::LongLongInt(v) => Header::Int(*v),
                AMQPValue::LongInt(v) => Header::Int(i64::from(*v)),
                AMQPValue::LongUInt(v) => Header::Int(i64::from(*v)),
                AMQPValue::ShortInt(v) => Header::Int(i64::from(*v)),
                AMQPValue::ShortUInt(v) => Header::Int(i64::from(*v)),
                AMQPValue::ShortShortInt(v) => Header::Int(i64::from(*v)),
                AMQPValue::ShortShortUInt(v) => Header::Int(i64::from(*v)),
                AMQPValue::LongString(s) => {
                    Header::Text(String::from_utf8_lossy(s.as_bytes()).into_owned())
                }
                AMQPValue::ShortString(s) => Header::Text(s.as_str().to_owned()),
                _ => continue,
            };
            headers.insert(name.as_str().to_owned(), value);
        }
    }
    Message {
        body,
        routing_key: routing_key.to_owned(),
        message_id: props.message_id().as_ref().map(|m| m.as_str().to_owned()),
        headers,
    }
}
