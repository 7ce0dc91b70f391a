//! Tracing set up once per process: to stderr, as text for people or as one JSON
//! object per line for a log collector (`[log] format`).

use crate::settings::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs a text formatter to stderr. `RUST_LOG` overrides `default_filter`.
pub fn init(default_filter: &str) {
    init_with(default_filter, LogFormat::Text);
}

/// Installs a formatter to stderr writing `format`. `RUST_LOG` overrides
/// `default_filter`. A second call changes nothing.
pub fn init_with(default_filter: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // The event's fields at the top level beside `timestamp`, `level`, `target`,
        // and the spans it happened in (a request's correlation id among them).
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// The default filter of casegrid processes.
pub const DEFAULT_FILTER: &str = "info,async_nats=warn,sqlx=warn,hyper=warn";
