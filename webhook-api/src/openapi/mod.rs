//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, built from the
//! `#[utoipa::path]` attribute on each handler. It is rendered once at startup and served
//! as bytes; the tests below fail when a mounted route (see [`crate::routes`]) has no entry,
//! or when a route's documented errors leave out a code it answers with.

pub(crate) mod schemas;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

pub use schemas::ErrorBody;

use crate::routes::Mount;
use crate::{admin, evidence, exceptions, health, metrics, orders, payments, reports, webhooks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PSE payments (merchant side)",
        description = "Webhooks from Mono, Belvo and Tpaga, the orders, payments, reports, \
            exceptions and admin APIs. API requests carry `Authorization: Bearer <key>`; each \
            operation says which roles (`merchant`, `finance`, `admin`) may call it. Every error \
            body is `{\"error\": {\"code\", \"message\", \"fields\"?}}` and each error response \
            lists the codes it can carry."
    ),
    paths(
        webhooks::bare,
        webhooks::with_token,
        orders::create,
        orders::list,
        orders::get,
        evidence::get,
        payments::create,
        payments::list_banks,
        reports::reconciliation,
        exceptions::list,
        exceptions::resolve,
        admin::list,
        admin::replay,
        health::healthz,
        health::readyz,
        metrics::metrics,
        openapi_json,
    ),
    modifiers(&Security),
    tags(
        (name = "webhooks", description = "Provider notifications; each provider authenticates its own way."),
        (name = "orders", description = "Expected payments and their state."),
        (name = "payments", description = "Creating the payment at the provider."),
        (name = "reports", description = "The daily reconciliation report."),
        (name = "exceptions", description = "What reconciliation could not settle on its own."),
        (name = "admin", description = "Dead letters."),
        (name = "operations", description = "Probes, metrics and this document; no authentication."),
    )
)]
struct ApiDoc;

/// Security schemes are not expressible in the derive: the bearer API key, and the two
/// headers providers sign or authenticate with (Tpaga's secret is in the path instead).
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from `API_KEYS`; its role decides what it may do.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "mono_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Mono-Signature",
                "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">` with `MONO_WEBHOOK_SECRET`; \
                 timestamps outside the tolerance are refused.",
            ))),
        );
        components.add_security_scheme(
            "belvo_authorization",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "Must equal `BELVO_WEBHOOK_AUTH` exactly.",
            ))),
        );
    }
}

/// The rendered document, shared by every worker.
pub struct Document(web::Bytes);

impl Document {
    pub fn build() -> Result<Self, serde_json::Error> {
        Ok(Self(web::Bytes::from(serde_json::to_vec(
            &ApiDoc::openapi(),
        )?)))
    }
}

pub fn routes<M: Mount>(m: &mut M) {
    m.add(Method::GET, "/openapi.json", openapi_json);
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    description = "This document. Anyone may read it; open it in any OpenAPI 3.1 viewer.",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn openapi_json(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

#[cfg(test)]
mod tests;
