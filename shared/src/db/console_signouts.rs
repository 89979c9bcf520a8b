//! Finance console sessions ended by **Sign out** before their expiry
//! (SECURITY.md, "Finance console"): the owner of `console_signouts`.
//!
//! A session cookie is a signed token that carries its own expiry, so signing
//! out in one browser cannot reach a copy of the cookie elsewhere. Its session
//! id is written here until the token would have expired anyway; every
//! instance refuses a session whose id is here. The table holds at most the
//! sign-outs of one session lifetime (8 hours): each sign-out deletes the rows
//! whose session has expired since.

use chrono::{DateTime, Utc};
use diesel::PgConnection;
use diesel::RunQueryDsl as _;
use diesel::sql_types::{Bool, Text, Timestamptz};

use super::DbError;
use super::prepared::prepared;

/// Ends session `sid` (valid until `expires_at`) for every instance. Idempotent:
/// signing out twice records it once.
pub fn record(
    conn: &mut PgConnection,
    sid: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    prepared(
        "WITH expired AS (DELETE FROM console_signouts WHERE expires_at < now()) \
         INSERT INTO console_signouts (sid, expires_at) VALUES ($1, $2) ON CONFLICT (sid) DO NOTHING",
        |q| q.bind::<Text, _>(sid).bind::<Timestamptz, _>(expires_at),
    )
    .execute(conn)?;
    Ok(())
}

/// Whether session `sid` was signed out.
pub fn is_signed_out(conn: &mut PgConnection, sid: &str) -> Result<bool, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Bool)]
        signed_out: bool,
    }
    let row: Row = prepared(
        "SELECT EXISTS (SELECT 1 FROM console_signouts WHERE sid = $1) AS signed_out",
        |q| q.bind::<Text, _>(sid),
    )
    .get_result(conn)?;
    Ok(row.signed_out)
}
