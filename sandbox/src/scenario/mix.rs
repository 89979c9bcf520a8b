//! The named scenarios: which payments each one plays (`quick`, `day`, or one
//! case across the providers), their order and their spacing. Each payment's
//! steps and expectations are [`super::plan::payment`]'s.

use std::time::Duration;

use shared::domain::Provider;

use super::plan::{Case, PaymentPlan, amount_for, payment};

/// A scenario the runner knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioInfo {
    pub name: &'static str,
    pub describe: &'static str,
}

/// Every scenario name, for `pse-sandbox scenario list` and error messages.
pub fn scenarios() -> Vec<ScenarioInfo> {
    let mut out: Vec<ScenarioInfo> = Case::ALL
        .into_iter()
        .map(|c| ScenarioInfo {
            name: c.name(),
            describe: c.describe(),
        })
        .collect();
    out.push(ScenarioInfo {
        name: "quick",
        describe: "one or two of each case across the three providers (16 payments, ~20 s)",
    });
    out.push(ScenarioInfo {
        name: "day",
        describe: "a scripted day: about 60 payments across the three providers mixing every case",
    });
    out
}

/// (case, provider, variant, how many)
type MixEntry = (Case, Provider, usize, usize);

const QUICK: &[MixEntry] = &[
    (Case::Success, Provider::Mono, 0, 1),
    (Case::Success, Provider::Belvo, 1, 1),
    (Case::Success, Provider::Tpaga, 1, 1),
    (Case::Failure, Provider::Tpaga, 0, 1),
    (Case::Duplicates, Provider::Mono, 0, 1),
    (Case::OutOfOrder, Provider::Belvo, 0, 1),
    (Case::NoWebhook, Provider::Tpaga, 0, 1),
    (Case::NoWebhook, Provider::Mono, 1, 1),
    (Case::LateSuccess, Provider::Mono, 0, 1),
    (Case::AmountMismatch, Provider::Belvo, 0, 1),
    (Case::Outage, Provider::Tpaga, 0, 1),
    (Case::Forged, Provider::Mono, 0, 1),
    (Case::UnknownPayment, Provider::Tpaga, 0, 1),
    (Case::DuplicatePayment, Provider::Belvo, 0, 1),
    (Case::Abandoned, Provider::Tpaga, 0, 1),
    (Case::Stuck, Provider::Belvo, 0, 1),
];

/// Per provider: mostly successes, some failures, and every kind of trouble.
const DAY_PER_PROVIDER: &[(Case, usize, usize)] = &[
    (Case::Success, 0, 4),
    (Case::Success, 1, 3),
    (Case::Failure, 0, 2),
    (Case::Duplicates, 0, 1),
    (Case::OutOfOrder, 0, 1),
    (Case::NoWebhook, 0, 1),
    (Case::NoWebhook, 1, 1),
    (Case::LateSuccess, 0, 1),
    (Case::AmountMismatch, 0, 1),
    (Case::Outage, 0, 1),
    (Case::Forged, 0, 1),
    (Case::UnknownPayment, 0, 1),
    (Case::DuplicatePayment, 0, 2),
    (Case::Abandoned, 0, 1),
    (Case::Stuck, 0, 1),
];

fn day_mix() -> Vec<MixEntry> {
    let mut out = Vec::new();
    for &(case, variant, n) in DAY_PER_PROVIDER {
        for &p in case.providers() {
            out.push((case, p, variant, n));
        }
    }
    out
}

/// Gap between two payment starts; a scaled day starts faster.
fn spacing(name: &str, scale: u32) -> Duration {
    let base = if name == "day" { 150 } else { 60 };
    Duration::from_millis((base / u64::from(scale.max(1))).max(10))
}

/// A fixed shuffle (the same every run): a day looks mixed but is reproducible.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = usize::try_from((seed >> 33) % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
}

/// The payments of scenario `name`, repeated `scale` times.
pub fn plan(name: &str, scale: u32) -> Result<Vec<PaymentPlan>, String> {
    if scale == 0 {
        return Err("--scale must be at least 1".to_owned());
    }
    let mix: Vec<MixEntry> = match name {
        "quick" => QUICK.to_vec(),
        "day" => day_mix(),
        other => {
            let case = Case::parse(other).ok_or_else(|| {
                let names: Vec<&str> = scenarios().iter().map(|s| s.name).collect();
                format!("unknown scenario {other:?}; one of: {}", names.join(", "))
            })?;
            let mut v = Vec::new();
            for &p in case.providers() {
                for variant in 0..case.variants() {
                    v.push((case, p, variant, 1));
                }
            }
            v
        }
    };
    let mut specs: Vec<(Case, Provider, usize)> = Vec::new();
    for _ in 0..scale {
        for &(case, p, variant, n) in &mix {
            for _ in 0..n {
                specs.push((case, p, variant));
            }
        }
    }
    // Cases waiting for the product's clock first, so their waits overlap the rest.
    let (mut clock, mut rest): (Vec<_>, Vec<_>) = specs
        .into_iter()
        .partition(|(c, _, _)| c.waits_for_the_clock());
    if name == "day" {
        shuffle(&mut clock, 7);
        shuffle(&mut rest, 2026);
    }
    clock.append(&mut rest);
    let gap = spacing(name, scale);
    Ok(clock
        .into_iter()
        .enumerate()
        .map(|(i, (case, provider, variant))| {
            let index = i + 1;
            let mut p = payment(case, provider, variant, amount_for(index));
            p.index = index;
            p.start_after = gap * u32::try_from(i).unwrap_or(u32::MAX);
            p
        })
        .collect())
}
