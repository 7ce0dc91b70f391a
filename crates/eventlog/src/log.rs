//! [`EventLog`]: the append-only JetStream stream holding every case's events, one
//! subject per case (`casegrid.events.<case_id>`).

use crate::batch::{
    publish_atomic, publish_one, Answer, BatchConfig, BatchOutcome, Batcher, PublishFailure, Staged,
};
use crate::classify::{classify, Head, RawMessage};
use crate::envelope::{Envelope, StoredEvent};
use crate::error::LogError;
use async_nats::jetstream::{self, consumer, stream};
use casegrid_domain::CaseId;
use casegrid_runtime::nats::is_stream_not_found;
use futures_util::{Stream, StreamExt};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How the stream is named and replicated.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub stream: String,
    /// Events of case `X` go to `<subject_prefix>.X`.
    pub subject_prefix: String,
    /// 1 on one machine, 3 in a cluster.
    pub replicas: usize,
    /// JetStream's duplicate window for `Nats-Msg-Id` (at least 2 minutes).
    pub duplicate_window: Duration,
    /// Group commit: how appends are gathered into atomic batches
    /// (`[eventlog] batch_window_us`, `batch_max`).
    pub batch: BatchConfig,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            stream: "CASEGRID_EVENTS".into(),
            subject_prefix: "casegrid.events".into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            batch: BatchConfig::default(),
        }
    }
}

/// Handle on the event stream; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    client: async_nats::Client,
    js: jetstream::Context,
    stream: stream::Stream,
    config: LogConfig,
    /// Started on the first append (group commit, [`crate::batch`]).
    batcher: Arc<OnceLock<Batcher>>,
}

/// How often running consumers check that the stream is still the one they read.
pub const IDENTITY_CHECK: Duration = Duration::from_secs(1);
/// How many identity checks in a row must find no stream before a watcher says so.
pub const MISSING_CHECKS: u32 = 3;

/// Which stream a consumer read: what its state records, so it never continues
/// against an empty or different stream (deleted and re-created, or another server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamIdentity {
    pub stream: String,
    /// The stream's creation time (RFC 3339, UTC).
    pub created: String,
    /// The stream's first sequence (0 while it is empty).
    pub first_seq: u64,
}

impl std::fmt::Display for StreamIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stream {} created {} (first sequence {})",
            self.stream, self.created, self.first_seq
        )
    }
}

/// How many events one batched direct get asks for.
const LOAD_BATCH: usize = 256;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl EventLog {
    /// Creates the stream append-only when absent, then opens it: the one place that
    /// creates the event log, for the NATS admin (`casegrid init`, `casegrid dev` on an
    /// empty data folder, tests). Services only [`Self::open`] it (and have no right to
    /// create it).
    pub async fn create(admin: async_nats::Client, config: LogConfig) -> Result<Self, LogError> {
        let js = jetstream::new(admin.clone());
        match js.get_stream(&config.stream).await {
            Ok(existing) => {
                check_replicas(&config, &existing.cached_info().config)?;
                allow_atomic(&js, existing.cached_info().config.clone()).await?
            }
            Err(e) if is_stream_not_found(&e) => {
                if let Err(e) = js.create_stream(stream_config(&config)).await {
                    // Another creator may have won the race; anything else is an error.
                    if js.get_stream(&config.stream).await.is_err() {
                        return Err(LogError::unavailable(e));
                    }
                }
            }
            Err(e) => return Err(LogError::unavailable(e)),
        }
        Self::open(admin, config).await
    }

    /// As the NATS admin, creates what the services may only open: the event stream
    /// ([`Self::create`]), the key bucket ([`casegrid_privacy::KeyVault::create`]),
    /// routing's notification bucket (`CASEGRID_NOTIFICATIONS`: one delivery record
    /// per notification id, updated by revision) and the attachment bucket
    /// ([`crate::AttachmentStore::create`]).
    /// `casegrid init`, `casegrid dev` and the separate-process tests run it first.
    pub async fn bootstrap(admin: async_nats::Client, replicas: usize) -> anyhow::Result<Self> {
        use anyhow::Context;
        let log = Self::create(
            admin.clone(),
            LogConfig {
                replicas,
                ..LogConfig::default()
            },
        )
        .await
        .context("creating the event stream")?;
        casegrid_privacy::KeyVault::create(admin.clone(), replicas)
            .await
            .context("creating the key bucket")?;
        Self::create_notification_bucket(&admin, replicas)
            .await
            .context("creating the notification bucket")?;
        crate::AttachmentStore::create(admin, replicas)
            .await
            .context("creating the attachment bucket")?;
        Ok(log)
    }

    /// As the NATS admin, creates routing's notification bucket when absent (file
    /// storage, history 1); part of [`Self::bootstrap`], and run alone by `casegrid
    /// dev` on a data folder made before the bucket existed.
    pub async fn create_notification_bucket(
        admin: &async_nats::Client,
        replicas: usize,
    ) -> anyhow::Result<()> {
        use async_nats::jetstream::kv;
        let bucket = casegrid_runtime::natsauth::NOTIFICATIONS_BUCKET;
        let js = jetstream::new(admin.clone());
        if js.get_key_value(bucket).await.is_err() {
            js.create_key_value(kv::Config {
                bucket: bucket.into(),
                history: 1,
                storage: jetstream::stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await?;
        }
        Ok(())
    }

    /// Opens the existing stream. Refuses a missing one (services never create it: a
    /// stream re-created empty would silently stand in for the real log) and one whose
    /// configuration allows deletes, purges, rollups or limits.
    pub async fn open(client: async_nats::Client, config: LogConfig) -> Result<Self, LogError> {
        let js = jetstream::new(client.clone());
        let stream = match js.get_stream(&config.stream).await {
            Ok(s) => s,
            Err(e) if is_stream_not_found(&e) => {
                return Err(LogError::Missing {
                    stream: config.stream.clone(),
                })
            }
            Err(e) => return Err(LogError::unavailable(e)),
        };
        check_append_only(&config.stream, &stream.cached_info().config)?;
        Ok(Self {
            client,
            js,
            stream,
            config,
            batcher: Arc::default(),
        })
    }

    /// Which stream this is now: its creation time, first and last sequence.
    pub async fn identity(&self) -> Result<(StreamIdentity, u64), LogError> {
        // Asked by name each time: a re-created stream answers with its own info.
        let info = match self.js.get_stream(&self.config.stream).await {
            Ok(stream) => stream.cached_info().clone(),
            Err(e) if is_stream_not_found(&e) => {
                return Err(LogError::Missing {
                    stream: self.config.stream.clone(),
                })
            }
            Err(e) => return Err(LogError::unavailable(e)),
        };
        let created = info
            .created
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Ok((
            StreamIdentity {
                stream: self.config.stream.clone(),
                created,
                first_seq: info.state.first_sequence,
            },
            info.state.last_sequence,
        ))
    }

    /// Checks that the stream is the one a consumer's state was built from: `recorded`
    /// (its identity when the state began) and `checkpoint` (the last sequence it
    /// applied). A state past 0 refuses an empty or shorter stream, or one created at
    /// another time. Answers the identity to record.
    pub async fn check_identity(
        &self,
        recorded: Option<&StreamIdentity>,
        checkpoint: u64,
    ) -> Result<StreamIdentity, LogError> {
        let (current, last) = self.identity().await?;
        if checkpoint == 0 {
            return Ok(current);
        }
        let mismatch = |why: String| LogError::StreamMismatch {
            recorded: recorded.map_or_else(
                || format!("an unrecorded stream, applied up to sequence {checkpoint}"),
                |r| format!("{r}, applied up to sequence {checkpoint}"),
            ),
            found: format!("{current} (last sequence {last})"),
            why,
        };
        if last < checkpoint {
            return Err(mismatch(if last == 0 {
                "the stream is empty".into()
            } else {
                format!("the stream ends at sequence {last}")
            }));
        }
        if let Some(r) = recorded {
            if r.created != current.created {
                return Err(mismatch(
                    "it is another stream (created at another time)".into(),
                ));
            }
            if r.first_seq != 0 && current.first_seq != 0 && r.first_seq != current.first_seq {
                return Err(mismatch(
                    "it is another stream (another first sequence)".into(),
                ));
            }
        }
        Ok(current)
    }

    /// Returns only when the stream stops being `recorded` (deleted, or re-created):
    /// checked every [`IDENTITY_CHECK`]; a server that does not answer is not a mismatch,
    /// and a missing stream counts only when [`MISSING_CHECKS`] checks in a row say so
    /// (a cluster node just restarted may answer "not found" before it has caught up).
    pub async fn watch_identity(&self, recorded: &StreamIdentity) -> LogError {
        let mut missing = 0;
        loop {
            tokio::time::sleep(IDENTITY_CHECK).await;
            match self.identity().await {
                Ok((current, last)) if current.created != recorded.created => {
                    return LogError::StreamMismatch {
                        recorded: recorded.to_string(),
                        found: format!("{current} (last sequence {last})"),
                        why: "the stream was deleted and re-created".into(),
                    }
                }
                Err(e @ LogError::Missing { .. }) => {
                    missing += 1;
                    if missing >= MISSING_CHECKS {
                        return e;
                    }
                }
                _ => missing = 0,
            }
        }
    }

    /// Connects as `name` to the NATS of `settings` with its credentials (version-checked)
    /// and opens the existing log with the configured replicas: what every service does
    /// first.
    pub async fn connect(
        settings: &casegrid_runtime::Settings,
        name: &str,
    ) -> anyhow::Result<(async_nats::Client, Self)> {
        use anyhow::Context;
        let client = casegrid_runtime::nats::connect_with(&settings.nats, name).await?;
        let log = Self::open(
            client.clone(),
            LogConfig {
                replicas: settings.nats.replicas,
                batch: BatchConfig::from(&settings.eventlog),
                ..LogConfig::default()
            },
        )
        .await
        .context("opening the event log")?;
        check_replicas(log.config(), &log.stream.cached_info().config)?;
        Ok((client, log))
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn subject(&self, case_id: CaseId) -> String {
        format!("{}.{}", self.config.subject_prefix, case_id)
    }

    /// Appends one sealed event, expecting the case's last event to be at stream
    /// sequence `expected_last_seq` (0 for a new case). Returns the event's sequence.
    /// Appends of all tasks are gathered into atomic batches ([`crate::batch`]); each
    /// keeps its own expectation and message id, and answers for itself.
    pub async fn append(
        &self,
        envelope: &Envelope,
        expected_last_seq: u64,
    ) -> Result<u64, LogError> {
        self.append_on(&self.subject(envelope.case_id), envelope, expected_last_seq)
            .await
    }

    /// The subject of a knowledge-base entry's events: `<prefix>.kb.<entry id>`.
    pub fn kb_subject(&self, entry: casegrid_domain::kb::KbEntryId) -> String {
        format!("{}.kb.{}", self.config.subject_prefix, entry)
    }

    /// [`Self::append`] onto `subject` (a knowledge-base entry's): the same expected
    /// sequence, message id (`<id>:<command id>`) and group commit.
    pub async fn append_on(
        &self,
        subject: &str,
        envelope: &Envelope,
        expected_last_seq: u64,
    ) -> Result<u64, LogError> {
        let case_id = envelope.case_id;
        let (subject, payload, msg_id) = (
            subject.to_owned(),
            envelope.to_payload().into(),
            format!("{}:{}", case_id, envelope.command_id),
        );
        let answer = match self.batcher() {
            Some(batcher) => {
                batcher
                    .publish(subject, payload, msg_id, expected_last_seq)
                    .await
            }
            None => publish_one(&self.js, subject, payload, msg_id, expected_last_seq).await,
        };
        match answer {
            Ok(Answer {
                seq,
                duplicate: false,
            }) => Ok(seq),
            Ok(Answer {
                seq,
                duplicate: true,
            }) => Err(LogError::Duplicate { case_id, seq }),
            Err(PublishFailure::WrongLastSequence) => Err(LogError::Conflict {
                case_id,
                expected: expected_last_seq,
            }),
            Err(PublishFailure::Other(e)) => Err(LogError::Unavailable(e)),
        }
    }

    /// Appends whole new cases (each a chain from version 1) in one atomic batch: every
    /// event is stored, with consecutive sequences, or none is. Each case's first event
    /// requires that its subject holds nothing; each event keeps its message id
    /// (`<case>:<command_id>`). At most [`crate::batch::SERVER_MAX_BATCH`] events.
    ///
    /// `Ok(last sequence)` when stored; [`LogError::Conflict`] when the server refused
    /// the batch (one of the cases exists, or another check failed: nothing stored, try
    /// the cases one by one to learn which); [`LogError::Unavailable`] when the outcome
    /// is unknown (retry: the expectations make a retry safe).
    pub async fn append_new_cases(&self, cases: &[Vec<Envelope>]) -> Result<u64, LogError> {
        let messages: Vec<(String, bytes::Bytes, String, Option<u64>)> = cases
            .iter()
            .flat_map(|case| {
                case.iter().enumerate().map(|(i, e)| {
                    (
                        self.subject(e.case_id),
                        bytes::Bytes::from(e.to_payload()),
                        format!("{}:{}", e.case_id, e.command_id),
                        (i == 0).then_some(0),
                    )
                })
            })
            .collect();
        let Some(first) = cases.iter().find_map(|c| c.first()) else {
            return self.last_sequence().await;
        };
        if messages.len() > crate::batch::SERVER_MAX_BATCH {
            return Err(LogError::Unavailable(format!(
                "{} events exceed the {} of one atomic batch",
                messages.len(),
                crate::batch::SERVER_MAX_BATCH
            )));
        }
        if messages.len() == 1 {
            let (subject, payload, msg_id, _) = messages.into_iter().next().expect("one");
            return match publish_one(&self.js, subject, payload, msg_id, 0).await {
                Ok(Answer {
                    seq,
                    duplicate: false,
                }) => Ok(seq),
                Ok(Answer {
                    seq,
                    duplicate: true,
                }) => Err(LogError::Duplicate {
                    case_id: first.case_id,
                    seq,
                }),
                Err(PublishFailure::WrongLastSequence) => Err(LogError::Conflict {
                    case_id: first.case_id,
                    expected: 0,
                }),
                Err(PublishFailure::Other(e)) => Err(LogError::Unavailable(e)),
            };
        }
        let staged: Vec<Staged<'_>> = messages
            .iter()
            .map(|(subject, payload, msg_id, expected)| Staged {
                subject,
                payload,
                msg_id,
                expected: *expected,
            })
            .collect();
        match publish_atomic(&self.client, &staged).await {
            BatchOutcome::Stored { last_seq, count } if count == staged.len() as u64 => {
                Ok(last_seq)
            }
            BatchOutcome::Stored { last_seq, count } => Err(LogError::Unavailable(format!(
                "the batch's ack counts {count} messages (last {last_seq}), {} were sent",
                staged.len()
            ))),
            BatchOutcome::Refused(why) => {
                tracing::debug!(%why, "a batch of new cases was refused");
                Err(LogError::Conflict {
                    case_id: first.case_id,
                    expected: 0,
                })
            }
            BatchOutcome::Unknown(why) => Err(LogError::Unavailable(why)),
        }
    }

    /// The group committer; `None` (every append its own request) when the window is
    /// 0 or the stream does not allow atomic batches.
    fn batcher(&self) -> Option<&Batcher> {
        if self.config.batch.window.is_zero() {
            return None;
        }
        let batcher = self.batcher.get_or_init(|| {
            let atomic = self.stream.cached_info().config.allow_atomic_publish;
            if !atomic {
                tracing::warn!(stream = %self.config.stream, "the stream does not allow atomic batches: every append is its own request (run `casegrid init` as the NATS admin to allow them)");
            }
            Batcher::spawn(
                self.client.clone(),
                self.js.clone(),
                self.config.batch,
                atomic,
            )
        });
        batcher.atomic().then_some(batcher)
    }

    /// `{"batches", "batched", "refused", "single"}` since start: atomic batches
    /// published, the messages in them, batches the server refused (their messages
    /// were then appended one by one), messages appended one by one.
    pub fn batch_counters(&self) -> serde_json::Value {
        use std::sync::atomic::Ordering::Relaxed;
        match self.batcher.get() {
            None => serde_json::json!({"batches": 0, "batched": 0, "refused": 0, "single": 0}),
            Some(b) => serde_json::json!({
                "batches": b.counters.batches.load(Relaxed),
                "batched": b.counters.batched_messages.load(Relaxed),
                "refused": b.counters.refused_batches.load(Relaxed),
                "single": b.counters.single.load(Relaxed),
            }),
        }
    }

    /// Loads a case's envelopes after stream sequence `after_seq` (0 for all), in
    /// order, by batched direct get: no consumer is created. A stored message that is
    /// not an envelope is left out (it is in the quarantine); envelopes are not
    /// checked, so a broken chain shows. [`Self::load_case_raw`] reads everything.
    pub async fn load_case(
        &self,
        case_id: CaseId,
        after_seq: u64,
    ) -> Result<Vec<StoredEvent>, LogError> {
        Ok(envelopes(&self.load_case_raw(case_id, after_seq).await?))
    }

    /// [`Self::load_case`] confirmed by the stream leader
    /// ([`Self::load_case_raw_confirmed`]).
    pub async fn load_case_confirmed(
        &self,
        case_id: CaseId,
        after_seq: u64,
    ) -> Result<Vec<StoredEvent>, LogError> {
        Ok(envelopes(
            &self.load_case_raw_confirmed(case_id, after_seq).await?,
        ))
    }

    /// Every message on a case's subject after stream sequence `after_seq`, as stored,
    /// in order (for [`crate::classify`]).
    pub async fn load_case_raw(
        &self,
        case_id: CaseId,
        after_seq: u64,
    ) -> Result<Vec<RawMessage>, LogError> {
        self.load_subject_raw(&self.subject(case_id), after_seq)
            .await
    }

    /// Every message on `subject` after stream sequence `after_seq`, as stored, in order.
    pub async fn load_subject_raw(
        &self,
        subject: &str,
        after_seq: u64,
    ) -> Result<Vec<RawMessage>, LogError> {
        let subject = subject.to_owned();
        let mut messages = Vec::new();
        let mut next = after_seq + 1;
        loop {
            let (batch, more) = self.direct_get_batch(&subject, next).await?;
            if let Some(last) = batch.last() {
                next = last.seq + 1;
            }
            messages.extend(batch);
            if !more {
                return Ok(messages);
            }
        }
    }

    /// The sequence of a case's last message as the stream leader knows it (0: none), by
    /// a non-direct get: read-your-writes in a cluster, where a direct get may be served
    /// by a replica behind the leader.
    pub async fn last_seq_on_leader(&self, case_id: CaseId) -> Result<u64, LogError> {
        use jetstream::stream::LastRawMessageErrorKind as Kind;
        match self
            .stream
            .get_last_raw_message_by_subject(&self.subject(case_id))
            .await
        {
            Ok(m) => Ok(m.sequence),
            Err(e) if matches!(e.kind(), Kind::NoMessageFound) => Ok(0),
            Err(e) if matches!(e.kind(), Kind::JetStream(ref j) if j.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND) => {
                Ok(0)
            }
            Err(e) => Err(LogError::unavailable(e)),
        }
    }

    /// [`Self::load_case_raw`] confirmed by the stream leader: when the direct gets end
    /// before the leader's last message of the case (a replica behind served them), the
    /// rest is read from the leader. For answers that must not rest on a stale replica:
    /// "not found", a refusal. One request more than the fast path when nothing is missing.
    pub async fn load_case_raw_confirmed(
        &self,
        case_id: CaseId,
        after_seq: u64,
    ) -> Result<Vec<RawMessage>, LogError> {
        let last = self.last_seq_on_leader(case_id).await?;
        if last <= after_seq {
            return Ok(Vec::new());
        }
        let mut messages = self.load_case_raw(case_id, after_seq).await?;
        let subject = self.subject(case_id);
        let mut next = messages.last().map_or(after_seq, |m| m.seq) + 1;
        while next <= last {
            let m = self
                .stream
                .get_first_raw_message_by_subject(&subject, next)
                .await
                .map_err(LogError::unavailable)?;
            next = m.sequence + 1;
            messages.push(RawMessage {
                seq: m.sequence,
                subject: m.subject.to_string(),
                payload: m.payload,
            });
        }
        Ok(messages)
    }

    /// The head of a case as classified from its messages before stream sequence
    /// `seq` (`None`: no valid event of the case comes before it).
    pub async fn head_before(&self, case_id: CaseId, seq: u64) -> Result<Option<Head>, LogError> {
        self.head_before_on(&self.subject(case_id), seq).await
    }

    /// [`Self::head_before`] of whatever `subject` holds (a case, a knowledge-base entry).
    pub async fn head_before_on(&self, subject: &str, seq: u64) -> Result<Option<Head>, LogError> {
        let mut head: Option<Head> = None;
        for message in self.load_subject_raw(subject, 0).await? {
            if message.seq >= seq {
                break;
            }
            if let Some(e) = classify(&self.config.subject_prefix, &message, head.as_ref()).stored()
            {
                head = Some(Head {
                    version: e.envelope.version,
                    hash: e.envelope.hash.clone(),
                });
            }
        }
        Ok(head)
    }

    /// One batched direct get (server ≥ 2.11): returns the messages and whether more remain.
    async fn direct_get_batch(
        &self,
        subject: &str,
        from_seq: u64,
    ) -> Result<(Vec<RawMessage>, bool), LogError> {
        let inbox = self.client.new_inbox();
        let mut sub = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(LogError::unavailable)?;
        let request =
            serde_json::json!({ "seq": from_seq, "next_by_subj": subject, "batch": LOAD_BATCH });
        self.client
            .publish_with_reply(
                format!("$JS.API.DIRECT.GET.{}", self.config.stream),
                inbox,
                request.to_string().into(),
            )
            .await
            .map_err(LogError::unavailable)?;
        let mut messages = Vec::new();
        loop {
            let msg = tokio::time::timeout(REQUEST_TIMEOUT, sub.next())
                .await
                .map_err(|_| LogError::Unavailable(format!("direct get of {subject} timed out")))?
                .ok_or_else(|| LogError::Unavailable("subscription closed".into()))?;
            let header = |name: &str| {
                msg.headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_owned())
            };
            match msg.status.map(|s| s.as_u16()) {
                // End of batch; Nats-Num-Pending says whether the subject holds more.
                Some(204) => {
                    let pending: u64 = header("Nats-Num-Pending")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    return Ok((messages, pending > 0));
                }
                Some(404) => return Ok((messages, false)),
                Some(503) => {
                    return Err(LogError::Unavailable("no responders for direct get".into()))
                }
                Some(code) if code >= 400 => {
                    return Err(LogError::Unavailable(format!(
                        "direct get of {subject}: {code} {}",
                        msg.description.clone().unwrap_or_default()
                    )))
                }
                _ => {
                    let seq: u64 = header("Nats-Sequence")
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| {
                            LogError::Unavailable("direct get reply without Nats-Sequence".into())
                        })?;
                    messages.push(RawMessage {
                        seq,
                        subject: header("Nats-Subject").unwrap_or_else(|| subject.to_owned()),
                        payload: msg.payload.clone(),
                    });
                }
            }
        }
    }

    /// The sequence of the last event in the stream (0 when empty).
    pub async fn last_sequence(&self) -> Result<u64, LogError> {
        let mut stream = self.stream.clone();
        let info = stream.info().await.map_err(LogError::unavailable)?;
        Ok(info.state.last_sequence)
    }

    /// Every case that has at least one message in the stream, from one pass over the
    /// stream's subjects (the server's subject details, paged), not a load per case:
    /// how `casegrid import` finds what an earlier run appended.
    pub async fn cases_present(&self) -> Result<std::collections::HashSet<CaseId>, LogError> {
        use futures_util::TryStreamExt;
        let prefix = format!("{}.", self.config.subject_prefix);
        let stream = self.stream.clone();
        let mut subjects = stream
            .info_with_subjects(format!("{prefix}*"))
            .await
            .map_err(LogError::unavailable)?;
        let mut present = std::collections::HashSet::new();
        while let Some((subject, _count)) =
            subjects.try_next().await.map_err(LogError::unavailable)?
        {
            if let Some(id) = subject
                .strip_prefix(&prefix)
                .and_then(|id| CaseId::parse(id).ok())
            {
                present.insert(id);
            }
        }
        Ok(present)
    }

    /// Number of messages in the stream.
    pub async fn message_count(&self) -> Result<u64, LogError> {
        let mut stream = self.stream.clone();
        let info = stream.info().await.map_err(LogError::unavailable)?;
        Ok(info.state.messages)
    }

    /// Reads every event from stream sequence `from_seq` on, in order, through an
    /// ordered consumer; the stream ends only when the connection does, so callers
    /// stop at a sequence they chose (e.g. [`Self::last_sequence`]). A message that is
    /// not an envelope comes as an error; [`Self::read_raw_from`] reads them all.
    pub async fn read_from(
        &self,
        from_seq: u64,
    ) -> Result<impl Stream<Item = Result<StoredEvent, LogError>> + use<>, LogError> {
        Ok(self
            .read_raw_from(from_seq)
            .await?
            .map(|m| m.and_then(|m| StoredEvent::parse(m.seq, &m.payload))))
    }

    /// Every message from stream sequence `from_seq` on, as stored, in order.
    pub async fn read_raw_from(
        &self,
        from_seq: u64,
    ) -> Result<impl Stream<Item = Result<RawMessage, LogError>> + use<>, LogError> {
        let consumer = self
            .stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: format!("{}.>", self.config.subject_prefix),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: from_seq.max(1),
                },
                ..Default::default()
            })
            .await
            .map_err(LogError::unavailable)?;
        let messages = consumer.messages().await.map_err(LogError::unavailable)?;
        Ok(messages.map(|m| {
            let m = m.map_err(LogError::unavailable)?;
            let info = m.info().map_err(LogError::unavailable)?;
            Ok(RawMessage {
                seq: info.stream_sequence,
                subject: m.subject.to_string(),
                payload: m.payload.clone(),
            })
        }))
    }

    /// The underlying stream, for durable consumers of services.
    pub fn stream(&self) -> &stream::Stream {
        &self.stream
    }
}

/// The envelopes among a case's messages (the others are in the quarantine).
fn envelopes(messages: &[RawMessage]) -> Vec<StoredEvent> {
    messages
        .iter()
        .filter_map(|m| match StoredEvent::parse(m.seq, &m.payload) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "not an envelope: left out of the case's events");
                None
            }
        })
        .collect()
}

/// Lets an existing stream take atomic batches (group commit), changing nothing else:
/// whether the rest is append-only is still checked when it is opened.
async fn allow_atomic(js: &jetstream::Context, mut c: stream::Config) -> Result<(), LogError> {
    if c.allow_atomic_publish {
        return Ok(());
    }
    tracing::info!(stream = %c.name, "allowing atomic batch publish on the event stream");
    c.allow_atomic_publish = true;
    js.update_stream(c).await.map_err(LogError::unavailable)?;
    Ok(())
}

fn stream_config(config: &LogConfig) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        subjects: vec![format!("{}.>", config.subject_prefix)],
        storage: stream::StorageType::File,
        num_replicas: config.replicas,
        duplicate_window: config.duplicate_window,
        deny_delete: true,
        deny_purge: true,
        allow_rollup: false,
        allow_direct: true,
        allow_atomic_publish: true,
        max_age: Duration::ZERO,
        max_bytes: -1,
        max_messages: -1,
        max_messages_per_subject: -1,
        discard: stream::DiscardPolicy::Old,
        ..Default::default()
    }
}

/// A service started for `nats.replicas` refuses a stream replicated otherwise: a
/// cluster whose log runs at R1 loses acknowledged events with one disk, and the
/// operator believes it runs at R3. Changing replicas is the admin's act
/// (`nats stream edit --replicas`), never a side effect of starting a service.
fn check_replicas(config: &LogConfig, c: &stream::Config) -> Result<(), LogError> {
    let found = c.num_replicas.max(1);
    let wanted = config.replicas.max(1);
    if found == wanted {
        return Ok(());
    }
    Err(LogError::Misconfigured {
        stream: config.stream.clone(),
        problem: format!(
            "it runs at {found} replica(s) but nats.replicas is {wanted}: set \
             CASEGRID__NATS__REPLICAS={found}, or have the NATS admin change the stream \
             (`nats stream edit {} --replicas {wanted}`)",
            config.stream
        ),
    })
}

/// Every way a stream could lose or rewrite events, named.
fn check_append_only(name: &str, c: &stream::Config) -> Result<(), LogError> {
    let problem = if !c.deny_delete {
        Some("deny_delete is false: messages could be deleted")
    } else if !c.deny_purge {
        Some("deny_purge is false: the stream could be purged")
    } else if c.allow_rollup {
        Some("allow_rollup is true: a rollup purges a subject")
    } else if c.max_age != Duration::ZERO {
        Some("max_age is set: old events would expire")
    } else if c.max_bytes > 0 || c.max_messages > 0 || c.max_messages_per_subject > 0 {
        Some("a size limit is set: old events would be discarded")
    } else if c.subject_delete_marker_ttl.is_some() || c.allow_message_ttl {
        Some("message TTLs or subject delete markers are enabled")
    } else if c.allow_message_schedules {
        Some("message schedules are enabled")
    } else if !c.allow_direct {
        Some("allow_direct is false: cases could not be loaded by direct get")
    } else {
        None
    };
    match problem {
        Some(p) => Err(LogError::Misconfigured {
            stream: name.to_owned(),
            problem: p.to_owned(),
        }),
        None => Ok(()),
    }
}
