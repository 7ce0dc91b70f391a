//! [`rebuild`]: replaying the event log into a read model.
//!
//! Speed comes from doing little per event: a reader task drains the log and
//! prepares each batch (parses and hashes its messages, one slice per core) while the
//! previous batch is folded and written; batches are large ([`REBUILD_BATCH`] events per
//! transaction); case states stay in memory between batches (the rebuild is its
//! database's only writer), so each touched case is written once per batch and never
//! read back; rows go out in multi-row statements. A fresh rebuild drops the
//! secondary indexes and builds each once at the end. A fresh SQLite target also runs
//! with `PRAGMA synchronous = OFF`: until the rebuild is done the file is worth
//! nothing (a crash means starting again), so no write waits for the disk. At the
//! end the setting returns to `FULL` and the write-ahead log is checkpointed into the
//! database file, which makes the finished rebuild durable.

use crate::fold::Cache;
use crate::schema::{secondary_indexes, Backend};
use crate::{ReadModel, Result};
use casegrid_eventlog::classify::{prepare, Prepared};
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
    into.check_stream(log).await?;
    let last = log.last_sequence().await?;
    let start = into.checkpoint().await?;
    if start >= last {
        return Ok(start);
    }
    let events = log.read_raw_from(start + 1).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Ready>>(READ_AHEAD);
    let prefix = log.config().subject_prefix.clone();
    let reader = tokio::spawn(async move {
        let mut events = std::pin::pin!(events);
        let mut seq = start;
        let mut batch = Vec::with_capacity(REBUILD_BATCH);
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
                    if batch.len() >= REBUILD_BATCH || seq >= last {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(REBUILD_BATCH));
                        let ready = prepare_all(&prefix, full).await;
                        if tx.send(ready).await.is_err() {
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
        }
        Ok(())
    }
    .await;
    reader.abort();
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

/// A batch read, each message [`prepare`]d (parsed, hashed, its event read).
type Ready = (Vec<RawMessage>, Vec<Prepared>);

/// Prepares a batch on blocking threads, one slice per core, while the previous batch
/// is folded and written: parsing and hashing are most of a fold's work and need no
/// case state.
async fn prepare_all(prefix: &str, batch: Vec<RawMessage>) -> Result<Ready> {
    let batch = std::sync::Arc::new(batch);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slice = batch.len().div_ceil(cores).max(1);
    let tasks: Vec<_> = (0..batch.len())
        .step_by(slice)
        .map(|from| {
            let (batch, prefix) = (batch.clone(), prefix.to_owned());
            tokio::task::spawn_blocking(move || {
                let to = (from + slice).min(batch.len());
                batch[from..to]
                    .iter()
                    .map(|m| prepare(&prefix, m))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut prepared = Vec::with_capacity(batch.len());
    for task in tasks {
        prepared.extend(task.await.map_err(|e| {
            crate::ReadModelError::Corrupt(format!("preparing a batch panicked: {e}"))
        })?);
    }
    let batch = std::sync::Arc::try_unwrap(batch).unwrap_or_else(|b| (*b).clone());
    Ok((batch, prepared))
}
