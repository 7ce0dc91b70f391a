//! `casegrid bench-import`: the speed of `casegrid import` on a generated history, on a
//! nats-server of its own (`sync_interval: always` unless `--lazy-fsync`), no services
//! (routing would react to the imported open cases). Prints the first run's events/s
//! and the second run's time (it appends nothing), then `IMPORT-BENCH …` for scripts.

use anyhow::Context;
use casegrid_eventlog::EventLog;
use casegrid_intake::import::{import, write_sample, ImportOptions, ImportReport};
use casegrid_runtime::natsserver::{NatsServer, Options};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub(crate) struct BenchImportArgs {
    /// Cases in the generated history (about 5.5 events each).
    #[arg(long, default_value_t = 100_000)]
    cases: usize,
    /// The server's default fsync instead of `sync_interval: always`.
    #[arg(long)]
    lazy_fsync: bool,
    /// The district configuration folder.
    #[arg(long, default_value = "deploy/config")]
    config: PathBuf,
}

pub(crate) async fn run(args: BenchImportArgs) -> anyhow::Result<ExitCode> {
    let district = casegrid_config::District::load(&args.config)
        .with_context(|| format!("loading the district from {}", args.config.display()))?;
    let temp = super::tempdir()?;
    let history = temp.path().join("history");
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(365);
    let t = Instant::now();
    let later = write_sample(&history, &district, args.cases, start)?;
    println!(
        "casegrid bench-import: {} cases, {} events generated in {:.1} s",
        args.cases,
        args.cases as u64 + later,
        t.elapsed().as_secs_f64()
    );
    let (store_dir, sync_always) = (temp.path().join("nats"), !args.lazy_fsync);
    let mut nats = tokio::task::spawn_blocking(move || {
        NatsServer::start(Options {
            store_dir,
            port: 0,
            sync_always,
            auth: None,
            tls: None,
        })
    })
    .await??;
    let client = async_nats::connect(nats.url()).await?;
    let log = EventLog::bootstrap(client.clone(), 1).await?;
    let keys = casegrid_privacy::KeyVault::create(client, 1).await?;
    let options = ImportOptions::default();
    let (cases, events) = (history.join("cases.csv"), history.join("events.jsonl"));
    let first = import(&log, &keys, &district, &cases, &events, &options, |_| {}).await?;
    let again = import(&log, &keys, &district, &cases, &events, &options, |_| {}).await?;
    let stored = log.message_count().await?;
    nats.stop();
    let line = |name: &str, r: &ImportReport| {
        println!(
            "{name}: cases={} events={} already={} refused={} seconds={:.1} events_per_s={:.0}",
            r.cases,
            r.events,
            r.already,
            r.refused.len(),
            r.elapsed.as_secs_f64(),
            r.events_per_second()
        )
    };
    line("first run", &first);
    line("second run", &again);
    println!(
        "IMPORT-BENCH cases={} events={} fsync={} events_per_s={:.0} rerun_seconds={:.2} stored={stored}",
        first.cases,
        first.events,
        if args.lazy_fsync { "lazy" } else { "always" },
        first.events_per_second(),
        again.elapsed.as_secs_f64()
    );
    let ok = first.refused.is_empty()
        && again.events == 0
        && again.already == first.cases
        && stored == first.events;
    if !ok {
        eprintln!("casegrid bench-import: FAILED (refused cases, a second run that appended, or a stored count that differs)");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
