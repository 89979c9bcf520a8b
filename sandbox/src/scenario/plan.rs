//! What each scenario does, as data: the payments it creates, the steps that
//! move them at the fake providers, and what the product must end up showing.
//! Pure (no I/O), so every plan and its expected outcome is unit-tested
//! without a running stack; [`super::run`] executes them.

use std::time::Duration;

use shared::domain::{ExceptionKind, OrderState, Provider};

/// How one payment behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Case {
    Success,
    Failure,
    Duplicates,
    OutOfOrder,
    NoWebhook,
    LateSuccess,
    AmountMismatch,
    Outage,
    Forged,
    UnknownPayment,
    DuplicatePayment,
    Abandoned,
    Stuck,
}

const ALL_PROVIDERS: &[Provider] = &[Provider::Mono, Provider::Belvo, Provider::Tpaga];

impl Case {
    pub const ALL: [Case; 13] = [
        Case::Success,
        Case::Failure,
        Case::Duplicates,
        Case::OutOfOrder,
        Case::NoWebhook,
        Case::LateSuccess,
        Case::AmountMismatch,
        Case::Outage,
        Case::Forged,
        Case::UnknownPayment,
        Case::DuplicatePayment,
        Case::Abandoned,
        Case::Stuck,
    ];

    /// The scenario name (also used in order references).
    pub fn name(self) -> &'static str {
        match self {
            Case::Success => "success",
            Case::Failure => "failure",
            Case::Duplicates => "duplicates",
            Case::OutOfOrder => "out-of-order",
            Case::NoWebhook => "no-webhook",
            Case::LateSuccess => "late-success",
            Case::AmountMismatch => "amount-mismatch",
            Case::Outage => "outage",
            Case::Forged => "forged",
            Case::UnknownPayment => "unknown-payment",
            Case::DuplicatePayment => "duplicate-payment",
            Case::Abandoned => "abandoned",
            Case::Stuck => "stuck",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Case::Success => {
                "the payer pays (directly, or through the bank's approval first) -> paid"
            }
            Case::Failure => "the bank rejects the payment -> failed",
            Case::Duplicates => "the same webhook delivered five times -> paid once",
            Case::OutOfOrder => {
                "success delivered, then a late 'approved'/'authorized' webhook -> stays paid"
            }
            Case::NoWebhook => {
                "the status changes but no webhook is sent; the sweeper finds it -> paid / failed"
            }
            Case::LateSuccess => {
                "no news until the order expired, then success -> paid + late_success"
            }
            Case::AmountMismatch => {
                "the provider reports another amount -> needs_review + amount_mismatch"
            }
            Case::Outage => "the provider API answers 5xx three times, then recovers -> paid",
            Case::Forged => {
                "a webhook claims success while the API says pending -> not paid; \
                 the API then reports failure -> failed"
            }
            Case::UnknownPayment => {
                "money arrives for a payment no order expects -> unknown_payment"
            }
            Case::DuplicatePayment => {
                "Belvo: a second INFLOW transaction for a paid order -> paid + duplicate_payment"
            }
            Case::Abandoned => "the payer never finishes -> expired",
            Case::Stuck => "approved at the bank but never credited -> processing + stale_pending",
        }
    }

    pub fn parse(name: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Providers this case makes sense for.
    pub fn providers(self) -> &'static [Provider] {
        match self {
            // Only Belvo reports money movements (transactions) apart from the payment.
            Case::DuplicatePayment => &[Provider::Belvo],
            // Tpaga has no "approved, not yet credited" status.
            Case::Stuck => &[Provider::Mono, Provider::Belvo],
            _ => ALL_PROVIDERS,
        }
    }

    /// Distinct ways to play the case (see [`payment`]).
    pub fn variants(self) -> usize {
        match self {
            Case::Success | Case::NoWebhook => 2,
            _ => 1,
        }
    }

    /// Waits for the product's clock (expiry or the end of the polling
    /// schedule); mixed scenarios start these first so the waits overlap.
    pub fn waits_for_the_clock(self) -> bool {
        matches!(self, Case::LateSuccess | Case::Abandoned | Case::Stuck)
    }
}

/// One action on the sandbox (or one wait on the product).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Move the provider payment to `status`; each webhook the move triggers
    /// is delivered `webhooks` times (0: none).
    Move {
        status: &'static str,
        webhooks: u32,
        reported_amount_minor: Option<i64>,
    },
    /// Deliver a webhook whose body claims `claimed` (None: the current
    /// status) `count` times, without changing what the API reports.
    Deliver {
        claimed: Option<&'static str>,
        count: u32,
    },
    /// Deliver a webhook claiming `claimed` while the API says otherwise, wait
    /// until the product has re-queried the API, and require that the order
    /// was not paid by it.
    Forge { claimed: &'static str },
    /// The next `count` calls to the provider's API answer `status`. The
    /// provider's fault lock is held until the plan's last step, so faults of
    /// two outages never add up past the product's retries.
    Outage { status: u16, count: u32 },
    /// Belvo: another INFLOW transaction for the payment intent.
    ExtraTransaction,
    /// Wait until the order is in this state.
    AwaitState(OrderState),
}

impl Step {
    fn moved(status: &'static str) -> Self {
        Step::Move {
            status,
            webhooks: 1,
            reported_amount_minor: None,
        }
    }

    fn silently(status: &'static str) -> Self {
        Step::Move {
            status,
            webhooks: 0,
            reported_amount_minor: None,
        }
    }
}

/// What the product must show once the plan has played out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// None: no order is registered (the exceptions have no order either).
    pub state: Option<OrderState>,
    /// Exception kinds, sorted; one entry per exception.
    pub exceptions: Vec<ExceptionKind>,
}

impl Expect {
    fn order(state: OrderState, exceptions: &[ExceptionKind]) -> Self {
        let mut exceptions = exceptions.to_vec();
        exceptions.sort_by_key(|k| k.as_str());
        Self {
            state: Some(state),
            exceptions,
        }
    }
}

/// One payment of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPlan {
    /// Position in the scenario, from 1.
    pub index: usize,
    pub case: Case,
    pub variant: usize,
    pub provider: Provider,
    pub amount_minor: i64,
    /// Whether the merchant creates it with its order (`POST /v1/payments`); if not, it is a payment no order expects.
    pub register: bool,
    pub steps: Vec<Step>,
    pub expect: Expect,
    /// When it starts, from the beginning of the run (a day is staggered).
    pub start_after: Duration,
}

impl PaymentPlan {
    /// The order reference: `<run id>-<index>-<case>`, e.g. `k3f9q2-017-late-success`.
    pub fn reference(&self, run_id: &str) -> String {
        format!("{run_id}-{:03}-{}", self.index, self.case.name())
    }

    /// Whether the plan injects faults (and so needs the provider's fault lock).
    pub fn has_outage(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Outage { .. }))
    }
}

/// Each provider's own status strings for the situations the cases need.
struct Statuses {
    waiting: &'static str,
    approved: Option<&'static str>,
    success: &'static str,
    /// A second success status (Tpaga `settled` after `authorized`).
    later_success: Option<&'static str>,
    failure: &'static str,
    /// A failure that sends no webhook by itself (Tpaga `rejected` is not final for its webhook).
    quiet_failure: &'static str,
}

fn statuses(p: Provider) -> Statuses {
    match p {
        Provider::Mono => Statuses {
            waiting: "in_progress",
            approved: Some("approved_in_provider"),
            success: "account_credited",
            later_success: None,
            failure: "failed",
            quiet_failure: "failed",
        },
        Provider::Belvo => Statuses {
            waiting: "REQUIRES_ACTION",
            approved: Some("PROCESSING"),
            success: "SUCCEEDED",
            later_success: None,
            failure: "FAILED",
            quiet_failure: "FAILED",
        },
        Provider::Tpaga => Statuses {
            waiting: "pending",
            approved: None,
            success: "authorized",
            later_success: Some("settled"),
            failure: "charge-rejected",
            quiet_failure: "rejected",
        },
    }
}

/// What a payer might pay, in whole pesos (Belvo only has whole pesos).
const AMOUNTS_PESOS: [i64; 16] = [
    45_900, 120_000, 89_500, 250_000, 1_200_000, 35_000, 560_000, 2_350_000, 78_300, 19_990,
    310_000, 99_000, 640_500, 1_875_000, 57_250, 150_000,
];

/// Less than the order amount by this much in an amount mismatch (1.000 pesos).
pub const SHORT_BY_MINOR: i64 = 100_000;

pub(super) fn amount_for(index: usize) -> i64 {
    AMOUNTS_PESOS[(index * 7 + 3) % AMOUNTS_PESOS.len()] * 100
}

/// The steps and expected outcome of one case for one provider.
pub fn payment(case: Case, provider: Provider, variant: usize, amount_minor: i64) -> PaymentPlan {
    use ExceptionKind as X;
    use OrderState as S;
    let st = statuses(provider);
    let (steps, expect) = match case {
        Case::Success => {
            let steps = match (variant % 2, st.approved, st.later_success) {
                (1, Some(approved), _) => vec![
                    Step::moved(st.waiting),
                    Step::moved(approved),
                    Step::moved(st.success),
                ],
                (1, None, Some(later)) => vec![Step::moved(st.success), Step::moved(later)],
                _ => vec![Step::moved(st.success)],
            };
            (steps, Expect::order(S::Paid, &[]))
        }
        Case::Failure => (
            vec![Step::moved(st.waiting), Step::moved(st.failure)],
            Expect::order(S::Failed, &[]),
        ),
        Case::Duplicates => (
            vec![
                Step::Move {
                    status: st.success,
                    webhooks: 3,
                    reported_amount_minor: None,
                },
                Step::Deliver {
                    claimed: None,
                    count: 2,
                },
            ],
            Expect::order(S::Paid, &[]),
        ),
        Case::OutOfOrder => {
            // The earlier status happens without a webhook; its webhook arrives after success.
            let earlier = st.approved.unwrap_or(st.success);
            let success = st.later_success.unwrap_or(st.success);
            (
                vec![
                    Step::silently(earlier),
                    Step::moved(success),
                    Step::AwaitState(S::Paid),
                    Step::Deliver {
                        claimed: Some(earlier),
                        count: 1,
                    },
                ],
                Expect::order(S::Paid, &[]),
            )
        }
        Case::NoWebhook => {
            let status = if variant % 2 == 1 {
                st.quiet_failure
            } else {
                st.success
            };
            let state = if variant % 2 == 1 { S::Failed } else { S::Paid };
            (vec![Step::silently(status)], Expect::order(state, &[]))
        }
        Case::LateSuccess => (
            vec![
                Step::moved(st.waiting),
                Step::AwaitState(S::Expired),
                Step::moved(st.success),
            ],
            Expect::order(S::Paid, &[X::LateSuccess]),
        ),
        Case::AmountMismatch => (
            vec![Step::Move {
                status: st.success,
                webhooks: 1,
                reported_amount_minor: Some(amount_minor - SHORT_BY_MINOR),
            }],
            Expect::order(S::NeedsReview, &[X::AmountMismatch]),
        ),
        Case::Outage => {
            let status = match provider {
                Provider::Mono => 503,
                Provider::Belvo => 502,
                Provider::Tpaga => 500,
            };
            (
                vec![
                    Step::Outage { status, count: 3 },
                    Step::moved(st.success),
                    // Paid means the provider answered, so every injected fault was used up.
                    Step::AwaitState(S::Paid),
                ],
                Expect::order(S::Paid, &[]),
            )
        }
        Case::Forged => (
            vec![
                Step::Forge {
                    claimed: st.success,
                },
                Step::moved(st.failure),
            ],
            Expect::order(S::Failed, &[]),
        ),
        Case::UnknownPayment => (
            vec![Step::moved(st.success)],
            Expect {
                state: None,
                exceptions: vec![X::UnknownPayment],
            },
        ),
        Case::DuplicatePayment => (
            vec![
                Step::moved(st.success),
                Step::AwaitState(S::Paid),
                Step::ExtraTransaction,
            ],
            Expect::order(S::Paid, &[X::DuplicatePayment]),
        ),
        Case::Abandoned => (
            vec![Step::moved(st.waiting)],
            Expect::order(S::Expired, &[]),
        ),
        Case::Stuck => (
            vec![Step::moved(st.approved.unwrap_or(st.waiting))],
            Expect::order(S::Processing, &[X::StalePending]),
        ),
    };
    PaymentPlan {
        index: 0,
        case,
        variant,
        provider,
        amount_minor,
        register: case != Case::UnknownPayment,
        steps,
        expect,
        start_after: Duration::ZERO,
    }
}

pub use super::mix::{ScenarioInfo, plan, scenarios};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn count_by_case(plans: &[PaymentPlan]) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for p in plans {
            *m.entry(p.case.name()).or_insert(0) += 1;
        }
        m
    }

    #[test]
    fn every_case_expects_what_the_issue_says() {
        use ExceptionKind as X;
        use OrderState as S;
        let cases: [(Case, Option<S>, &[X]); 13] = [
            (Case::Success, Some(S::Paid), &[]),
            (Case::Failure, Some(S::Failed), &[]),
            (Case::Duplicates, Some(S::Paid), &[]),
            (Case::OutOfOrder, Some(S::Paid), &[]),
            (Case::NoWebhook, Some(S::Paid), &[]),
            (Case::LateSuccess, Some(S::Paid), &[X::LateSuccess]),
            (
                Case::AmountMismatch,
                Some(S::NeedsReview),
                &[X::AmountMismatch],
            ),
            (Case::Outage, Some(S::Paid), &[]),
            (Case::Forged, Some(S::Failed), &[]),
            (Case::UnknownPayment, None, &[X::UnknownPayment]),
            (
                Case::DuplicatePayment,
                Some(S::Paid),
                &[X::DuplicatePayment],
            ),
            (Case::Abandoned, Some(S::Expired), &[]),
            (Case::Stuck, Some(S::Processing), &[X::StalePending]),
        ];
        for (case, state, exceptions) in cases {
            for &p in case.providers() {
                let plan = payment(case, p, 0, 1_000_000);
                assert_eq!(plan.expect.state, state, "{} {p}", case.name());
                assert_eq!(plan.expect.exceptions, exceptions, "{} {p}", case.name());
                assert_eq!(plan.register, state.is_some());
                assert!(!plan.steps.is_empty());
            }
        }
        // The second no-webhook variant fails quietly; Tpaga's `rejected` sends no webhook.
        let quiet = payment(Case::NoWebhook, Provider::Tpaga, 1, 1_000_000);
        assert_eq!(quiet.expect.state, Some(S::Failed));
        assert_eq!(quiet.steps, vec![Step::silently("rejected")]);
    }

    #[test]
    fn steps_use_each_providers_own_statuses() {
        let mono = payment(Case::OutOfOrder, Provider::Mono, 0, 1_000_000);
        assert_eq!(
            mono.steps,
            vec![
                Step::silently("approved_in_provider"),
                Step::moved("account_credited"),
                Step::AwaitState(OrderState::Paid),
                Step::Deliver {
                    claimed: Some("approved_in_provider"),
                    count: 1
                },
            ]
        );
        // Tpaga: settled happens before the (late) authorized webhook.
        let tpaga = payment(Case::OutOfOrder, Provider::Tpaga, 0, 1_000_000);
        assert_eq!(tpaga.steps[0], Step::silently("authorized"));
        assert_eq!(tpaga.steps[1], Step::moved("settled"));
        let mismatch = payment(Case::AmountMismatch, Provider::Belvo, 0, 12_000_000);
        assert_eq!(
            mismatch.steps,
            vec![Step::Move {
                status: "SUCCEEDED",
                webhooks: 1,
                reported_amount_minor: Some(12_000_000 - SHORT_BY_MINOR)
            }]
        );
        let forged = payment(Case::Forged, Provider::Tpaga, 0, 1_000_000);
        assert_eq!(
            forged.steps,
            vec![
                Step::Forge {
                    claimed: "authorized"
                },
                Step::moved("charge-rejected")
            ]
        );
        // An outage waits for the payment to be paid, so its faults are used up before the lock is released.
        let outage = payment(Case::Outage, Provider::Mono, 0, 1_000_000);
        assert!(outage.has_outage());
        assert_eq!(
            outage.steps.last(),
            Some(&Step::AwaitState(OrderState::Paid))
        );
        let via_processing = payment(Case::Success, Provider::Belvo, 1, 1_000_000);
        assert_eq!(
            via_processing.steps,
            vec![
                Step::moved("REQUIRES_ACTION"),
                Step::moved("PROCESSING"),
                Step::moved("SUCCEEDED")
            ]
        );
    }

    #[test]
    fn single_case_scenarios_cover_their_providers_and_variants() {
        let s = plan("success", 1).unwrap();
        assert_eq!(s.len(), 6);
        assert!(s.iter().all(|p| p.case == Case::Success));
        let d = plan("duplicate-payment", 1).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].provider, Provider::Belvo);
        assert_eq!(plan("stuck", 1).unwrap().len(), 2);
        assert_eq!(plan("forged", 1).unwrap().len(), 3);
        assert!(plan("nonsense", 1).unwrap_err().contains("late-success"));
        assert!(plan("day", 0).is_err());
    }

    #[test]
    fn the_day_is_about_sixty_payments_mixing_every_case() {
        let day = plan("day", 1).unwrap();
        assert!((55..=65).contains(&day.len()), "{}", day.len());
        let by_case = count_by_case(&day);
        for case in Case::ALL {
            assert!(
                by_case.get(case.name()).copied().unwrap_or(0) >= 1,
                "{}",
                case.name()
            );
        }
        for p in Provider::ALL {
            let n = day.iter().filter(|x| x.provider == p).count();
            assert!(n >= 15, "{p}: {n}");
        }
        // Indexes are 1..=n, references unique, clock-bound cases first, starts increasing.
        let refs: std::collections::HashSet<String> =
            day.iter().map(|p| p.reference("run1")).collect();
        assert_eq!(refs.len(), day.len());
        assert!(day.iter().enumerate().all(|(i, p)| p.index == i + 1));
        let first_other = day
            .iter()
            .position(|p| !p.case.waits_for_the_clock())
            .unwrap();
        assert!(
            day[first_other..]
                .iter()
                .all(|p| !p.case.waits_for_the_clock())
        );
        assert!(day.windows(2).all(|w| w[0].start_after < w[1].start_after));
        assert!(day.last().unwrap().start_after <= Duration::from_secs(10));
        // Reproducible.
        assert_eq!(day, plan("day", 1).unwrap());
    }

    #[test]
    fn scale_multiplies_every_case() {
        let one = count_by_case(&plan("day", 1).unwrap());
        let three_plans = plan("day", 3).unwrap();
        let three = count_by_case(&three_plans);
        for (case, n) in &one {
            assert_eq!(three[case], n * 3, "{case}");
        }
        // A scaled day starts its payments faster, so it does not take three times as long to start.
        assert!(three_plans.last().unwrap().start_after <= Duration::from_secs(10));
        assert_eq!(plan("failure", 4).unwrap().len(), 12);
    }

    #[test]
    fn quick_is_small_and_covers_every_case() {
        let quick = plan("quick", 1).unwrap();
        assert!(quick.len() <= 20);
        let by_case = count_by_case(&quick);
        for case in Case::ALL {
            assert!(by_case.contains_key(case.name()), "{}", case.name());
        }
        assert!(quick.last().unwrap().start_after < Duration::from_secs(2));
    }

    #[test]
    fn amounts_are_whole_pesos_and_stay_positive_when_short() {
        for p in plan("day", 2).unwrap() {
            assert_eq!(p.amount_minor % 100, 0);
            assert!(p.amount_minor > SHORT_BY_MINOR);
        }
    }

    #[test]
    fn references_are_valid_order_references() {
        for p in plan("day", 1).unwrap() {
            let r = p.reference("k3f9q2");
            assert!(shared::domain::Reference::parse(&r).is_ok(), "{r}");
        }
        let p = plan("late-success", 1).unwrap();
        assert_eq!(p[0].reference("abc"), "abc-001-late-success");
    }
}
