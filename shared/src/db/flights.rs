//! Single-flight provider checks: per (provider, object_type, object_id), at
//! most one check running and at most one queued behind it, however many
//! webhooks, sweeps and replays ask for one, across every webhook-api and
//! reconciler process. A burst of deliveries costs at most two provider calls:
//! the one already running (which may have read the provider before the
//! burst) and one more after it.
//!
//! Why a table (`check_flights`) and not the broker or a dedup key: the
//! decision "is a check already queued?" has to be made in the transaction
//! that stores the request (the inbox row, the sweep, the replay), so it is
//! exactly as durable as the request; and the lease has to outlive a crashed
//! process, which only a timestamp in the database does for every process.
//!
//! The life of one object's checks:
//! - **Request** ([`request`], in the requester's transaction): nothing queued
//!   → take a ticket, the caller writes the check message carrying it;
//!   already queued → coalesce: no message, the queued check re-queries the
//!   provider after this request anyway (it has not been picked yet, and the
//!   pick waits for the requester's commit on the row lock).
//! - **Pick** ([`pick`], or [`pick_many`] for the checks starting together;
//!   one statement, before the provider call): a live
//!   lease held by someone else → [`Picked::Busy`], the reconciler puts the
//!   message back on a delay queue without spending a retry attempt;
//!   otherwise take the lease and, when the message is the queued check (its
//!   ticket matches), clear the queued slot, so requests arriving during the
//!   call queue exactly one more check.
//! - **Finish** ([`finish`], in the transaction that stores the outcome): drop
//!   the lease. A retry is the queued check again (same ticket) unless another
//!   check was queued meanwhile, in which case the retry is superseded and
//!   dropped: the queued one re-queries anyway.
//! - **Dead letters**: the archiver gives up the queued slot of a check that
//!   died before it was picked ([`release_queued`]); replay goes through
//!   [`request`] like every other check.
//! - **Safety nets**: a queued slot is trusted only until `queued_until` (a
//!   lost message cannot block the object forever: the next request queues a
//!   new check) and a lease only until `running_until` (a crashed process's
//!   check ends by itself).
//!
//! Messages with no ticket (published before this table existed, or by
//! tests) still respect the lease; they just never hold the queued slot.
//!
//! Lock order, to stay deadlock-free with the other writers: an order row,
//! then inbox rows, then flight rows; several flight rows in one transaction
//! are always taken in key order (one sorted statement).

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text};
use uuid::Uuid;

use super::DbError;
use super::prepared::prepared;
use crate::providers::webhook::CheckTarget;

/// How long a freshly queued check is trusted to still be on its way (outbox,
/// broker, consumer backlog, a few deferrals behind a running check) before a
/// new request may queue another. Retries and deferrals extend it by their
/// own delay. Too short costs a redundant provider call; too long only delays
/// the recovery from a lost message, which the dead-letter archiver already
/// handles for every message the broker gives up on.
pub const QUEUE_GRACE: Duration = Duration::from_secs(15 * 60);

/// The lease a check takes for a provider timeout: up to four calls (a Tpaga
/// token, its refresh after a 401 and the two GETs) plus 30 s for the database.
pub fn lease_for(provider_timeout: Duration) -> Duration {
    provider_timeout
        .saturating_mul(4)
        .saturating_add(Duration::from_secs(30))
}

/// What [`request`] decided for one requested check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// Nothing was queued: the caller writes the check message carrying `ticket`.
    Queue { ticket: i64 },
    /// A check is already queued (`ticket`): no message; it covers this request.
    Coalesced { ticket: i64 },
}

impl Requested {
    pub fn ticket(self) -> i64 {
        match self {
            Requested::Queue { ticket } | Requested::Coalesced { ticket } => ticket,
        }
    }

    pub fn is_coalesced(self) -> bool {
        matches!(self, Requested::Coalesced { .. })
    }
}

type Key = (String, String, String);

fn key_of(t: &CheckTarget) -> Key {
    (
        t.provider.as_str().to_owned(),
        t.object_type.clone(),
        t.object_id.clone(),
    )
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[derive(QueryableByName)]
struct KeyTicket {
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Text)]
    object_type: String,
    #[diesel(sql_type = Text)]
    object_id: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    ticket: Option<i64>,
}

/// Asks for a check of each target, in the caller's transaction (the caller
/// writes the messages for the [`Requested::Queue`] answers before it commits).
/// One answer per target, in order; a target repeated in the slice is queued
/// at most once. The flight rows are locked in key order by one statement, so
/// two batches never deadlock on them, and stay locked until the commit: a
/// concurrent pick of the queued check waits for it, so a coalesced request is
/// never left behind by a check that already started.
pub fn request(
    conn: &mut PgConnection,
    targets: &[&CheckTarget],
) -> Result<Vec<Requested>, DbError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let mut wanted: BTreeMap<Key, i64> = BTreeMap::new();
    for t in targets {
        *wanted.entry(key_of(t)).or_insert(0) += 1;
    }
    let (providers, types, ids) = columns(wanted.keys());
    // Rows whose WHERE is false are not returned but are locked all the same
    // (ON CONFLICT DO UPDATE locks every conflicting row).
    let queued: Vec<KeyTicket> = prepared(
        "INSERT INTO check_flights AS f (provider, object_type, object_id, queued_ticket, queued_at, queued_until, requests) \
         SELECT p, t, o, nextval('check_flight_tickets'), now(), now() + make_interval(secs => $4), 1 \
         FROM unnest($1::text[], $2::text[], $3::text[]) AS r(p, t, o) ORDER BY p, t, o \
         ON CONFLICT (provider, object_type, object_id) DO UPDATE SET \
             queued_ticket = nextval('check_flight_tickets'), queued_at = now(), \
             queued_until = EXCLUDED.queued_until, requests = f.requests + 1, updated_at = now() \
         WHERE f.queued_ticket IS NULL OR f.queued_until < now() \
         RETURNING f.provider, f.object_type, f.object_id, f.queued_ticket AS ticket",
        |q| {
            q.bind::<Array<Text>, _>(providers)
                .bind::<Array<Text>, _>(types)
                .bind::<Array<Text>, _>(ids)
                .bind::<Double, _>(secs(QUEUE_GRACE))
        },
    )
    .load(conn)?;
    let mut fresh: BTreeMap<Key, i64> = BTreeMap::new();
    for row in queued {
        let ticket = row
            .ticket
            .ok_or_else(|| DbError::Task("a queued check has no ticket".to_owned()))?;
        fresh.insert((row.provider, row.object_type, row.object_id), ticket);
    }
    // Everything else coalesced: count it, and learn the ticket it joined.
    let extra: Vec<(&Key, i64)> = wanted
        .iter()
        .map(|(k, n)| (k, n - i64::from(fresh.contains_key(k))))
        .filter(|(_, n)| *n > 0)
        .collect();
    let mut joined: BTreeMap<Key, i64> = BTreeMap::new();
    if !extra.is_empty() {
        let (providers, types, ids) = columns(extra.iter().map(|(k, _)| *k));
        let counts: Vec<i64> = extra.iter().map(|(_, n)| *n).collect();
        let rows: Vec<KeyTicket> = diesel::sql_query(
            "UPDATE check_flights f SET coalesced = f.coalesced + r.n, requests = f.requests + r.n \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS r(p, t, o, n) \
             WHERE f.provider = r.p AND f.object_type = r.t AND f.object_id = r.o \
             RETURNING f.provider, f.object_type, f.object_id, f.queued_ticket AS ticket",
        )
        .bind::<Array<Text>, _>(providers)
        .bind::<Array<Text>, _>(types)
        .bind::<Array<Text>, _>(ids)
        .bind::<Array<BigInt>, _>(counts)
        .load(conn)?;
        for row in rows {
            let ticket = row.ticket.ok_or_else(|| {
                DbError::Task("a coalesced request found no queued check".to_owned())
            })?;
            joined.insert((row.provider, row.object_type, row.object_id), ticket);
        }
    }
    let mut first = std::collections::HashSet::new();
    targets
        .iter()
        .map(|t| {
            let key = key_of(t);
            match fresh.get(&key) {
                Some(&ticket) if first.insert(key.clone()) => Ok(Requested::Queue { ticket }),
                _ => joined
                    .get(&key)
                    .or_else(|| fresh.get(&key))
                    .map(|&ticket| Requested::Coalesced { ticket })
                    .ok_or_else(|| DbError::Task("a requested check was lost".to_owned())),
            }
        })
        .collect()
}

fn columns<'a>(keys: impl Iterator<Item = &'a Key>) -> (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (p, t, o) in keys {
        out.0.push(p.as_str());
        out.1.push(t.as_str());
        out.2.push(o.as_str());
    }
    out
}

/// What [`pick`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picked {
    /// The caller holds the lease (`token`) and may call the provider.
    Run { token: Uuid },
    /// Another process holds a live lease on the object: do not call the provider.
    Busy,
}

/// Takes the lease on the object for `lease`, in one statement that commits
/// before the provider is called. `ticket` is the message's: when it is the
/// queued check, the queued slot is cleared, so a request arriving from now on
/// queues one more check (this one may have read the provider too early).
pub fn pick(
    conn: &mut PgConnection,
    target: &CheckTarget,
    ticket: Option<i64>,
    lease: Duration,
) -> Result<Picked, DbError> {
    #[derive(QueryableByName)]
    struct Token {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        running_token: Uuid,
    }
    let token = Uuid::new_v4();
    let taken: Option<Token> = prepared(
        "INSERT INTO check_flights AS f (provider, object_type, object_id, running_token, running_until) \
         VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) \
         ON CONFLICT (provider, object_type, object_id) DO UPDATE SET \
             running_token = EXCLUDED.running_token, running_until = EXCLUDED.running_until, \
             queued_ticket = CASE WHEN f.queued_ticket = $6 THEN NULL ELSE f.queued_ticket END, \
             queued_at = CASE WHEN f.queued_ticket = $6 THEN NULL ELSE f.queued_at END, \
             queued_until = CASE WHEN f.queued_ticket = $6 THEN NULL ELSE f.queued_until END, \
             updated_at = now() \
         WHERE f.running_until IS NULL OR f.running_until < now() \
         RETURNING f.running_token",
        |q| {
            q.bind::<Text, _>(target.provider.as_str())
                .bind::<Text, _>(&target.object_type)
                .bind::<Text, _>(&target.object_id)
                .bind::<diesel::sql_types::Uuid, _>(token)
                .bind::<Double, _>(secs(lease))
                .bind::<Nullable<BigInt>, _>(ticket)
        },
    )
    .get_result(conn)
    .optional()?;
    Ok(match taken {
        Some(t) => Picked::Run {
            token: t.running_token,
        },
        None => Picked::Busy,
    })
}

/// [`pick`] for several checks at once (the reconciler's pickers batch the
/// checks that start together): one statement, rows taken in key order, one
/// answer per request in order. An object asked for twice in one call is
/// taken by the first request only; the second finds it busy, exactly as it
/// would one statement later.
pub fn pick_many(
    conn: &mut PgConnection,
    asks: &[(CheckTarget, Option<i64>)],
    lease: Duration,
) -> Result<Vec<Picked>, DbError> {
    if let [(target, ticket)] = asks {
        // One check: the single statement, its plan kept on the connection.
        return Ok(vec![pick(conn, target, *ticket, lease)?]);
    }
    let mut firsts: BTreeMap<Key, (Uuid, Option<i64>)> = BTreeMap::new();
    let tokens: Vec<Option<Uuid>> = asks
        .iter()
        .map(|(target, ticket)| match firsts.entry(key_of(target)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                let token = Uuid::new_v4();
                v.insert((token, *ticket));
                Some(token)
            }
            std::collections::btree_map::Entry::Occupied(_) => None,
        })
        .collect();
    if firsts.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Token {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        running_token: Uuid,
    }
    let (providers, types, ids) = columns(firsts.keys());
    let wanted: Vec<Uuid> = firsts.values().map(|(t, _)| *t).collect();
    let tickets: Vec<Option<i64>> = firsts.values().map(|(_, t)| *t).collect();
    // As in `pick`, but the ticket of each row is looked up by the token it
    // proposes (ON CONFLICT sees only the proposed row's own columns).
    let taken: Vec<Token> = prepared(
        "WITH r AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::bigint[]) \
                    AS r(p, t, o, tok, ticket)) \
         INSERT INTO check_flights AS f (provider, object_type, object_id, running_token, running_until) \
         SELECT p, t, o, tok, now() + make_interval(secs => $6) FROM r ORDER BY p, t, o \
         ON CONFLICT (provider, object_type, object_id) DO UPDATE SET \
             running_token = EXCLUDED.running_token, running_until = EXCLUDED.running_until, \
             (queued_ticket, queued_at, queued_until) = ( \
                 SELECT CASE WHEN f.queued_ticket = r.ticket THEN NULL ELSE f.queued_ticket END, \
                        CASE WHEN f.queued_ticket = r.ticket THEN NULL ELSE f.queued_at END, \
                        CASE WHEN f.queued_ticket = r.ticket THEN NULL ELSE f.queued_until END \
                 FROM r WHERE r.tok = EXCLUDED.running_token), \
             updated_at = now() \
         WHERE f.running_until IS NULL OR f.running_until < now() \
         RETURNING f.running_token",
        |q| {
            q.bind::<Array<Text>, _>(providers)
                .bind::<Array<Text>, _>(types)
                .bind::<Array<Text>, _>(ids)
                .bind::<Array<diesel::sql_types::Uuid>, _>(wanted)
                .bind::<Array<Nullable<BigInt>>, _>(tickets)
                .bind::<Double, _>(secs(lease))
        },
    )
    .load(conn)?;
    let taken: std::collections::HashSet<Uuid> =
        taken.into_iter().map(|t| t.running_token).collect();
    Ok(tokens
        .into_iter()
        .map(|token| match token {
            Some(token) if taken.contains(&token) => Picked::Run { token },
            _ => Picked::Busy,
        })
        .collect())
}

/// How a picked check ended, for [`finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Done, or dead-lettered: nothing more is queued by this check.
    Released,
    /// The message goes to a delay queue: it is the queued check again (with
    /// its `ticket`), trusted for `hold` (its delay plus [`QUEUE_GRACE`]).
    Retry { ticket: Option<i64>, hold: Duration },
}

/// What [`finish`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    Released,
    /// Forward the retry: it holds the queued slot (when it has a ticket).
    RetryQueued,
    /// Another check was queued while this one ran: drop the retry, the
    /// queued check re-queries the provider anyway.
    RetrySuperseded {
        by: i64,
    },
}

/// Ends the check picked with `token`, in the transaction that stores its
/// outcome. A lease that expired and was taken over is left to its new owner.
///
/// One statement (it runs for every event): it locks the row, reads what was
/// queued before this check ended, decides whether a retry takes the queued
/// slot, and updates the row; [`Finished`] is then derived from the same old
/// values by the same rule.
pub fn finish(
    conn: &mut PgConnection,
    target: &CheckTarget,
    token: Uuid,
    how: Finish,
) -> Result<Finished, DbError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<BigInt>)]
        queued_ticket: Option<i64>,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        queued_live: bool,
    }
    let (retry, mine, hold) = match how {
        Finish::Released => (false, None, Duration::ZERO),
        Finish::Retry { ticket, hold } => (true, ticket, hold),
    };
    // `requeue`: a retry with a ticket takes the queued slot again unless a
    // live check with another ticket was queued meanwhile (it supersedes this one).
    let row: Option<Row> = prepared(
        "WITH old AS ( \
             SELECT provider, object_type, object_id, queued_ticket, \
                    COALESCE(queued_until >= now(), false) AS queued_live \
             FROM check_flights WHERE provider = $1 AND object_type = $2 AND object_id = $3 FOR UPDATE), \
         d AS ( \
             SELECT old.*, ($5 AND $6::bigint IS NOT NULL AND NOT (old.queued_live \
                    AND old.queued_ticket IS NOT NULL AND old.queued_ticket <> $6)) AS requeue \
             FROM old), \
         changed AS ( \
             UPDATE check_flights f SET \
                 running_token = CASE WHEN f.running_token = $4 THEN NULL ELSE f.running_token END, \
                 running_until = CASE WHEN f.running_token = $4 THEN NULL ELSE f.running_until END, \
                 queued_ticket = CASE WHEN d.requeue THEN $6 ELSE f.queued_ticket END, \
                 queued_at = CASE WHEN d.requeue THEN now() ELSE f.queued_at END, \
                 queued_until = CASE WHEN d.requeue THEN now() + make_interval(secs => $7) ELSE f.queued_until END, \
                 checks = f.checks + 1, last_finished_at = now(), updated_at = now() \
             FROM d WHERE f.provider = d.provider AND f.object_type = d.object_type AND f.object_id = d.object_id \
             RETURNING 1) \
         SELECT queued_ticket, queued_live FROM d",
        |q| {
            q.bind::<Text, _>(target.provider.as_str())
                .bind::<Text, _>(&target.object_type)
                .bind::<Text, _>(&target.object_id)
                .bind::<diesel::sql_types::Uuid, _>(token)
                .bind::<diesel::sql_types::Bool, _>(retry)
                .bind::<Nullable<BigInt>, _>(mine)
                .bind::<Double, _>(secs(hold))
        },
    )
    .get_result(conn)
    .optional()?;
    let queued_behind = row
        .as_ref()
        .filter(|r| r.queued_live)
        .and_then(|r| r.queued_ticket);
    Ok(match how {
        Finish::Released => Finished::Released,
        Finish::Retry { ticket, .. } => match (queued_behind, ticket) {
            (Some(by), mine) if mine != Some(by) => Finished::RetrySuperseded { by },
            _ => Finished::RetryQueued,
        },
    })
}

/// Gives up the queued slot held by `ticket` (its message was dead-lettered
/// before a reconciler picked it), so the next request queues a new check.
/// `false` when the slot is no longer this ticket's.
pub fn release_queued(
    conn: &mut PgConnection,
    target: &CheckTarget,
    ticket: i64,
) -> Result<bool, DbError> {
    // Rare (a dead letter), and the count matters: diesel's plain path.
    let n = diesel::sql_query(
        "UPDATE check_flights SET queued_ticket = NULL, queued_at = NULL, queued_until = NULL, updated_at = now() \
         WHERE provider = $1 AND object_type = $2 AND object_id = $3 AND queued_ticket = $4",
    )
    .bind::<Text, _>(target.provider.as_str())
    .bind::<Text, _>(&target.object_type)
    .bind::<Text, _>(&target.object_id)
    .bind::<BigInt, _>(ticket)
    .execute(conn)?;
    Ok(n > 0)
}

/// Deletes up to `limit` rows with nothing queued or running, untouched for
/// `idle`: their counters are only kept for operators, and a later request
/// simply starts a new row. Returns how many went.
pub fn prune_idle(conn: &mut PgConnection, idle: Duration, limit: i64) -> Result<usize, DbError> {
    Ok(diesel::sql_query(
        "DELETE FROM check_flights WHERE (provider, object_type, object_id) IN ( \
             SELECT provider, object_type, object_id FROM check_flights \
             WHERE queued_ticket IS NULL AND running_token IS NULL \
               AND updated_at < now() - make_interval(secs => $1) \
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
    )
    .bind::<Double, _>(secs(idle))
    .bind::<BigInt, _>(limit)
    .execute(conn)?)
}
