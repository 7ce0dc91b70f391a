//! What every casegrid process needs around its service: telemetry, settings,
//! a checked NATS connection, a shutdown signal, and a local `nats-server` child.
//!
//! - [`telemetry`]: tracing set up once, per-crate default filters.
//! - [`settings`]: one typed settings tree: defaults → TOML file → `CASEGRID__…` env.
//! - [`batch`]: group commit — appends gathered into JetStream atomic batches (the
//!   event log's and the key bucket's).
//! - [`clock`]: the injected clock (system time, or a manual one in tests).
//! - [`nats`]: connecting, refusing servers older than 2.12.
//! - [`natsauth`]: the NATS accounts, per-user permissions and generated credentials.
//! - [`natsserver`]: finding, version-checking and running `nats-server` as a child.
//! - `postgres` (feature `postgres`): a throw-away PostgreSQL server, for tests and
//!   `casegrid bench`.
//! - [`restart`]: a service started again after a passing failure ([`restart::Transient`]).
//! - [`service`]: serving request endpoints registered with the NATS service API.
//! - [`metrics`]: a service's own `/metrics` (`[metrics] listen`).
//! - [`shutdown`]: one future for Ctrl-C and SIGTERM.

pub mod attachment;
pub mod batch;
pub mod clock;
pub mod correlation;
pub mod metrics;
pub mod nats;
pub mod natsauth;
pub mod natsserver;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod restart;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;

pub use settings::{Secret, Settings};

/// The whole `main` of a service binary: settings (defaults → file named by
/// `CASEGRID_SETTINGS` → environment), telemetry as `[log]` says, a shutdown token
/// cancelled on Ctrl-C or SIGTERM, then `serve`, run again after a failure marked
/// [`restart::Transient`] ([`restart::supervise`]); the error chain is printed on failure.
pub fn service_main<F, Fut>(name: &str, mut serve: F) -> std::process::ExitCode
where
    F: FnMut(Settings, tokio_util::sync::CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let file = std::env::var_os("CASEGRID_SETTINGS").map(std::path::PathBuf::from);
    let settings = match Settings::load(file.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    telemetry::init_with(telemetry::DEFAULT_FILTER, settings.log.format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let token = tokio_util::sync::CancellationToken::new();
        let stop = token.clone();
        tokio::spawn(async move {
            shutdown::signal().await;
            stop.cancel();
        });
        // The gateway serves its own /metrics on its HTTP address.
        let listen = settings.metrics.listen.trim().to_owned();
        let metrics = async {
            if listen.is_empty() {
                token.cancelled().await;
                return Ok(());
            }
            metrics::serve(&listen, token.clone()).await
        };
        let serving = async {
            let done =
                restart::supervise(name, &token, || serve(settings.clone(), token.clone())).await;
            token.cancel();
            done
        };
        let (served, listened) = tokio::join!(serving, metrics);
        served.and(listened)
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
