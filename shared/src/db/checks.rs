//! `provider_checks`: every provider call and what it answered.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};

use super::DbError;
use super::prepared::prepared;
use super::schema::{orders, provider_checks};
use crate::providers::check::RecordedCall;

/// `None` is written as NULL rather than DEFAULT (the defaults are NULL), so
/// the insert has one text and diesel keeps it prepared.
#[derive(Insertable)]
#[diesel(table_name = provider_checks, treat_none_as_default_value = false)]
struct Row<'a> {
    provider: &'a str,
    object_id: &'a str,
    order_id: Option<uuid::Uuid>,
    webhook_event_id: Option<i64>,
    method: &'a str,
    path: &'a str,
    status_code: Option<i32>,
    response_body: Option<&'a str>,
    error: Option<&'a str>,
    latency_ms: i32,
}

/// Which order the calls were about.
pub enum OrderLink<'a> {
    Known(uuid::Uuid),
    /// The order that expects this provider payment id, if any.
    Find(&'a str),
    None,
}

/// Stores `calls`, linked to their order.
pub fn record(
    conn: &mut PgConnection,
    calls: &[RecordedCall],
    order: OrderLink<'_>,
    webhook_event_id: Option<i64>,
) -> Result<(), DbError> {
    let Some(first) = calls.first() else {
        return Ok(());
    };
    let order_id: Option<uuid::Uuid> = match order {
        OrderLink::Known(id) => Some(id),
        OrderLink::None => None,
        OrderLink::Find(pid) => orders::table
            .filter(orders::provider.eq(first.provider.as_str()))
            .filter(orders::provider_payment_id.eq(pid))
            .select(orders::id)
            .first(conn)
            .optional()?,
    };
    // One single-row insert per call (usually one call, at most four): a
    // multi-row insert would be a different text for every count, never prepared.
    for c in calls {
        let row = Row {
            provider: c.provider.as_str(),
            object_id: &c.object_id,
            order_id,
            webhook_event_id,
            method: c.method,
            path: &c.path,
            status_code: c.status.map(i32::from),
            response_body: c.body.as_deref(),
            error: c.error.as_deref(),
            latency_ms: i32::try_from(c.latency.as_millis()).unwrap_or(i32::MAX),
        };
        diesel::insert_into(provider_checks::table)
            .values(&row)
            .execute(conn)?;
    }
    Ok(())
}

/// Calls to store together, each already linked to its order: the
/// reconciler's group commit writes a whole batch's calls in one statement
/// (docs/ARCHITECTURE.md, "Reconciler: group commit"). `Debug` shows counts
/// only: provider responses carry payer names and documents.
#[derive(Default)]
pub struct CallRows {
    provider: Vec<&'static str>,
    object_id: Vec<String>,
    order_id: Vec<Option<uuid::Uuid>>,
    webhook_event_id: Vec<Option<i64>>,
    method: Vec<&'static str>,
    path: Vec<String>,
    status_code: Vec<Option<i32>>,
    response_body: Vec<Option<String>>,
    error: Vec<Option<String>>,
    latency_ms: Vec<i32>,
}

impl std::fmt::Debug for CallRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRows")
            .field("calls", &self.len())
            .field(
                "body_bytes",
                &self
                    .response_body
                    .iter()
                    .flatten()
                    .map(String::len)
                    .sum::<usize>(),
            )
            .finish()
    }
}

impl CallRows {
    /// Adds `calls`, linked to `order_id` and the webhook that caused them.
    pub fn push(
        &mut self,
        calls: &[RecordedCall],
        order_id: Option<uuid::Uuid>,
        webhook_event_id: Option<i64>,
    ) {
        for c in calls {
            self.provider.push(c.provider.as_str());
            self.object_id.push(c.object_id.clone());
            self.order_id.push(order_id);
            self.webhook_event_id.push(webhook_event_id);
            self.method.push(c.method);
            self.path.push(c.path.clone());
            self.status_code.push(c.status.map(i32::from));
            self.response_body.push(c.body.clone());
            self.error.push(c.error.clone());
            self.latency_ms
                .push(i32::try_from(c.latency.as_millis()).unwrap_or(i32::MAX));
        }
    }

    pub fn len(&self) -> usize {
        self.provider.len()
    }

    pub fn is_empty(&self) -> bool {
        self.provider.is_empty()
    }
}

/// Stores every call in `rows` with one statement, whatever their number.
/// Prepared: it reads nothing but its arrays, so its one generic plan is
/// the right plan at any size.
pub fn insert_many(conn: &mut PgConnection, rows: &CallRows) -> Result<(), DbError> {
    if rows.is_empty() {
        return Ok(());
    }
    prepared(
        "INSERT INTO provider_checks (provider, object_id, order_id, webhook_event_id, method, path, \
             status_code, response_body, error, latency_ms) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], \
             $7::int[], $8::text[], $9::text[], $10::int[])",
        |q| {
            q.bind::<Array<Text>, _>(&rows.provider)
                .bind::<Array<Text>, _>(&rows.object_id)
                .bind::<Array<Nullable<diesel::sql_types::Uuid>>, _>(&rows.order_id)
                .bind::<Array<Nullable<BigInt>>, _>(&rows.webhook_event_id)
                .bind::<Array<Text>, _>(&rows.method)
                .bind::<Array<Text>, _>(&rows.path)
                .bind::<Array<Nullable<Integer>>, _>(&rows.status_code)
                .bind::<Array<Nullable<Text>>, _>(&rows.response_body)
                .bind::<Array<Nullable<Text>>, _>(&rows.error)
                .bind::<Array<Integer>, _>(&rows.latency_ms)
        },
    )
    .execute(conn)?;
    Ok(())
}

/// Links the calls recorded under `object_id` before any order existed (a
/// payment attempt's create calls) to the order they produced.
pub fn link_to_order(
    conn: &mut PgConnection,
    object_id: &str,
    order_id: uuid::Uuid,
) -> Result<(), DbError> {
    diesel::update(
        provider_checks::table
            .filter(provider_checks::object_id.eq(object_id))
            .filter(provider_checks::order_id.is_null()),
    )
    .set(provider_checks::order_id.eq(order_id))
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Provider;

    #[test]
    fn debug_of_calls_to_store_shows_no_response_body() {
        let mut rows = CallRows::default();
        let call = RecordedCall {
            provider: Provider::Mono,
            object_id: "cint_1".to_owned(),
            method: "GET",
            path: "/v1/collection-intents/cint_1".to_owned(),
            status: Some(200),
            body: Some(
                r#"{"payer":{"document_number":"1033711400","email":"ana@example.com"}}"#
                    .to_owned(),
            ),
            error: None,
            latency: std::time::Duration::from_millis(50),
        };
        rows.push(&[call], None, Some(7));
        let shown = format!("{rows:?}");
        assert!(
            !shown.contains("1033711400") && !shown.contains("ana@"),
            "{shown}"
        );
        assert!(shown.contains("calls: 1"), "{shown}");
    }
}
