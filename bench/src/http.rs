//! A minimal HTTP/1.1 keep-alive client for the load generator: requests are
//! pre-serialised bytes, written as they are; a response is read until its
//! `Content-Length` is complete. Nothing is allocated per request beyond the
//! read buffer's growth, so the generator costs as little CPU as possible on a
//! machine it shares with the servers it measures.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

/// What came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The server asked to close the connection after this response.
    pub close: bool,
}

impl Conn {
    /// A connection that connects lazily, on first use.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn stream(&mut self) -> io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.buf.clear();
            self.stream = Some(s);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::other("no connection"))
    }

    /// Sends one request and reads its response. On any error the connection
    /// is dropped (the next call reconnects).
    pub async fn request(&mut self, request: &[u8]) -> io::Result<Response> {
        let reused = self.stream.is_some();
        let mut result = self.exchange(request).await;
        // A kept-alive connection the server closed while idle fails before any
        // byte of the answer: that request was never seen, so send it once more.
        if reused
            && self.buf.is_empty()
            && matches!(&result, Err(e) if matches!(e.kind(),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe))
        {
            self.stream = None;
            result = self.exchange(request).await;
        }
        match &result {
            Ok(r) if !r.close => {}
            _ => {
                self.stream = None;
                self.buf.clear();
            }
        }
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> io::Result<Response> {
        self.stream().await?.write_all(request).await?;
        loop {
            if let Some((response, used)) = parse_response(&self.buf)? {
                self.buf.drain(..used);
                return Ok(response);
            }
            let stream = self.stream().await?;
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A complete response at the start of `buf`: its status and the number of
/// bytes it takes, or `None` when more bytes are needed.
pub fn parse_response(buf: &[u8]) -> io::Result<Option<(Response, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let head = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
    };
    let status = parsed.code.unwrap_or(0);
    let mut length = 0usize;
    let mut close = parsed.version == Some(0);
    for h in parsed.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunked responses are not supported by the load generator",
            ));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    if buf.len() < head + length {
        return Ok(None);
    }
    Ok(Some((Response { status, close }, head + length)))
}

/// A POST with a JSON body and extra headers, ready to write.
pub fn post(host: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 256);
    out.extend_from_slice(format!("POST {path} HTTP/1.1\r\nHost: {host}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Type: application/json\r\nUser-Agent: pse-bench\r\n");
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_partial_and_pipelined_responses() {
        let one =
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: application/json\r\n\r\nhello";
        let (r, used) = parse_response(one).unwrap().unwrap();
        assert_eq!(
            r,
            Response {
                status: 200,
                close: false
            }
        );
        assert_eq!(used, one.len());
        assert_eq!(parse_response(&one[..one.len() - 1]).unwrap(), None);
        assert_eq!(parse_response(&one[..10]).unwrap(), None);
        let mut two = one.to_vec();
        two.extend_from_slice(
            b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
        );
        let (_, used) = parse_response(&two).unwrap().unwrap();
        let (r, _) = parse_response(&two[used..]).unwrap().unwrap();
        assert_eq!(
            r,
            Response {
                status: 503,
                close: true
            }
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn builds_a_post() {
        let r = post("h:1", "/p", &[("X-A", "b")], b"{}");
        let text = String::from_utf8(r).unwrap();
        assert!(text.starts_with("POST /p HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(text.contains("X-A: b\r\n"));
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"));
    }

    #[tokio::test]
    async fn talks_to_a_real_server_and_reconnects() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Two connections: the first answers twice then closes.
            for answers in [2, 1] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                for _ in 0..answers {
                    let _ = s.read(&mut buf).await.unwrap();
                    s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await
                        .unwrap();
                }
            }
        });
        let mut c = Conn::new(addr);
        let req = post("x", "/", &[], b"{}");
        assert_eq!(c.request(&req).await.unwrap().status, 200);
        assert_eq!(c.request(&req).await.unwrap().status, 200);
        // The server closed the idle connection: the request goes again on a new one.
        assert_eq!(c.request(&req).await.unwrap().status, 200);
    }
}
