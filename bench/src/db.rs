//! The benchmark database `pse_bench` (dropped and created per phase) and the
//! few queries the harness needs, through diesel on the blocking pool.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

pub fn admin_url() -> String {
    std::env::var("BENCH_ADMIN_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn db_name() -> String {
    std::env::var("BENCH_DATABASE").unwrap_or_else(|_| "pse_bench".to_owned())
}

/// The admin URL with the database replaced by `name`.
pub fn url_for(admin: &str, name: &str) -> String {
    match admin.rsplit_once('/') {
        Some((base, _)) if base.contains("://") && !base.ends_with('/') => format!("{base}/{name}"),
        _ => format!("{admin}/{name}"),
    }
}

pub fn bench_url() -> String {
    url_for(&admin_url(), &db_name())
}

async fn blocking<T: Send + 'static>(
    url: String,
    f: impl FnOnce(&mut PgConnection) -> Result<T, diesel::result::Error> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&url).map_err(|e| format!("connect: {e}"))?;
        f(&mut conn).map_err(|e| format!("query failed: {e}"))
    })
    .await
    .map_err(|e| format!("database task failed: {e}"))?
}

/// Drops and creates the benchmark database, then applies the product's migrations.
pub async fn recreate() -> Result<String, String> {
    let name = db_name();
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "BENCH_DATABASE={name:?} must be a plain identifier"
        ));
    }
    let n = name.clone();
    blocking(admin_url(), move |c| {
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)")).execute(c)?;
        diesel::sql_query(format!("CREATE DATABASE {n}")).execute(c)?;
        Ok(())
    })
    .await?;
    let url = bench_url();
    let u = url.clone();
    tokio::task::spawn_blocking(move || shared::db::run_migrations(&u))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("migrations: {e}"))?;
    Ok(url)
}

/// Drops the benchmark database (end of run).
pub async fn drop_db() -> Result<(), String> {
    let n = db_name();
    blocking(admin_url(), move |c| {
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)")).execute(c)?;
        Ok(())
    })
    .await
}

/// Runs one or more statements.
pub async fn exec(url: &str, sql: impl Into<String>) -> Result<(), String> {
    let sql = sql.into();
    blocking(url.to_owned(), move |c| c.batch_execute(&sql)).await
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A query returning one bigint column named `n`.
pub async fn scalar(url: &str, sql: impl Into<String>) -> Result<i64, String> {
    let sql = sql.into();
    blocking(url.to_owned(), move |c| {
        diesel::sql_query(sql).get_result::<N>(c).map(|r| r.n)
    })
    .await
}

#[derive(QueryableByName)]
struct TextInt {
    #[diesel(sql_type = Text)]
    t: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A query returning rows of (`t` text, `n` bigint).
pub async fn text_int_rows(
    url: &str,
    sql: impl Into<String>,
) -> Result<Vec<(String, i64)>, String> {
    let sql = sql.into();
    blocking(url.to_owned(), move |c| {
        diesel::sql_query(sql)
            .load::<TextInt>(c)
            .map(|rows| rows.into_iter().map(|r| (r.t, r.n)).collect())
    })
    .await
}

/// Inserts `ids` (Mono intent ids) as pending orders of `amount_minor` COP,
/// each with its creation history row, the way `POST /v1/orders` leaves them.
pub async fn insert_orders(url: &str, ids: Vec<String>, amount_minor: i64) -> Result<(), String> {
    blocking(url.to_owned(), move |c| {
        c.transaction(|c| {
            for chunk in ids.chunks(10_000) {
                diesel::sql_query(
                    "WITH o AS (INSERT INTO orders (reference, provider, provider_payment_id, amount_minor, currency, description, request_hash) \
                     SELECT 'BENCH-' || pid, 'mono', pid, $2, 'COP', 'benchmark order', md5(pid) FROM unnest($1::text[]) AS t(pid) \
                     RETURNING id, created_at) \
                     INSERT INTO order_events (order_id, from_state, to_state, cause, at, order_created_at) \
                     SELECT id, NULL, 'pending', 'created', created_at, created_at FROM o",
                )
                .bind::<diesel::sql_types::Array<Text>, _>(chunk)
                .bind::<BigInt, _>(amount_minor)
                .execute(c)?;
            }
            Ok(())
        })
    })
    .await
}

/// Inserts one inbox row per intent id (as webhook-api would have stored a
/// credited delivery) and returns (intent id, inbox id).
pub async fn insert_inbox_rows(url: &str, ids: Vec<String>) -> Result<Vec<(String, i64)>, String> {
    blocking(url.to_owned(), move |c| {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(10_000) {
            let rows: Vec<TextInt> = diesel::sql_query(
                "INSERT INTO webhook_events (provider, dedup_key, event_type, object_id, body, headers, auth_result, actionable) \
                 SELECT 'mono', 'collection_intent_credited:' || pid || ':account_credited:bench', 'collection_intent_credited', pid, \
                        convert_to('{\"event\":{\"type\":\"collection_intent_credited\",\"data\":{\"id\":\"' || pid || '\"}}}', 'UTF8'), \
                        '{\"content-type\":\"application/json\"}'::jsonb, 'mono_signature:0', true \
                 FROM unnest($1::text[]) AS t(pid) RETURNING object_id AS t, id AS n",
            )
            .bind::<diesel::sql_types::Array<Text>, _>(chunk)
            .load(c)?;
            out.extend(rows.into_iter().map(|r| (r.t, r.n)));
        }
        Ok(out)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        assert_eq!(
            url_for("postgres://postgres@127.0.0.1:5432/postgres", "pse_bench"),
            "postgres://postgres@127.0.0.1:5432/pse_bench"
        );
        assert_eq!(
            url_for("postgres://postgres@127.0.0.1:5432", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
    }
}
