//! The listening socket of every HTTP server here (webhook-api, the
//! reconciler's ops endpoints, the sandbox).
//!
//! `std::net::TcpListener::bind` listens with a backlog of 128. When more
//! connections than that arrive before the server accepts them (a provider
//! retrying a backlog of webhooks, 256 reconciler checks opening their
//! connections at once), Linux drops the extra SYNs and those clients wait a
//! whole SYN retransmission (1 s, then 3 s) or time out. [`BACKLOG`] lets such a
//! burst wait in the kernel instead; the kernel caps it at
//! `net.core.somaxconn`, and SYN cookies still protect the half-open queue.

use std::io;
use std::net::SocketAddr;

/// Connections that may wait for `accept` (actix-web's own `bind` uses 2048).
pub const BACKLOG: u32 = 1024;

/// Binds `addr` (with `SO_REUSEADDR`, as std does on Unix) and listens with
/// [`BACKLOG`]. Runs inside a tokio runtime; the listener it returns is
/// non-blocking, ready for actix-web's `HttpServer::listen`.
pub fn bind(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)?.into_std()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// 300 clients connect at once to a server that has not accepted yet: with
    /// std's backlog of 128 the rest lose their SYN and wait past the timeout;
    /// here every one is connected at once.
    #[tokio::test]
    async fn a_burst_of_connections_waits_for_accept_instead_of_being_dropped() {
        let listener = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let connects: Vec<_> = (0..300)
            .map(|_| {
                tokio::spawn(tokio::time::timeout(
                    Duration::from_millis(800),
                    tokio::net::TcpStream::connect(addr),
                ))
            })
            .collect();
        let mut connected = Vec::new();
        for c in connects {
            if let Ok(Ok(stream)) = c.await.unwrap() {
                connected.push(stream);
            }
        }
        assert_eq!(connected.len(), 300, "some connections were dropped");
        drop(listener);
    }

    #[tokio::test]
    async fn a_port_in_use_is_an_error() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let err = bind(first.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
