//! The test kit: real dependencies for integration tests, started on free ports in
//! temporary directories and cleaned up on drop. No mocks.
//!
//! - [`TestNats`]: a `nats-server` with JetStream (`sync_interval: always`, as shipped):
//!   open for unit-level tests ([`TestNats::start`]), or with the shipped accounts and
//!   permissions and fresh keys per user ([`TestNats::start_secured`]).
//! - [`TestCluster`]: three `nats-server` nodes routed on loopback, the stream at
//!   replicas 3, nodes killed and restarted by index.
//! - [`TestPostgres`]: a throw-away PostgreSQL cluster (or a fresh database per test on
//!   `CASEGRID_TEST_DATABASE_URL`); see [`postgres`] for how it runs as root. It lives
//!   in `casegrid_runtime::postgres` (so `casegrid bench` uses it without the test
//!   kit) and is re-exported here.
//! - [`openapi`]: checking real responses against the gateway's OpenAPI document.
//! - [`init_tracing`]: quiet unless `TEST_LOG` is set.

pub mod cluster;
pub mod openapi;
pub use casegrid_runtime::postgres;

pub use cluster::TestCluster;
pub use postgres::TestPostgres;

use casegrid_runtime::natsauth::{Credentials, User};
pub use casegrid_runtime::natsserver::ServerTls;
use casegrid_runtime::natsserver::{NatsServer, Options};
use casegrid_runtime::settings::NatsSettings;
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
    credentials: Option<Credentials>,
}

impl TestNats {
    /// Starts an open server (no authorization); panics with install instructions when
    /// none is found.
    pub fn start() -> Self {
        Self::start_with(false, None)
    }

    /// Starts a server running the shipped accounts and permissions
    /// ([`casegrid_runtime::natsauth`], the same as `casegrid dev` and `deploy/nats/`),
    /// with fresh keys per user under [`Self::dir`]`/nats-credentials`. [`Self::client`]
    /// connects as the admin; [`Self::settings`] says how each user connects.
    pub fn start_secured() -> Self {
        Self::start_with(true, None)
    }

    /// Like [`Self::start_secured`], serving clients over TLS only.
    pub fn start_secured_with_tls(tls: ServerTls) -> Self {
        Self::start_with(true, Some(tls))
    }

    fn start_with(secured: bool, tls: Option<ServerTls>) -> Self {
        init_tracing();
        let dir = tempfile::Builder::new()
            .prefix("casegrid-nats-")
            .tempdir()
            .expect("temp dir");
        let credentials = secured.then(|| {
            Credentials::generate(&dir.path().join("nats-credentials"))
                .unwrap_or_else(|e| panic!("test kit: {e:#}"))
        });
        let server = NatsServer::start(Options {
            store_dir: dir.path().join("jetstream"),
            port: 0,
            sync_always: true,
            auth: credentials.clone(),
            tls,
        })
        .unwrap_or_else(|e| panic!("test kit: {e:#}"));
        Self {
            server,
            dir,
            credentials,
        }
    }

    /// How `user` connects; on an open server, without credentials.
    pub fn settings(&self, user: User) -> NatsSettings {
        match &self.credentials {
            Some(c) => c.settings(user, &self.url()),
            None => NatsSettings::open(self.url()),
        }
    }

    /// The keys of a secured server.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// A client connected as `user` (version-checked).
    pub async fn client_as(&self, user: User) -> async_nats::Client {
        casegrid_runtime::nats::connect_with(
            &self.settings(user),
            &format!("casegrid-test-{}", user.name()),
        )
        .await
        .unwrap_or_else(|e| panic!("connect to test nats-server as {}: {e:#}", user.name()))
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A connected client (version-checked); the admin on a secured server.
    pub async fn client(&self) -> async_nats::Client {
        self.client_as(User::Admin).await
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

/// Makes direct gets of stream `stream` sometimes answered by a replica that never
/// catches up, on one server: a mirror with `mirror_direct` joins the stream's direct
/// get queue group, and its filter lets only `kept` through. The server lets a mirror
/// serve direct gets once it has mirrored a message, so `kept` must hold one before;
/// this waits until the mirror has it. From then on, about every second direct get of
/// any other subject answers "no such message", as a lagging replica of a cluster would.
pub async fn lagging_mirror(admin: &async_nats::Client, stream: &str, kept: &str) {
    use async_nats::jetstream::stream;
    let js = async_nats::jetstream::new(admin.clone());
    js.create_stream(stream::Config {
        name: format!("{stream}_LAGGING"),
        mirror: Some(stream::Source {
            name: stream.to_owned(),
            filter_subject: Some(kept.to_owned()),
            ..Default::default()
        }),
        mirror_direct: true,
        allow_direct: true,
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("test kit: a lagging mirror of {stream}: {e}"));
    let name = format!("{stream}_LAGGING");
    eventually(
        Duration::from_secs(20),
        "the lagging mirror to hold a message",
        || {
            let js = js.clone();
            let name = name.clone();
            async move {
                let mut mirror = js.get_stream(&name).await.ok()?;
                (mirror.info().await.ok()?.state.messages > 0).then_some(())
            }
        },
    )
    .await;
}
