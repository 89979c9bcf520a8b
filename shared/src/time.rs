//! Colombian business days. Finance closes days in America/Bogota (UTC−5, no
//! daylight saving), so an order paid at 23:30 Bogota belongs to that date even
//! though it is 04:30 UTC on the next.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::America::Bogota;

pub use chrono_tz::America::Bogota as BOGOTA;

/// `[start, end)` of a Bogota calendar day, in UTC.
pub fn day_bounds(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        start_of_day(date),
        start_of_day(date.succ_opt().unwrap_or(date)),
    )
}

fn start_of_day(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    Bogota
        .from_local_datetime(&midnight)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        // Bogota has no DST gaps today; fall back to the fixed offset if tzdata
        // ever says otherwise. Checked: the last representable day (a date in
        // a query string can be year 262142) must not overflow into a panic.
        .unwrap_or_else(|| {
            Utc.from_utc_datetime(&midnight)
                .checked_add_signed(chrono::Duration::hours(5))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        })
}

/// The Bogota business date of an instant.
pub fn business_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Bogota).date_naive()
}

/// Today in Bogota.
pub fn today() -> NaiveDate {
    business_date(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_is_utc_minus_five() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let (start, end) = day_bounds(d);
        assert_eq!(start.to_rfc3339(), "2026-11-20T05:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-21T05:00:00+00:00");
        let late = DateTime::parse_from_rfc3339("2026-11-21T04:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(business_date(late), d);
    }

    #[test]
    fn the_extreme_dates_do_not_panic() {
        for d in [NaiveDate::MIN, NaiveDate::MAX] {
            let (start, end) = day_bounds(d);
            assert!(start <= end);
        }
    }
}
