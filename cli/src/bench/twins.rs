//! Durable appends side by side: casegrid's event log (optimistic, idempotent, hash
//! chained, group commit) and what a team would otherwise build, an event store on
//! PostgreSQL (`INSERT` into a table with `UNIQUE (case_id, version)`,
//! `synchronous_commit = on`). Same event size, same writers, same duration as the raw
//! JetStream twin ([`super::raw::writers`]).

use super::raw::Appends;
use super::Latencies;
use anyhow::Context;
use casegrid_domain::{Actor, ActorKind, CaseId};
use casegrid_eventlog::envelope::GENESIS_HASH;
use casegrid_eventlog::{BatchConfig, Envelope, EventLog, LogConfig};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Events per case, as in the raw twin.
const EVENTS_PER_CASE: u64 = 10;

/// A sealed envelope whose payload is about `size` bytes.
fn envelope(case: CaseId, version: u64, prev: &str, command: String, fill: usize) -> Envelope {
    Envelope::seal(
        case,
        version,
        prev,
        "NoteAdded",
        1,
        serde_json::json!({ "text": "x".repeat(fill) }),
        Actor::new(ActorKind::Operator, "bench"),
        command.clone(),
        command,
        None,
        OffsetDateTime::now_utc(),
    )
    .expect("a bench envelope seals")
}

/// `writers` tasks append through [`EventLog::append`] (expected sequence, message id,
/// the hash chain, group commit as `batch` says) to a stream of its own for `duration`.
pub(super) async fn eventlog_writers(
    admin: &async_nats::Client,
    size: usize,
    writers: usize,
    duration: Duration,
    batch: BatchConfig,
) -> anyhow::Result<Appends> {
    let log = EventLog::create(
        admin.clone(),
        LogConfig {
            stream: "BENCH_LOG".into(),
            subject_prefix: "bench.log".into(),
            batch,
            ..LogConfig::default()
        },
    )
    .await
    .context("creating the bench event log")?;
    let probe = envelope(
        CaseId::for_filing("bench", "probe"),
        1,
        GENESIS_HASH,
        "w0-c0-1".into(),
        0,
    );
    let fill = size.saturating_sub(probe.to_payload().len());
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let log = log.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            'cases: for c in 0u64.. {
                let case = CaseId::for_filing("bench", &format!("{writers}-w{w}-c{c}"));
                let (mut last, mut prev) = (0u64, GENESIS_HASH.to_owned());
                for v in 1..=EVENTS_PER_CASE {
                    if Instant::now() >= deadline {
                        break 'cases;
                    }
                    let t = Instant::now();
                    let e = envelope(case, v, &prev, format!("w{w}-c{c}-{v}"), fill);
                    last = log.append(&e, last).await.context("event log append")?;
                    prev = e.hash;
                    latencies.push(t.elapsed());
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.context("an event log writer panicked")??);
    }
    Ok(Appends {
        count: all.len() as u64,
        elapsed: started.elapsed(),
        latencies: Latencies::new(all),
    })
}

/// `writers` connections insert events of `size` bytes, ten per case, each its own
/// transaction with `synchronous_commit = on`, for `duration`.
pub(super) async fn postgres_writers(
    url: &str,
    size: usize,
    writers: usize,
    duration: Duration,
) -> anyhow::Result<Appends> {
    use sqlx::postgres::PgPoolOptions;
    let pool = PgPoolOptions::new()
        .max_connections(writers as u32)
        .min_connections(writers as u32)
        .connect(url)
        .await
        .context("connecting to the PostgreSQL twin")?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS events (
            global_seq bigserial PRIMARY KEY,
            case_id text NOT NULL,
            version bigint NOT NULL,
            command_id text NOT NULL,
            payload jsonb NOT NULL,
            UNIQUE (case_id, version))",
    )
    .execute(&pool)
    .await
    .context("creating the events table")?;
    let body = serde_json::json!({ "data": "x".repeat(size.saturating_sub(12)) }).to_string();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (pool, body) = (pool.clone(), body.clone());
        tasks.spawn(async move {
            let mut conn = pool.acquire().await?;
            sqlx::query("SET synchronous_commit = on")
                .execute(&mut *conn)
                .await?;
            let mut latencies = Vec::new();
            'cases: for c in 0u64.. {
                let case = CaseId::for_filing("bench", &format!("{writers}-w{w}-c{c}")).to_string();
                for v in 1..=EVENTS_PER_CASE as i64 {
                    if Instant::now() >= deadline {
                        break 'cases;
                    }
                    let t = Instant::now();
                    sqlx::query(
                        "INSERT INTO events (case_id, version, command_id, payload) VALUES ($1, $2, $3, $4::jsonb)",
                    )
                    .bind(&case)
                    .bind(v)
                    .bind(format!("w{w}-{case}-{v}"))
                    .bind(&body)
                    .execute(&mut *conn)
                    .await?;
                    latencies.push(t.elapsed());
                }
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.context("a PostgreSQL writer panicked")??);
    }
    let elapsed = started.elapsed();
    pool.close().await;
    Ok(Appends {
        count: all.len() as u64,
        elapsed,
        latencies: Latencies::new(all),
    })
}

/// `writers` tasks create case data keys ([`casegrid_privacy::KeyVault::key_for_filing`],
/// the second durable write of a filing) for `duration`: one request each, or gathered
/// into atomic batches when `batch` is given.
pub(super) async fn key_writers(
    admin: &async_nats::Client,
    writers: usize,
    duration: Duration,
    batch: Option<BatchConfig>,
) -> anyhow::Result<Appends> {
    let mut keys = casegrid_privacy::KeyVault::create(admin.clone(), 1)
        .await
        .context("opening the key bucket")?;
    if let Some(batch) = batch {
        keys = keys.with_group_commit(admin.clone(), batch);
    }
    let tag = OffsetDateTime::now_utc().unix_timestamp_nanos().to_string();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (keys, tag) = (keys.clone(), tag.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            for c in 0u64.. {
                if Instant::now() >= deadline {
                    break;
                }
                let case = CaseId::for_filing("bench-key", &format!("{tag}-w{w}-c{c}"));
                let t = Instant::now();
                keys.key_for_filing(case)
                    .await
                    .context("creating a data key")?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.context("a key writer panicked")??);
    }
    Ok(Appends {
        count: all.len() as u64,
        elapsed: started.elapsed(),
        latencies: Latencies::new(all),
    })
}
