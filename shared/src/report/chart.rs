//! Geometry of the report's bar chart (an inline SVG drawn by the template).
//!
//! Horizontal bars, one per provider and state bucket, because the value labels
//! (`$ 1.234.567`) are wider than any vertical bar could be at laptop width. The
//! axis runs from zero to a "nice" maximum (1, 2 or 5 × 10ⁿ pesos per step) so
//! the gridlines fall on round amounts a reader can check against the table.
//! All arithmetic is in integers: amounts stay centavos until they are pixels.

use super::{Bucket, Summary, Tally};
use crate::domain::money::format_cop;

/// The state buckets in display order: key (matching the JSON), label, colour.
pub const BUCKETS: [(&str, &str, &str); 5] = [
    ("paid", "Paid", "#2e7d32"),
    ("failed", "Failed", "#c62828"),
    ("pending", "Pending / processing", "#b26a00"),
    ("expired", "Expired", "#6d4c41"),
    ("needs_review", "Needs review", "#6a1b9a"),
];

pub fn bucket(t: &Tally, key: &str) -> Bucket {
    match key {
        "paid" => t.paid,
        "failed" => t.failed,
        "pending" => t.pending,
        "expired" => t.expired,
        _ => t.needs_review,
    }
}

/// Left column for "provider · state" labels, the plot, and room for the value labels.
pub const LABEL_W: i64 = 190;
pub const PLOT_W: i64 = 440;
pub const VALUE_W: i64 = 130;
pub const WIDTH: i64 = LABEL_W + PLOT_W + VALUE_W;
const BAR_H: i64 = 16;
const BAR_STEP: i64 = 22;
const GROUP_GAP: i64 = 12;
const TOP: i64 = 8;
const AXIS_H: i64 = 44;
const TICKS: i128 = 4;

pub struct Bar {
    pub provider: String,
    pub key: &'static str,
    pub label: &'static str,
    pub color: &'static str,
    pub y: i64,
    pub text_y: i64,
    pub width: i64,
    pub value_x: i64,
    pub amount: String,
    pub count: i64,
}

pub struct Tick {
    pub x: i64,
    pub label: String,
}

pub struct Chart {
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub height: i64,
    pub width: i64,
    pub bar_h: i64,
    pub plot_left: i64,
    pub plot_right: i64,
    pub label_x: i64,
    pub plot_top: i64,
    pub plot_bottom: i64,
    pub axis_label_y: i64,
    pub tick_label_y: i64,
    pub title_x: i64,
}

/// The smallest 1, 2 or 5 × 10ⁿ pesos (in centavos) that is at least `raw`.
fn nice_step(raw: i128) -> i128 {
    let mut magnitude: i128 = 100; // one peso: ticks are whole pesos
    loop {
        for m in [1, 2, 5] {
            let step = magnitude.saturating_mul(m);
            if step >= raw || step == i128::MAX {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// Pixels for `amount` on an axis whose end is `axis_max` (both centavos).
fn scale(amount: i128, axis_max: i128) -> i64 {
    let px = amount.clamp(0, axis_max) * i128::from(PLOT_W) / axis_max.max(1);
    i64::try_from(px).unwrap_or(PLOT_W)
}

pub fn layout(summary: &Summary) -> Chart {
    let max = summary
        .providers
        .iter()
        .flat_map(|p| BUCKETS.iter().map(|(k, _, _)| bucket(&p.tally, k).amount))
        .max()
        .unwrap_or(0);
    let step = nice_step(max.saturating_add(TICKS - 1) / TICKS);
    // Enough steps to reach the largest bar (at most TICKS, fewer when it is small).
    let steps = (max.saturating_add(step - 1) / step).clamp(1, TICKS);
    let axis_max = step.saturating_mul(steps);

    let mut bars = Vec::new();
    let mut y = TOP;
    for p in &summary.providers {
        for (key, label, color) in BUCKETS {
            let b = bucket(&p.tally, key);
            let width = scale(b.amount, axis_max);
            bars.push(Bar {
                provider: p.provider.clone(),
                key,
                label,
                color,
                y,
                text_y: y + BAR_H - 3,
                width,
                value_x: LABEL_W + width + 6,
                amount: format_cop(b.amount),
                count: b.count,
            });
            y += BAR_STEP;
        }
        y += GROUP_GAP;
    }
    let plot_bottom = y - GROUP_GAP + 4;
    let ticks = (0..=steps)
        .map(|i| Tick {
            x: LABEL_W + scale(step.saturating_mul(i), axis_max),
            label: format_cop(step.saturating_mul(i)),
        })
        .collect();
    Chart {
        bars,
        ticks,
        height: plot_bottom + AXIS_H,
        width: WIDTH,
        bar_h: BAR_H,
        plot_left: LABEL_W,
        plot_right: LABEL_W + PLOT_W,
        label_x: LABEL_W - 8,
        plot_top: TOP - 4,
        plot_bottom,
        tick_label_y: plot_bottom + 16,
        axis_label_y: plot_bottom + 36,
        title_x: LABEL_W + PLOT_W / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_amounts() {
        assert_eq!(nice_step(0), 100);
        assert_eq!(nice_step(101), 200);
        assert_eq!(nice_step(30_000_000), 50_000_000);
        assert_eq!(nice_step(50_000_001), 100_000_000);
        assert_eq!(nice_step(i128::MAX), i128::MAX);
    }

    #[test]
    fn the_largest_bar_fits_the_axis() {
        assert_eq!(scale(0, 100), 0);
        assert_eq!(scale(100, 100), PLOT_W);
        assert_eq!(scale(i128::MAX, 100), PLOT_W);
        assert_eq!(scale(50, 0), 0, "an empty axis divides by nothing");
    }
}
