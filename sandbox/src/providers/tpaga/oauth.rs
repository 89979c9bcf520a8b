//! Tpaga's OAuth2 client-credentials endpoints (`/o/token/`, `/o/revoke_token/`) and the
//! bearer check every data endpoint makes.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::wire::oauth_error;
use super::{REVOKE_TOKEN, TOKEN, Tpaga};
use crate::auth;
use crate::gate;
use crate::ids;
use crate::registry::Endpoint;
use crate::state::AppState;

/// The form fields of both OAuth endpoints.
#[derive(Debug, Deserialize)]
pub struct OAuthForm {
    grant_type: Option<String>,
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Whether the request carries a live access token.
pub fn authorized(tpaga: &Tpaga, req: &HttpRequest) -> bool {
    auth::bearer(req).is_some_and(|token| tpaga.store.lock().token_is_live(token))
}

pub async fn token(
    app: web::Data<AppState>,
    tpaga: web::Data<Tpaga>,
    req: HttpRequest,
    form: Option<web::Form<OAuthForm>>,
) -> HttpResponse {
    let run = async {
        if !auth::basic_matches(&req, &tpaga.client_id, &tpaga.client_secret) {
            return oauth_error(401, "invalid_client");
        }
        if form.as_ref().and_then(|f| f.grant_type.as_deref()) != Some("client_credentials") {
            return oauth_error(400, "unsupported_grant_type");
        }
        let access_token = ids::alnum(40);
        let ttl = tpaga.token_ttl_secs;
        tpaga
            .store
            .lock()
            .issue_token(access_token.clone(), Duration::from_secs(ttl));
        HttpResponse::Ok().json(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": "read write",
        }))
    };
    gate::guarded(&app, tpaga.get_ref(), &req, TOKEN, Endpoint::Token, run).await
}

/// `POST /o/revoke_token/` as documented: form `token`, `client_id`, `client_secret`; empty 200.
pub async fn revoke_token(
    app: web::Data<AppState>,
    tpaga: web::Data<Tpaga>,
    req: HttpRequest,
    form: Option<web::Form<OAuthForm>>,
) -> HttpResponse {
    let run = async {
        let Some(form) = form else {
            return oauth_error(400, "invalid_request");
        };
        let (Some(id), Some(secret)) = (&form.client_id, &form.client_secret) else {
            return oauth_error(400, "invalid_request");
        };
        let id_ok = auth::matches(&tpaga.client_id, id);
        let secret_ok = auth::matches(&tpaga.client_secret, secret);
        if !(id_ok && secret_ok) {
            return oauth_error(401, "invalid_client");
        }
        let Some(token) = &form.token else {
            return oauth_error(400, "invalid_request");
        };
        if tpaga.store.lock().revoke(token) {
            HttpResponse::Ok().finish()
        } else {
            // Docs: 404 "The provided token was not found"; body silent, the sandbox sends none.
            HttpResponse::NotFound().finish()
        }
    };
    gate::guarded(
        &app,
        tpaga.get_ref(),
        &req,
        REVOKE_TOKEN,
        Endpoint::Token,
        run,
    )
    .await
}
