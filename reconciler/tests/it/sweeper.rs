//! The sweeper catches missed webhooks, expires stale orders and flags what never ends.

use std::time::Duration;

use diesel::RunQueryDsl;
use reconciler::sweeper;

use crate::harness::*;

fn age(stack: &Stack, reference: &str, secs: i64) {
    let mut conn = stack.db.connect();
    diesel::sql_query(format!(
        "UPDATE orders SET created_at = now() - interval '{secs} seconds', next_check_at = now() - interval '1 second' \
         WHERE reference = '{reference}'"
    ))
    .execute(&mut conn)
    .unwrap();
}

#[tokio::test]
async fn the_sweeper_pays_an_order_whose_webhook_never_came() {
    let stack = stack().await;
    let (reference, id) = stack.payment_with_order("tpaga", 3_000_000).await;
    stack.set_status("tpaga", &id, "settled").await; // and no webhook
    age(&stack, &reference, 400);
    let summary = sweeper::sweep(stack.ctx()).await.unwrap();
    assert_eq!(summary.queued, 1);
    let o = stack.wait_state(&reference, "paid").await;
    assert_eq!(o.history.last().unwrap().cause, "sweep");
    // Final orders leave the schedule.
    assert_eq!(sweeper::sweep(stack.ctx()).await.unwrap().queued, 0);
}

#[tokio::test]
async fn the_sweeper_expires_an_order_that_stays_pending_and_a_late_success_still_pays_it() {
    let stack = stack_with(Options {
        extra: &[("ORDER_EXPIRY_SECS", "60")],
        ..Default::default()
    })
    .await;
    let (reference, id) = stack.payment_with_order("mono", 10_000_000).await;
    age(&stack, &reference, 120);
    sweeper::sweep(stack.ctx()).await.unwrap();
    stack.wait_state(&reference, "expired").await;

    stack.set_status("mono", &id, "account_credited").await;
    age(&stack, &reference, 4000);
    sweeper::sweep(stack.ctx()).await.unwrap();
    let o = stack.wait_state(&reference, "paid").await;
    assert_eq!(o.exceptions.len(), 1);
    assert_eq!(o.exceptions[0].kind, "late_success");
}

#[tokio::test]
async fn an_order_still_processing_after_the_schedule_is_flagged_stale_not_expired() {
    let stack = stack_with(Options {
        extra: &[
            ("PENDING_RECHECK_AFTER_SECS", "1"),
            ("ORDER_EXPIRY_SECS", "2"),
            ("STALE_AFTER_SECS", "3"),
        ],
        ..Default::default()
    })
    .await;
    let (reference, id) = stack.payment_with_order("belvo", 10_000_000).await;
    stack.set_status("belvo", &id, "PROCESSING").await;
    age(&stack, &reference, 3600);
    // Schedule (1s, 2s, 3s): three checks, then the verdict.
    for n in 1..=3 {
        assert_eq!(sweeper::sweep(stack.ctx()).await.unwrap().queued, 1);
        stack.wait_checked(&reference, n).await;
    }
    let last = sweeper::sweep(stack.ctx()).await.unwrap();
    assert_eq!((last.queued, last.stale), (0, 1));
    let o = stack.find(&reference);
    assert_eq!(o.state, "processing", "approved at the bank: never expired");
    assert_eq!(o.exceptions.len(), 1);
    assert_eq!(o.exceptions[0].kind, "stale_pending");
    assert_eq!(
        sweeper::sweep(stack.ctx()).await.unwrap(),
        Default::default(),
        "nothing more to do"
    );
}

#[tokio::test]
async fn only_one_reconciler_sweeps_at_a_time() {
    let stack = stack_with(Options {
        extra: &[("SWEEP_INTERVAL_SECS", "1")],
        ..Default::default()
    })
    .await;
    let second = reconciler::Worker::start(stack.config()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let holders = stack.count(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND ((classid::bigint << 32) | objid::bigint) = 5788046221823657285",
    );
    assert_eq!(holders, 1, "exactly one sweeper holds the lock");
    second.stop().await;
}
