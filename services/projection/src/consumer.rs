//! The durable pull consumer `projection`: fetches batches of events, applies each
//! in one transaction with the checkpoint, then acknowledges them.
//!
//! The stream holds only event subjects, so its sequences are contiguous: a message
//! at or below the checkpoint was applied before (acknowledged and skipped); one
//! beyond checkpoint + 1 means an earlier one is being redelivered (negatively
//! acknowledged, to come back after the missing one).
//!
//! ## Restart after a crash
//! A process killed with messages in flight leaves them delivered but unacknowledged:
//! the server would hold them until `ack_wait` runs out, and meanwhile deliver later
//! ones, which wait behind the gap. So on start, when the consumer has delivered
//! beyond the SQL checkpoint and no other replica is pulling from it (`num_waiting`
//! is 0), it is recreated at checkpoint + 1: delivery restarts at once, in order.
//! When another replica is pulling, the consumer is left alone (deleting it would
//! only disturb that replica) and the short [`ACK_WAIT`] bounds the wait instead.
//! Neither choice can apply anything twice: the checkpoint, read under the write
//! lock, decides what is applied.

use anyhow::{anyhow, Context};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{AckKind, Message};
use casegrid_eventlog::{EventLog, RawMessage};
use casegrid_readmodel::ReadModel;
use casegrid_runtime::restart::transient;
use futures_util::{FutureExt, StreamExt};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The durable consumer's name, shared by replicas.
pub const DURABLE: &str = "projection";
/// Most events applied in one transaction.
pub const BATCH: usize = 256;
/// How long the server waits for an acknowledgement before redelivering: how long
/// events held by a crashed replica stay away while another replica runs. A batch
/// applied slower than this is delivered again and skipped by the checkpoint.
pub const ACK_WAIT: Duration = Duration::from_secs(5);
/// Redelivery delay of a message that arrived ahead of a gap.
const GAP_DELAY: Duration = Duration::from_millis(100);
/// Pause after a failed batch (database busy) before it is delivered again.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Consumes the log into `model` until `shutdown` is cancelled. No stored message
/// stops it: the read model classifies each and quarantines what it cannot apply.
/// Fails only when the consumer cannot be set up (marked transient).
pub async fn consume(
    log: &EventLog,
    model: &ReadModel,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    // A consumer that cannot be set up or pulled from is NATS not answering (a node
    // down): the process starts the projection again.
    let consumer = durable(log, model.checkpoint().await?)
        .await
        .map_err(transient)?;
    let mut messages = pull_stream(&consumer).await.map_err(transient)?;
    loop {
        let first = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            m = messages.next() => m,
        };
        let first = match first {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "projection consumer");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            None => {
                messages = pull_stream(&consumer).await.map_err(transient)?;
                continue;
            }
        };
        // Take whatever else is already here, without waiting for more.
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(m),
                Some(Some(Err(e))) => {
                    tracing::warn!(error = %e, "projection consumer");
                    break;
                }
                _ => break,
            }
        }
        handle(model, batch).await?;
    }
}

/// The durable consumer, created at checkpoint + 1 when missing. One whose
/// acknowledged floor is beyond the checkpoint (the database was replaced) cannot
/// redeliver what the database lacks: it is recreated at the checkpoint.
async fn durable(log: &EventLog, checkpoint: u64) -> anyhow::Result<PullConsumer> {
    let stream = log.stream();
    let config = pull::Config {
        durable_name: Some(DURABLE.to_owned()),
        description: Some("casegrid projection: read models".to_owned()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        deliver_policy: DeliverPolicy::ByStartSequence {
            start_sequence: checkpoint + 1,
        },
        ..Default::default()
    };
    if let Ok(mut existing) = stream.get_consumer::<pull::Config>(DURABLE).await {
        let info = existing
            .info()
            .await
            .context("reading the projection consumer")?;
        let floor = info.ack_floor.stream_sequence;
        let delivered = info.delivered.stream_sequence;
        let pulling = info.num_waiting;
        if floor > checkpoint {
            tracing::warn!(
                checkpoint,
                ack_floor = floor,
                "the consumer acknowledged events the read model lacks: recreating it"
            );
        } else if delivered > checkpoint && pulling == 0 {
            tracing::info!(
                checkpoint,
                delivered,
                "events in flight to a stopped replica: recreating the consumer at the checkpoint"
            );
        } else {
            tracing::info!(
                checkpoint,
                ack_floor = floor,
                delivered,
                pulling,
                "resuming the projection consumer"
            );
            return Ok(existing);
        }
        stream
            .delete_consumer(DURABLE)
            .await
            .context("deleting the stale projection consumer")?;
    }
    tracing::info!(start = checkpoint + 1, "creating the projection consumer");
    stream
        .create_consumer(config)
        .await
        .context("creating the projection consumer")
}

async fn pull_stream(consumer: &PullConsumer) -> anyhow::Result<pull::Stream> {
    consumer
        .stream()
        .max_messages_per_batch(BATCH)
        .messages()
        .await
        .context("pulling from the projection consumer")
}

/// Applies one batch in one transaction and acknowledges it.
async fn handle(model: &ReadModel, batch: Vec<Message>) -> anyhow::Result<()> {
    let checkpoint = match model.checkpoint().await {
        Ok(c) => c,
        Err(e) => return retry_later(batch, e).await,
    };
    let mut expected = checkpoint + 1;
    let mut events = Vec::new();
    let mut done = Vec::new();
    let mut later = Vec::new();
    for m in batch {
        let seq = m
            .info()
            .map_err(|e| anyhow!("reading a message's metadata: {e}"))?
            .stream_sequence;
        if seq < expected {
            done.push(m);
        } else if seq == expected {
            events.push(RawMessage {
                seq,
                subject: m.subject.to_string(),
                payload: m.payload.clone(),
            });
            done.push(m);
            expected += 1;
        } else {
            tracing::debug!(seq, expected, "ahead of a gap: redeliver later");
            later.push(m);
        }
    }
    if !events.is_empty() {
        if let Err(e) = model.apply_raw(&events).await {
            done.extend(later);
            return retry_later(done, e).await;
        }
    }
    for m in done {
        // A lost acknowledgement only means a redelivery, which is skipped.
        if let Err(e) = m.ack().await {
            tracing::warn!(error = %e, "acknowledgement not sent");
        }
    }
    for m in later {
        if let Err(e) = m.ack_with(AckKind::Nak(Some(GAP_DELAY))).await {
            tracing::warn!(error = %e, "negative acknowledgement not sent");
        }
    }
    Ok(())
}

/// The database failed: nothing of the batch was written, so all of it comes back.
async fn retry_later(
    batch: Vec<Message>,
    e: casegrid_readmodel::ReadModelError,
) -> anyhow::Result<()> {
    tracing::error!(error = %e, "applying a batch failed; it will be redelivered");
    for m in batch {
        let _ = m.ack_with(AckKind::Nak(Some(RETRY_DELAY))).await;
    }
    tokio::time::sleep(RETRY_DELAY).await;
    Ok(())
}
