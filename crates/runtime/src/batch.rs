//! Group commit: appends from every task of a process are gathered for up to a short
//! window (or a batch size) and published as one JetStream atomic batch, so one fsync
//! of the server covers many events.
//!
//! Every message keeps its own `Nats-Msg-Id` and `Nats-Expected-Last-Subject-Sequence`;
//! the batch's ack (`{"stream","seq","batch","count"}`) gives the last sequence, and the
//! batch's sequences are consecutive, so each waiting append learns its own. A batch
//! holds at most one message per subject (a case's second append waits for the next
//! batch), so two expectations on one case never meet in a batch. When the server
//! refuses a batch (one check failed: the whole batch is refused, nothing stored), its
//! messages are appended one by one, so only the offender sees its `Conflict` (or
//! `Duplicate`). When the outcome is unknown (timeout, lost connection), every waiting
//! append answers `Unavailable`: the caller retries with the same command id, and the
//! expected sequence and message id make the retry safe.

use async_nats::jetstream::{self, context::PublishErrorKind};
use async_nats::HeaderMap;
use bytes::Bytes;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// How appends are gathered into atomic batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// How long the first append of a batch waits for others while other batches are
    /// in flight (with none in flight it goes at once; 0: no group commit, every append
    /// is its own request).
    pub window: Duration,
    /// At most this many messages a batch (the server allows 1,000).
    pub max: usize,
    /// Batches in flight at once (the server allows 50 open batches a stream).
    pub in_flight: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_micros(1_000),
            max: 256,
            in_flight: 4,
        }
    }
}

impl From<&crate::settings::EventlogSettings> for BatchConfig {
    fn from(s: &crate::settings::EventlogSettings) -> Self {
        Self {
            window: Duration::from_micros(s.batch_window_us),
            max: s.batch_max,
            in_flight: s.batch_in_flight,
        }
    }
}

/// The server's limit of messages in one atomic batch.
pub const SERVER_MAX_BATCH: usize = 1_000;

/// One append waiting for its batch.
pub struct Pending {
    pub subject: String,
    pub payload: Bytes,
    pub msg_id: String,
    pub expected: u64,
    pub answer: oneshot::Sender<Result<Answer, PublishFailure>>,
}

/// What the server said about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub seq: u64,
    pub duplicate: bool,
}

/// Why one message was not stored.
#[derive(Debug, Clone)]
pub enum PublishFailure {
    WrongLastSequence,
    Other(String),
}

/// What the batcher has done, for metrics and tests.
#[derive(Debug, Default)]
pub struct BatchCounters {
    pub batches: AtomicU64,
    pub batched_messages: AtomicU64,
    pub refused_batches: AtomicU64,
    pub single: AtomicU64,
}

/// The handle appends send to; the task behind it publishes.
pub struct Batcher {
    tx: mpsc::UnboundedSender<Pending>,
    pub counters: Arc<BatchCounters>,
    atomic: bool,
}

impl Batcher {
    pub fn spawn(
        client: async_nats::Client,
        js: jetstream::Context,
        config: BatchConfig,
        atomic: bool,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(BatchCounters::default());
        let publisher = Publisher {
            client,
            js,
            atomic,
            counters: counters.clone(),
        };
        tokio::spawn(gather(rx, publisher, config));
        Self {
            tx,
            counters,
            atomic,
        }
    }

    /// Whether the stream takes atomic batches.
    pub fn atomic(&self) -> bool {
        self.atomic
    }

    pub async fn publish(
        &self,
        subject: String,
        payload: Bytes,
        msg_id: String,
        expected: u64,
    ) -> Result<Answer, PublishFailure> {
        let (answer, rx) = oneshot::channel();
        self.tx
            .send(Pending {
                subject,
                payload,
                msg_id,
                expected,
                answer,
            })
            .map_err(|_| PublishFailure::Other("the batcher has stopped".into()))?;
        rx.await
            .map_err(|_| PublishFailure::Other("the batcher dropped the append".into()))?
    }
}

/// Gathers batches until every sender is gone.
async fn gather(mut rx: mpsc::UnboundedReceiver<Pending>, publisher: Publisher, c: BatchConfig) {
    let max = c.max.clamp(1, SERVER_MAX_BATCH);
    let in_flight = c.in_flight.max(1);
    let slots = Arc::new(Semaphore::new(in_flight));
    let publisher = Arc::new(publisher);
    // Appends held back because their subject was already in the batch.
    let mut held: VecDeque<Pending> = VecDeque::new();
    let mut closed = false;
    loop {
        let first = match held.pop_front() {
            Some(p) => p,
            None if closed => return,
            None => match rx.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let mut subjects = HashSet::new();
        subjects.insert(first.subject.clone());
        let mut batch = vec![first];
        let mut later = VecDeque::new();
        while let Some(p) = held.pop_front() {
            if batch.len() < max && subjects.insert(p.subject.clone()) {
                batch.push(p);
            } else {
                later.push_back(p);
            }
        }
        held = later;
        let deadline = tokio::time::Instant::now() + c.window;
        while batch.len() < max && !closed {
            let next = match rx.try_recv() {
                Ok(p) => Some(p),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                // Nothing in flight: the server is idle, send what there is now (a lone
                // writer pays no window); while batches are in flight, gather.
                Err(mpsc::error::TryRecvError::Empty) if slots.available_permits() == in_flight => {
                    break
                }
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(p) => p,
                        Err(_) => break,
                    }
                }
            };
            match next {
                Some(p) if subjects.insert(p.subject.clone()) => batch.push(p),
                Some(p) => held.push_back(p),
                None => closed = true,
            }
        }
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let publisher = publisher.clone();
        tokio::spawn(async move {
            publisher.run(batch).await;
            drop(permit);
        });
    }
}

struct Publisher {
    client: async_nats::Client,
    js: jetstream::Context,
    atomic: bool,
    counters: Arc<BatchCounters>,
}

/// The batch's answer, or how it failed.
pub enum BatchOutcome {
    Stored {
        last_seq: u64,
        count: u64,
    },
    /// The server refused the batch: nothing of it is stored.
    Refused(String),
    /// Unknown whether it was stored.
    Unknown(String),
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl Publisher {
    async fn run(&self, batch: Vec<Pending>) {
        if batch.len() == 1 || !self.atomic {
            self.singles(batch).await;
            return;
        }
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters
            .batched_messages
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        match self.atomic_batch(&batch).await {
            BatchOutcome::Stored { last_seq, count } if count == batch.len() as u64 => {
                let first = last_seq + 1 - count;
                for (i, p) in batch.into_iter().enumerate() {
                    let _ = p.answer.send(Ok(Answer {
                        seq: first + i as u64,
                        duplicate: false,
                    }));
                }
            }
            BatchOutcome::Stored { last_seq, count } => {
                let why = format!(
                    "the batch's ack counts {count} messages (last {last_seq}), {} were sent",
                    batch.len()
                );
                tracing::error!("{why}");
                for p in batch {
                    let _ = p.answer.send(Err(PublishFailure::Other(why.clone())));
                }
            }
            BatchOutcome::Refused(why) => {
                // One check failed and nothing was stored: append one by one, so only
                // the offender sees its conflict.
                tracing::debug!(size = batch.len(), %why, "atomic batch refused: appending its messages one by one");
                self.counters
                    .refused_batches
                    .fetch_add(1, Ordering::Relaxed);
                self.singles(batch).await;
            }
            BatchOutcome::Unknown(why) => {
                for p in batch {
                    let _ = p.answer.send(Err(PublishFailure::Other(why.clone())));
                }
            }
        }
    }

    /// Each message as its own request, all at once.
    async fn singles(&self, batch: Vec<Pending>) {
        self.counters
            .single
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let sends = batch.into_iter().map(|p| async move {
            let result = self.single(&p).await;
            let _ = p.answer.send(result);
        });
        futures_util::future::join_all(sends).await;
    }

    async fn single(&self, p: &Pending) -> Result<Answer, PublishFailure> {
        publish_one(
            &self.js,
            p.subject.clone(),
            p.payload.clone(),
            p.msg_id.clone(),
            p.expected,
        )
        .await
    }

    async fn atomic_batch(&self, batch: &[Pending]) -> BatchOutcome {
        let staged: Vec<Staged<'_>> = batch
            .iter()
            .map(|p| Staged {
                subject: &p.subject,
                payload: &p.payload,
                msg_id: &p.msg_id,
                expected: Some(p.expected),
            })
            .collect();
        publish_atomic(&self.client, &staged).await
    }
}

/// One message of an atomic batch. `expected`: the subject's last sequence the batch
/// requires before it (`None` on a later message of a subject already checked earlier
/// in the batch: the batch is stored whole or not at all, so the first check covers it).
pub struct Staged<'a> {
    pub subject: &'a str,
    pub payload: &'a Bytes,
    pub msg_id: &'a str,
    pub expected: Option<u64>,
}

/// Publishes `batch` (at least two messages, at most [`SERVER_MAX_BATCH`]) as one
/// atomic batch: every message stored, with consecutive sequences, or none.
pub async fn publish_atomic(client: &async_nats::Client, batch: &[Staged<'_>]) -> BatchOutcome {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let last = batch.len() - 1;
    for (i, p) in batch.iter().enumerate() {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Batch-Id", id.as_str());
        headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
        headers.insert("Nats-Msg-Id", p.msg_id);
        if let Some(expected) = p.expected {
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                expected.to_string().as_str(),
            );
        }
        if i == last {
            headers.insert("Nats-Batch-Commit", "1");
        }
        if i == 0 || i == last {
            // The first starts the batch (an empty reply, or an error); the last
            // commits it and carries the ack.
            let reply = tokio::time::timeout(
                REQUEST_TIMEOUT,
                client.request_with_headers(p.subject.to_owned(), headers, p.payload.clone()),
            )
            .await;
            let reply = match reply {
                Ok(Ok(m)) => m,
                Ok(Err(e)) if i == 0 => return BatchOutcome::Refused(e.to_string()),
                Ok(Err(e)) => return BatchOutcome::Unknown(e.to_string()),
                Err(_) if i == 0 => {
                    // The batch never started committing: the server abandons it.
                    return BatchOutcome::Refused("starting the batch timed out".into());
                }
                Err(_) => return BatchOutcome::Unknown("the batch's ack timed out".into()),
            };
            match read_reply(&reply.payload) {
                Reply::Empty if i == 0 => {}
                Reply::Empty => {
                    return BatchOutcome::Unknown("the batch's commit got an empty reply".into())
                }
                Reply::Error(e) => return BatchOutcome::Refused(e),
                Reply::Ack { seq, count } if i == last => {
                    return BatchOutcome::Stored {
                        last_seq: seq,
                        count,
                    }
                }
                Reply::Ack { .. } => {
                    return BatchOutcome::Unknown("an ack before the batch's commit".into())
                }
            }
        } else if let Err(e) = client
            .publish_with_headers(p.subject.to_owned(), headers, p.payload.clone())
            .await
        {
            // Without the commit the server abandons the batch: nothing is stored.
            return BatchOutcome::Refused(e.to_string());
        }
    }
    unreachable!("the last message of a batch returns")
}

/// One message as its own request, with its message id and expected sequence.
pub async fn publish_one(
    js: &jetstream::Context,
    subject: String,
    payload: Bytes,
    msg_id: String,
    expected: u64,
) -> Result<Answer, PublishFailure> {
    let publish = jetstream::message::PublishMessage::build()
        .payload(payload)
        .message_id(msg_id)
        .expected_last_subject_sequence(expected);
    // 10164 is the leader's "wrong last sequence" while an earlier append on the subject
    // is still being replicated: as much a conflict as 10071, which async-nats names.
    let map = |e: jetstream::context::PublishError| {
        let code = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<jetstream::Error>())
            .map(jetstream::Error::error_code);
        match e.kind() {
            PublishErrorKind::WrongLastSequence => PublishFailure::WrongLastSequence,
            _ if code == Some(jetstream::ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT) => {
                PublishFailure::WrongLastSequence
            }
            _ => PublishFailure::Other(e.to_string()),
        }
    };
    let ack = js
        .send_publish(subject, publish)
        .await
        .map_err(map)?
        .await
        .map_err(map)?;
    Ok(Answer {
        seq: ack.sequence,
        duplicate: ack.duplicate,
    })
}

enum Reply {
    Empty,
    Ack { seq: u64, count: u64 },
    Error(String),
}

fn read_reply(payload: &[u8]) -> Reply {
    if payload.is_empty() {
        return Reply::Empty;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return Reply::Error(format!(
            "unreadable reply: {}",
            String::from_utf8_lossy(payload)
        ));
    };
    if let Some(e) = v.get("error") {
        return Reply::Error(e.to_string());
    }
    match (
        v.get("seq").and_then(|s| s.as_u64()),
        v.get("count").and_then(|s| s.as_u64()),
    ) {
        (Some(seq), Some(count)) => Reply::Ack { seq, count },
        _ => Reply::Error(format!("a reply without seq and count: {v}")),
    }
}
