//! Raw JetStream: the ceilings casegrid's figures are compared with. A stream
//! configured like the event log, events of the same size, no casegrid code.

use super::{rate, Latencies};
use anyhow::Context;
use async_nats::jetstream::{self, consumer, message::PublishMessage, stream};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

const STREAM: &str = "BENCH_RAW";
/// Events per simulated case of a raw writer (subjects are per case, as in casegrid).
const EVENTS_PER_SUBJECT: u64 = 10;
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// What a group of appends did.
pub(super) struct Appends {
    pub(super) count: u64,
    pub(super) elapsed: Duration,
    pub(super) latencies: Latencies,
}

impl Appends {
    pub(super) fn rate(&self) -> f64 {
        rate(self.count, self.elapsed)
    }
}

/// A stream like `CASEGRID_EVENTS` (see `casegrid_eventlog::log`), for raw appends.
async fn raw_stream(js: &jetstream::Context) -> anyhow::Result<()> {
    js.get_or_create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec!["bench.raw.>".into()],
        storage: stream::StorageType::File,
        num_replicas: 1,
        duplicate_window: Duration::from_secs(120),
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        ..Default::default()
    })
    .await
    .context("creating the raw stream")?;
    Ok(())
}

/// A JSON payload of exactly `size` bytes (at least a few).
fn payload(size: usize) -> bytes::Bytes {
    let head = br#"{"data":""#;
    let tail = br#""}"#;
    let fill = size.saturating_sub(head.len() + tail.len());
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(head);
    v.extend(std::iter::repeat_n(b'x', fill));
    v.extend_from_slice(tail);
    v.into()
}

/// `writers` tasks append for `duration`, each to subjects of its own, with the
/// expected last subject sequence and a message id, awaiting every ack.
pub(super) async fn writers(
    client: &async_nats::Client,
    size: usize,
    writers: usize,
    duration: Duration,
) -> anyhow::Result<Appends> {
    let js = jetstream::new(client.clone());
    raw_stream(&js).await?;
    let body = payload(size);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let (js, body) = (js.clone(), body.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut case = 0u64;
            'cases: loop {
                let subject = format!("bench.raw.w{w}.c{case}");
                let mut last = 0;
                for v in 0..EVENTS_PER_SUBJECT {
                    if Instant::now() >= deadline {
                        break 'cases;
                    }
                    let t = Instant::now();
                    let publish = PublishMessage::build()
                        .payload(body.clone())
                        .message_id(format!("w{w}-c{case}-{v}"))
                        .expected_last_subject_sequence(last);
                    let ack = tokio::time::timeout(ACK_TIMEOUT, async {
                        js.send_publish(subject.clone(), publish).await?.await
                    })
                    .await
                    .context("raw append timed out")?
                    .context("raw append")?;
                    latencies.push(t.elapsed());
                    last = ack.sequence;
                }
                case += 1;
            }
            anyhow::Ok(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done.context("a raw writer panicked")??);
    }
    let elapsed = started.elapsed();
    Ok(Appends {
        count: all.len() as u64,
        elapsed,
        latencies: Latencies::new(all),
    })
}

/// One writer with up to `in_flight` acks outstanding, for `duration` or `max` messages.
pub(super) async fn pipelined(
    client: &async_nats::Client,
    size: usize,
    in_flight: usize,
    duration: Duration,
    max: u64,
) -> anyhow::Result<Appends> {
    let js = jetstream::new(client.clone());
    raw_stream(&js).await?;
    let body = payload(size);
    let started = Instant::now();
    let deadline = started + duration;
    let mut pending = FuturesUnordered::new();
    let mut sent = 0u64;
    let mut acked = 0u64;
    while sent < max && Instant::now() < deadline {
        let publish = PublishMessage::build()
            .payload(body.clone())
            .message_id(format!("p-{sent}"));
        let ack = js
            .send_publish(format!("bench.raw.p.{}", sent % 1000), publish)
            .await
            .context("pipelined publish")?;
        pending.push(ack.into_future());
        sent += 1;
        if pending.len() >= in_flight {
            next_ack(&mut pending).await?;
            acked += 1;
        }
    }
    while !pending.is_empty() {
        next_ack(&mut pending).await?;
        acked += 1;
    }
    Ok(Appends {
        count: acked,
        elapsed: started.elapsed(),
        latencies: Latencies::default(),
    })
}

async fn next_ack<F, T, E>(pending: &mut FuturesUnordered<F>) -> anyhow::Result<()>
where
    F: std::future::Future<Output = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(ACK_TIMEOUT, pending.next())
        .await
        .context("pipelined ack timed out")?
        .context("no ack pending")?
        .context("pipelined ack")?;
    Ok(())
}

/// Reads a whole stream through an ordered consumer, counting messages only.
/// Returns (messages, elapsed).
pub(super) async fn drain(
    client: &async_nats::Client,
    stream_name: &str,
) -> anyhow::Result<(u64, Duration)> {
    let js = jetstream::new(client.clone());
    let mut stream = js
        .get_stream(stream_name)
        .await
        .with_context(|| format!("looking up {stream_name}"))?;
    let last = stream.info().await?.state.last_sequence;
    let started = Instant::now();
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .context("creating the draining consumer")?;
    let mut messages = consumer.messages().await.context("draining")?;
    let mut count = 0u64;
    while count < last {
        let m = tokio::time::timeout(ACK_TIMEOUT, messages.next())
            .await
            .context("drain stalled")?
            .context("drain ended early")?
            .context("draining")?;
        count += 1;
        let seq = m
            .info()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .stream_sequence;
        if seq >= last {
            break;
        }
    }
    Ok((count, started.elapsed()))
}
