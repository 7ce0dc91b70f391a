//! [`rebuild`]: replaying the event log into a read model.
//!
//! Speed comes from doing little per event and using every core: a reader task drains
//! the log, a second task prepares each batch (parses and hashes its messages and
//! reads their events, [`casegrid_eventlog::classify::prepare`], one slice per core)
//! while the previous batch is judged against its cases' heads, folded and written;
//! batches are large ([`REBUILD_BATCH`] events per transaction); case states stay in
//! memory between batches (the rebuild is its database's only writer), so each
//! touched case is written once per batch and never read back; rows go out in
//! multi-row statements. A fresh rebuild drops the secondary indexes the fold does not
//! read by and builds each once at the end. A fresh SQLite target also runs
//! with `PRAGMA synchronous = OFF`: until the rebuild is done the file is worth
//! nothing (a crash means starting again), so no write waits for the disk. At the
//! end the setting returns to `FULL` and the write-ahead log is checkpointed into the
//! database file, which makes the finished rebuild durable.

use crate::fold::Cache;
use crate::schema::{secondary_indexes, Backend};
use crate::{ReadModel, ReadModelError, Result};
use casegrid_domain::Event;
use casegrid_eventlog::classify::{is_kb_subject, prepare, Prepared};
use casegrid_eventlog::{EventLog, LogError, RawMessage};
use futures_util::StreamExt;
use sqlx::Connection;
use std::time::Duration;

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
    let fast = into.backend() == Backend::Sqlite && start == 0;
    // A fresh rebuild builds each secondary index once at the end (sorted, in one
    // pass) instead of updating it for every row; until then nothing reads it.
    if start == 0 {
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
    let mut cache = Cache::default();
    let mut checkpoint = start;
    let result: Result<()> = async {
        while let Some(ready) = rx.recv().await {
            let (batch, prepared) = ready?;
            let mut tx = conn.begin().await?;
            checkpoint = into
                .apply_in(&mut tx, &batch, Some(prepared), Some(&mut cache))
                .await?;
            tx.commit().await?;
            progress(checkpoint - start, last - start);
        }
        Ok(())
    }
    .await;
    reader.abort();
    preparer.abort();
    if start == 0 {
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
    result?;
    Ok(checkpoint)
}

/// A batch read, each message [`prepare`]d (`None`: a knowledge-base message, which
/// the fold judges itself).
type Ready = (Vec<RawMessage>, Vec<Option<Prepared<Event>>>);

/// Prepares a batch on blocking threads, one slice per core: parsing, hashing and
/// reading the events is most of a fold's work and needs no case's head, so it runs
/// while the previous batch is folded and written.
async fn prepare_all(prefix: &str, mut batch: Vec<RawMessage>) -> Result<Ready> {
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
    Ok((messages, prepared))
}
