//! Tracing set up once per process.

use tracing_subscriber::EnvFilter;

/// Installs a formatter to stderr. `RUST_LOG` overrides `default_filter`.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The default filter of casegrid processes.
pub const DEFAULT_FILTER: &str = "info,async_nats=warn,sqlx=warn,hyper=warn";
