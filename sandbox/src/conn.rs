//! A handle on each connection's socket, so a "lost answer" fault can close the connection
//! without sending a byte: actix-web always writes some response for a handler, and a
//! payment client must see a transport failure, not an HTTP status, to exercise its recovery.

use std::any::Any;
use std::net::Shutdown;

use actix_web::HttpRequest;
use actix_web::dev::Extensions;

/// A duplicate of the connection's descriptor; dropped (closing only the duplicate) with the
/// connection's data.
struct Socket(std::net::TcpStream);

/// `HttpServer::on_connect` hook: remembers the socket of every new connection.
pub fn remember(connection: &dyn Any, data: &mut Extensions) {
    #[cfg(unix)]
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        use std::os::fd::AsFd;
        match stream.as_fd().try_clone_to_owned() {
            Ok(fd) => {
                data.insert(Socket(std::net::TcpStream::from(fd)));
            }
            Err(e) => tracing::warn!(error = %e, "cannot keep a handle on the connection"),
        }
    }
    #[cfg(not(unix))]
    let _ = (connection, data);
}

/// Closes the request's connection both ways; false when it cannot (no handle on it).
pub fn close(req: &HttpRequest) -> bool {
    req.conn_data::<Socket>()
        .is_some_and(|s| s.0.shutdown(Shutdown::Both).is_ok())
}
