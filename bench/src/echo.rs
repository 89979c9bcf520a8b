//! The bare HTTP ceiling: actix-web with the same (default) worker count as
//! webhook-api, reading the body and answering 200 with a body the size of
//! webhook-api's answer, without any other work.

use actix_web::{App, HttpResponse, HttpServer, web};

async fn ok(_body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"received":true,"status":"queued","event_id":1}"#)
}

pub async fn serve(addr: &str) -> Result<(), String> {
    let server = HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(262_144))
            .default_service(web::to(ok))
    })
    .bind(addr)
    .map_err(|e| format!("cannot listen on {addr}: {e}"))?
    .shutdown_timeout(1)
    .run();
    server.await.map_err(|e| e.to_string())
}
