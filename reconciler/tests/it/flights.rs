//! Single-flight re-queries: however many deliveries ask, at most one check
//! of an object runs and at most one waits behind it, across processes.

use std::time::Duration;

use shared::db::dead_letters::{self, Selection};
use shared::db::inbox::{self, Delivery};
use shared::domain::Provider;

use crate::harness::*;

/// Provider GETs recorded for one object (token calls are recorded under `oauth2`).
fn gets(stack: &Stack, object_id: &str) -> i64 {
    stack.count(&format!(
        "SELECT count(*) FROM provider_checks WHERE method = 'GET' AND object_id = '{object_id}'"
    ))
}

/// Waits until nothing is queued or running for the object: every check it
/// will ever get for these deliveries has run.
async fn wait_settled(stack: &Stack, object_id: &str) {
    let busy = format!(
        "SELECT count(*) FROM check_flights WHERE object_id = '{object_id}' \
         AND (queued_ticket IS NOT NULL OR running_token IS NOT NULL)"
    );
    let settled = wait_for(Duration::from_secs(30), || {
        std::future::ready((stack.count(&busy) == 0).then_some(()))
    })
    .await;
    assert!(
        settled.is_some(),
        "{object_id} still has a check queued or running"
    );
    // A deferred or retried message would show up as queued; give the broker a beat anyway.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The provider's latency during a burst: long enough that every delivery of
/// the burst arrives while the first check is still waiting for its answer,
/// even on a loaded machine, so the bound "at most two calls" is what the
/// test measures and not the machine's speed. The timeout is well above it.
const SLOW_PROVIDER_MS: u64 = 4_000;
const SLOW_PROVIDER: &[(&str, &str)] = &[("PROVIDER_TIMEOUT_MS", "30000")];

/// A call is recorded when it ends: none yet means the whole burst arrived
/// while the first check was in flight (the premise of the bound).
fn burst_fit_in_the_first_check(stack: &Stack) {
    assert_eq!(
        stack.count("SELECT count(*) FROM provider_checks WHERE method = 'GET'"),
        0,
        "the burst took longer than one slow provider call; the machine is too slow for this test"
    );
}

async fn post(url: String, body: Vec<u8>, headers: Vec<(&'static str, String)>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    request
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test]
async fn forty_tpaga_deliveries_while_tpaga_is_slow_cost_at_most_two_calls() {
    let stack = stack_with(Options {
        ingress: true,
        extra: SLOW_PROVIDER,
        ..Default::default()
    })
    .await;
    let (reference, token) = stack.payment_with_order("tpaga", 10_000_000).await;
    stack.set_status("tpaga", &token, "authorized").await;
    stack.admin.set_latency(SLOW_PROVIDER_MS).await.unwrap();
    let url = format!(
        "{}/webhooks/tpaga/{TPAGA_TOKEN}",
        stack.ingress.as_deref().unwrap()
    );
    let body = serde_json::to_vec(&serde_json::json!({ "charge_token": token })).unwrap();
    // Four waves of ten, spread over the first (slow) check: some arrive before
    // it is picked, the rest while it runs.
    for _ in 0..4 {
        let answers = futures_util::future::join_all(
            (0..10).map(|_| post(url.clone(), body.clone(), Vec::new())),
        )
        .await;
        assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    burst_fit_in_the_first_check(&stack);
    stack.wait_state(&reference, "paid").await;
    wait_settled(&stack, &token).await;
    let calls = gets(&stack, &token);
    assert!(
        (1..=2).contains(&calls),
        "{calls} Tpaga GETs for one charge"
    );
    assert_eq!(
        stack.count(&format!(
            "SELECT count(*) FROM webhook_events WHERE object_id = '{token}'"
        )),
        40,
        "every delivery stored"
    );
    assert!(
        stack.count("SELECT count(*) FROM outbox WHERE exchange = 'events'") <= 2,
        "at most two check messages"
    );
    assert_eq!(stack.transitions(&reference).len(), 2);
}

#[tokio::test]
async fn many_distinct_mono_events_for_one_intent_cost_at_most_two_calls() {
    let stack = stack_with(Options {
        ingress: true,
        extra: SLOW_PROVIDER,
        ..Default::default()
    })
    .await;
    let (reference, intent) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &intent, "account_credited").await;
    stack.admin.set_latency(SLOW_PROVIDER_MS).await.unwrap();
    let url = format!("{}/webhooks/mono", stack.ingress.as_deref().unwrap());
    let secret = shared::Secret::new(MONO_SECRET.to_owned());
    let mut n = 0;
    for _ in 0..4 {
        let mut wave = Vec::new();
        for _ in 0..10 {
            n += 1;
            // Distinct events (their own `updated_at`): the inbox keeps each one.
            let body = format!(
                r#"{{"event": {{"type": "collection_intent_credited", "data": {{"id": "{intent}", "state": "account_credited", "updated_at": "2026-11-30T10:00:{n:02}Z"}}}}}}"#
            )
            .into_bytes();
            let signature = shared::providers::mono::signature::sign(
                &secret,
                chrono::Utc::now().timestamp(),
                &body,
            );
            wave.push(post(url.clone(), body, vec![("Mono-Signature", signature)]));
        }
        let answers = futures_util::future::join_all(wave).await;
        assert!(answers.iter().all(|s| *s == 200), "{answers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    burst_fit_in_the_first_check(&stack);
    stack.wait_state(&reference, "paid").await;
    wait_settled(&stack, &intent).await;
    assert_eq!(
        stack.count(&format!(
            "SELECT count(*) FROM webhook_events WHERE object_id = '{intent}'"
        )),
        40,
        "forty distinct events"
    );
    let calls = gets(&stack, &intent);
    assert!((1..=2).contains(&calls), "{calls} Mono GETs for one intent");
    assert!(
        stack.count(&format!(
            "SELECT count(*) FROM webhook_events WHERE object_id = '{intent}' AND outcome LIKE 'coalesced:%'"
        )) >= 38,
        "the others coalesced into the queued check"
    );
}

#[tokio::test]
async fn two_reconcilers_never_check_one_object_at_the_same_time() {
    let stack = stack().await;
    let second = reconciler::Worker::start(stack.config()).await.unwrap();
    let (reference, intent) = stack.payment_with_order("mono", 10_000_000).await;
    stack.set_status("mono", &intent, "account_credited").await;
    stack.admin.set_latency(300).await.unwrap();
    // Ticketless checks (as from before the flights existed): both processes
    // take them at once, and the lease makes them wait for each other.
    futures_util::future::join_all(
        (0..6).map(|_| stack.check("mono", "collection_intent", &intent)),
    )
    .await;
    stack.wait_checked(&reference, 6).await;
    #[derive(diesel::QueryableByName)]
    struct Call {
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        done: chrono::DateTime<chrono::Utc>,
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        started: chrono::DateTime<chrono::Utc>,
    }
    let mut conn = stack.db.connect();
    // `requested_at` is the start of the transaction that stored the call, after
    // it ended: the call ran within [requested_at - latency, requested_at].
    let calls: Vec<Call> = diesel::RunQueryDsl::load(
        diesel::sql_query(format!(
            "SELECT requested_at AS done, requested_at - make_interval(secs => latency_ms / 1000.0) AS started \
             FROM provider_checks WHERE object_id = '{intent}' ORDER BY requested_at"
        )),
        &mut conn,
    )
    .unwrap();
    assert_eq!(calls.len(), 6);
    for pair in calls.windows(2) {
        assert!(
            pair[1].started > pair[0].done,
            "two calls overlapped: one ended at {}, the next started at {}",
            pair[0].done,
            pair[1].started
        );
    }
    let deferred = stack.count(
        "SELECT count(*) FROM check_flights WHERE running_token IS NOT NULL OR queued_ticket IS NOT NULL",
    );
    assert_eq!(deferred, 0, "nothing left running or queued");
    assert_eq!(stack.transitions(&reference).len(), 2);
    second.stop().await;
}

/// Publishes `body` straight to `reconciler.dead`, as RabbitMQ does when it
/// dead-letters a message that was never processed.
async fn publish_dead(stack: &Stack, body: &[u8], message_id: &str) {
    let dead = stack.broker.topology.dead_queue();
    stack.publish_to("", &dead, body, message_id).await;
}

#[tokio::test]
async fn a_check_dead_lettered_before_it_is_picked_frees_its_object_and_replay_checks_it() {
    let stack = stack_with(Options {
        ingress: true,
        ..Default::default()
    })
    .await;
    let (reference, token) = stack.payment_with_order("tpaga", 10_000_000).await;
    stack.set_status("tpaga", &token, "authorized").await;
    // A delivery is stored and its check queued…
    let body = serde_json::to_vec(&serde_json::json!({ "charge_token": token })).unwrap();
    let delivery = Delivery {
        provider: Provider::Tpaga,
        event: shared::providers::tpaga::webhook::parse(&body).unwrap(),
        body: body.clone(),
        headers: serde_json::json!({}),
        auth_result: "test".to_owned(),
    };
    let mut conn = stack.db.connect();
    let saved = inbox::store(&mut conn, &delivery).unwrap();
    let message = saved.message.expect("a check was queued");
    // …but it never reaches a reconciler: RabbitMQ dead-letters it.
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE outbox SET published_at = now() WHERE id = {}",
            message.id
        )),
        &mut conn,
    )
    .unwrap();
    publish_dead(
        &stack,
        &serde_json::to_vec(&message.payload).unwrap(),
        &message.message_id,
    )
    .await;
    let archived = wait_for(Duration::from_secs(10), || {
        std::future::ready((stack.count("SELECT count(*) FROM dead_letters") == 1).then_some(()))
    })
    .await;
    assert!(archived.is_some(), "the archiver took the dead letter");
    assert_eq!(stack.checks_of(&reference), 0);

    // The next webhook for the charge is checked, not coalesced into the dead one.
    let url = format!(
        "{}/webhooks/tpaga/{TPAGA_TOKEN}",
        stack.ingress.as_deref().unwrap()
    );
    assert_eq!(post(url, body, Vec::new()).await, 200);
    stack.wait_state(&reference, "paid").await;
    stack.wait_checked(&reference, 1).await;

    // Replaying the dead letter queues a check too.
    let replayed = dead_letters::replay(&mut conn, Selection::AllPending).unwrap();
    assert_eq!(replayed.replayed.len(), 1);
    assert!(replayed.coalesced.is_empty(), "{replayed:?}");
    stack.ctx().relay.publish_now(replayed.messages);
    stack.wait_checked(&reference, 2).await;
}
