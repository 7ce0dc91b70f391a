//! [`rebuild`]: replaying the event log into a read model.

use crate::{ReadModel, Result};
use casegrid_eventlog::{EventLog, LogError, StoredEvent};
use futures_util::StreamExt;
use std::time::Duration;

/// Events applied per transaction during a rebuild.
pub const REBUILD_BATCH: usize = 500;

/// How long a rebuild waits for the next event before calling the log unavailable.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Replays the log into `into` from just after its checkpoint (sequence 1 for a
/// fresh database) up to the log's last sequence as of the call, in batches of
/// [`REBUILD_BATCH`]. Returns the checkpoint reached.
pub async fn rebuild(log: &EventLog, into: &ReadModel) -> Result<u64> {
    let last = log.last_sequence().await?;
    let mut checkpoint = into.checkpoint().await?;
    if checkpoint >= last {
        return Ok(checkpoint);
    }
    let mut events = std::pin::pin!(log.read_from(checkpoint + 1).await?);
    let mut batch = Vec::with_capacity(REBUILD_BATCH);
    while checkpoint < last {
        let next = tokio::time::timeout(READ_TIMEOUT, events.next())
            .await
            .map_err(|_| {
                LogError::Unavailable(format!(
                    "rebuild: no event after sequence {} within {READ_TIMEOUT:?}",
                    batch.last().map_or(checkpoint, |e: &StoredEvent| e.seq)
                ))
            })?
            .ok_or_else(|| LogError::Unavailable("rebuild: the log's stream ended".into()))??;
        let seq = next.seq;
        batch.push(next);
        if batch.len() >= REBUILD_BATCH || seq >= last {
            checkpoint = into.apply(&batch).await?;
            batch.clear();
        }
    }
    Ok(checkpoint)
}
