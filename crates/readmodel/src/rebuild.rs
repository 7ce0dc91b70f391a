//! [`rebuild`]: replaying the event log into a read model.
//!
//! Speed comes from doing little per event: a reader task drains the log while the
//! previous batch is folded; batches are large ([`REBUILD_BATCH`] events per
//! transaction); case states stay in memory between batches (the rebuild is its
//! database's only writer), so each touched case is written once per batch and never
//! read back; rows go out in multi-row statements. A fresh SQLite target also runs
//! with `PRAGMA synchronous = OFF`: until the rebuild is done the file is worth
//! nothing (a crash means starting again), so no write waits for the disk. At the
//! end the setting returns to `FULL` and the write-ahead log is checkpointed into the
//! database file, which makes the finished rebuild durable.

use crate::fold::Cache;
use crate::schema::Backend;
use crate::{ReadModel, Result};
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
    into.check_stream(log).await?;
    let last = log.last_sequence().await?;
    let start = into.checkpoint().await?;
    if start >= last {
        return Ok(start);
    }
    let events = log.read_raw_from(start + 1).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<RawMessage>>>(READ_AHEAD);
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

    let mut conn = into.pool().acquire().await?;
    let fast = into.backend() == Backend::Sqlite && start == 0;
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
        while let Some(batch) = rx.recv().await {
            let batch = batch?;
            let mut tx = conn.begin().await?;
            checkpoint = into.apply_in(&mut tx, &batch, Some(&mut cache)).await?;
            tx.commit().await?;
            progress(checkpoint - start, last - start);
        }
        Ok(())
    }
    .await;
    reader.abort();
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
