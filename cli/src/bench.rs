//! `casegrid bench`: what it costs to file, act and rebuild, measured against raw
//! JetStream in the same run, so every figure has its twin on the same machine at the
//! same moment.
//!
//! One run starts its own `nats-server` (`sync_interval: always` unless `--lazy-fsync`)
//! and the four services exactly as `casegrid dev` does, then measures:
//! 1. raw JetStream ([`raw`]): 64 writers with expected-last-subject-sequence and a
//!    message id, one pipelined writer, an ordered drain — events the size of casegrid's;
//! 2. filing through the HTTP gateway at 64 clients ([`http::file`]);
//! 3. acting (sign + reply) on the filed cases at 64 clients ([`http::act`]);
//! 4. lag from filed to visible in the department's inbox at 500 and 2,000 cases/s
//!    ([`http::lag`]);
//! 5. rebuild of a generated ≥ 1M-event stream into fresh read models ([`generate`]);
//! 6. memory and stream bytes per case.
//!
//! It checks its own results (N filings → N cases, all dispatched; rebuilt read models
//! equal the live projection) and ends with one `RATIOS …` line.

mod generate;
mod http;
pub(crate) mod import;
mod raw;
mod twins;

use crate::dev::{start_system, SystemOptions};
use anyhow::Context;
use casegrid_eventlog::{EventLog, LogConfig};
use casegrid_readmodel::ReadModel;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// Smaller counts: finishes in under 3 minutes.
    #[arg(long)]
    quick: bool,
    /// The server's default fsync (every 2 minutes) instead of `sync_interval: always`.
    #[arg(long)]
    lazy_fsync: bool,
    /// Write the results as Markdown here (default without --quick: docs/BENCHMARKS.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The district configuration folder.
    #[arg(long, default_value = "deploy/config")]
    config: PathBuf,
    /// A fresh, empty PostgreSQL database to rebuild into as well (when the read
    /// models support PostgreSQL); without it the PostgreSQL rebuild is n/a.
    #[arg(long, env = "CASEGRID_BENCH_PG")]
    pg: Option<String>,
    /// Run one group only and print its figures (nothing written): `lag` (both lag
    /// groups, on a warmed-up system) or `rebuild` (the generated stream, drained and
    /// rebuilt into SQLite and PostgreSQL; no services started).
    #[arg(long, value_enum)]
    only: Option<Only>,
    /// Generated cases for the rebuild group (default 100000, 5000 with --quick).
    #[arg(long)]
    cases: Option<usize>,
}

/// The groups `--only` runs alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Only {
    Lag,
    Rebuild,
}

/// How much each group does.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// How long the 64 raw writers run.
    raw_writers: Duration,
    /// How long (at most) the pipelined writer runs, and how many messages at most.
    raw_pipelined: Duration,
    raw_pipelined_max: u64,
    /// Cases filed at 64 clients (then signed and replied).
    filings: usize,
    /// Cases filed at the fixed offered load for the lag.
    lag_cases: usize,
    /// Cases filed at the high offered load ([`LAG2K_RATE`]).
    lag2k_cases: usize,
    /// Generated cases for the rebuild (5–15 events each, ~10 on average).
    generated_cases: usize,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                raw_writers: Duration::from_secs(4),
                raw_pipelined: Duration::from_secs(3),
                raw_pipelined_max: 100_000,
                filings: 2_000,
                lag_cases: 1_500,
                lag2k_cases: 4_000,
                generated_cases: 5_000,
            }
        } else {
            Self {
                raw_writers: Duration::from_secs(15),
                raw_pipelined: Duration::from_secs(10),
                raw_pipelined_max: 1_000_000,
                filings: 20_000,
                lag_cases: 10_000,
                lag2k_cases: 20_000,
                generated_cases: 100_000,
            }
        }
    }
}

/// Clients in the concurrent groups (raw writers, filing, acting).
const CONCURRENCY: usize = 64;
/// The fixed offered load of the lag group.
const LAG_RATE: f64 = 500.0;
/// The high offered load of the second lag group.
const LAG2K_RATE: f64 = 2_000.0;

/// Latencies of one group, sorted, for percentiles.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latencies(Vec<Duration>);

impl Latencies {
    pub(crate) fn new(mut all: Vec<Duration>) -> Self {
        all.sort_unstable();
        Self(all)
    }

    /// The `p`-th percentile (0–100), nearest rank; zero when empty.
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    /// `"<p50> / <p99>"` in milliseconds, as the report's latency rows read.
    pub(crate) fn p50_p99(&self) -> String {
        format!(
            "{} / {}",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0))
        )
    }
}

/// Milliseconds with two decimals.
fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// Operations per second.
pub(crate) fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Resident memory of a process from `/proc/<pid>/status` (bytes), if readable.
fn rss_of(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// The table, one row per figure, and what the Markdown needs besides.
#[derive(Default)]
struct Report {
    rows: Vec<(String, String, String)>,
    checks: Vec<String>,
}

impl Report {
    fn row(&mut self, group: &str, figure: &str, value: impl Into<String>) {
        let value = value.into();
        println!("  {group:<10} {figure:<52} {value}");
        self.rows.push((group.into(), figure.into(), value));
    }

    fn check(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("  check      {text}");
        self.checks.push(text);
    }
}

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let mut sizes = Sizes::new(args.quick);
    if let Some(cases) = args.cases {
        sizes.generated_cases = cases;
    }
    let out = match (&args.out, args.quick || args.only.is_some()) {
        (Some(p), _) => Some(p.clone()),
        (None, false) => Some(PathBuf::from("docs/BENCHMARKS.md")),
        (None, true) => None,
    };
    if args.only == Some(Only::Rebuild) {
        return rebuild_only(sizes, &args).await;
    }
    let district = casegrid_config::District::load(&args.config)
        .with_context(|| format!("loading the district from {}", args.config.display()))?;
    let temp = tempdir()?;
    let started = Instant::now();
    let sync = if args.lazy_fsync {
        "server default (lazy fsync)"
    } else {
        "sync_interval: always"
    };
    let mut system = start_system(SystemOptions {
        data_dir: temp.path().join("system"),
        http: "127.0.0.1:0".into(),
        nats_port: 0,
        config: args.config.clone(),
        sync_always: !args.lazy_fsync,
        // The gateway's per-principal rate limit guards against one noisy client; the
        // benchmark is that client on purpose.
        rate_limit: false,
    })
    .await?;
    println!(
        "casegrid bench{}: nats-server {} ({sync}), services in-process, HTTP {}",
        if args.quick { " --quick" } else { "" },
        system.nats.version,
        system.http
    );
    let target = Target {
        nats: system.settings.nats.clone(),
        nats_pid: system.nats.pid(),
        http: system.http,
        database_url: system.settings.database.url.expose().to_owned(),
    };
    // Any service failing ends the run with its error.
    let result = tokio::select! {
        r = measure(&target, &district, sizes, &args, temp.path()) => r,
        e = system.failed() => Err(e.context("a service stopped during the benchmark")),
    };
    let version = system.nats.version.clone();
    system.stop("casegrid bench").await?;
    let (report, ratios) = result?;
    if let Some(out) = out {
        let mut text = markdown(&report, &ratios, &args, &version, sizes, started.elapsed());
        // What people wrote below the marker (analysis, plans) survives a new run.
        if let Ok(old) = std::fs::read_to_string(&out) {
            if let Some(at) = old.find(KEPT) {
                text.push('\n');
                text.push_str(&old[at..]);
            }
        }
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("casegrid bench: wrote {}", out.display());
    }
    // The last line of the output, for scripts.
    println!("{ratios}");
    let failed = report.checks.iter().any(|c| c.starts_with("FAILED"));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A temporary directory removed at the end (or left, with its path printed, when
/// `CASEGRID_BENCH_KEEP` is set).
fn tempdir() -> anyhow::Result<TempDir> {
    let base = std::env::temp_dir().join(format!(
        "casegrid-bench-{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp()
    ));
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    Ok(TempDir(base))
}

struct TempDir(PathBuf);

impl TempDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("CASEGRID_BENCH_KEEP").is_some() {
            eprintln!("casegrid bench: kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Where the system under test answers.
struct Target {
    /// The admin's connection settings.
    nats: casegrid_runtime::settings::NatsSettings,
    nats_pid: Option<u32>,
    http: std::net::SocketAddr,
    database_url: String,
}

/// Every group, in order; returns the table and the RATIOS line.
async fn measure(
    system: &Target,
    district: &casegrid_config::District,
    sizes: Sizes,
    args: &BenchArgs,
    temp: &Path,
) -> anyhow::Result<(Report, String)> {
    let mut report = Report::default();
    let api = http::Api::new(system.http)?;
    api.wait_ready(Duration::from_secs(60)).await?;
    let client = casegrid_runtime::nats::connect_with(&system.nats, "casegrid-bench").await?;
    let log = EventLog::open(client.clone(), LogConfig::default())
        .await
        .context("opening the event log")?;
    let live = ReadModel::connect(&system.database_url)
        .await
        .context("opening the live read models")?;
    let tokens = http::Tokens::from_district(district)?;

    // A real case's envelopes give the event size of the raw group.
    let event_size = http::warmup(&api, &tokens, &log, &live).await?;
    let nats_pid = system.nats_pid.map(|p| p.to_string());
    let nats_rss = || nats_pid.as_deref().and_then(rss_of);
    println!("  {:<10} {:<52} value", "group", "figure");
    if args.only == Some(Only::Lag) {
        let mut p99s = Vec::new();
        for (cases, per_second) in [(sizes.lag_cases, LAG_RATE), (sizes.lag2k_cases, LAG2K_RATE)] {
            let lag = http::lag(&api, &tokens, &log, &client, &live, cases, per_second).await?;
            p99s.push(report_lag(&mut report, &lag, per_second).as_secs_f64() * 1e3);
        }
        let ratios = format!(
            "RATIOS lag_p99_ms={:.1} lag2k_p99_ms={:.1}",
            p99s[0], p99s[1]
        );
        return Ok((report, ratios));
    }

    // 1. Raw JetStream.
    let raw64 = raw::writers(&client, event_size, CONCURRENCY, sizes.raw_writers).await?;
    report.row(
        "raw",
        "event size (bytes, a real envelope's mean)",
        event_size.to_string(),
    );
    report.row(
        "raw",
        &format!("{CONCURRENCY} writers, expected seq + msg id (appends/s)"),
        format!("{:.0}", raw64.rate()),
    );
    report.row("raw", "  latency p50 / p99 (ms)", raw64.latencies.p50_p99());
    let pipelined = raw::pipelined(
        &client,
        event_size,
        256,
        sizes.raw_pipelined,
        sizes.raw_pipelined_max,
    )
    .await?;
    report.row(
        "raw",
        "1 writer, 256 acks in flight (appends/s)",
        format!("{:.0}", pipelined.rate()),
    );

    // 1b. Durable appends side by side: casegrid's event log and a PostgreSQL event
    // store, at 64 writers and at one.
    let batch = casegrid_eventlog::BatchConfig::from(
        &casegrid_runtime::Settings::load(None)
            .context("reading [eventlog] settings")?
            .eventlog,
    );
    let log64 =
        twins::eventlog_writers(&client, event_size, CONCURRENCY, sizes.raw_writers, batch).await?;
    report.row(
        "append",
        &format!("casegrid event log, {CONCURRENCY} writers (appends/s)"),
        format!("{:.0}", log64.rate()),
    );
    report.row(
        "append",
        "  latency p50 / p99 (ms)",
        log64.latencies.p50_p99(),
    );
    let log1 = twins::eventlog_writers(&client, event_size, 1, sizes.raw_writers, batch).await?;
    report.row(
        "append",
        "casegrid event log, 1 writer (appends/s)",
        format!("{:.0}", log1.rate()),
    );
    // The three durable writes of a filing, each alone at 64 writers: the case's data
    // key (KV), then `CaseFiled` and routing's `CaseDispatched` (event-log appends, as
    // above), one request each and gathered into atomic batches.
    for (how, group) in [("one request each", None), ("group commit", Some(batch))] {
        let keys = twins::key_writers(&client, CONCURRENCY, sizes.raw_writers, group).await?;
        report.row(
            "append",
            &format!("data keys (KV), {CONCURRENCY} writers, {how} (keys/s)"),
            format!("{:.0}", keys.rate()),
        );
        report.row(
            "append",
            "  latency p50 / p99 (ms)",
            keys.latencies.p50_p99(),
        );
    }
    let single = twins::eventlog_writers(
        &client,
        event_size,
        CONCURRENCY,
        sizes.raw_writers,
        casegrid_eventlog::BatchConfig {
            window: Duration::ZERO,
            ..batch
        },
    )
    .await?;
    report.row(
        "append",
        &format!("casegrid event log, {CONCURRENCY} writers, one request each (appends/s)"),
        format!("{:.0}", single.rate()),
    );
    let durable_pg = match args.pg.clone() {
        Some(url) => Some((None, url)),
        None => match tokio::task::spawn_blocking(
            casegrid_runtime::postgres::TestPostgres::start_durable,
        )
        .await
        {
            Ok(Ok(server)) => {
                let url = server.database().await;
                Some((Some(server), url))
            }
            _ => {
                eprintln!("bench: no PostgreSQL server for the event store twin: append_vs_pg=n/a");
                None
            }
        },
    };
    let mut append_vs_pg = "n/a".to_owned();
    if let Some((_server, url)) = &durable_pg {
        let pg64 = twins::postgres_writers(url, event_size, CONCURRENCY, sizes.raw_writers).await?;
        let pg1 = twins::postgres_writers(url, event_size, 1, sizes.raw_writers).await?;
        report.row(
            "append",
            &format!(
                "PostgreSQL event store, {CONCURRENCY} writers, synchronous_commit (appends/s)"
            ),
            format!("{:.0}", pg64.rate()),
        );
        report.row(
            "append",
            "  latency p50 / p99 (ms)",
            pg64.latencies.p50_p99(),
        );
        report.row(
            "append",
            "PostgreSQL event store, 1 writer (appends/s)",
            format!("{:.0}", pg1.rate()),
        );
        append_vs_pg = format!("{:.3}", log64.rate() / pg64.rate().max(1e-9));
    }
    drop(durable_pg);

    // 2. Filing.
    let rss_before = rss_of("self");
    let filed = http::file(&api, &tokens, sizes.filings, CONCURRENCY, "file").await?;
    let filing_rate = filed.rate();
    report.row(
        "filing",
        &format!(
            "{} cases at {CONCURRENCY} clients (cases/s)",
            filed.ids.len()
        ),
        format!("{filing_rate:.0}"),
    );
    report.row(
        "filing",
        "  latency p50 / p99 / p99.9 (ms)",
        format!(
            "{} / {} / {}",
            ms(filed.latencies.percentile(50.0)),
            ms(filed.latencies.percentile(99.0)),
            ms(filed.latencies.percentile(99.9))
        ),
    );
    if filed.errors > 0 {
        report.check(format!(
            "FAILED: {} filings were refused or failed",
            filed.errors
        ));
    }
    let dispatched = http::wait_dispatched(&live, &filed.ids, Duration::from_secs(120)).await?;
    let total_cases = http::count_cases(&live).await?;
    let expected_total = filed.ids.len() as u64 + 1;
    if filed.ids.len() == sizes.filings
        && dispatched.all_dispatched
        && total_cases == expected_total
    {
        report.check(format!(
            "ok: {} filings → exactly {} cases (+1 warm-up), every one dispatched",
            sizes.filings,
            filed.ids.len()
        ));
    } else {
        report.check(format!(
            "FAILED: {} filings asked, {} distinct cases answered, {} in the read model (expected {expected_total}), {} dispatched",
            sizes.filings,
            filed.ids.len(),
            total_cases,
            dispatched.dispatched
        ));
    }
    report.row(
        "filing",
        "  filed → all dispatched and projected (s)",
        format!("{:.2}", dispatched.waited.as_secs_f64()),
    );

    // 3. Acting.
    let acted = http::act(&api, &tokens, &dispatched.leads, CONCURRENCY).await?;
    let acting_rate = acted.rate();
    report.row(
        "acting",
        &format!(
            "sign + reply on {} cases at {CONCURRENCY} clients (actions/s)",
            dispatched.leads.len()
        ),
        format!("{acting_rate:.0}"),
    );
    report.row(
        "acting",
        "  latency p50 / p99 (ms)",
        acted.latencies.p50_p99(),
    );
    if acted.errors > 0 {
        report.check(format!(
            "FAILED: {} actions were refused or failed (first: {})",
            acted.errors, acted.first_error
        ));
    } else {
        report.check(format!(
            "ok: {} actions answered 200 with the expected status",
            acted.count
        ));
    }

    // 4. Lag, at 500 and at 2,000 cases/s.
    let mut lag_p99s = Vec::new();
    for (cases, per_second) in [(sizes.lag_cases, LAG_RATE), (sizes.lag2k_cases, LAG2K_RATE)] {
        let lag = http::lag(&api, &tokens, &log, &client, &live, cases, per_second).await?;
        lag_p99s.push(report_lag(&mut report, &lag, per_second));
    }
    let (lag_p99, lag2k_p99) = (lag_p99s[0], lag_p99s[1]);

    // 6a. Memory of the system after filing, acting and lag.
    let rss_after = rss_of("self");
    let system_cases = http::count_cases(&live).await?;
    let (stream_bytes, stream_messages) = client_stream_info(&client, "CASEGRID_EVENTS").await?;
    let system_bytes_per_case = stream_bytes as f64 / system_cases.max(1) as f64;
    report.row(
        "memory",
        &format!("system stream: {system_cases} cases, {stream_messages} events (bytes/case)"),
        format!("{system_bytes_per_case:.0}"),
    );
    if let Some(rss) = nats_rss() {
        report.row("memory", "system nats-server RSS", mib(rss as f64));
    }
    let mut services_per_100k = None;
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        report.row(
            "memory",
            "bench + services RSS (before filing → after lag)",
            format!("{} → {}", mib(before as f64), mib(after as f64)),
        );
        let filed_since = (system_cases.saturating_sub(1)).max(1) as f64;
        let per_100k = after.saturating_sub(before) as f64 / filed_since * 100_000.0;
        services_per_100k = Some(per_100k);
        report.row(
            "memory",
            "  services' growth per 100k cases (extrapolated)",
            mib(per_100k),
        );
    }

    // The live projection equals a rebuild of the same stream.
    http::wait_projected(&log, &live, Duration::from_secs(60)).await?;
    let rebuilt = ReadModel::connect(&sqlite_url(&temp.join("system-rebuild.db")))
        .await
        .context("opening a fresh read model")?;
    let t = Instant::now();
    let applied =
        crate::progress::rebuild("bench: rebuild of the system stream", &log, &rebuilt).await?;
    let system_rebuild = t.elapsed();
    let differences = rebuilt.diff(&live).await?;
    if differences.is_empty() {
        report.check(format!(
            "ok: a rebuild of the system stream ({applied} events, {:.0} events/s) equals the live projection",
            rate(applied, system_rebuild)
        ));
    } else {
        report.check(format!(
            "FAILED: rebuild of the system stream differs from the live projection in {} rows; first: {}",
            differences.len(),
            differences[0]
        ));
    }
    rebuilt.close().await;

    // 5. Rebuild of a generated stream, with its raw drain twin; 6b. memory at scale.
    // Without --pg, a throw-away PostgreSQL from the test kit (fsync off, like the
    // SQLite rebuild target), when Debian's server binaries are installed.
    let (_pg_server, pg_url) = rebuild_postgres(args).await;
    let generated =
        generate::run(temp, sizes.generated_cases, pg_url.as_deref(), &mut report).await?;
    let drain_rate = generated.drain_rate;
    let rebuild_ratio = generated.sqlite_rate / drain_rate.max(1e-9);
    let pg_ratio = match generated.pg_rate {
        Some(r) => format!("{:.3}", r / drain_rate.max(1e-9)),
        None => "n/a".to_owned(),
    };
    let raw_rate = raw64.rate().max(1e-9);
    let in_mib =
        |b: Option<f64>| b.map_or("n/a".into(), |b| format!("{:.1}", b / (1024.0 * 1024.0)));
    let ratios = format!(
        "RATIOS intake={:.3} command={:.3} append_vs_pg={append_vs_pg} rebuild_sqlite={:.3} rebuild_pg={pg_ratio} lag_p99_ms={:.1} lag2k_p99_ms={:.1} services_rss_mib_per_100k={} nats_rss_mib_per_100k={} stream_bytes_per_case={:.0}",
        filing_rate / raw_rate,
        acting_rate / raw_rate,
        rebuild_ratio,
        lag_p99.as_secs_f64() * 1e3,
        lag2k_p99.as_secs_f64() * 1e3,
        in_mib(services_per_100k),
        in_mib(generated.nats_rss_per_100k),
        generated.bytes_per_case,
    );
    let targets = [
        (
            "filing ≥ 1.0× raw 64-writer rate",
            filing_rate / raw_rate >= 1.0,
        ),
        (
            "acting ≥ 1.0× raw 64-writer rate",
            acting_rate / raw_rate >= 1.0,
        ),
        ("rebuild SQLite ≥ 0.25× raw drain", rebuild_ratio >= 0.25),
        (
            "lag p99 ≤ 25 ms at 500 cases/s",
            lag_p99 <= Duration::from_millis(25),
        ),
        (
            "lag p99 ≤ 100 ms at 2,000 cases/s",
            lag2k_p99 <= Duration::from_millis(100),
        ),
        (
            "append ≥ 1.5× the PostgreSQL event store",
            append_vs_pg.parse::<f64>().is_ok_and(|r| r >= 1.5),
        ),
        ("rebuild PostgreSQL ≥ 0.15× raw drain", {
            generated
                .pg_rate
                .is_some_and(|r| r / drain_rate.max(1e-9) >= 0.15)
        }),
        (
            "services' RSS ≤ 100 MiB per 100k cached cases",
            services_per_100k.is_some_and(|b| b <= 100.0 * 1024.0 * 1024.0),
        ),
    ];
    for (target, met) in targets {
        report.row("target", target, if met { "met" } else { "MISSED" });
    }
    Ok((report, ratios))
}

/// The PostgreSQL database the rebuild group rebuilds into: `--pg`, else a throw-away
/// server from the test kit (fsync off, like the SQLite rebuild target), when Debian's
/// server binaries are installed.
async fn rebuild_postgres(
    args: &BenchArgs,
) -> (
    Option<casegrid_runtime::postgres::TestPostgres>,
    Option<String>,
) {
    match args.pg.clone() {
        Some(url) => (None, Some(url)),
        None => match tokio::task::spawn_blocking(casegrid_runtime::postgres::TestPostgres::start)
            .await
        {
            Ok(server) => {
                let url = server.database().await;
                (Some(server), Some(url))
            }
            Err(_) => {
                eprintln!("bench: no PostgreSQL server (scripts/install-postgres): rebuild_pg=n/a");
                (None, None)
            }
        },
    }
}

/// `--only rebuild`: the rebuild group alone, no services.
async fn rebuild_only(sizes: Sizes, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let temp = tempdir()?;
    println!(
        "casegrid bench --only rebuild: {} generated cases",
        sizes.generated_cases
    );
    let mut report = Report::default();
    let (_pg_server, pg_url) = rebuild_postgres(args).await;
    let generated = generate::run(
        temp.path(),
        sizes.generated_cases,
        pg_url.as_deref(),
        &mut report,
    )
    .await?;
    let drain = generated.drain_rate.max(1e-9);
    println!(
        "RATIOS rebuild_sqlite={:.3} rebuild_pg={}",
        generated.sqlite_rate / drain,
        generated
            .pg_rate
            .map_or("n/a".to_owned(), |r| format!("{:.3}", r / drain))
    );
    let failed = report.checks.iter().any(|c| c.starts_with("FAILED"));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The rows and check of one lag group; answers its p99 from the 201.
fn report_lag(report: &mut Report, lag: &http::Lag, per_second: f64) -> Duration {
    report.row(
        "lag",
        &format!(
            "{} cases offered at {per_second:.0}/s, {} filed (achieved cases/s)",
            lag.offered, lag.filed
        ),
        format!("{:.0}", lag.achieved_rate),
    );
    report.row(
        "lag",
        "  201 → in the inbox p50 / p99 (ms)",
        lag.from_answer.p50_p99(),
    );
    report.row(
        "lag",
        "  201 → CaseDispatched in the stream p50 / p99 (ms)",
        lag.to_dispatch.p50_p99(),
    );
    report.row(
        "lag",
        "  request sent → in the inbox p50 / p99 (ms)",
        lag.from_request.p50_p99(),
    );
    report.row(
        "lag",
        "  filing latency at this load p50 / p99 (ms)",
        lag.filing.p50_p99(),
    );
    if lag.refused > 0 {
        report.check(format!(
            "FAILED: {} of {} lag filings were not answered 201 (the system refused the load)",
            lag.refused, lag.offered
        ));
    }
    if lag.missing > 0 {
        report.check(format!(
            "FAILED: {} filed lag cases never reached an inbox",
            lag.missing
        ));
    } else {
        report.check(format!(
            "ok: all {} lag cases reached dept inboxes (sampled through casegrid.projection.inbox)",
            lag.filed
        ));
    }
    lag.from_answer.percentile(99.0)
}

/// (bytes, messages) of a stream.
async fn client_stream_info(client: &async_nats::Client, name: &str) -> anyhow::Result<(u64, u64)> {
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = js
        .get_stream(name)
        .await
        .with_context(|| format!("looking up stream {name}"))?;
    let info = stream
        .info()
        .await
        .with_context(|| format!("stream info of {name}"))?;
    Ok((info.state.bytes, info.state.messages))
}

pub(crate) fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The Markdown of a full run: machine, versions, every figure, how to reproduce.
fn markdown(
    report: &Report,
    ratios: &str,
    args: &BenchArgs,
    nats_version: &str,
    sizes: Sizes,
    took: Duration,
) -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut s = String::new();
    let _ = writeln!(s, "# casegrid benchmarks\n");
    let _ = writeln!(
        s,
        "Written by `casegrid bench{}{}` on {now} (took {:.0} s). Every figure comes from one run, \
         with its raw JetStream twin measured on the same server at the same moment.\n",
        if args.quick { " --quick" } else { "" },
        if args.lazy_fsync { " --lazy-fsync" } else { "" },
        took.as_secs_f64()
    );
    let _ = writeln!(s, "## Machine\n");
    let _ = writeln!(s, "| | |\n| --- | --- |");
    let _ = writeln!(s, "| CPUs (nproc) | {nproc} ({cpu}) |");
    let _ = writeln!(s, "| memory | {mem} |");
    let _ = writeln!(
        s,
        "| nats-server | {nats_version} ({}) |",
        if args.lazy_fsync {
            "default sync"
        } else {
            "`sync_interval: always`"
        }
    );
    let _ = writeln!(s, "| rustc | {rustc} |");
    let _ = writeln!(
        s,
        "| casegrid | {} (release build) |",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        s,
        "| sizes | raw writers {:?}, pipelined ≤ {:?}, {} filings (then sign + reply each), {} lag cases at {LAG_RATE}/s and {} at {LAG2K_RATE}/s, {} generated cases |\n",
        sizes.raw_writers, sizes.raw_pipelined, sizes.filings, sizes.lag_cases, sizes.lag2k_cases, sizes.generated_cases
    );
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(s, "| group | figure | value |\n| --- | --- | ---: |");
    for (g, f, v) in &report.rows {
        let _ = writeln!(s, "| {g} | {} | {v} |", f.trim());
    }
    let _ = writeln!(s, "\n```\n{ratios}\n```\n");
    let _ = writeln!(s, "## Correctness checks\n");
    for c in &report.checks {
        let _ = writeln!(s, "- {c}");
    }
    let _ = writeln!(s, "\n## How it measures\n");
    let _ = writeln!(s, "{}", METHOD.trim());
    let _ = writeln!(s, "\n## How to reproduce\n");
    let _ = writeln!(
        s,
        "```sh\nscripts/install-nats-server        # nats-server 2.15.1 into .tools/nats\n\
         cargo run --release --bin casegrid -- bench                 # this file\n\
         cargo run --release --bin casegrid -- bench --quick         # < 3 minutes, prints only\n\
         cargo run --release --bin casegrid -- bench --lazy-fsync    # the server's default sync\n\
         CASEGRID_BENCH_PG=postgres://… casegrid bench               # also rebuild into PostgreSQL\n```\n\
         Run it on an otherwise idle machine: client, services and server share the cores."
    );
    s
}

/// Everything from this line on in the Markdown file is kept when a run rewrites it.
const KEPT: &str = "<!-- written by people: casegrid bench keeps what follows -->";

const METHOD: &str = r#"
- **raw**: a stream configured like `CASEGRID_EVENTS` (file storage, R1, deny delete and purge,
  direct get, 2-minute duplicate window) on the same server. 64 tasks each append 10-event
  "cases" to subjects of their own with `Nats-Expected-Last-Subject-Sequence` and `Nats-Msg-Id`,
  awaiting each ack; one task publishes with 256 acks in flight. Payloads have the mean size of
  the envelopes of a real case filed, dispatched, signed and replied through the API.
- **filing**: 64 HTTP clients `POST /api/v1/cases` (a noise complaint with reporter name and
  phone, a fresh `Idempotency-Key` each) until N cases are filed; latency per request.
  Then the benchmark waits until routing has dispatched every case and the projection shows it.
- **acting**: 64 clients take the filed cases and, as the lead department's token, `sign` then
  `reply` each; rate counts actions (one event each).
- **lag**: cases are filed open-loop at 500/s (then at 2,000/s); an ordered consumer notes the stream sequence
  of each case's `CaseDispatched`, and a poller asks the projection for its checkpoint
  (`casegrid.projection.checkpoint`) every millisecond. A case is visible in the inbox from
  the first poll whose checkpoint covers its dispatch (the inbox row is written in the same
  transaction as the checkpoint). Lag counts from the 201 answer (and from the request sent).
- **rebuild**: cases with lifecycles of 5–15 events (filed, dispatched, signed by lead and
  assisting departments, progress notes, audited reveals, reply, callback, close) interleaved
  over simulated days are sealed with `Envelope::seal` (correct hash chains) and published
  pipelined into a separate nats-server with lazy fsync. `casegrid_readmodel::rebuild`
  replays that stream into a fresh SQLite file; its twin is an ordered drain of the same
  stream that only counts messages. A second rebuild must equal the first (`ReadModel::diff`);
  the system's own stream is rebuilt and compared with the live projection.
- **memory**: `VmRSS` from `/proc/<pid>/status` of the nats-server children and of this process
  (which hosts the four services); stream bytes per case from the stream's state.
"#;
