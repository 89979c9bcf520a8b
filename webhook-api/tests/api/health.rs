use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_is_ok() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn readyz_reports_database_and_broker() {
    let app = spawn_app().await;
    // The broker connects in the background; the check follows once it has.
    let mut body = Value::Null;
    for _ in 0..50 {
        let r = app.client.get(app.url("/readyz")).send().await.unwrap();
        let status = r.status();
        body = r.json().await.unwrap();
        if status == 200 && body["checks"]["broker"] == "ok" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["broker"], "ok");
}

#[tokio::test]
async fn readyz_stays_ready_without_the_broker_and_says_so() {
    // Webhooks are stored durably (inbox and outbox) while RabbitMQ is away:
    // a load balancer must keep sending them.
    let app =
        crate::helpers::spawn_app_with(&[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")]).await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["broker"], "unavailable");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["detail"]["outbox"]["unpublished"], 0, "{body}");
    assert!(app.metrics().await.contains("broker_connected 0"));
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_route");
}

#[tokio::test]
async fn the_openapi_document_is_served_to_anyone() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/orders"]["post"].is_object(), "{doc}");
    // Every route is guarded by its method: another method on a served path is the JSON 404.
    let r = app
        .client
        .delete(app.url("/v1/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_route");
}
