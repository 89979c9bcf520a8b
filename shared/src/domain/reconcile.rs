//! What an order does with what its provider reports: the state machine's
//! rules, with no I/O, so every case can be tested exhaustively.

use super::{ExceptionKind, OrderState};

/// A provider report reduced to what the rules need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// The provider status mapped to pending, processing, paid or failed.
    pub reported: OrderState,
    /// For a paid report: the provider's amount and currency equal the order's.
    pub amount_matches: bool,
    /// The order is older than `ORDER_EXPIRY_SECS`.
    pub past_expiry: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub next: Option<OrderState>,
    pub exceptions: Vec<ExceptionKind>,
}

impl Decision {
    fn stay() -> Self {
        Self::default()
    }

    fn to(next: OrderState) -> Self {
        Self {
            next: Some(next),
            exceptions: Vec::new(),
        }
    }

    fn with(mut self, kind: ExceptionKind) -> Self {
        self.exceptions.push(kind);
        self
    }
}

/// The rules. Re-applying the observation an order already reflects decides
/// nothing, which is what makes a redelivered or replayed event harmless.
pub fn decide(current: OrderState, obs: &Observation) -> Decision {
    use ExceptionKind::*;
    use OrderState::*;
    match (current, obs.reported) {
        // A person is looking at it; automation only adds what it sees.
        (NeedsReview, Paid) if !obs.amount_matches => Decision::stay().with(AmountMismatch),
        (NeedsReview, _) => Decision::stay(),

        // Final states never regress: a contradiction goes to review.
        (Paid, Paid) if !obs.amount_matches => Decision::to(NeedsReview).with(AmountMismatch),
        (Paid, Failed) => Decision::to(NeedsReview).with(StatusConflict),
        (Failed, Paid) if !obs.amount_matches => Decision::to(NeedsReview)
            .with(StatusConflict)
            .with(AmountMismatch),
        (Failed, Paid) => Decision::to(NeedsReview).with(StatusConflict),
        // Same final status again, or a non-final one after a final (a stale read): nothing to do.
        (Paid | Failed, _) => Decision::stay(),

        // Success needs the exact amount and currency; a late one is still paid, but flagged.
        (Pending | Processing, Paid) if obs.amount_matches => Decision::to(Paid),
        (Pending | Processing, Paid) => Decision::to(NeedsReview).with(AmountMismatch),
        (Expired, Paid) if obs.amount_matches => Decision::to(Paid).with(LateSuccess),
        (Expired, Paid) => Decision::to(NeedsReview)
            .with(LateSuccess)
            .with(AmountMismatch),
        (Pending | Processing | Expired, Failed) => Decision::to(Failed),

        (Pending, Processing) => Decision::to(Processing),
        // Only an order still waiting for its payer expires; one approved at
        // the bank (processing) has money on the way and is left to the sweeper.
        (Pending, Pending) if obs.past_expiry => Decision::to(Expired),
        // An expired order waits for a final status; processing alone does not revive it.
        (Pending | Processing | Expired, Pending | Processing) => Decision::stay(),

        // Providers never report these states; nothing to decide.
        (_, Expired | NeedsReview) => Decision::stay(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExceptionKind::*;
    use OrderState::*;
    use proptest::prelude::*;

    fn obs(reported: OrderState, amount_matches: bool) -> Observation {
        Observation {
            reported,
            amount_matches,
            past_expiry: false,
        }
    }

    #[test]
    fn table() {
        let cases = [
            (Pending, obs(Paid, true), Some(Paid), vec![]),
            (
                Pending,
                obs(Paid, false),
                Some(NeedsReview),
                vec![AmountMismatch],
            ),
            (Processing, obs(Paid, true), Some(Paid), vec![]),
            (Pending, obs(Processing, true), Some(Processing), vec![]),
            (Pending, obs(Failed, true), Some(Failed), vec![]),
            (Processing, obs(Failed, true), Some(Failed), vec![]),
            (Expired, obs(Paid, true), Some(Paid), vec![LateSuccess]),
            (Expired, obs(Failed, true), Some(Failed), vec![]),
            (
                Paid,
                obs(Failed, true),
                Some(NeedsReview),
                vec![StatusConflict],
            ),
            (
                Failed,
                obs(Paid, true),
                Some(NeedsReview),
                vec![StatusConflict],
            ),
            (Paid, obs(Paid, true), None, vec![]),
            (Paid, obs(Pending, true), None, vec![]),
            (Failed, obs(Processing, true), None, vec![]),
            (Processing, obs(Pending, true), None, vec![]),
            (NeedsReview, obs(Paid, true), None, vec![]),
            (NeedsReview, obs(Paid, false), None, vec![AmountMismatch]),
        ];
        for (current, o, next, exceptions) in cases {
            assert_eq!(
                decide(current, &o),
                Decision { next, exceptions },
                "{current} + {o:?}"
            );
        }
    }

    #[test]
    fn only_a_waiting_order_expires() {
        let old = |reported| Observation {
            reported,
            amount_matches: true,
            past_expiry: true,
        };
        assert_eq!(decide(Pending, &old(Pending)).next, Some(Expired));
        assert_eq!(decide(Processing, &old(Processing)).next, None);
        assert_eq!(decide(Processing, &old(Pending)).next, None);
        assert_eq!(decide(Pending, &obs(Pending, true)).next, None);
    }

    fn any_observation() -> impl Strategy<Value = Observation> {
        (
            proptest::sample::select(vec![Pending, Processing, Paid, Failed]),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(reported, amount_matches, past_expiry)| Observation {
                reported,
                amount_matches,
                past_expiry,
            })
    }

    proptest! {
        /// No sequence of provider statuses moves a final state except to needs_review,
        /// and every move is one the state machine allows.
        #[test]
        fn final_states_only_move_to_review(seq in proptest::collection::vec(any_observation(), 1..30)) {
            let mut state = Pending;
            for o in seq {
                let d = decide(state, &o);
                if let Some(next) = d.next {
                    prop_assert!(state.can_transition_to(next), "{} -> {}", state, next);
                    if state.is_final() {
                        prop_assert_eq!(next, NeedsReview);
                    }
                    state = next;
                }
            }
        }

        /// Seeing the same report twice changes the order at most once.
        #[test]
        fn applying_a_report_twice_moves_once(start in proptest::sample::select(OrderState::ALL.to_vec()), o in any_observation()) {
            let first = decide(start, &o);
            let after = first.next.unwrap_or(start);
            prop_assert_eq!(decide(after, &o).next, None);
        }
    }
}
