use serde_json::{Value, json};
use shared::db::dead_letters::{self, NewDeadLetter};
use shared::providers::webhook::CheckTarget;
use shared::queue::message::{Cause, CheckMessage};
use shared::testing::{ADMIN_KEY, FINANCE_KEY, MERCHANT_KEY};

use crate::helpers::*;

fn dead(app: &TestApp, n: usize, body: Vec<u8>) -> i64 {
    let mut conn = app.db.connect();
    dead_letters::archive(
        &mut conn,
        &NewDeadLetter {
            message_id: format!("inbox-{n}"),
            routing_key: Some("mono.collection_intent_credited".into()),
            body,
            provider: Some("mono".into()),
            object_type: Some("collection_intent".into()),
            object_id: Some(format!("cint_{n:0>22}")),
            reason: "final_error".into(),
            error: Some("HTTP 404".into()),
            attempts: 0,
        },
    )
    .unwrap()
    .unwrap()
}

fn check(n: usize) -> Vec<u8> {
    serde_json::to_vec(&CheckMessage {
        target: CheckTarget {
            provider: shared::domain::Provider::Mono,
            object_type: "collection_intent".into(),
            object_id: format!("cint_{n:0>22}"),
        },
        event_type: "collection_intent_credited".into(),
        cause: Cause::Webhook { inbox_id: n as i64 },
        ticket: None,
    })
    .unwrap()
}

#[tokio::test]
async fn only_admins_see_and_replay_dead_letters() {
    let app = spawn_app().await;
    for key in [MERCHANT_KEY, FINANCE_KEY] {
        assert_eq!(
            app.get_as(key, "/v1/admin/dead-letters").await.status(),
            403
        );
        let r = app
            .client
            .post(app.url("/v1/admin/dead-letters/replay"))
            .bearer_auth(key)
            .json(&json!({"all": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    assert_eq!(
        app.client
            .get(app.url("/v1/admin/dead-letters"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn list_and_replay_dead_letters() {
    let app = spawn_app().await;
    let a = dead(&app, 1, check(1));
    let b = dead(&app, 2, check(2));
    let poison = dead(&app, 3, b"{garbage".to_vec());
    let listed: Value = app
        .get_as(ADMIN_KEY, "/v1/admin/dead-letters")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    assert_eq!(listed["data"][0]["reason"], "final_error");

    let r = app
        .client
        .post(app.url("/v1/admin/dead-letters/replay"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"ids": [a, poison, 999]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(
        outcome,
        json!({"replayed": [a], "skipped": [999], "unreplayable": [poison]})
    );
    let msgs = app.queued_messages(1).await;
    assert_eq!(msgs.len(), 1, "the replay is published");
    assert_eq!(
        msgs[0].0.as_deref(),
        Some(format!("inbox-1-replay-{a}").as_str())
    );
    assert_eq!(
        msgs[0].1["cause"],
        json!({"kind": "replay", "dead_letter_id": a})
    );

    let r = app
        .client
        .post(app.url("/v1/admin/dead-letters/replay"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"all": true}))
        .send()
        .await
        .unwrap();
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome["replayed"], json!([b]));
    let pending: Value = app
        .get_as(ADMIN_KEY, "/v1/admin/dead-letters")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        pending["data"].as_array().unwrap().len(),
        1,
        "only the poison one is left"
    );
    let all: Value = app
        .get_as(ADMIN_KEY, "/v1/admin/dead-letters?status=all")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn replay_requires_ids_or_all() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"ids": []}),
        json!({"ids": ["x"]}),
        json!({"all": true, "ids": [1]}),
    ] {
        let r = app
            .client
            .post(app.url("/v1/admin/dead-letters/replay"))
            .bearer_auth(ADMIN_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{body}");
    }
}
