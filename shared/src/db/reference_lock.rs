//! The one lock that serialises everything that takes an order reference:
//! `POST /v1/orders` (`orders::create`) and `POST /v1/payments`
//! (`payments::begin` / `payments::complete`). Without it both can see the
//! reference free and both go on; the payment then finds the order taken only
//! after the provider created its payment (docs/ARCHITECTURE.md, "Payment attempts").

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::DbError;

/// Seed of `hashtextextended`, fixed so every process maps a reference to the
/// same lock key; distinct from the migration lock's constant in spirit
/// (a 64-bit collision with it would only delay one request behind a migration).
const REFERENCE_LOCK_SEED: i64 = 0x5053_455f_5245_4652; // "PSE_REFR"

/// Takes the transaction-scoped advisory lock on `reference`, waiting for a
/// holder to commit or roll back. Must run inside a transaction: the lock is
/// released when it ends, never by hand.
pub(crate) fn lock(conn: &mut PgConnection, reference: &str) -> Result<(), DbError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind::<Text, _>(reference)
        .bind::<BigInt, _>(REFERENCE_LOCK_SEED)
        .execute(conn)?;
    Ok(())
}
