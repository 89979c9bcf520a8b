//! Metrics of the queues themselves, registered into the process's
//! [`crate::metrics::Metrics`] registry by whoever consumes (the reconciler).

use prometheus::{IntCounterVec, IntGaugeVec, Registry};

use crate::metrics::{counter, gauge};

pub struct QueueMetrics {
    /// Messages waiting in each declared queue, polled by the reconciler.
    pub depth: IntGaugeVec,
    /// Handlers that panicked; their delivery went to retry, not lost.
    pub handler_panics: IntCounterVec,
    /// Forwards (to a retry or the dead queue) the broker did not confirm.
    pub forward_failures: IntCounterVec,
    /// Consumer sessions ended by a dead channel and started again.
    pub reconnects: IntCounterVec,
}

impl QueueMetrics {
    pub fn register(r: &Registry) -> Self {
        Self {
            depth: gauge(
                r,
                "queue_depth",
                "Messages ready in each queue the product declares (passive declare, polled by the reconciler every 15 s)",
                &["queue"],
            ),
            handler_panics: counter(
                r,
                "queue_handler_panics_total",
                "Message handlers that panicked; the delivery was forwarded to retry (or dead-lettered) instead of being held",
                &["queue"],
            ),
            forward_failures: counter(
                r,
                "queue_forward_failures_total",
                "Forwards to a retry or the dead queue that the broker did not confirm (each retried with backoff)",
                &["target"],
            ),
            reconnects: counter(
                r,
                "queue_consumer_restarts_total",
                "Consumer sessions restarted because their consuming or publishing channel died",
                &["consumer"],
            ),
        }
    }
}
