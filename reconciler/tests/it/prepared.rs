//! The statements a check runs are kept prepared (`shared::db::prepared`), so
//! PostgreSQL plans each once per connection and then reuses a generic plan.
//! A generic plan is made without the parameters' values and, on a database
//! that was never analysed (a fresh deployment, or a server with autovacuum
//! off), without statistics either; one that scanned a whole table would then
//! be reused for as long as the connection lives, however large the table
//! grows. This proves every one of them finds its rows through an index.

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};

use shared::queue::message::Cause;

use crate::harness::*;

#[derive(QueryableByName)]
struct Statement {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = Integer)]
    params: i32,
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[tokio::test]
async fn every_statement_a_check_keeps_prepared_finds_its_rows_through_an_index() {
    // One connection, so every statement of the check is prepared on the session inspected below.
    let stack = stack_with(Options {
        extra: &[("DATABASE_POOL_SIZE", "1")],
        ..Options::default()
    })
    .await;
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &id, "account_credited").await;
    // The check a webhook asks for, so the inbox row's outcome is written too.
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let inbox_id = diesel::sql_query(
        "INSERT INTO webhook_events (provider, dedup_key, event_type, object_id, body, headers, auth_result, actionable) \
         VALUES ('mono', 'prepared-test', 'collection_intent_credited', $1, '\\x7b7d', '{}', 'verified', true) \
         RETURNING id",
    )
    .bind::<Text, _>(&id)
    .get_result::<Id>(&mut stack.db.connect())
    .unwrap()
    .id;
    let mut message = check_message("mono", "collection_intent", &id);
    message.cause = Cause::Webhook { inbox_id };
    let body = serde_json::to_vec(&message).unwrap();
    let (_, done) = reconciler::handle::process(stack.ctx(), &body).await;
    assert!(
        matches!(done, reconciler::handle::Disposition::Done { ref outcome } if outcome == "moved:pending->paid"),
        "{done:?}"
    );
    assert_eq!(stack.find(&reference).state, "paid");

    // An order without exceptions (`has_exceptions` false) is announced
    // without reading them: one round trip fewer per check.
    let read_exceptions = stack
        .ctx()
        .db
        .run(|conn| {
            let statements: Vec<Statement> = diesel::sql_query(
                "SELECT name, statement, 0 AS params FROM pg_prepared_statements \
                 WHERE statement LIKE '%FROM \"reconciliation_exceptions\"%'",
            )
            .load(conn)?;
            Ok(statements.len())
        })
        .await
        .unwrap();
    assert_eq!(
        read_exceptions, 0,
        "the check read the exceptions of an order that has none"
    );
    // The same single-order read, for an order that has some (the order API,
    // a check raising one), joins the statements inspected below.
    let flagged = reference.clone();
    stack
        .ctx()
        .db
        .run(move |conn| {
            diesel::sql_query("UPDATE orders SET has_exceptions = true WHERE reference = $1")
                .bind::<Text, _>(&flagged)
                .execute(conn)?;
            shared::db::orders::find_by_reference(conn, &flagged)
        })
        .await
        .unwrap()
        .expect("the order");

    // The check took its lease on the soft-state pool (`Db::soft_state`),
    // which this test cannot inspect; the same two lease statements, a lone
    // pick and a batch, are prepared here on the inspected connection.
    let lone = check_message("mono", "collection_intent", "prepared-lone").target;
    let pair = ["prepared-a", "prepared-b"].map(|object| {
        (
            check_message("mono", "collection_intent", object).target,
            None,
        )
    });
    stack
        .ctx()
        .db
        .run(move |conn| {
            let lease = std::time::Duration::from_secs(30);
            shared::db::flights::pick(conn, &lone, None, lease)?;
            shared::db::flights::pick_many(conn, &pair, lease)?;
            Ok(())
        })
        .await
        .unwrap();

    let plans = stack
        .ctx()
        .db
        .run(|conn| {
            let statements: Vec<Statement> = diesel::sql_query(
                "SELECT name, statement, cardinality(parameter_types) AS params \
                 FROM pg_prepared_statements ORDER BY name",
            )
            .load(conn)?;
            diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(conn)?;
            let mut plans = Vec::new();
            for s in statements {
                let nulls = vec!["NULL"; usize::try_from(s.params).unwrap_or(0)].join(", ");
                let args = if nulls.is_empty() {
                    String::new()
                } else {
                    format!("({nulls})")
                };
                let plan: Vec<PlanLine> =
                    diesel::sql_query(format!("EXPLAIN EXECUTE {}{args}", s.name)).load(conn)?;
                plans.push((
                    s.statement,
                    plan.into_iter()
                        .map(|l| l.line)
                        .collect::<Vec<_>>()
                        .join("\n"),
                ));
            }
            diesel::sql_query("RESET plan_cache_mode").execute(conn)?;
            Ok(plans)
        })
        .await
        .unwrap();

    // What a check runs, each kept prepared (a statement missing here is parsed
    // and planned on every event again).
    for expected in [
        "INSERT INTO check_flights",
        // Several checks' leases in one statement (`reconciler/src/pick.rs`).
        "WITH r AS",
        "WITH old AS",
        "UPDATE \"orders\" SET",
        // One statement for the whole batch's calls (`commit::Later`).
        "INSERT INTO provider_checks",
        "INSERT INTO \"order_events\"",
        "INSERT INTO \"outbox\"",
        "UPDATE webhook_events SET processed_at",
        "FROM \"order_events\" WHERE",
        "FROM \"reconciliation_exceptions\" WHERE",
    ] {
        assert!(
            plans.iter().any(|(sql, _)| sql.contains(expected)),
            "{expected:?} is not kept prepared; prepared: {:#?}",
            plans.iter().map(|(s, _)| s).collect::<Vec<_>>()
        );
    }

    for (sql, plan) in &plans {
        assert!(
            !plan.contains("Seq Scan"),
            "the generic plan of a prepared statement scans a table:\n{sql}\n{plan}"
        );
    }
}
