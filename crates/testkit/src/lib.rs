//! The test kit: real dependencies for integration tests, started on free ports in
//! temporary directories and cleaned up on drop. No mocks.
//!
//! - [`TestNats`]: a `nats-server` with JetStream (`sync_interval: always`, as shipped).
//! - [`TestPostgres`]: a throw-away PostgreSQL cluster (or a fresh database per test on
//!   `CASEGRID_TEST_DATABASE_URL`); see [`postgres`] for how it runs as root.
//! - [`openapi`]: checking real responses against the gateway's OpenAPI document.
//! - [`init_tracing`]: quiet unless `TEST_LOG` is set.

pub mod openapi;
pub mod postgres;

pub use postgres::TestPostgres;

use casegrid_runtime::natsserver::{NatsServer, Options};
use std::time::Duration;

/// Logs to stderr only when `TEST_LOG` is set.
pub fn init_tracing() {
    if std::env::var_os("TEST_LOG").is_some() {
        casegrid_runtime::telemetry::init("debug,async_nats=info,sqlx=warn,hyper=info");
    }
}

/// A throw-away `nats-server`; its store is deleted on drop.
pub struct TestNats {
    pub server: NatsServer,
    dir: tempfile::TempDir,
}

impl TestNats {
    /// Starts a server; panics with install instructions when none is found.
    pub fn start() -> Self {
        init_tracing();
        let dir = tempfile::Builder::new()
            .prefix("casegrid-nats-")
            .tempdir()
            .expect("temp dir");
        let server = NatsServer::start(Options {
            store_dir: dir.path().join("jetstream"),
            port: 0,
            sync_always: true,
        })
        .unwrap_or_else(|e| panic!("test kit: {e:#}"));
        Self { server, dir }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A connected client (version-checked).
    pub async fn client(&self) -> async_nats::Client {
        casegrid_runtime::nats::connect(&self.url(), "casegrid-test")
            .await
            .expect("connect to test nats-server")
    }
}

/// Runs `f` until it returns `Some`, every 20 ms, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
