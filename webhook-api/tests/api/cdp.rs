//! Headless Chromium driven over the DevTools protocol, for tests that need a session:
//! type into a form, submit it, follow the redirect, read the DOM, take a screenshot.
//! One browser (one profile, so cookies persist) per [`Browser`]; the WebSocket client is
//! the minimum the protocol needs (masked text frames out, text frames in).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

pub struct Browser {
    child: Child,
    profile: PathBuf,
    ws: TcpStream,
    next_id: u64,
    /// `Page.loadEventFired` events seen so far (a navigation has finished).
    loads: u64,
    width: u32,
    height: u32,
}

/// A GET to the DevTools HTTP endpoint; reads exactly `Content-Length` bytes (it may
/// keep the connection open).
fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("devtools http");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

impl Browser {
    /// Starts Chromium with a `width` × `height` window and connects to its first tab.
    pub fn launch(width: u32, height: u32) -> Self {
        let profile = std::env::temp_dir().join(format!("pse-cdp-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new(crate::browser::binary())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run chromium");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let port: u16 = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "chromium exited");
            if let Some(rest) = line
                .trim()
                .strip_prefix("DevTools listening on ws://127.0.0.1:")
            {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        };
        // Keep reading so Chromium never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        let targets: Value = serde_json::from_str(&http_get(port, "/json/list")).unwrap();
        let ws_url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let path = ws_url.split_once(&format!(":{port}")).unwrap().1.to_owned();
        let mut ws = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            ws,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            ws.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(
            String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        ws.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Self {
            child,
            profile,
            ws,
            next_id: 1,
            loads: 0,
            width,
            height,
        }
        .enabled()
    }

    fn enabled(mut self) -> Self {
        self.call("Page.enable", json!({}));
        self
    }

    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65_536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.ws.write_all(&frame).unwrap();
    }

    fn receive(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut h = [0u8; 2];
            self.ws.read_exact(&mut h).unwrap();
            let (fin, opcode) = (h[0] & 0x80 != 0, h[0] & 0x0f);
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.ws.read_exact(&mut b).unwrap();
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.ws.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.ws.read_exact(&mut payload).unwrap();
            assert_ne!(opcode, 8, "the browser closed the connection");
            if matches!(opcode, 0 | 1) {
                message.extend_from_slice(&payload);
                if fin {
                    return String::from_utf8(message).unwrap();
                }
            }
        }
    }

    /// One protocol command; events received meanwhile are skipped.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        if std::env::var_os("CDP_TRACE").is_some() {
            eprintln!(
                "cdp> {method} {}",
                params.to_string().chars().take(160).collect::<String>()
            );
        }
        self.send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let msg: Value = serde_json::from_str(&self.receive()).unwrap();
            if msg["method"] == "Page.loadEventFired" {
                self.loads += 1;
            }
            if msg["id"] == id {
                assert!(msg.get("error").is_none(), "{method}: {msg}");
                return msg["result"].clone();
            }
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Runs `action` (which navigates: a link, a form) and waits until the next
    /// document has loaded; returns its URL.
    pub fn navigate_by(&mut self, action: &str) -> String {
        let before = self.loads;
        self.eval(action);
        while self.loads == before {
            let msg: Value = serde_json::from_str(&self.receive()).unwrap();
            if msg["method"] == "Page.loadEventFired" {
                self.loads += 1;
            }
        }
        self.eval("location.href").as_str().unwrap().to_owned()
    }

    pub fn goto(&mut self, url: &str) -> String {
        let before = self.loads;
        self.call("Page.navigate", json!({"url": url}));
        while self.loads == before {
            let msg: Value = serde_json::from_str(&self.receive()).unwrap();
            if msg["method"] == "Page.loadEventFired" {
                self.loads += 1;
            }
        }
        self.eval("location.href").as_str().unwrap().to_owned()
    }

    pub fn dom(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A screenshot of the whole page at the window's width, saved to `dir/name.png`.
    pub fn screenshot(&mut self, dir: &Path, name: &str) -> PathBuf {
        let height = self
            .eval("document.documentElement.scrollHeight")
            .as_u64()
            .unwrap_or(self.height as u64)
            .clamp(self.height as u64, 6000);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        self.call("Emulation.clearDeviceMetricsOverride", json!({}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join(format!("{name}.png"));
        std::fs::write(&file, png).unwrap();
        file
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
