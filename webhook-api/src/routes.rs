//! One way to declare a route, read twice: by the server, which mounts it, and by the
//! OpenAPI test, which lists it and fails when the document lacks it. A hand-kept list of
//! paths would drift from what is served; this cannot.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};

/// Where a module's `routes` puts its routes.
pub trait Mount {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;
}

/// Each route is its own resource guarded by its method, so a path served for GET only
/// answers another method with the JSON `no_route` 404 of the default service.
impl Mount for web::ServiceConfig {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(path, web::method(method).to(handler))
    }
}

/// The method and path pattern of every route, in mounting order, without mounting anything.
#[derive(Debug, Default)]
pub struct Listing(pub Vec<(Method, &'static str)>);

impl Mount for Listing {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, _handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0.push((method, path));
        self
    }
}
