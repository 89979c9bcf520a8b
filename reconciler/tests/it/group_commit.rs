//! Group commit (`reconciler::commit`): several checks' outcomes in one
//! transaction (a savepoint each only when one of them fails), answered only
//! after the commit.

use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use reconciler::commit::Committer;
use shared::db::DbError;
use shared::metrics::{Histogram, HistogramOpts};
use shared::testing::TestDb;

#[derive(diesel::QueryableByName)]
struct Xid {
    #[diesel(sql_type = BigInt)]
    xid: i64,
}

/// A histogram for the batch sizes, read by the test that cares.
fn sizes() -> Histogram {
    Histogram::with_opts(HistogramOpts::new("commit_batch", "test")).unwrap()
}

fn scratch() -> TestDb {
    let db = TestDb::create();
    diesel::sql_query("CREATE TABLE scratch (i int PRIMARY KEY)")
        .execute(&mut db.connect())
        .unwrap();
    db
}

fn stored(db: &TestDb) -> Vec<i64> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        i: i64,
    }
    diesel::sql_query("SELECT i::bigint AS i FROM scratch ORDER BY i")
        .load::<Row>(&mut db.connect())
        .unwrap()
        .into_iter()
        .map(|r| r.i)
        .collect()
}

/// Keeps the only writer busy for a moment, so what is submitted meanwhile
/// queues up and goes in one batch.
fn hold_the_writer(commits: &Committer) -> tokio::task::JoinHandle<Result<(), DbError>> {
    let c = commits.clone();
    tokio::spawn(async move {
        c.run(String::new(), |conn, _later| {
            diesel::sql_query("SELECT pg_sleep(0.5)").execute(conn)?;
            Ok(())
        })
        .await
    })
}

/// Inserts `i` and answers the transaction id; `poison` then makes it fail.
fn submit(
    commits: &Committer,
    i: i64,
    poison: Option<&'static str>,
) -> tokio::task::JoinHandle<Result<i64, DbError>> {
    let c = commits.clone();
    tokio::spawn(async move {
        c.run(format!("k{i}"), move |conn, _later| {
            diesel::sql_query(format!("INSERT INTO scratch VALUES ({i})")).execute(conn)?;
            if let Some(sql) = poison {
                diesel::sql_query(sql).execute(conn)?;
            }
            Ok(diesel::sql_query("SELECT txid_current() AS xid")
                .get_result::<Xid>(conn)?
                .xid)
        })
        .await
    })
}

#[tokio::test]
async fn one_failing_event_in_a_group_does_not_fail_the_others() {
    let db = scratch();
    let batches = sizes();
    let commits = Committer::start(db.db(), 1, 16, 64, batches.clone());
    let held = hold_the_writer(&commits);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let tasks: Vec<_> = (0..5)
        .map(|i| submit(&commits, i, (i == 2).then_some("SELECT 1/0")))
        .collect();
    held.await.unwrap().unwrap();
    let mut xids = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(xid) => xids.push(xid),
            Err(e) => assert_eq!(i, 2, "only the poisoned event fails: {e:?}"),
        }
    }
    assert_eq!(xids.len(), 4);
    assert!(
        xids.windows(2).all(|w| w[0] == w[1]),
        "one transaction for the group: {xids:?}"
    );
    // The failed event's own insert was rolled back with its savepoint; the others committed.
    assert_eq!(stored(&db), vec![0, 1, 3, 4]);
    // `reconciler_batch_size{stage="commit"}`: the holder alone, then the five
    // together (counted once, though they ran twice).
    assert_eq!(batches.get_sample_count(), 2);
    assert_eq!(batches.get_sample_sum(), 6.0);
}

/// A crash before the group's commit (here: its connection dies mid-batch)
/// commits nothing and answers every event with a retryable error, so each
/// message is retried; the dead connection is discarded, not pooled again.
#[tokio::test]
async fn a_group_that_cannot_commit_answers_every_event_with_an_error_and_commits_nothing() {
    let db = scratch();
    let commits = Committer::start(db.db(), 1, 16, 64, sizes());
    let held = hold_the_writer(&commits);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let kill = (i == 4).then_some("SELECT pg_terminate_backend(pg_backend_pid())");
            submit(&commits, i, kill)
        })
        .collect();
    held.await.unwrap().unwrap();
    for t in tasks {
        let e = t
            .await
            .unwrap()
            .expect_err("nothing of the group committed");
        assert!(e.is_unavailable(), "retryable: {e:?}");
    }
    assert!(stored(&db).is_empty());
    // The next work gets a live connection and commits.
    submit(&commits, 7, None).await.unwrap().unwrap();
    assert_eq!(stored(&db), vec![7]);
}

#[tokio::test]
async fn an_answer_comes_only_after_the_commit() {
    let db = scratch();
    let commits = Committer::start(db.db(), 2, 16, 64, sizes());
    let c = commits.clone();
    let url = db.url.clone();
    let seen_inside = c
        .run("k".to_owned(), move |conn, _later| {
            diesel::sql_query("INSERT INTO scratch VALUES (1)").execute(conn)?;
            // Another session does not see the row before the commit...
            let mut other = <diesel::PgConnection as diesel::Connection>::establish(&url)
                .map_err(|e| DbError::Task(e.to_string()))?;
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            let n = diesel::sql_query("SELECT count(*) AS n FROM scratch")
                .get_result::<N>(&mut other)?
                .n;
            Ok(n)
        })
        .await
        .unwrap();
    assert_eq!(seen_inside, 0);
    // ...and does by the time the answer arrives.
    assert_eq!(stored(&db), vec![1]);
}

/// The writes a check defers to the end of the batch (`commit::Later`) belong
/// to that check: when a sibling fails, the whole attempt's gathered writes go
/// with its rollback, and on the savepoint run each check writes its own, so
/// the failed one's are not committed, nobody's are written twice, and each
/// committed check learns the outbox row its announcement became.
#[tokio::test]
async fn deferred_writes_commit_with_their_own_check_only() {
    use shared::domain::Provider;
    use shared::providers::check::RecordedCall;
    let db = scratch();
    let commits = Committer::start(db.db(), 1, 16, 64, sizes());
    let held = hold_the_writer(&commits);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let c = commits.clone();
            tokio::spawn(async move {
                c.run(format!("k{i}"), move |conn, later| {
                    let call = RecordedCall {
                        provider: Provider::Mono,
                        object_id: format!("cint_{i}"),
                        method: "GET",
                        path: format!("/v1/collection-intents/cint_{i}"),
                        status: (i != 3).then_some(200),
                        body: (i != 3).then(|| "{}".to_owned()),
                        error: (i == 3).then(|| "timed out".to_owned()),
                        latency: Duration::from_millis(50),
                    };
                    later.record_calls(&[call], None, None);
                    let announced = later.announce(shared::db::outbox::NewMessage {
                        exchange: shared::queue::message::Exchange::Orders,
                        routing_key: "order.paid".to_owned(),
                        message_id: format!("order-{i}"),
                        payload: serde_json::json!({ "i": i }),
                        inbox_id: None,
                    });
                    if i == 1 {
                        diesel::sql_query("SELECT 1/0").execute(conn)?;
                    }
                    Ok(announced)
                })
                .await
            })
        })
        .collect();
    held.await.unwrap().unwrap();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap().map(|a| a.written().map(|m| m.message_id)));
    }
    let written: Vec<Option<String>> = answers.into_iter().map(|a| a.ok().flatten()).collect();
    assert_eq!(
        written,
        vec![
            Some("order-0".to_owned()),
            None,
            Some("order-2".to_owned()),
            Some("order-3".to_owned())
        ],
        "each committed check learns its own outbox row; the failed one has none"
    );
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let outbox_rows = diesel::sql_query("SELECT count(*) AS n FROM outbox")
        .get_result::<N>(&mut db.connect())
        .unwrap()
        .n;
    assert_eq!(outbox_rows, 3);

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::Text)]
        object_id: String,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
        status_code: Option<i32>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        error: Option<String>,
    }
    let stored: Vec<Stored> = diesel::sql_query(
        "SELECT object_id, status_code, error FROM provider_checks ORDER BY object_id",
    )
    .load(&mut db.connect())
    .unwrap();
    let row = |id: &str, status: Option<i32>, error: Option<&str>| Stored {
        object_id: id.to_owned(),
        status_code: status,
        error: error.map(str::to_owned),
    };
    assert_eq!(
        stored,
        vec![
            row("cint_0", Some(200), None),
            row("cint_2", Some(200), None),
            row("cint_3", None, Some("timed out")),
        ]
    );
}
