//! Order states and the transitions between them (docs/ARCHITECTURE.md, "Invariants").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Waiting for the payer.
    Pending,
    /// Approved at the bank, funds not yet credited.
    Processing,
    Paid,
    Failed,
    /// No final status within the PSE lifetime. Not final: a late success still pays it.
    Expired,
    /// A discrepancy a person must look at; automation never moves it again.
    NeedsReview,
}

impl OrderState {
    pub const ALL: [OrderState; 6] = [
        OrderState::Pending,
        OrderState::Processing,
        OrderState::Paid,
        OrderState::Failed,
        OrderState::Expired,
        OrderState::NeedsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Processing => "processing",
            OrderState::Paid => "paid",
            OrderState::Failed => "failed",
            OrderState::Expired => "expired",
            OrderState::NeedsReview => "needs_review",
        }
    }

    /// `paid` and `failed` are final: a contradicting provider status can only
    /// send them to `needs_review`, never overwrite them.
    pub fn is_final(self) -> bool {
        matches!(self, OrderState::Paid | OrderState::Failed)
    }

    /// States the sweeper keeps re-checking with the provider.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OrderState::Pending | OrderState::Processing | OrderState::Expired
        )
    }

    /// The allowed transitions. Everything not listed is refused, which is what
    /// makes "final states never regress" a property of the type, not of callers.
    pub fn can_transition_to(self, next: OrderState) -> bool {
        use OrderState::*;
        match self {
            Pending => matches!(next, Processing | Paid | Failed | Expired | NeedsReview),
            // An order approved at the bank is not expired: its money is on the way.
            Processing => matches!(next, Paid | Failed | NeedsReview),
            Expired => matches!(next, Paid | Failed | NeedsReview),
            Paid | Failed => matches!(next, NeedsReview),
            NeedsReview => false,
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown order state {0:?}; expected one of pending, processing, paid, failed, expired, needs_review"
)]
pub struct UnknownOrderState(pub String);

impl FromStr for OrderState {
    type Err = UnknownOrderState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownOrderState(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_through_text() {
        for state in OrderState::ALL {
            assert_eq!(state.as_str().parse::<OrderState>(), Ok(state));
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{}\"", state.as_str())
            );
        }
        assert!("PAID".parse::<OrderState>().is_err());
    }

    #[test]
    fn final_states_only_go_to_review() {
        for from in [OrderState::Paid, OrderState::Failed] {
            for to in OrderState::ALL {
                assert_eq!(from.can_transition_to(to), to == OrderState::NeedsReview);
            }
        }
        for to in OrderState::ALL {
            assert!(!OrderState::NeedsReview.can_transition_to(to));
        }
        assert!(OrderState::Expired.can_transition_to(OrderState::Paid));
        assert!(!OrderState::Processing.can_transition_to(OrderState::Pending));
        assert!(!OrderState::Processing.can_transition_to(OrderState::Expired));
    }

    fn any_state() -> impl Strategy<Value = OrderState> {
        proptest::sample::select(OrderState::ALL.to_vec())
    }

    proptest! {
        /// Following only allowed transitions, a final state is never left except for needs_review.
        #[test]
        fn walks_never_leave_final_except_to_review(steps in proptest::collection::vec(any_state(), 0..40)) {
            let mut current = OrderState::Pending;
            let mut reached_final = false;
            for next in steps {
                if current.can_transition_to(next) {
                    if reached_final {
                        prop_assert_eq!(next, OrderState::NeedsReview);
                    }
                    current = next;
                    reached_final |= current.is_final();
                }
            }
        }

        #[test]
        fn no_self_transitions(state in any_state()) {
            prop_assert!(!state.can_transition_to(state));
        }
    }
}
