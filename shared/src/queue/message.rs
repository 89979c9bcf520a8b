//! What travels on `pse.events`: a request to re-check one provider object.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::providers::webhook::CheckTarget;

/// Why a check was queued; recorded as the `cause` of any state change it makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    Webhook { inbox_id: i64 },
    Sweep { order_id: Uuid },
    Replay { dead_letter_id: i64 },
}

impl Cause {
    /// The text stored in `order_events.cause`: `webhook:42`, `sweep`, `replay:7`.
    pub fn label(&self) -> String {
        match self {
            Cause::Webhook { inbox_id } => format!("webhook:{inbox_id}"),
            Cause::Sweep { .. } => "sweep".to_owned(),
            Cause::Replay { dead_letter_id } => format!("replay:{dead_letter_id}"),
        }
    }

    pub fn inbox_id(&self) -> Option<i64> {
        match self {
            Cause::Webhook { inbox_id } => Some(*inbox_id),
            _ => None,
        }
    }
}

/// The body of a message on `pse.events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckMessage {
    pub target: CheckTarget,
    /// The provider's event type, or `sweep`.
    pub event_type: String,
    pub cause: Cause,
    /// The single-flight ticket this message holds (`db::flights`): the
    /// message whose ticket the object's flight row holds is its queued check.
    /// `None` on messages from before the flights existed, and in tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<i64>,
}

/// Names of the logical exchanges an outbox row can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    Events,
    Orders,
}

impl Exchange {
    pub fn as_str(self) -> &'static str {
        match self {
            Exchange::Events => "events",
            Exchange::Orders => "orders",
        }
    }
}
