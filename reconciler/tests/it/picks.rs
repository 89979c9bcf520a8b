//! Lease pickers (`reconciler::pick`): the checks that start together take
//! their leases in one statement, each answered as a single pick would be.

use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use reconciler::pick::Picker;
use shared::db::flights::Picked;
use shared::db::{Db, DbError};
use shared::domain::Provider;
use shared::metrics::{Histogram, HistogramOpts};
use shared::providers::webhook::CheckTarget;
use shared::testing::TestDb;

fn target(id: &str) -> CheckTarget {
    CheckTarget {
        provider: Provider::Mono,
        object_type: "collection_intent".to_owned(),
        object_id: id.to_owned(),
    }
}

/// Asks for the leases of `ids` at once while the pool's only connection is
/// held, so every request queues and, once it is free, the two pickers have
/// split the whole queue between them. The answers, in the order asked, and
/// the size of each lease statement as the metric saw it.
async fn picked_together(
    test_db: &TestDb,
    ids: &[String],
) -> (Vec<Result<Picked, DbError>>, Histogram) {
    let db = Db::new(&test_db.url, 1, Duration::from_secs(10));
    let sizes = Histogram::with_opts(HistogramOpts::new("lease_batch", "test")).unwrap();
    let picks = Picker::start(db.clone(), Duration::from_secs(60), 64, 64, sizes.clone());
    let (hold, release) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn({
        let db = db.clone();
        async move {
            db.run(move |_conn| {
                let _ = release.blocking_recv();
                Ok(())
            })
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (picks, t) = (picks.clone(), target(id));
            tokio::spawn(async move { picks.pick(&t, None).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    hold.send(()).unwrap();
    holder.await.unwrap().unwrap();
    let mut answers = Vec::new();
    for ask in asks {
        answers.push(ask.await.unwrap());
    }
    (answers, sizes)
}

#[tokio::test]
async fn checks_starting_together_share_one_statement_and_each_get_their_own_answer() {
    let test_db = TestDb::create();
    let ids: Vec<String> = (0..20)
        .map(|i| format!("cint_{i}"))
        .chain(["cint_3".to_owned()])
        .collect();
    let (answers, sizes) = picked_together(&test_db, &ids).await;
    let run = answers
        .iter()
        .filter(|a| matches!(a, Ok(Picked::Run { .. })))
        .count();
    assert_eq!(
        run, 20,
        "every object once; the repeat of cint_3 finds it busy"
    );
    assert!(
        answers.iter().all(Result::is_ok),
        "nothing failed: {answers:?}"
    );

    // Rows written by one statement share its transaction id.
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let statements = diesel::sql_query(
        "SELECT count(DISTINCT xmin::text)::bigint AS n FROM check_flights WHERE running_token IS NOT NULL",
    )
    .get_result::<Count>(&mut test_db.connect())
    .unwrap()
    .n;
    assert!(statements <= 2, "21 picks took {statements} statements");
    // `reconciler_batch_size{stage="lease"}` shows the same.
    assert_eq!(sizes.get_sample_sum(), 21.0);
    assert!(
        sizes.get_sample_count() <= 2,
        "{}",
        sizes.get_sample_count()
    );
}

/// A request the database refuses (here an object id PostgreSQL cannot store)
/// fails alone: the others in its batch are taken one by one and succeed.
#[tokio::test]
async fn a_request_the_database_refuses_does_not_fail_the_others_in_its_batch() {
    let test_db = TestDb::create();
    let ids = ["cint_a", "cint_\0bad", "cint_b"].map(str::to_owned);
    let (answers, _) = picked_together(&test_db, &ids).await;
    assert!(matches!(answers[0], Ok(Picked::Run { .. })), "{answers:?}");
    assert!(answers[1].is_err(), "{answers:?}");
    assert!(matches!(answers[2], Ok(Picked::Run { .. })), "{answers:?}");
}
