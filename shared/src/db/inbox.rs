//! The webhook inbox: every accepted delivery, stored with its check request
//! (the single-flight gate, `db::flights`) and, when that queues a check, its
//! outbox message, in one transaction.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};

use super::DbError;
use super::prepared::{Prepared, prepared};
use super::schema::webhook_events;
use crate::db::flights::{self, Requested};
use crate::db::outbox::{self, NewMessage, PendingMessage};
use crate::domain::Provider;
use crate::providers::webhook::{Dedup, InboundEvent};
use crate::queue::message::{Cause, CheckMessage, Exchange};

/// A delivery ready to store.
#[derive(Clone)]
pub struct Delivery {
    pub provider: Provider,
    pub event: InboundEvent,
    pub body: Vec<u8>,
    pub headers: serde_json::Value,
    pub auth_result: String,
}

/// The raw body and headers carry payer data (names, documents, e-mails):
/// `Debug` shows only their size, so a stray `{:?}` cannot leak them.
impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("provider", &self.provider)
            .field("event_type", &self.event.event_type)
            .field("object_id", &self.event.object_id)
            .field("body_bytes", &self.body.len())
            .field("auth_result", &self.auth_result)
            .finish_non_exhaustive()
    }
}

/// What storing did, and the check message to publish after the commit (if one was queued).
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub stored: Stored,
    pub message: Option<PendingMessage>,
    /// The event's check coalesced into one already queued for its object
    /// (no message of its own; `checks_coalesced_total`).
    pub coalesced: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new event; `queued` when a check covering it is queued: its own
    /// message, or the one already waiting for the object (`Saved::coalesced`).
    New { inbox_id: i64, queued: bool },
    /// Seen before: nothing added but the delivery count.
    Duplicate { inbox_id: i64 },
}

/// The key the row is stored under: the event's own, or for events nothing
/// identifies ([`Dedup::PerDelivery`]) one unique to this delivery.
fn stored_key(d: &Delivery) -> String {
    match d.event.dedup {
        Dedup::Permanent => d.event.dedup_key.clone(),
        Dedup::PerDelivery => format!("{}:{}", d.event.dedup_key, uuid::Uuid::new_v4().simple()),
    }
}

/// The outbox message of a check queued for a new inbox row.
fn check_message(d: &Delivery, inbox_id: i64, ticket: i64) -> Result<Option<NewMessage>, DbError> {
    let Some(target) = &d.event.check else {
        return Ok(None);
    };
    let message = CheckMessage {
        target: target.clone(),
        event_type: d.event.event_type.clone(),
        cause: Cause::Webhook { inbox_id },
        ticket: Some(ticket),
    };
    Ok(Some(NewMessage {
        exchange: Exchange::Events,
        routing_key: format!("{}.{}", d.provider.as_str(), d.event.routing_suffix),
        message_id: format!("inbox-{inbox_id}"),
        payload: serde_json::to_value(&message)?,
        inbox_id: Some(inbox_id),
    }))
}

/// Records on the inbox rows which queued check answers them (`coalesced:<ticket>`):
/// they get no message of their own, and nothing else will process them.
fn mark_coalesced(conn: &mut PgConnection, rows: &[(i64, i64)]) -> Result<(), DbError> {
    use diesel::sql_types::Array;
    if rows.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "UPDATE webhook_events w SET outcome = 'coalesced:' || r.ticket, processed_at = now() \
         FROM unnest($1::bigint[], $2::bigint[]) AS r(id, ticket) WHERE w.id = r.id",
    )
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.0).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.1).collect::<Vec<_>>())
    .execute(conn)?;
    Ok(())
}

/// `None` is written as NULL (the column's default), so the insert keeps one
/// text and stays prepared (`super::prepared`).
#[derive(Insertable)]
#[diesel(table_name = webhook_events, treat_none_as_default_value = false)]
struct NewEventRow<'a> {
    provider: &'a str,
    dedup_key: &'a str,
    event_type: &'a str,
    object_id: Option<&'a str>,
    body: &'a [u8],
    headers: serde_json::Value,
    auth_result: &'a str,
    actionable: bool,
}

/// Inserts the event and, when it calls for a check, its outbox message; a
/// duplicate only bumps the existing row's delivery count.
pub fn store(conn: &mut PgConnection, d: &Delivery) -> Result<Saved, DbError> {
    conn.transaction(|conn| store_in_tx(conn, d))
}

/// Stores several deliveries in **one** transaction (group commit: one WAL
/// flush for the lot). The common case is a handful of statements for the
/// whole batch ([`store_bulk`]); if anything in it fails, the batch is redone
/// one row at a time, each under its own savepoint, so one bad row fails
/// alone. Rows are written in dedup-key order, so two batches holding the same
/// key wait for each other instead of deadlocking. The outer `Err` means
/// nothing was committed.
pub fn store_batch(
    conn: &mut PgConnection,
    batch: &[Delivery],
) -> Result<Vec<Result<Saved, DbError>>, DbError> {
    if let [single] = batch {
        return Ok(vec![store(conn, single)]);
    }
    match conn.transaction(|conn| store_bulk(conn, batch)) {
        Ok(saved) => return Ok(saved.into_iter().map(Ok).collect()),
        Err(e) if e.is_unavailable() => return Err(e),
        Err(e) => {
            tracing::debug!(error = %crate::telemetry::ErrorChain(&e), "bulk insert failed; storing the batch row by row")
        }
    }
    let keys: Vec<String> = batch.iter().map(stored_key).collect();
    let order = key_order(batch, &keys);
    let mut results: Vec<Option<Result<Saved, DbError>>> = (0..batch.len()).map(|_| None).collect();
    conn.transaction(|conn| {
        for &i in &order {
            results[i] = Some(conn.transaction(|conn| store_keyed(conn, &batch[i], &keys[i])));
        }
        Ok::<_, DbError>(())
    })?;
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(DbError::Task("not stored".to_owned()))))
        .collect())
}

fn key_order(batch: &[Delivery], keys: &[String]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by(|&a, &b| (batch[a].provider, &keys[a]).cmp(&(batch[b].provider, &keys[b])));
    order
}

#[derive(QueryableByName)]
struct KeyedId {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Text)]
    dedup_key: String,
}

/// The whole batch in a handful of statements: a multi-row insert of the
/// inbox rows (duplicates skipped by `ON CONFLICT DO NOTHING`, also within the
/// batch), one update counting the duplicate deliveries, one check request for
/// the new actionable events (`flights::request`), one multi-row insert of
/// the check messages and one update marking the coalesced rows. `unnest`
/// keeps the SQL text the same whatever the batch size, so the inserts are
/// kept prepared (`super::prepared`); the two updates join an array to a
/// table and are planned with their values each time (docs/ARCHITECTURE.md,
/// "Prepared statements"). Any surprise is an `Err`, and the caller
/// redoes the batch row by row.
pub fn store_bulk(conn: &mut PgConnection, batch: &[Delivery]) -> Result<Vec<Saved>, DbError> {
    use diesel::sql_types::{Array, Bool, Bytea, Integer, Jsonb};
    use std::collections::HashMap;

    let keys: Vec<String> = batch.iter().map(stored_key).collect();
    let order = key_order(batch, &keys);
    let sorted: Vec<(&Delivery, &str)> = order
        .iter()
        .map(|&i| (&batch[i], keys[i].as_str()))
        .collect();
    let inserted: Vec<KeyedId> = prepared(
        "INSERT INTO webhook_events (provider, dedup_key, event_type, object_id, body, headers, auth_result, actionable) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::jsonb[], $7::text[], $8::bool[]) \
         ON CONFLICT (provider, dedup_key) DO NOTHING RETURNING id, provider, dedup_key",
        |q| {
            q.bind::<Array<Text>, _>(sorted.iter().map(|(d, _)| d.provider.as_str()).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(sorted.iter().map(|(_, k)| *k).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(sorted.iter().map(|(d, _)| d.event.event_type.as_str()).collect::<Vec<_>>())
                .bind::<Array<Nullable<Text>>, _>(sorted.iter().map(|(d, _)| d.event.object_id.as_deref()).collect::<Vec<_>>())
                .bind::<Array<Bytea>, _>(sorted.iter().map(|(d, _)| d.body.as_slice()).collect::<Vec<_>>())
                .bind::<Array<Jsonb>, _>(sorted.iter().map(|(d, _)| d.headers.clone()).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(sorted.iter().map(|(d, _)| d.auth_result.as_str()).collect::<Vec<_>>())
                .bind::<Array<Bool>, _>(sorted.iter().map(|(d, _)| d.event.check.is_some()).collect::<Vec<_>>())
        },
    )
    .load(conn)?;
    let new_ids: HashMap<(String, String), i64> = inserted
        .into_iter()
        .map(|r| ((r.provider, r.dedup_key), r.id))
        .collect();

    // Which delivery created each new row (the first with its key); the rest are duplicates.
    let mut outcome: Vec<Option<Stored>> = vec![None; batch.len()];
    let mut duplicates: HashMap<(String, String), i32> = HashMap::new();
    let mut claimed = std::collections::HashSet::new();
    for &i in &order {
        let d = &batch[i];
        let key = (d.provider.as_str().to_owned(), keys[i].clone());
        match new_ids.get(&key) {
            Some(&inbox_id) if claimed.insert(inbox_id) => {
                outcome[i] = Some(Stored::New {
                    inbox_id,
                    queued: d.event.check.is_some(),
                });
            }
            _ => *duplicates.entry(key).or_insert(0) += 1,
        }
    }
    if !duplicates.is_empty() {
        let (dup_keys, counts): (Vec<(String, String)>, Vec<i32>) = duplicates.into_iter().unzip();
        let found: Vec<KeyedId> = diesel::sql_query(
            "UPDATE webhook_events w SET delivery_count = w.delivery_count + d.n, last_delivered_at = now() \
             FROM unnest($1::text[], $2::text[], $3::int[]) AS d(provider, dedup_key, n) \
             WHERE w.provider = d.provider AND w.dedup_key = d.dedup_key RETURNING w.id, w.provider, w.dedup_key",
        )
        .bind::<Array<Text>, _>(dup_keys.iter().map(|k| k.0.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(dup_keys.iter().map(|k| k.1.as_str()).collect::<Vec<_>>())
        .bind::<Array<Integer>, _>(counts)
        .load(conn)?;
        let ids: HashMap<(String, String), i64> = found
            .into_iter()
            .map(|r| ((r.provider, r.dedup_key), r.id))
            .collect();
        for &i in &order {
            if outcome[i].is_none() {
                let key = (batch[i].provider.as_str().to_owned(), keys[i].clone());
                let inbox_id = *ids.get(&key).ok_or_else(|| {
                    DbError::Task("a duplicate's row vanished mid-batch".to_owned())
                })?;
                outcome[i] = Some(Stored::Duplicate { inbox_id });
            }
        }
    }

    // The new, actionable events ask for their checks, all in one request.
    let wanting: Vec<(usize, i64)> = outcome
        .iter()
        .enumerate()
        .filter_map(|(i, stored)| match stored {
            Some(Stored::New {
                inbox_id,
                queued: true,
            }) => Some((i, *inbox_id)),
            _ => None,
        })
        .collect();
    let targets: Vec<&crate::providers::webhook::CheckTarget> = wanting
        .iter()
        .filter_map(|&(i, _)| batch[i].event.check.as_ref())
        .collect();
    let answers = flights::request(conn, &targets)?;
    let mut queued: Vec<(usize, NewMessage)> = Vec::new();
    let mut coalesced: Vec<(i64, i64)> = Vec::new();
    let mut was_coalesced = vec![false; batch.len()];
    for (&(i, inbox_id), answer) in wanting.iter().zip(answers) {
        match answer {
            Requested::Queue { ticket } => {
                if let Some(m) = check_message(&batch[i], inbox_id, ticket)? {
                    queued.push((i, m));
                }
            }
            Requested::Coalesced { ticket } => {
                coalesced.push((inbox_id, ticket));
                was_coalesced[i] = true;
            }
        }
    }
    mark_coalesced(conn, &coalesced)?;
    let mut messages: HashMap<usize, PendingMessage> = HashMap::new();
    if !queued.is_empty() {
        #[derive(QueryableByName)]
        struct Written {
            #[diesel(sql_type = BigInt)]
            id: i64,
            #[diesel(sql_type = Text)]
            message_id: String,
            #[diesel(sql_type = Timestamptz)]
            created_at: chrono::DateTime<chrono::Utc>,
        }
        let lease =
            chrono::Utc::now() + chrono::Duration::seconds(i64::from(outbox::WRITER_LEASE_SECS));
        let written: Vec<Written> = prepared(
            "INSERT INTO outbox (exchange, routing_key, message_id, payload, headers, lease_until) \
             SELECT e, r, m, p, h, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[]) AS t(e, r, m, p, h) \
             ON CONFLICT (message_id) DO NOTHING RETURNING id, message_id, created_at",
            |q| {
                q.bind::<Array<Text>, _>(queued.iter().map(|(_, m)| m.exchange.as_str()).collect::<Vec<_>>())
                    .bind::<Array<Text>, _>(queued.iter().map(|(_, m)| m.routing_key.as_str()).collect::<Vec<_>>())
                    .bind::<Array<Text>, _>(queued.iter().map(|(_, m)| m.message_id.as_str()).collect::<Vec<_>>())
                    .bind::<Array<Jsonb>, _>(queued.iter().map(|(_, m)| m.payload.clone()).collect::<Vec<_>>())
                    .bind::<Array<Jsonb>, _>(queued.iter().map(|(_, m)| outbox::headers_for(m)).collect::<Vec<_>>())
                    .bind::<Timestamptz, _>(lease)
            },
        )
        .load(conn)?;
        let by_message: HashMap<String, (i64, chrono::DateTime<chrono::Utc>)> = written
            .into_iter()
            .map(|w| (w.message_id, (w.id, w.created_at)))
            .collect();
        for (i, m) in queued {
            if let Some(&(id, created_at)) = by_message.get(&m.message_id) {
                messages.insert(
                    i,
                    PendingMessage {
                        id,
                        exchange: m.exchange.as_str().to_owned(),
                        headers: outbox::headers_for(&m),
                        routing_key: m.routing_key,
                        message_id: m.message_id,
                        payload: m.payload,
                        created_at,
                    },
                );
            }
        }
    }
    outcome
        .into_iter()
        .enumerate()
        .map(|(i, stored)| {
            let stored = stored
                .ok_or_else(|| DbError::Task("a delivery was left out of the batch".to_owned()))?;
            Ok(Saved {
                stored,
                message: messages.remove(&i),
                coalesced: was_coalesced[i],
            })
        })
        .collect()
}

/// [`store`] without its own transaction, for callers batching several deliveries in one.
pub fn store_in_tx(conn: &mut PgConnection, d: &Delivery) -> Result<Saved, DbError> {
    store_keyed(conn, d, &stored_key(d))
}

fn store_keyed(conn: &mut PgConnection, d: &Delivery, key: &str) -> Result<Saved, DbError> {
    let row = NewEventRow {
        provider: d.provider.as_str(),
        dedup_key: key,
        event_type: &d.event.event_type,
        object_id: d.event.object_id.as_deref(),
        body: &d.body,
        headers: d.headers.clone(),
        auth_result: &d.auth_result,
        actionable: d.event.check.is_some(),
    };
    let inserted: Option<i64> = Prepared::fixed(
        diesel::insert_into(webhook_events::table)
            .values(&row)
            .on_conflict((webhook_events::provider, webhook_events::dedup_key))
            .do_nothing()
            .returning(webhook_events::id),
    )
    .get_result(conn)
    .optional()?;
    let Some(inbox_id) = inserted else {
        // Keys never move once stored, so the row the insert ran into is there.
        let inbox_id: i64 = Prepared::fixed(
            diesel::update(
                webhook_events::table
                    .filter(webhook_events::provider.eq(d.provider.as_str()))
                    .filter(webhook_events::dedup_key.eq(key)),
            )
            .set((
                webhook_events::delivery_count.eq(webhook_events::delivery_count + 1),
                webhook_events::last_delivered_at.eq(diesel::dsl::now),
            ))
            .returning(webhook_events::id),
        )
        .get_result(conn)?;
        return Ok(Saved {
            stored: Stored::Duplicate { inbox_id },
            message: None,
            coalesced: false,
        });
    };
    let Some(target) = &d.event.check else {
        return Ok(Saved {
            stored: Stored::New {
                inbox_id,
                queued: false,
            },
            message: None,
            coalesced: false,
        });
    };
    let (message, coalesced) = match flights::request(conn, &[target])?.first().copied() {
        Some(Requested::Queue { ticket }) => match check_message(d, inbox_id, ticket)? {
            Some(m) => (outbox::insert(conn, &m)?, false),
            None => (None, false),
        },
        Some(Requested::Coalesced { ticket }) => {
            mark_coalesced(conn, &[(inbox_id, ticket)])?;
            (None, true)
        }
        None => return Err(DbError::Task("the check request got no answer".to_owned())),
    };
    Ok(Saved {
        stored: Stored::New {
            inbox_id,
            queued: true,
        },
        message,
        coalesced,
    })
}

/// Records how the reconciler finished with an event, and when it picked it up.
pub fn mark_processed(
    conn: &mut PgConnection,
    inbox_id: i64,
    outcome: &str,
    picked_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), DbError> {
    prepared(
        "UPDATE webhook_events SET processed_at = now(), outcome = $2, \
         picked_at = COALESCE(picked_at, $3) WHERE id = $1",
        |q| {
            q.bind::<BigInt, _>(inbox_id)
                .bind::<Text, _>(outcome)
                .bind::<Nullable<Timestamptz>, _>(picked_at)
        },
    )
    .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_shows_neither_the_body_nor_the_headers() {
        let d = Delivery {
            provider: Provider::Mono,
            event: InboundEvent {
                event_type: "collection_intent_credited".to_owned(),
                routing_suffix: "collection_intent_credited".to_owned(),
                object_id: Some("cint_5dHsMj4uwhhujcVUTuw1OP".to_owned()),
                dedup_key: "k".to_owned(),
                dedup: Dedup::Permanent,
                check: None,
            },
            body: br#"{"payer":{"document_number":"1033711400","email":"ana@example.com"}}"#
                .to_vec(),
            headers: serde_json::json!({"user-agent": "ana@example.com"}),
            auth_result: "mono_signature:secret_1".to_owned(),
        };
        let shown = format!("{d:?}");
        assert!(!shown.contains("1033711400"), "{shown}");
        assert!(!shown.contains("ana@example.com"), "{shown}");
        assert!(shown.contains("body_bytes"), "{shown}");
    }
}
