//! API keys and roles: `Authorization: Bearer <key>` resolved against `API_KEYS`.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use shared::config::Role;

use crate::error::ApiError;
use crate::state::AppState;

/// What a request wants to do; each role permits a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    CreateOrders,
    ReadOrders,
    ReadReports,
    ResolveExceptions,
    /// Dispute evidence: raw webhook bodies with payer data, so not merchants.
    ReadEvidence,
    Operate,
}

impl Access {
    fn describe(self) -> &'static str {
        match self {
            Access::CreateOrders => "create orders",
            Access::ReadOrders => "read orders",
            Access::ReadReports => "read reports",
            Access::ResolveExceptions => "resolve exceptions",
            Access::ReadEvidence => "read dispute evidence",
            Access::Operate => "use the admin API",
        }
    }
}

pub fn permits(role: Role, access: Access) -> bool {
    match role {
        Role::Admin => true,
        Role::Merchant => matches!(access, Access::CreateOrders | Access::ReadOrders),
        Role::Finance => matches!(
            access,
            Access::ReadOrders
                | Access::ReadReports
                | Access::ResolveExceptions
                | Access::ReadEvidence
        ),
    }
}

/// The authenticated holder of an API key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    pub name: String,
}

impl Caller {
    pub fn require(&self, access: Access) -> Result<(), ApiError> {
        if permits(self.role, access) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(access.describe()))
        }
    }

    /// How the caller is recorded (e.g. who resolved an exception): `finance:ana`.
    pub fn label(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.name)
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let key = bearer_or_basic(header).ok_or(ApiError::Unauthorized)?;
    let found = state
        .config
        .api_keys
        .find(&key)
        .ok_or(ApiError::Unauthorized)?;
    Ok(Caller {
        role: found.role,
        name: found.name.clone(),
    })
}

/// The key from `Bearer <key>`, or from `Basic base64(<any name>:<key>)` so a
/// browser can open the HTML report with its own login prompt.
fn bearer_or_basic(header: &str) -> Option<String> {
    use base64::Engine as _;
    if let Some(key) = header.strip_prefix("Bearer ") {
        let key = key.trim();
        return (!key.is_empty()).then(|| key.to_owned());
    }
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, key) = text.split_once(':')?;
    (!key.is_empty()).then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_bearer_or_basic() {
        assert_eq!(bearer_or_basic("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(
            bearer_or_basic("Basic ZmluYW5jZTprZXktMTIz").as_deref(),
            Some("key-123")
        );
        assert_eq!(bearer_or_basic("Basic !!!"), None);
        assert_eq!(bearer_or_basic("Bearer "), None);
        assert_eq!(bearer_or_basic("Digest x"), None);
    }

    #[test]
    fn role_matrix() {
        use Access::*;
        for access in [
            CreateOrders,
            ReadOrders,
            ReadReports,
            ResolveExceptions,
            ReadEvidence,
            Operate,
        ] {
            assert!(permits(Role::Admin, access));
        }
        assert!(permits(Role::Merchant, CreateOrders));
        assert!(permits(Role::Merchant, ReadOrders));
        assert!(!permits(Role::Merchant, ReadReports));
        assert!(!permits(Role::Finance, CreateOrders));
        assert!(permits(Role::Finance, ReadReports));
        assert!(!permits(Role::Finance, Operate));
        assert!(permits(Role::Finance, ReadEvidence));
        assert!(!permits(Role::Merchant, ReadEvidence));
    }
}
