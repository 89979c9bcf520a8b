//! `GET /v1/orders` query parameters: `state`, `provider`, `from`, `to`, `limit`, `cursor`.

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use serde::Deserialize;
use shared::db::orders::{Cursor, ListFilter};
use shared::domain::OrderState;
use shared::time::day_bounds;

use crate::error::ApiError;
use crate::extract::{FieldErrors, ProviderParam, RawPage};

#[derive(Debug, Default, Deserialize)]
pub struct RawListQuery {
    state: Option<String>,
    provider: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(flatten)]
    page: RawPage,
}
pub struct ListQuery {
    pub filter: ListFilter,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// Four-digit years only, as for the report's date: chrono reads years from -262143 to
/// +262142, some of which PostgreSQL cannot store (before 4713 BC); such bounds are refused
/// here rather than handed to the database.
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// An RFC 3339 instant, or a `YYYY-MM-DD` Bogota business day. For `to`, a
/// day means "through the end of that day", so `from=D&to=D` is one day.
fn instant(raw: &str, end_of_day: bool) -> Result<DateTime<Utc>, &'static str> {
    let t = match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => {
            let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| "must be a date (YYYY-MM-DD, Bogota) or an RFC 3339 timestamp")?;
            let (start, end) = day_bounds(date);
            if end_of_day { end } else { start }
        }
    };
    if YEARS.contains(&t.year()) {
        Ok(t)
    } else {
        Err("must be within the years 0001 to 9999")
    }
}

impl RawListQuery {
    pub fn parse(self) -> Result<ListQuery, ApiError> {
        let mut errors = FieldErrors::default();
        let mut filter = ListFilter::default();
        if let Some(s) = self.state.filter(|s| !s.is_empty()) {
            match s.parse::<OrderState>() {
                Ok(v) => filter.state = Some(v),
                Err(_) => errors.push(
                    "state",
                    "must be one of pending, processing, paid, failed, expired, needs_review",
                ),
            }
        }
        filter.provider = ProviderParam::parse(self.provider.as_deref(), &mut errors);
        if let Some(f) = self.from.filter(|s| !s.is_empty()) {
            match instant(&f, false) {
                Ok(v) => filter.from = Some(v),
                Err(m) => errors.push("from", m),
            }
        }
        if let Some(t) = self.to.filter(|s| !s.is_empty()) {
            match instant(&t, true) {
                Ok(v) => filter.to = Some(v),
                Err(m) => errors.push("to", m),
            }
        }
        let page = self.page.parse::<Cursor>(&mut errors);
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from >= to
        {
            errors.push("to", "must be after from");
        }
        errors.finish(ListQuery {
            filter,
            cursor: page.cursor,
            limit: page.limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Arbitrary Unicode plus the shapes these parameters take.
    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            any::<String>(),
            proptest::string::string_regex("(?s:.{0,30})").unwrap(),
            "[+-]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,2}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})",
            "-?[0-9]{1,25}",
            "[A-Za-z0-9_=-]{0,60}",
        ])
    }

    proptest! {
        #[test]
        fn any_parameters_parse_or_fail_cleanly(
            state in text(), provider in text(), from in text(), to in text(),
            limit in text(), cursor in text(),
        ) {
            let q = RawListQuery { state, provider, from, to, page: RawPage::new(limit, cursor) };
            if let Ok(q) = q.parse() {
                prop_assert!((1..=crate::extract::MAX_LIMIT).contains(&q.limit));
                for t in [q.filter.from, q.filter.to].into_iter().flatten() {
                    prop_assert!(YEARS.contains(&t.year()));
                }
            }
        }

        #[test]
        fn any_query_string_never_panics(qs in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            for s in [qs, String::from_utf8_lossy(&bytes).into_owned()] {
                if let Ok(q) = serde_urlencoded::from_str::<RawListQuery>(&s) {
                    let _ = q.parse();
                }
            }
        }
    }

    fn field_errors(from: &str) -> Vec<String> {
        let q = RawListQuery {
            from: Some(from.to_owned()),
            ..RawListQuery::default()
        };
        match q.parse() {
            Ok(_) => Vec::new(),
            Err(ApiError::Validation(f)) => f.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn years_beyond_four_digits_are_refused_before_the_database() {
        for bad in [
            "+10000-01-01",
            "+262142-12-31",
            "-0001-01-01",
            "-262143-01-01",
        ] {
            assert_eq!(field_errors(bad), ["from"], "{bad}");
        }
        for good in [
            "9999-12-30",
            "2026-11-20",
            "2026-11-20T10:00:00Z",
            "0001-01-02",
        ] {
            assert!(field_errors(good).is_empty(), "{good}");
        }
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        for d in ["+262142-12-31", "-262143-01-01", "9999-12-31", "0000-01-01"] {
            let q = RawListQuery {
                from: Some(d.to_owned()),
                to: Some(d.to_owned()),
                ..RawListQuery::default()
            };
            let _ = q.parse();
        }
    }
}
