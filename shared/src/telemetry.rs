//! Logging setup: `RUST_LOG` filter, `LOG_FORMAT=text|json`, and the panic hook.
//!
//! Nothing in this product logs request bodies, `Authorization` values,
//! signatures, document numbers or e-mails; secrets are [`crate::Secret`]s
//! that print as `[redacted]`.

use std::panic::PanicHookInfo;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

use crate::config::LogFormat;

/// Installs the global subscriber and the panic hook; a second call (tests)
/// is a harmless no-op for the subscriber.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(true);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    install_panic_hook();
}

/// Replaces the default panic hook, which prints the panic message to stderr.
/// A message is built from whatever the panicking code had in hand (a
/// document number, a body), so it never reaches the log: only where the
/// panic happened and on which thread, enough to find the bug.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(log_panic));
}

fn log_panic(info: &PanicHookInfo<'_>) {
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_else(|| "unknown location".to_owned());
    let current = std::thread::current();
    let thread = current.name().unwrap_or("unnamed");
    if tracing::dispatcher::has_been_set() {
        tracing::error!(
            %location,
            thread,
            "panic; its message is withheld because it may carry request data"
        );
    } else {
        eprintln!(
            "panic at {location} on thread {thread}; its message is withheld because it may carry request data"
        );
    }
}

/// An error and its causes on one line, `outer: cause: root cause`, for the one log line
/// at the edge where an error ends its journey. A cause whose text the line already holds
/// (an error that prints its source inside its own message) is not repeated.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_once() {
        let e = Outer(Middle(std::io::Error::other("disk on fire")));
        assert_eq!(ErrorChain(&e).to_string(), "outer: middle: disk on fire");
        let plain = std::io::Error::other("alone");
        assert_eq!(ErrorChain(&plain).to_string(), "alone");
    }
}
