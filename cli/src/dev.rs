//! `casegrid dev`: the embedded default. A local `nats-server` child (JetStream under
//! `<data>/nats`, `sync_interval: always`, the shipped accounts and permissions with
//! fresh nkeys per run under `<data>/nats-credentials`), the four services in this
//! process, each with its own NATS connection as its own user, SQLite read models in
//! `<data>/casegrid.db`, and the demo district. Ctrl-C stops the services, then the server.
//!
//! [`start_system`] is the same setup for `casegrid bench`.

use anyhow::Context;
use casegrid_runtime::natsauth::{Credentials, User};
use casegrid_runtime::natsserver::{NatsServer, Options};
use casegrid_runtime::restart::supervise;
use casegrid_runtime::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(clap::Args)]
pub(crate) struct DevArgs {
    /// Where JetStream and the SQLite read models live.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// HTTP address of the gateway (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Port of the nats-server child (0 picks a free one).
    #[arg(long, default_value_t = 4222)]
    nats_port: u16,
    /// The district configuration folder.
    #[arg(long, default_value = "deploy/config")]
    config: PathBuf,
}

/// How to start the whole system on this machine.
pub(crate) struct SystemOptions {
    /// JetStream goes to `<data_dir>/nats`, the read models to `<data_dir>/casegrid.db`.
    pub(crate) data_dir: PathBuf,
    /// HTTP address of the gateway (port 0 picks a free one).
    pub(crate) http: String,
    /// Port of the nats-server child (0 picks a free one).
    pub(crate) nats_port: u16,
    /// The district configuration folder.
    pub(crate) config: PathBuf,
    /// `sync_interval: always` (the shipped setting); false for the server default.
    pub(crate) sync_always: bool,
    /// The gateway's per-principal rate limit (`[http.rate_limit]`); false turns it off.
    pub(crate) rate_limit: bool,
}

/// A running nats-server child and the four services in this process.
pub(crate) struct System {
    pub(crate) nats: NatsServer,
    pub(crate) http: SocketAddr,
    pub(crate) data_dir: PathBuf,
    /// The settings of the system, connecting as the NATS admin (the services each
    /// connect as their own user).
    pub(crate) settings: Settings,
    /// This run's NATS users' keys.
    pub(crate) credentials: Credentials,
    shutdown: CancellationToken,
    services: JoinSet<(&'static str, anyhow::Result<()>)>,
}

/// Starts the nats-server child, then intake, routing, projection and the gateway.
pub(crate) async fn start_system(options: SystemOptions) -> anyhow::Result<System> {
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let data_dir = options.data_dir.canonicalize()?;
    let nats_dir = data_dir.join("nats");
    // Only an empty data folder gets a new stream; one whose stream is gone must not.
    let fresh = !nats_dir.exists();
    let credentials = Credentials::generate(&credentials_dir(&data_dir))?;
    let (port, sync_always) = (options.nats_port, options.sync_always);
    let auth = Some(credentials.clone());
    let nats = tokio::task::spawn_blocking(move || {
        NatsServer::start(Options {
            store_dir: nats_dir,
            port,
            sync_always,
            auth,
            tls: None,
        })
    })
    .await?
    .context("starting nats-server")?;

    let mut settings = Settings::load(None)?;
    // Development: the demo tokens of principals.toml are accepted (printed at start).
    settings.auth.static_tokens = true;
    if !options.rate_limit {
        settings.http.rate_limit.per_second = 0.0;
    }
    settings.nats = credentials.settings(User::Admin, &nats.url());
    if fresh {
        bootstrap(&settings.nats)
            .await
            .context("creating the event stream in the empty data folder")?;
    } else {
        // A data folder from before the notifier: its bucket only (never the stream).
        let client =
            casegrid_runtime::nats::connect_with(&settings.nats, "casegrid-bootstrap").await?;
        casegrid_eventlog::EventLog::create_notification_bucket(&client, settings.nats.replicas)
            .await
            .context("creating the notification bucket")?;
        client.drain().await.ok();
    }
    settings.database.url = casegrid_runtime::Secret::new(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("casegrid.db").display()
    ));
    settings.routing.database_url = casegrid_runtime::Secret::new(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("routing.db").display()
    ));
    settings.district.config_dir = options.config.canonicalize()?;
    // Development: texts to citizens and staff go to a file (the SMS adapter).
    if settings.notify.sms_file.is_none() {
        settings.notify.sms_file = Some(data_dir.join("sms.jsonl"));
    }
    let listener = tokio::net::TcpListener::bind(&options.http)
        .await
        .with_context(|| format!("binding {}", options.http))?;
    let http = listener.local_addr()?;
    settings.http.addr = http.to_string();

    let shutdown = CancellationToken::new();
    let mut services: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
    // Each service connects as its own NATS user, as it would in its own process.
    let as_user = |user: User| {
        let mut s = settings.clone();
        s.nats = credentials.settings(user, &s.nats.url);
        s
    };
    let (s, t) = (as_user(User::Intake), shutdown.clone());
    services.spawn(async move {
        let serve = || casegrid_intake::serve(&s, t.clone());
        ("intake", supervise("intake", &t, serve).await)
    });
    let (s, t) = (as_user(User::Routing), shutdown.clone());
    services.spawn(async move {
        let serve = || casegrid_routing::serve(&s, t.clone());
        ("routing", supervise("routing", &t, serve).await)
    });
    let (s, t) = (as_user(User::Projection), shutdown.clone());
    services.spawn(async move {
        let serve = || casegrid_projection::serve(&s, t.clone());
        ("projection", supervise("projection", &t, serve).await)
    });
    let (s, t) = (as_user(User::Gateway), shutdown.clone());
    services.spawn(async move { ("gateway", casegrid_gateway::serve_on(listener, &s, t).await) });
    Ok(System {
        nats,
        http,
        data_dir,
        settings,
        credentials,
        shutdown,
        services,
    })
}

/// Where `casegrid dev` writes this run's NATS keys: the tools find the admin's there.
pub(crate) fn credentials_dir(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("nats-credentials")
}

/// As the NATS admin, creates the event stream and the key bucket when absent: the
/// services may only open them.
async fn bootstrap(admin: &casegrid_runtime::settings::NatsSettings) -> anyhow::Result<()> {
    let client = casegrid_runtime::nats::connect_with(admin, "casegrid-bootstrap").await?;
    casegrid_eventlog::EventLog::bootstrap(client.clone(), admin.replicas).await?;
    client
        .drain()
        .await
        .context("draining the admin connection")?;
    Ok(())
}

impl System {
    /// Waits until a service stops, which it only does on failure.
    pub(crate) async fn failed(&mut self) -> anyhow::Error {
        match self.services.join_next().await {
            Some(Ok((name, Ok(())))) => anyhow::anyhow!("{name} stopped on its own"),
            Some(Ok((name, Err(e)))) => e.context(format!("{name} failed")),
            Some(Err(e)) => anyhow::Error::new(e).context("a service task panicked"),
            None => anyhow::anyhow!("no service is running"),
        }
    }

    /// Stops the services (up to 20 s for in-flight work), then the server.
    pub(crate) async fn stop(mut self, who: &str) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let drained = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(done) = self.services.join_next().await {
                if let Ok((name, Err(e))) = done {
                    eprintln!("{who}: {name}: {e:#}");
                }
            }
        })
        .await;
        if drained.is_err() {
            eprintln!("{who}: services did not stop within 20s");
        }
        let mut nats = self.nats;
        tokio::task::spawn_blocking(move || nats.stop()).await?;
        Ok(())
    }
}

pub(crate) async fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    casegrid_runtime::telemetry::init(casegrid_runtime::telemetry::DEFAULT_FILTER);
    let district = casegrid_config::District::load(&args.config)
        .with_context(|| format!("loading the district from {}", args.config.display()))?;
    let mut system = start_system(SystemOptions {
        data_dir: args.data_dir,
        http: args.http,
        nats_port: args.nats_port,
        config: args.config,
        sync_always: true,
        rate_limit: true,
    })
    .await?;
    let http = system.http;

    println!(
        "casegrid dev: nats-server {} and the four services are running",
        system.nats.version
    );
    println!("HTTP  http://{http}");
    println!("API   http://{http}/api/v1");
    println!("NATS  {}", system.nats.url());
    println!(
        "AUTH  {} (this run's nkeys, one per user; the tools use admin.nk there by default)",
        system.credentials.dir().display()
    );
    println!(
        "DATA  {} (read models: casegrid.db, JetStream: nats/)",
        system.data_dir.display()
    );
    println!("TOKENS static demo tokens are ON ([auth] static_tokens = true, development only)");
    println!("demo tokens (Authorization: Bearer <token>):");
    let mut principals: Vec<_> = district.principals.values().collect();
    principals.sort_by(|a, b| a.token.cmp(&b.token));
    for p in principals {
        println!(
            "  {:<18} {:<12} {:<16} {}",
            p.token,
            p.kind.as_str(),
            p.id,
            p.name
        );
    }
    println!("Ctrl-C stops everything.");

    let failed = tokio::select! {
        () = casegrid_runtime::shutdown::signal() => None,
        e = system.failed() => Some(e),
    };
    eprintln!("casegrid dev: stopping");
    system.stop("casegrid dev").await?;
    match failed {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}
