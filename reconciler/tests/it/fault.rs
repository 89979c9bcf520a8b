//! Issue 11's fault test: a minute of steady webhooks while RabbitMQ's
//! connection is cut again and again and PostgreSQL is paused for seconds.
//! Ends with every accepted webhook reconciled, no outbox row stuck and the
//! queues empty; prints the figures.

use std::time::{Duration, Instant};

use sandbox::WebhookRequest;
use shared::testing::ToggleProxy;

use crate::harness::*;

#[tokio::test]
async fn a_minute_of_webhooks_through_broker_cuts_and_a_database_pause() {
    let amqp = ToggleProxy::start("127.0.0.1:5672", true).await;
    let pg = ToggleProxy::start("127.0.0.1:5432", true).await;
    let mut stack = stack_with(Options::default()).await.stop().await;
    // Both processes reach both services through the proxies from now on.
    let proxied_db = stack.db.url.replace("127.0.0.1:5432", &pg.addr.to_string());
    assert_ne!(
        proxied_db, stack.db.url,
        "TEST_DATABASE_URL is on 127.0.0.1:5432"
    );
    stack.vars.push(("DATABASE_URL".into(), proxied_db));
    stack.vars.push(("AMQP_URL".into(), amqp.amqp_url()));
    stack.worker = Some(reconciler::Worker::start(stack.config()).await.unwrap());
    stack.start_ingress().await;

    let total = 120;
    let mut payments = Vec::new();
    for _ in 0..total {
        payments.push(stack.payment_with_order("mono", 10_000_000).await);
    }
    let started = Instant::now();
    let faults = tokio::spawn(async move {
        let mut cuts = 0;
        let mut paused = false;
        while started.elapsed() < Duration::from_secs(55) {
            tokio::time::sleep(Duration::from_secs(7)).await;
            amqp.set_up(false);
            cuts += 1;
            tokio::time::sleep(Duration::from_millis(800)).await;
            amqp.set_up(true);
            if !paused && started.elapsed() > Duration::from_secs(25) {
                pg.set_up(false);
                tokio::time::sleep(Duration::from_secs(4)).await;
                pg.set_up(true);
                paused = true;
            }
        }
        (cuts, paused, amqp, pg)
    });
    let mut accepted = Vec::new();
    let mut refused = 0;
    for (i, (reference, id)) in payments.iter().enumerate() {
        // One webhook every half second: a minute of steady load.
        let due = started + Duration::from_millis(500 * i as u64);
        tokio::time::sleep_until(due.into()).await;
        stack.set_status("mono", id, "account_credited").await;
        let delivered = stack
            .admin
            .deliver_webhook("mono", id, &WebhookRequest::default())
            .await
            .unwrap();
        if delivered.responses == [200] {
            accepted.push(reference.clone());
        } else {
            refused += 1;
        }
    }
    let (cuts, paused, _amqp, _pg) = faults.await.unwrap();
    let load_secs = started.elapsed().as_secs();
    let settle = Instant::now();
    let quoted: Vec<String> = accepted.iter().map(|r| format!("'{r}'")).collect();
    let paid_sql = format!(
        "SELECT count(*) FROM orders WHERE state = 'paid' AND reference IN ({})",
        quoted.join(",")
    );
    let n = accepted.len() as i64;
    let all_paid = wait_for(Duration::from_secs(120), || {
        std::future::ready((stack.count(&paid_sql) == n).then_some(()))
    })
    .await;
    let paid_after = settle.elapsed().as_secs_f64();
    // Rows whose writer's publish or release was lost in the pause wait out
    // their lease (60 s) at worst; none may stay behind.
    let drained = wait_for(Duration::from_secs(90), || {
        std::future::ready(
            (stack.count("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0)
                .then_some(()),
        )
    })
    .await;
    let drained_after = settle.elapsed().as_secs_f64();
    let unpublished = stack.count("SELECT count(*) FROM outbox WHERE published_at IS NULL");
    let conn = stack.broker.connect().await;
    let ch = conn.create_channel().await.unwrap();
    let events_depth = ch
        .queue_declare(
            stack.broker.topology.events_queue().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count();
    let max_attempts = stack.count("SELECT coalesce(max(attempts), 0)::int8 FROM outbox");
    let dead = stack.count("SELECT count(*) FROM dead_letters");
    println!(
        "fault test: {total} webhooks over {load_secs} s, {} accepted, {refused} refused (503), \
         {cuts} broker cuts, database paused: {paused}; all accepted paid {paid_after:.1} s after the load, \
         outbox drained {drained_after:.1} s after (unpublished now {unpublished}), most publish attempts \
         {max_attempts}, dead letters {dead}, events queue depth {events_depth}",
        accepted.len(),
    );
    assert!(all_paid.is_some(), "every accepted webhook reconciled");
    assert!(accepted.len() * 10 >= total * 8, "most webhooks accepted");
    assert!(drained.is_some(), "no outbox row stuck: {unpublished} left");
    assert_eq!(events_depth, 0, "no check left queued");
    assert!(paused && cuts >= 6);
}
