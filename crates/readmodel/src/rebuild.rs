//! [`rebuild`]: replaying the event log into a read model.
//!
//! Speed comes from doing little per event and using every core: a reader task drains
//! the log, a second task prepares each batch (parses and hashes its messages and
//! reads their events, [`casegrid_eventlog::classify::prepare`], one slice per core)
//! while the previous batch is judged against its cases' heads and folded, and a third
//! writes the batch before meanwhile (one transaction per batch, [`REBUILD_BATCH`]
//! events). Case states stay in memory between batches (the rebuild is its database's
//! only writer) with the handling of their current dispatch, so nothing is read back
//! but a case dropped once it was final; rows go out in multi-row statements.
//!
//! A fresh rebuild (checkpoint 0) goes further:
//! - a case's rows (`cases`, `inbox`, its current handling) are written once, when it
//!   is final or at the end, not once per batch that touches it (with a long stream a
//!   case's events fall in as many batches as it has events);
//! - so the checkpoint moves only with the last rows: a rebuild that stopped half-way
//!   leaves checkpoint 0, and the next one empties the tables and starts again;
//! - the secondary indexes the fold does not read by are dropped and each built once
//!   at the end;
//! - into PostgreSQL, timeline and case rows go through `COPY` ([`Copier`]);
//! - into SQLite, it runs with `PRAGMA synchronous = OFF`: until the rebuild is done
//!   the file is worth nothing, so no write waits for the disk. At the end the setting
//!   returns to `FULL` and the write-ahead log is checkpointed into the database file,
//!   which makes the finished rebuild durable.
//!
//! The time of each phase is logged at the end (`rebuild phases`, level info).

use crate::copy::Copier;
use crate::fold::{Batch, Cache, Writes};
use crate::schema::{secondary_indexes, Backend};
use crate::{ReadModel, ReadModelError, Result};
use casegrid_domain::Event;
use casegrid_eventlog::classify::{is_kb_subject, prepare, Prepared};
use casegrid_eventlog::{EventLog, LogError, RawMessage};
use futures_util::StreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Connection};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Events applied per transaction during a rebuild.
pub const REBUILD_BATCH: usize = 10_000;

/// How long a rebuild waits for the next event before calling the log unavailable.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Batches read ahead while one is being folded.
const READ_AHEAD: usize = 2;

/// Replays the log into `into` from just after its checkpoint (sequence 1 for a
/// fresh database) up to the log's last sequence as of the call, in batches of
/// [`REBUILD_BATCH`]. Every message is classified again by this build, so what a
/// service quarantined as written by a newer version is applied once the build
/// reading it runs the rebuild. Returns the checkpoint reached. `into` must have no other
/// writer while this runs (it keeps case states in memory).
pub async fn rebuild(log: &EventLog, into: &ReadModel) -> Result<u64> {
    rebuild_with_progress(log, into, &|_, _| {}).await
}

/// [`rebuild`], calling `progress(done, total)` after each batch (events applied of
/// those to apply), for a progress display.
pub async fn rebuild_with_progress(
    log: &EventLog,
    into: &ReadModel,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64> {
    rebuild_in_batches(log, into, REBUILD_BATCH, progress).await
}

/// [`rebuild_with_progress`] with `size` events per batch (tests make batches small).
pub(crate) async fn rebuild_in_batches(
    log: &EventLog,
    into: &ReadModel,
    size: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<u64> {
    let started = Instant::now();
    into.check_stream(log).await?;
    let last = log.last_sequence().await?;
    let start = into.checkpoint().await?;
    if start >= last {
        return Ok(start);
    }
    let events = log.read_raw_from(start + 1).await?;
    let (tx, mut read) = tokio::sync::mpsc::channel::<Result<Vec<RawMessage>>>(READ_AHEAD);
    let reader = tokio::spawn(async move {
        let mut events = std::pin::pin!(events);
        let mut seq = start;
        let mut batch = Vec::with_capacity(size);
        while seq < last {
            let next = match tokio::time::timeout(READ_TIMEOUT, events.next()).await {
                Err(_) => Err(LogError::Unavailable(format!(
                    "rebuild: no event after sequence {seq} within {READ_TIMEOUT:?}"
                ))),
                Ok(None) => Err(LogError::Unavailable(
                    "rebuild: the log's stream ended".into(),
                )),
                Ok(Some(next)) => next,
            };
            match next {
                Ok(event) => {
                    seq = event.seq;
                    batch.push(event);
                    if batch.len() >= size || seq >= last {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
                        if tx.send(Ok(full)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            }
        }
    });
    let (ready_tx, mut rx) = tokio::sync::mpsc::channel::<Result<Ready>>(READ_AHEAD);
    let prefix = log.config().subject_prefix.clone();
    let preparer = tokio::spawn(async move {
        while let Some(batch) = read.recv().await {
            let ready = match batch {
                Ok(batch) => prepare_all(&prefix, batch).await,
                Err(e) => Err(e),
            };
            if ready_tx.send(ready).await.is_err() {
                return;
            }
        }
    });

    let mut conn = into.pool().acquire().await?;
    let fresh = start == 0;
    let fast = into.backend() == Backend::Sqlite && fresh;
    if fresh {
        // Checkpoint 0 with rows: an earlier fresh rebuild that stopped half-way (its
        // checkpoint moves only at the end). Every row comes from the log: start again.
        for table in crate::schema::folded_tables() {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *conn)
                .await?;
        }
        // A fresh rebuild builds each secondary index once at the end (sorted, in one
        // pass) instead of updating it for every row; until then nothing reads it.
        for (name, _) in secondary_indexes() {
            sqlx::query(&format!("DROP INDEX IF EXISTS {name}"))
                .execute(&mut *conn)
                .await?;
        }
    }
    if fast {
        // A large page cache and in-memory statement journals: a multi-row upsert
        // otherwise spills pages and journals to disk mid-statement.
        for pragma in [
            "PRAGMA synchronous = OFF",
            "PRAGMA cache_size = -65536",
            "PRAGMA temp_store = MEMORY",
        ] {
            sqlx::query(pragma).execute(&mut *conn).await?;
        }
    }
    let mut cache = if fresh {
        Cache::fresh()
    } else {
        Cache::default()
    };
    let mut phases = Phases::default();
    let mut checkpoint = start;
    // A fresh PostgreSQL target takes the bulk rows through COPY, on its own connection.
    let copier = match into.backend() {
        Backend::Postgres if fresh => Some(Copier::connect(into.url()).await?),
        _ => None,
    };
    let mut writer = Writer::Idle(Target { conn, copier });
    let result: Result<()> = async {
        loop {
            let t = Instant::now();
            let Some(ready) = rx.recv().await else {
                break;
            };
            phases.wait += t.elapsed();
            let (messages, prepared, took) = ready?;
            phases.prepare += took;
            let Some(seq) = messages.iter().map(|m| m.seq).max() else {
                continue;
            };
            let t = Instant::now();
            let mut batch = Batch::new(into);
            let missing = batch.take_cached(&messages, checkpoint, Some(&mut cache));
            if !missing.is_empty() {
                // Cases written before: read once everything sent is written.
                let target = writer.idle(&mut phases).await?;
                batch.load(&mut target.conn, &missing).await?;
            }
            phases.load += t.elapsed();
            let t = Instant::now();
            batch.fold_all(&messages, checkpoint, Some(prepared));
            phases.fold += t.elapsed();
            let t = Instant::now();
            let writes = batch.finish(Some(&mut cache))?;
            phases.rows += t.elapsed();
            // A fresh rebuild's checkpoint moves once, with the last rows (below).
            writer
                .start(writes, (!fresh).then_some(seq), &mut phases)
                .await?;
            checkpoint = seq;
            progress(checkpoint - start, last - start);
        }
        let target = writer.idle(&mut phases).await?;
        if fresh && checkpoint > start {
            let t = Instant::now();
            let writes = cache.flush(into)?;
            phases.rows += t.elapsed();
            let t = Instant::now();
            write_batch(target, writes, Some(checkpoint)).await?;
            phases.write += t.elapsed();
        }
        Ok(())
    }
    .await;
    reader.abort();
    preparer.abort();
    let mut conn = match writer.into_target().await {
        Some(Target { conn, copier }) => {
            if let Some(copier) = copier {
                copier.close().await?;
            }
            conn
        }
        None => into.pool().acquire().await?,
    };
    let t = Instant::now();
    if fresh {
        for (_, create) in secondary_indexes() {
            sqlx::query(create).execute(&mut *conn).await?;
        }
    }
    if fast {
        for pragma in [
            "PRAGMA synchronous = FULL",
            "PRAGMA cache_size = -2000",
            "PRAGMA temp_store = DEFAULT",
        ] {
            sqlx::query(pragma).execute(&mut *conn).await?;
        }
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .await?;
    }
    phases.finish = t.elapsed();
    result?;
    tracing::info!(
        events = checkpoint - start,
        took_ms = started.elapsed().as_millis() as u64,
        wait_ms = phases.wait.as_millis() as u64,
        prepare_ms = phases.prepare.as_millis() as u64,
        load_ms = phases.load.as_millis() as u64,
        fold_ms = phases.fold.as_millis() as u64,
        rows_ms = phases.rows.as_millis() as u64,
        write_ms = phases.write.as_millis() as u64,
        write_wait_ms = phases.write_wait.as_millis() as u64,
        finish_ms = phases.finish.as_millis() as u64,
        "rebuild phases (prepare and write overlap the fold)"
    );
    Ok(checkpoint)
}

/// Where a rebuild's time goes, summed over its batches: waiting for a prepared
/// batch, preparing (on other threads, overlapping), loading cases written before,
/// folding, making the rows, writing them (on another task, overlapping the next
/// fold), waiting for that write, and the end (indexes, the durable checkpoint).
#[derive(Debug, Default)]
struct Phases {
    wait: Duration,
    prepare: Duration,
    load: Duration,
    fold: Duration,
    rows: Duration,
    write: Duration,
    write_wait: Duration,
    finish: Duration,
}

/// Where a rebuild writes: its connection, and the `COPY` connection of a fresh
/// rebuild into PostgreSQL.
struct Target {
    conn: PoolConnection<Any>,
    copier: Option<Copier>,
}

/// The task writing one batch while the next is folded, with the connection.
enum Writer {
    Idle(Target),
    Writing(JoinHandle<(Target, Result<Duration>)>),
    /// The write task failed to run (its error was answered).
    Gone,
}

impl Writer {
    /// Waits for the batch being written; answers the connection.
    async fn idle(&mut self, phases: &mut Phases) -> Result<&mut Target> {
        if matches!(self, Self::Writing(_)) {
            let Self::Writing(task) = std::mem::replace(self, Self::Gone) else {
                unreachable!("matched as writing");
            };
            let t = Instant::now();
            let (target, written) = task
                .await
                .map_err(|e| ReadModelError::Corrupt(format!("writing a batch failed: {e}")))?;
            phases.write_wait += t.elapsed();
            *self = Self::Idle(target);
            phases.write += written?;
        }
        match self {
            Self::Idle(target) => Ok(target),
            _ => Err(ReadModelError::Corrupt(
                "the rebuild's connection was lost".into(),
            )),
        }
    }

    /// Writes `writes` (and the checkpoint, if given) in one transaction on another
    /// task, after the batch before.
    async fn start(
        &mut self,
        writes: Writes,
        checkpoint: Option<u64>,
        phases: &mut Phases,
    ) -> Result<()> {
        self.idle(phases).await?;
        let Self::Idle(mut target) = std::mem::replace(self, Self::Gone) else {
            unreachable!("idle answered a connection");
        };
        *self = Self::Writing(tokio::spawn(async move {
            let t = Instant::now();
            let written = write_batch(&mut target, writes, checkpoint).await;
            (target, written.map(|()| t.elapsed()))
        }));
        Ok(())
    }

    /// The connections back, once any write has ended.
    async fn into_target(self) -> Option<Target> {
        match self {
            Self::Idle(target) => Some(target),
            Self::Writing(task) => task.await.ok().map(|(target, _)| target),
            Self::Gone => None,
        }
    }
}

/// One transaction: the rows, and the checkpoint when given.
async fn write_batch(target: &mut Target, writes: Writes, checkpoint: Option<u64>) -> Result<()> {
    let mut tx = target.conn.begin().await?;
    writes.write(&mut tx, target.copier.as_mut()).await?;
    if let Some(seq) = checkpoint {
        sqlx::query("UPDATE checkpoint SET seq = $1 WHERE id = 1")
            .bind(seq as i64)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A batch read, each message [`prepare`]d (`None`: a knowledge-base message, which
/// the fold judges itself).
/// And how long preparing took.
type Ready = (Vec<RawMessage>, Vec<Option<Prepared<Event>>>, Duration);

/// Prepares a batch on blocking threads, one slice per core: parsing, hashing and
/// reading the events is most of a fold's work and needs no case's head, so it runs
/// while the previous batch is folded and written.
async fn prepare_all(prefix: &str, mut batch: Vec<RawMessage>) -> Result<Ready> {
    let t = Instant::now();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slice = batch.len().div_ceil(cores).max(1);
    let mut slices = Vec::with_capacity(cores);
    while batch.len() > slice {
        slices.push(batch.split_off(batch.len() - slice));
    }
    slices.push(batch);
    slices.reverse();
    let tasks: Vec<_> = slices
        .into_iter()
        .map(|messages| {
            let prefix = prefix.to_owned();
            tokio::task::spawn_blocking(move || {
                let prepared: Vec<_> = messages
                    .iter()
                    .map(|m| (!is_kb_subject(&prefix, &m.subject)).then(|| prepare(&prefix, m)))
                    .collect();
                (messages, prepared)
            })
        })
        .collect();
    let (mut messages, mut prepared) = (Vec::new(), Vec::new());
    for task in tasks {
        let (m, p) = task
            .await
            .map_err(|e| ReadModelError::Corrupt(format!("preparing a batch failed: {e}")))?;
        messages.extend(m);
        prepared.extend(p);
    }
    Ok((messages, prepared, t.elapsed()))
}
