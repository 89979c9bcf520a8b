//! The console's query strings and forms, parsed strictly: an unknown or repeated
//! field, a bad value or an over-long one is a 400 page naming it, never a 500 and never
//! silently ignored (an ignored filter would show the wrong queue).

use chrono::{Datelike as _, NaiveDate};
use serde::Deserialize;
use shared::db::exceptions::QueueFilter;
use shared::domain::{ExceptionKind, Provider};

use crate::error::ConsoleError;

/// The longest search term: references, payment ids and CUS are far shorter.
pub const MAX_TERM: usize = 200;
/// The longest resolution note, as the JSON API (`crate::exceptions`).
pub const MAX_NOTE: usize = 2000;

fn bad(message: impl Into<String>) -> ConsoleError {
    ConsoleError::BadRequest(message.into())
}

fn decode<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, ConsoleError> {
    serde_urlencoded::from_str(raw).map_err(|e| bad(format!("The address cannot be read: {e}.")))
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A Bogota business day as `YYYY-MM-DD`, four-digit year like the report API.
pub fn parse_day(raw: &str, field: &str) -> Result<NaiveDate, ConsoleError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=9999).contains(&d.year()))
        .ok_or_else(|| bad(format!("{field} must be a date like 2026-11-20.")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DayQuery {
    day: Option<String>,
}

/// `/console/?day=YYYY-MM-DD`; without it, the report's default day.
pub fn report_day(raw: &str) -> Result<NaiveDate, ConsoleError> {
    let q: DayQuery = decode(raw)?;
    match given(&q.day) {
        None => Ok(shared::report::default_date()),
        Some(d) => parse_day(d, "The day"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueQuery {
    kind: Option<String>,
    provider: Option<String>,
    day: Option<String>,
}

/// `/console/exceptions?kind=&provider=&day=`; empty values mean "any".
pub fn queue_filter(raw: &str) -> Result<QueueFilter, ConsoleError> {
    let q: QueueQuery = decode(raw)?;
    let mut filter = QueueFilter::default();
    if let Some(k) = given(&q.kind) {
        filter.kind = Some(k.parse::<ExceptionKind>().map_err(|_| {
            bad(format!(
                "The kind must be one of: {}.",
                ExceptionKind::ALL.map(ExceptionKind::as_str).join(", ")
            ))
        })?);
    }
    if let Some(p) = given(&q.provider) {
        filter.provider = Some(
            p.parse::<Provider>()
                .map_err(|_| bad(format!("The provider {}.", Provider::expected())))?,
        );
    }
    if let Some(d) = given(&q.day) {
        filter.opened_on = Some(parse_day(d, "The day")?);
    }
    Ok(filter)
}

/// The query string that shows `filter` again (the redirect after a resolution).
pub fn queue_query(filter: &QueueFilter) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(k) = filter.kind {
        pairs.push(("kind", k.as_str().to_owned()));
    }
    if let Some(p) = filter.provider {
        pairs.push(("provider", p.as_str().to_owned()));
    }
    if let Some(d) = filter.opened_on {
        pairs.push(("day", d.format("%Y-%m-%d").to_string()));
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchQuery {
    q: Option<String>,
}

/// `/console/orders?q=`: the trimmed term, or `None` for the empty search page.
pub fn search_term(raw: &str) -> Result<Option<String>, ConsoleError> {
    let q: SearchQuery = decode(raw)?;
    match given(&q.q) {
        None => Ok(None),
        Some(t) if t.chars().count() > MAX_TERM => Err(bad(format!(
            "The search term is longer than {MAX_TERM} characters."
        ))),
        Some(t) if t.chars().any(char::is_control) => {
            Err(bad("The search term contains control characters."))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// The resolve form: its CSRF token and the note.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveForm {
    pub csrf: Option<String>,
    pub note: Option<String>,
}

/// The form body of a console POST (`application/x-www-form-urlencoded`).
pub fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ConsoleError> {
    serde_urlencoded::from_bytes(body).map_err(|e| bad(format!("The form cannot be read: {e}.")))
}

/// The note: required, at most [`MAX_NOTE`] characters, trimmed (as the JSON API).
pub fn note(raw: Option<&str>) -> Result<String, ConsoleError> {
    let n = raw.map(str::trim).unwrap_or_default();
    if n.is_empty() {
        Err(bad("A note is required: say what was done."))
    } else if n.chars().count() > MAX_NOTE {
        Err(bad(format!(
            "The note is longer than {MAX_NOTE} characters."
        )))
    } else {
        Ok(n.to_owned())
    }
}

/// Only the CSRF token (the logout form).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

/// The login form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    pub key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_400(r: Result<impl std::fmt::Debug, ConsoleError>) -> bool {
        matches!(r, Err(ConsoleError::BadRequest(_)))
    }

    #[test]
    fn filters_parse_and_round_trip() {
        let f = queue_filter("kind=amount_mismatch&provider=belvo&day=2026-11-20").unwrap();
        assert_eq!(f.kind, Some(ExceptionKind::AmountMismatch));
        assert_eq!(f.provider, Some(Provider::Belvo));
        assert_eq!(
            queue_query(&f),
            "kind=amount_mismatch&provider=belvo&day=2026-11-20"
        );
        let empty = queue_filter("kind=&provider=&day=").unwrap();
        assert!(empty.kind.is_none() && empty.provider.is_none() && empty.opened_on.is_none());
        assert_eq!(queue_query(&empty), "");
    }

    #[test]
    fn hostile_filters_are_400() {
        for q in [
            "kind=<script>",
            "provider=paypal",
            "day=2026-02-30",
            "day=+262142-12-31",
            "day=1999-12-31",
            "status=open",
            "kind=amount_mismatch&kind=unknown_payment",
            "%ZZ=1",
            "day=%00",
        ] {
            assert!(is_400(queue_filter(q)), "{q}");
        }
        assert!(is_400(report_day("day=yesterday")));
        assert!(is_400(report_day("date=2026-11-20")));
        assert!(is_400(search_term(&format!(
            "q={}",
            "x".repeat(MAX_TERM + 1)
        ))));
        assert!(is_400(search_term("q=a%00b")));
        assert!(is_400(search_term("q=a&q=b")));
        assert_eq!(search_term("q=+ref-1+").unwrap().as_deref(), Some("ref-1"));
        assert_eq!(search_term("").unwrap(), None);
    }

    #[test]
    fn notes_are_required_and_bounded() {
        assert!(is_400(note(None)));
        assert!(is_400(note(Some("   "))));
        assert!(is_400(note(Some(&"n".repeat(MAX_NOTE + 1)))));
        assert_eq!(note(Some(" refunded ")).unwrap(), "refunded");
    }

    proptest! {
        #[test]
        fn any_query_string_parses_or_is_400(qs in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for q in [qs, String::from_utf8_lossy(&bytes).into_owned()] {
                for r in [queue_filter(&q).map(|_| ()), report_day(&q).map(|_| ()), search_term(&q).map(|_| ())] {
                    prop_assert!(r.is_ok() || is_400(r), "{q:?}");
                }
            }
        }
    }
}
