//! The daily reconciliation report (docs/ARCHITECTURE.md, "Daily reconciliation report").
//!
//! One row per order touched that Bogota business day (created, moved, or an
//! exception opened or resolved), listing all its exceptions, plus one row per
//! exception with no order (money nobody expected), oldest first. The summary is computed
//! from the same definition of "touched", so its totals equal the rows' sums.
//! Rows are read through a server-side cursor (JSON, HTML) or streamed by
//! `COPY` already formatted (CSV, see `copy.rs`), so a day of a million orders
//! is never held in memory.

mod chart;
mod copy;
pub mod csv;
pub mod html;
mod json;
pub mod output;
mod read;
mod row;
mod sql;
pub mod stream;
mod tally;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::Provider;
use crate::time::day_bounds;

pub use json::{Header, json_close, json_open, json_row};
pub use read::{FETCH_SIZE, Sink, read, read_pipelined, summary};
pub use row::ReportRow;
pub use tally::{Bucket, ProviderTally, Summary, Tally};

/// What a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub date: NaiveDate,
    pub provider: Option<Provider>,
}

impl Scope {
    fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        day_bounds(self.date)
    }
}

/// The default report date: yesterday in Bogota (the last closed business day).
pub fn default_date() -> NaiveDate {
    let today = crate::time::today();
    today.pred_opt().unwrap_or(today)
}
