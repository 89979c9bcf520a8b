//! The query parameters every list endpoint shares: `limit`, `cursor` and `provider`.
//!
//! One place decides the page size and how a bad value is answered, so `GET /v1/orders`,
//! `GET /v1/exceptions` and `GET /v1/admin/dead-letters` cannot drift apart again. A query
//! string that does not even decode is 400 `malformed_payload` (`crate::body::query`); a
//! parameter that decodes but means nothing is 422 `validation_failed`, every bad field
//! named in one answer, in the order the endpoint checks them.

use serde::Deserialize;
use shared::domain::Provider;

use crate::error::{ApiError, FieldError};

/// Rows per page when `limit` is absent.
pub const DEFAULT_LIMIT: i64 = 50;
/// The largest page any list endpoint serves: large enough for an operator's screen,
/// small enough that one request cannot hold a database connection for long.
pub const MAX_LIMIT: i64 = 500;

/// The field errors of one request, in the order they were found.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// `Ok` when nothing was wrong, else 422 naming every field.
    pub fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// A parameter that was not given, or given empty (`?provider=`), counts as absent: forms
/// and scripts send empty values for "any".
fn given(raw: Option<&str>) -> Option<&str> {
    raw.filter(|s| !s.is_empty())
}

/// `provider=mono|belvo|…`: any name of [`Provider::ALL`].
pub struct ProviderParam;

impl ProviderParam {
    pub fn parse(raw: Option<&str>, errors: &mut FieldErrors) -> Option<Provider> {
        match given(raw)?.parse::<Provider>() {
            Ok(p) => Some(p),
            Err(_) => {
                errors.push("provider", Provider::expected());
                None
            }
        }
    }
}

/// The opaque position a page ends at, as the endpoint returned it in `next_cursor`.
pub trait PageCursor: Sized {
    fn decode(raw: &str) -> Option<Self>;
}

impl PageCursor for shared::db::orders::Cursor {
    fn decode(raw: &str) -> Option<Self> {
        shared::db::orders::Cursor::decode(raw)
    }
}

/// A row id: the page holds the rows older than it.
impl PageCursor for i64 {
    fn decode(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

/// `limit` and `cursor` as they arrive; flatten it into an endpoint's query struct.
#[derive(Debug, Default, Deserialize)]
pub struct RawPage {
    limit: Option<String>,
    cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination<C> {
    /// 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
    pub limit: i64,
    pub cursor: Option<C>,
}

impl RawPage {
    /// For tests that build a query without going through serde.
    #[cfg(test)]
    pub(crate) fn new(limit: Option<String>, cursor: Option<String>) -> Self {
        Self { limit, cursor }
    }

    /// The limit alone, for an endpoint without cursors; a bad one is recorded and the
    /// default stands in so the other fields are still checked.
    pub fn limit(&self, errors: &mut FieldErrors) -> i64 {
        let Some(raw) = given(self.limit.as_deref()) else {
            return DEFAULT_LIMIT;
        };
        match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                errors.push(
                    "limit",
                    format!("must be a whole number from 1 to {MAX_LIMIT}"),
                );
                DEFAULT_LIMIT
            }
        }
    }

    /// `limit`, then `cursor`.
    pub fn parse<C: PageCursor>(&self, errors: &mut FieldErrors) -> Pagination<C> {
        let limit = self.limit(errors);
        let cursor = given(self.cursor.as_deref()).and_then(|raw| {
            let decoded = C::decode(raw);
            if decoded.is_none() {
                errors.push(
                    "cursor",
                    "is not a cursor this API returned; use next_cursor from the previous page",
                );
            }
            decoded
        });
        Pagination { limit, cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn page(limit: Option<&str>, cursor: Option<&str>) -> RawPage {
        RawPage {
            limit: limit.map(str::to_owned),
            cursor: cursor.map(str::to_owned),
        }
    }

    fn fields(errors: FieldErrors) -> Vec<String> {
        match errors.finish(()) {
            Ok(()) => Vec::new(),
            Err(ApiError::Validation(f)) => f.into_iter().map(|f| f.field).collect(),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_and_bounds() {
        let mut errors = FieldErrors::default();
        let p: Pagination<i64> = page(None, None).parse(&mut errors);
        assert_eq!(
            p,
            Pagination {
                limit: DEFAULT_LIMIT,
                cursor: None
            }
        );
        let p: Pagination<i64> = page(Some(""), Some("")).parse(&mut errors);
        assert_eq!(p.limit, DEFAULT_LIMIT, "empty counts as absent");
        let p: Pagination<i64> = page(Some("1"), Some("42")).parse(&mut errors);
        assert_eq!(
            p,
            Pagination {
                limit: 1,
                cursor: Some(42)
            }
        );
        let p: Pagination<i64> = page(Some(&MAX_LIMIT.to_string()), None).parse(&mut errors);
        assert_eq!(p.limit, MAX_LIMIT);
        assert!(fields(errors).is_empty());
    }

    #[test]
    fn every_bad_field_is_named_in_order() {
        for bad in ["0", "-1", "501", "ten", "1.5", " 5"] {
            let mut errors = FieldErrors::default();
            let _: Pagination<i64> = page(Some(bad), Some("x")).parse(&mut errors);
            assert_eq!(fields(errors), ["limit", "cursor"], "{bad}");
        }
        let mut errors = FieldErrors::default();
        assert_eq!(ProviderParam::parse(Some("stripe"), &mut errors), None);
        let message = match errors.finish(()) {
            Err(ApiError::Validation(f)) => f[0].message.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(message, Provider::expected());
    }

    #[test]
    fn every_provider_name_parses() {
        for p in Provider::ALL {
            let mut errors = FieldErrors::default();
            assert_eq!(ProviderParam::parse(Some(p.as_str()), &mut errors), Some(p));
            assert_eq!(ProviderParam::parse(Some(""), &mut errors), None);
            assert!(fields(errors).is_empty());
        }
    }

    proptest! {
        /// Total on arbitrary text: never a panic, and a limit is always in range.
        #[test]
        fn any_text_is_answered(limit in any::<String>(), cursor in any::<String>(), provider in any::<String>()) {
            let mut errors = FieldErrors::default();
            let p: Pagination<shared::db::orders::Cursor> =
                page(Some(&limit), Some(&cursor)).parse(&mut errors);
            prop_assert!((1..=MAX_LIMIT).contains(&p.limit));
            let _ = ProviderParam::parse(Some(&provider), &mut errors);
        }
    }
}
