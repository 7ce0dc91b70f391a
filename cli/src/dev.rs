//! `casegrid dev`: the embedded default. A local `nats-server` child (JetStream under
//! `<data>/nats`, `sync_interval: always`), the four services in this process, each
//! with its own NATS connection, SQLite read models in `<data>/casegrid.db`, and the
//! demo district. Ctrl-C stops the services, then the server.

use anyhow::Context;
use casegrid_runtime::natsserver::{NatsServer, Options};
use casegrid_runtime::Settings;
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

pub(crate) async fn run(args: DevArgs) -> anyhow::Result<ExitCode> {
    casegrid_runtime::telemetry::init(casegrid_runtime::telemetry::DEFAULT_FILTER);
    let district = casegrid_config::District::load(&args.config)
        .with_context(|| format!("loading the district from {}", args.config.display()))?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let nats_dir = data_dir.join("nats");
    let port = args.nats_port;
    let mut nats = tokio::task::spawn_blocking(move || {
        NatsServer::start(Options {
            store_dir: nats_dir,
            port,
            sync_always: true,
        })
    })
    .await?
    .context("starting nats-server")?;

    let mut settings = Settings::load(None)?;
    settings.nats.url = nats.url();
    settings.database.url = casegrid_runtime::Secret::new(format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("casegrid.db").display()
    ));
    settings.district.config_dir = args.config.canonicalize()?;
    let listener = tokio::net::TcpListener::bind(&args.http)
        .await
        .with_context(|| format!("binding {}", args.http))?;
    let http = listener.local_addr()?;
    settings.http.addr = http.to_string();

    let shutdown = CancellationToken::new();
    let mut services: JoinSet<(&str, anyhow::Result<()>)> = JoinSet::new();
    {
        let (s, t) = (settings.clone(), shutdown.clone());
        services.spawn(async move { ("intake", casegrid_intake::serve(&s, t).await) });
        let (s, t) = (settings.clone(), shutdown.clone());
        services.spawn(async move { ("routing", casegrid_routing::serve(&s, t).await) });
        let (s, t) = (settings.clone(), shutdown.clone());
        services.spawn(async move { ("projection", casegrid_projection::serve(&s, t).await) });
        let (s, t) = (settings.clone(), shutdown.clone());
        services
            .spawn(async move { ("gateway", casegrid_gateway::serve_on(listener, &s, t).await) });
    }

    println!(
        "casegrid dev: nats-server {} and the four services are running",
        nats.version
    );
    println!("HTTP  http://{http}");
    println!("API   http://{http}/api/v1");
    println!("NATS  {}", nats.url());
    println!(
        "DATA  {} (read models: casegrid.db, JetStream: nats/)",
        data_dir.display()
    );
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

    let mut failed = None;
    tokio::select! {
        () = casegrid_runtime::shutdown::signal() => {}
        Some(done) = services.join_next() => {
            let (name, result) = done.context("a service task panicked")?;
            failed = Some(match result {
                Ok(()) => anyhow::anyhow!("{name} stopped on its own"),
                Err(e) => e.context(format!("{name} failed")),
            });
        }
    }
    eprintln!("casegrid dev: stopping");
    shutdown.cancel();
    let drained = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(done) = services.join_next().await {
            if let Ok((name, Err(e))) = done {
                eprintln!("casegrid dev: {name}: {e:#}");
            }
        }
    })
    .await;
    if drained.is_err() {
        eprintln!("casegrid dev: services did not stop within 20s");
    }
    tokio::task::spawn_blocking(move || nats.stop()).await?;
    match failed {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}
