//! Logging setup: `RUST_LOG` filter, `LOG_FORMAT=text|json`.
//!
//! Nothing in this product logs request bodies, `Authorization` values,
//! signatures, document numbers or e-mails; secrets are [`crate::Secret`]s
//! that print as `[redacted]`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call (tests) is a harmless no-op.
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
}
