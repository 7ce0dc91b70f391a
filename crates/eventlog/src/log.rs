//! [`EventLog`]: the append-only JetStream stream holding every case's events, one
//! subject per case (`casegrid.events.<case_id>`).

use crate::envelope::{Envelope, StoredEvent};
use crate::error::LogError;
use async_nats::jetstream::{self, consumer, context::PublishErrorKind, stream};
use casegrid_domain::CaseId;
use futures_util::{Stream, StreamExt};
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
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            stream: "CASEGRID_EVENTS".into(),
            subject_prefix: "casegrid.events".into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
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
}

/// How many events one batched direct get asks for.
const LOAD_BATCH: usize = 256;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

impl EventLog {
    /// Creates the stream append-only when absent, or opens it: the one place the
    /// stream is made, for the admin (`casegrid dev`'s bootstrap, the init tool, tests).
    /// Services never have the right to create it: they [`Self::attach`]. Refuses a
    /// stream that exists with a configuration allowing deletes, purges, rollups or limits.
    pub async fn create(admin: async_nats::Client, config: LogConfig) -> Result<Self, LogError> {
        let js = jetstream::new(admin.clone());
        let wanted = stream_config(&config);
        let stream = match js.get_stream(&config.stream).await {
            Ok(s) => s,
            Err(e) if stream_not_found(&e) => {
                match js.create_stream(wanted).await {
                    Ok(s) => s,
                    // Another process created it at the same moment.
                    Err(_) => js
                        .get_stream(&config.stream)
                        .await
                        .map_err(LogError::unavailable)?,
                }
            }
            Err(e) => return Err(LogError::unavailable(e)),
        };
        Self::checked(admin, js, stream, config)
    }

    /// As the NATS admin, creates what the services may only open: the event stream
    /// ([`Self::create`]) and the key bucket ([`casegrid_privacy::KeyVault::create`]).
    /// `casegrid dev`, the init tool and the separate-process tests run it first.
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
        casegrid_privacy::KeyVault::create(admin, replicas)
            .await
            .context("creating the key bucket")?;
        Ok(log)
    }

    /// Like [`Self::create`] (kept for the tools and tests that open a fresh server).
    pub async fn open(client: async_nats::Client, config: LogConfig) -> Result<Self, LogError> {
        Self::create(client, config).await
    }

    /// Opens the existing stream without ever creating it: what a service does. A
    /// missing stream is `Misconfigured`, naming who creates it.
    pub async fn attach(client: async_nats::Client, config: LogConfig) -> Result<Self, LogError> {
        let js = jetstream::new(client.clone());
        let stream = match js.get_stream(&config.stream).await {
            Ok(s) => s,
            Err(e) if stream_not_found(&e) => {
                return Err(LogError::Misconfigured {
                    stream: config.stream.clone(),
                    problem: "it does not exist: the NATS admin creates it (`casegrid dev` does \
                              at start; on a deployment run the init tool as the admin user)"
                        .into(),
                })
            }
            Err(e) => return Err(LogError::unavailable(e)),
        };
        Self::checked(client, js, stream, config)
    }

    fn checked(
        client: async_nats::Client,
        js: jetstream::Context,
        stream: stream::Stream,
        config: LogConfig,
    ) -> Result<Self, LogError> {
        check_append_only(&config.stream, &stream.cached_info().config)?;
        Ok(Self {
            client,
            js,
            stream,
            config,
        })
    }

    /// Connects as `name` to the NATS of `settings` with its credentials (version-checked)
    /// and attaches to the existing log with the configured replicas: what every service
    /// does first.
    pub async fn connect(
        settings: &casegrid_runtime::Settings,
        name: &str,
    ) -> anyhow::Result<(async_nats::Client, Self)> {
        use anyhow::Context;
        let client = casegrid_runtime::nats::connect_with(&settings.nats, name).await?;
        let log = Self::attach(
            client.clone(),
            LogConfig {
                replicas: settings.nats.replicas,
                ..LogConfig::default()
            },
        )
        .await
        .context("opening the event log")?;
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
    pub async fn append(
        &self,
        envelope: &Envelope,
        expected_last_seq: u64,
    ) -> Result<u64, LogError> {
        let case_id = envelope.case_id;
        let publish = jetstream::message::PublishMessage::build()
            .payload(envelope.to_payload().into())
            .message_id(format!("{}:{}", case_id, envelope.command_id))
            .expected_last_subject_sequence(expected_last_seq);
        let map = |kind: PublishErrorKind, e: &dyn std::fmt::Display| match kind {
            PublishErrorKind::WrongLastSequence => LogError::Conflict {
                case_id,
                expected: expected_last_seq,
            },
            _ => LogError::unavailable(e),
        };
        let ack = self
            .js
            .send_publish(self.subject(case_id), publish)
            .await
            .map_err(|e| map(e.kind(), &e))?
            .await
            .map_err(|e| map(e.kind(), &e))?;
        if ack.duplicate {
            return Err(LogError::Duplicate {
                case_id,
                seq: ack.sequence,
            });
        }
        Ok(ack.sequence)
    }

    /// Loads a case's events after stream sequence `after_seq` (0 for all), in order,
    /// by batched direct get: no consumer is created.
    pub async fn load_case(
        &self,
        case_id: CaseId,
        after_seq: u64,
    ) -> Result<Vec<StoredEvent>, LogError> {
        let subject = self.subject(case_id);
        let mut events = Vec::new();
        let mut next = after_seq + 1;
        loop {
            let (batch, more) = self.direct_get_batch(&subject, next).await?;
            if let Some(last) = batch.last() {
                next = last.seq + 1;
            }
            events.extend(batch);
            if !more {
                return Ok(events);
            }
        }
    }

    /// One batched direct get (server ≥ 2.11): returns the events and whether more remain.
    async fn direct_get_batch(
        &self,
        subject: &str,
        from_seq: u64,
    ) -> Result<(Vec<StoredEvent>, bool), LogError> {
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
        let mut events = Vec::new();
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
                    return Ok((events, pending > 0));
                }
                Some(404) => return Ok((events, false)),
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
                    events.push(StoredEvent::parse(seq, &msg.payload)?);
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

    /// Number of messages in the stream.
    pub async fn message_count(&self) -> Result<u64, LogError> {
        let mut stream = self.stream.clone();
        let info = stream.info().await.map_err(LogError::unavailable)?;
        Ok(info.state.messages)
    }

    /// Reads every event from stream sequence `from_seq` on, in order, through an
    /// ordered consumer; the stream ends only when the connection does, so callers
    /// stop at a sequence they chose (e.g. [`Self::last_sequence`]).
    pub async fn read_from(
        &self,
        from_seq: u64,
    ) -> Result<impl Stream<Item = Result<StoredEvent, LogError>> + use<>, LogError> {
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
            StoredEvent::parse(info.stream_sequence, &m.payload)
        }))
    }

    /// The underlying stream, for durable consumers of services.
    pub fn stream(&self) -> &stream::Stream {
        &self.stream
    }
}

fn stream_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(ref j)
        if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
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
        max_age: Duration::ZERO,
        max_bytes: -1,
        max_messages: -1,
        max_messages_per_subject: -1,
        discard: stream::DiscardPolicy::Old,
        ..Default::default()
    }
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
