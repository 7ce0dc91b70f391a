//! routing: dispatches cases by the district's rules (派单), decides the departments'
//! actions, and watches deadlines.
//!
//! - [`Routing`]: the handlers — completing commands with values computed from the
//!   configuration and working calendar ([`act`]), and reacting to events ([`react`]):
//!   auto-dispatch on filing and reopening, re-dispatch after a return excluding the
//!   departments that returned the case (or the human dispatcher queue when no rule
//!   is left), escalation one level up after a missed deadline.
//! - [`state`]: routing's own SQL state (open deadlines, dispatcher queue, checkpoint).
//! - [`timers`]: appends exactly one `DeadlineMissed` per passed deadline.
//! - [`notify`] / [`channels`]: the notifier — an outbox of the events routing consumes
//!   (and of deadlines ahead), one record per notification id in the KV bucket
//!   `CASEGRID_NOTIFICATIONS`, delivered by webhook or SMS at most once per id.
//! - [`run`] / [`serve`]: the consumer `routing-<replica>`, the timer loop, the
//!   `casegrid-routing` service, and configuration reload (SIGHUP or a NATS request).
//!
//! Every effect is idempotent: reactions carry deterministic command ids
//! (`dispatch:<event id>`, `escalate:<event id>`, `missed:<case>:<kind>:<unit>:<due>`),
//! so redeliveries, restarts and several replicas append each event once.

pub mod act;
pub mod channels;
pub mod notify;
pub mod react;
pub mod state;
pub mod timers;

use anyhow::Context;
use async_nats::jetstream::consumer::{self, pull};
use casegrid_commandbus::answer;
use casegrid_config::District;
use casegrid_contracts::{services, Problem};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{
    CaseStore, Classified, EventLog, ExecuteError, Heads, LogError, RawMessage, StoredEvent,
};
use casegrid_privacy::KeyVault;
use casegrid_runtime::clock::SharedClock;
use casegrid_runtime::Settings;
use futures_util::StreamExt;
use state::RoutingState;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use react::Reaction;

/// Routing's NATS subjects beyond the shared action subject.
pub mod subjects {
    /// Reload the district configuration; answers the new version or the problems.
    pub const RELOAD: &str = "casegrid.routing.reload";
    /// The cases waiting for a human dispatcher.
    pub const QUEUE: &str = "casegrid.routing.queue";
    /// The notifications' delivery records.
    pub use casegrid_contracts::subjects::ROUTING_NOTIFICATIONS as NOTIFICATIONS;
}

/// The district configuration, replaceable while running.
#[derive(Clone)]
pub struct Config {
    dir: PathBuf,
    current: Arc<RwLock<Arc<District>>>,
}

impl Config {
    pub fn new(dir: PathBuf, district: District) -> Self {
        Self {
            dir,
            current: Arc::new(RwLock::new(Arc::new(district))),
        }
    }

    pub fn get(&self) -> Arc<District> {
        self.current.read().expect("config lock").clone()
    }

    /// Loads the folder again; on any problem the running configuration stays.
    pub fn reload(&self) -> Result<String, casegrid_config::ConfigError> {
        let district = District::load(&self.dir)?;
        let version = district.version().to_owned();
        *self.current.write().expect("config lock") = Arc::new(district);
        Ok(version)
    }
}

#[derive(Clone)]
pub struct Routing {
    pub(crate) store: CaseStore,
    pub(crate) config: Config,
    pub(crate) clock: SharedClock,
    pub(crate) keys: KeyVault,
    pub(crate) state: RoutingState,
    pub(crate) notifier: Option<notify::Notifier>,
}

impl Routing {
    pub fn new(
        store: CaseStore,
        config: Config,
        clock: SharedClock,
        keys: KeyVault,
        state: RoutingState,
    ) -> Self {
        Self {
            store,
            config,
            clock,
            keys,
            state,
            notifier: None,
        }
    }

    /// Sends notifications through `notifier` (`[notify] enabled`).
    pub fn with_notifier(mut self, notifier: notify::Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    pub fn state(&self) -> &RoutingState {
        &self.state
    }
}

/// The name of a replica's durable consumer.
pub fn consumer_name(replica: &str) -> String {
    format!("routing-{replica}")
}

/// Consumes the stream, fires timers and serves `casegrid-routing` until `shutdown`.
pub async fn run(
    client: async_nats::Client,
    log: EventLog,
    routing: Routing,
    replica: &str,
    tick: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Never continue against an empty or different stream than the state's.
    let identity = routing
        .state
        .check_stream(&log)
        .await
        .context("checking the event stream against routing's state")?;
    let watch = {
        let log = log.clone();
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = shutdown.cancelled() => Ok(()),
                e = log.watch_identity(&identity) => {
                    tracing::error!(error = %e, "the event stream changed under routing");
                    Err(anyhow::Error::new(e))
                }
            }
        }
    };
    let service = casegrid_runtime::service::register_with_stats(
        &client,
        services::ROUTING,
        services::VERSION,
        "dispatches cases by rule; decides department actions; watches deadlines",
        {
            let store = routing.store.clone();
            move || store.counters()
        },
    )
    .await?;
    let act = {
        let routing = routing.clone();
        move |payload: bytes::Bytes| {
            let routing = routing.clone();
            async move { answer(routing.act(&payload).await) }
        }
    };
    let reload = {
        let routing = routing.clone();
        move |_payload: bytes::Bytes| {
            let routing = routing.clone();
            async move { answer(reload_config(&routing.config)) }
        }
    };
    let queue = {
        let routing = routing.clone();
        move |_payload: bytes::Bytes| {
            let routing = routing.clone();
            async move {
                answer(routing.state.queue().await.map_err(|e| {
                    tracing::error!(error = %e, "routing state");
                    Problem::unavailable("routing state unavailable")
                }))
            }
        }
    };
    let notifications = {
        let routing = routing.clone();
        move |payload: bytes::Bytes| {
            let routing = routing.clone();
            async move { answer(list_notifications(&routing, &payload).await) }
        }
    };
    let sighup = watch_sighup(routing.config.clone(), shutdown.clone());
    tokio::try_join!(
        casegrid_runtime::service::serve(
            &service,
            casegrid_contracts::subjects::ROUTING_ACT,
            act,
            shutdown.clone()
        ),
        casegrid_runtime::service::serve(&service, subjects::RELOAD, reload, shutdown.clone()),
        casegrid_runtime::service::serve(&service, subjects::QUEUE, queue, shutdown.clone()),
        casegrid_runtime::service::serve(
            &service,
            subjects::NOTIFICATIONS,
            notifications,
            shutdown.clone()
        ),
        consume(log, routing.clone(), replica, shutdown.clone()),
        timers::run(routing.clone(), tick, shutdown.clone()),
        notify::run(routing.clone(), tick, shutdown.clone()),
        sighup,
        watch,
    )?;
    Ok(())
}

async fn list_notifications(
    routing: &Routing,
    payload: &[u8],
) -> Result<casegrid_contracts::notifications::NotificationsView, Problem> {
    use casegrid_contracts::notifications::{NotificationsQuery, NotificationsView};
    let query: NotificationsQuery = if payload.is_empty() {
        NotificationsQuery::default()
    } else {
        serde_json::from_slice(payload)
            .map_err(|e| Problem::unprocessable(format!("notifications query: {e}")))?
    };
    let limit = query.limit.unwrap_or(500).clamp(1, 5000);
    routing
        .notifications(query.case_id, query.state, limit)
        .await
        .map(|records| NotificationsView {
            items: records.iter().map(notify::Record::view).collect(),
        })
        .map_err(|e| {
            tracing::error!(error = %e, "notification records");
            Problem::unavailable("notification records unavailable")
        })
}

fn reload_config(config: &Config) -> Result<String, Problem> {
    match config.reload() {
        Ok(version) => {
            tracing::info!(%version, "configuration reloaded");
            Ok(version)
        }
        Err(e) => {
            tracing::warn!(problems = %e, "configuration not reloaded");
            Err(Problem::unprocessable(e.to_string()))
        }
    }
}

async fn watch_sighup(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                got = hup.recv() => {
                    if got.is_none() {
                        return Ok(());
                    }
                    let _ = reload_config(&config);
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        shutdown.cancelled().await;
        let _ = config;
        Ok(())
    }
}

/// Events handled per state transaction.
const BATCH: usize = 256;

async fn consume(
    log: EventLog,
    routing: Routing,
    replica: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let name = consumer_name(replica);
    while !shutdown.is_cancelled() {
        // Each (re)start checks the stream first: one that went away is named as such.
        let opened = async {
            routing.state.check_stream(&log).await?;
            open_consumer(&log, &routing.state, &name).await
        };
        let (consumer, from) = match opened.await {
            Ok(opened) => opened,
            // Another stream, or none: stop, naming it.
            Err(e) if is_stream_identity(&e) => return Err(e),
            // NATS without quorum (a cluster node down), a timeout: wait, never exit.
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "routing cannot open its consumer yet; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
        };
        let mut heads = Heads::new(from);
        let consumed = consume_in_order(&log, &consumer, from, &mut heads, &routing, &shutdown);
        if let Err(e) = consumed.await {
            // Start again from the state's checkpoint: strict stream order matters more
            // than the events in flight, which are simply delivered again.
            tracing::warn!(error = %e, "routing consumer restarts from its checkpoint");
            let _ = log.stream().delete_consumer(&name).await;
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
    Ok(())
}

/// Whether `e` says the stream is missing, another one, or misconfigured: the errors
/// a retry cannot cure.
fn is_stream_identity(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<LogError>(),
            Some(
                LogError::Missing { .. }
                    | LogError::StreamMismatch { .. }
                    | LogError::Misconfigured { .. }
            )
        )
    })
}

/// The replica's durable consumer, created afresh after the state's checkpoint. A
/// consumer left by a previous run may hold messages delivered to a process that died;
/// they would come back only after the ack wait, out of order. Each replica owns its
/// consumer, so starting over from the checkpoint is always safe.
async fn open_consumer(
    log: &EventLog,
    state: &RoutingState,
    name: &str,
) -> anyhow::Result<(consumer::Consumer<pull::Config>, u64)> {
    let checkpoint = state.checkpoint().await?;
    if log
        .stream()
        .get_consumer::<pull::Config>(name)
        .await
        .is_ok()
    {
        log.stream().delete_consumer(name).await?;
    }
    let consumer = log
        .stream()
        .create_consumer(pull::Config {
            durable_name: Some(name.to_owned()),
            filter_subject: format!("{}.>", log.config().subject_prefix),
            ack_policy: consumer::AckPolicy::All,
            ack_wait: Duration::from_secs(60),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: checkpoint + 1,
            },
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating routing's durable consumer {name}"))?;
    Ok((consumer, checkpoint + 1))
}

/// Handles batches in stream order: take what has arrived (without waiting for a
/// batch to fill), react to each event — cases in parallel, each case's events in
/// order — fold the batch into the state in one transaction, then acknowledge its
/// last message (ack-all). Each message is classified first ([`Heads`]): only valid
/// envelopes are reacted to and folded; the others are logged and passed over, so
/// no stored message (garbage, a duplicate version, a forged chain) holds routing up.
///
/// Ack-all acknowledges every earlier delivery too, so a message lost on its way (its
/// connection died with a NATS node) would never come back, and its case would never be
/// dispatched. The consumer takes the whole stream, whose sequences are contiguous (an
/// append-only stream of event subjects), so each message must be the one after the
/// last (`from` first): a jump ends this consumer, to start again from the checkpoint.
async fn consume_in_order(
    log: &EventLog,
    consumer: &consumer::Consumer<pull::Config>,
    from: u64,
    heads: &mut Heads,
    routing: &Routing,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    use futures_util::FutureExt;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(256)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .context("consuming the event stream")?;
    let mut next = from;
    loop {
        let first = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            m = messages.next() => m,
        };
        let Some(first) = first else {
            anyhow::bail!("the event stream ended");
        };
        let mut batch = vec![first.map_err(|e| anyhow::anyhow!("receiving an event: {e}"))?];
        while batch.len() < BATCH {
            match messages.next().now_or_never() {
                Some(Some(m)) => {
                    batch.push(m.map_err(|e| anyhow::anyhow!("receiving an event: {e}"))?)
                }
                _ => break,
            }
        }
        let mut raws = Vec::with_capacity(batch.len());
        for message in &batch {
            let seq = message
                .info()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .stream_sequence;
            if !next_in_order(&mut next, seq)? {
                continue;
            }
            raws.push(RawMessage {
                seq,
                subject: message.subject.to_string(),
                payload: message.payload.clone(),
            });
        }
        let started = std::time::Instant::now();
        let mut events = Vec::with_capacity(batch.len());
        for classified in heads.classify_all(log, &raws).await? {
            match classified {
                Classified::Valid(stored) => events.push(stored),
                // Knowledge-base entries route nowhere.
                Classified::Kb(_) => {}
                Classified::Quarantined(q) => tracing::warn!(
                    seq = q.seq,
                    subject = %q.subject,
                    reason = %q.reason,
                    detail = %q.detail,
                    "quarantined message passed over by routing"
                ),
            }
        }
        let classified = started.elapsed();
        react_all(routing, &events).await?;
        let reacted = started.elapsed();
        // The outbox: claimed before the checkpoint moves, so a crash claims again (a no-op).
        routing.notify_events(&events).await?;
        let notified = started.elapsed();
        routing.apply(&events).await?;
        let applied = started.elapsed();
        if let Some(last) = batch.last() {
            last.ack()
                .await
                .map_err(|e| anyhow::anyhow!("acknowledging: {e}"))?;
        }
        tracing::debug!(
            messages = batch.len(),
            classify_us = classified.as_micros() as u64,
            react_us = (reacted - classified).as_micros() as u64,
            notify_us = (notified - reacted).as_micros() as u64,
            apply_us = (applied - notified).as_micros() as u64,
            ack_us = (started.elapsed() - applied).as_micros() as u64,
            "routing batch"
        );
    }
}

/// Whether the message at stream sequence `seq` is the one due (`next`, then moved
/// on) or one delivered again (handled already); a later one means a delivery was lost.
fn next_in_order(next: &mut u64, seq: u64) -> anyhow::Result<bool> {
    if seq < *next {
        return Ok(false);
    }
    if seq > *next {
        anyhow::bail!("stream sequence {seq} arrived where {next} was due: a delivery was lost");
    }
    *next += 1;
    Ok(true)
}

/// Reacts to a batch: different cases at once, each case's events in stream order.
async fn react_all(routing: &Routing, events: &[StoredEvent]) -> anyhow::Result<()> {
    let mut by_case: Vec<(casegrid_domain::CaseId, Vec<&StoredEvent>)> = Vec::new();
    for e in events {
        match by_case.iter_mut().find(|(id, _)| *id == e.envelope.case_id) {
            Some((_, list)) => list.push(e),
            None => by_case.push((e.envelope.case_id, vec![e])),
        }
    }
    futures_util::future::try_join_all(by_case.into_iter().map(|(_, list)| async move {
        for e in list {
            match routing.react(e).await {
                // A case whose chain is broken takes no reaction; retrying cannot help.
                Err(ExecuteError::Log(LogError::ChainBroken(brk))) => {
                    tracing::warn!(%brk, seq = e.seq, "no reaction: the case's chain is broken");
                }
                other => {
                    other?;
                }
            }
        }
        Ok::<_, ExecuteError>(())
    }))
    .await?;
    Ok(())
}

/// The notifier of `[notify]`: the bucket, the signed webhook and the SMS adapter.
async fn notifier(
    client: &async_nats::Client,
    settings: &Settings,
) -> anyhow::Result<notify::Notifier> {
    let secret = settings
        .notify
        .webhook_secret
        .as_ref()
        .map(|s| s.expose().as_bytes().to_vec());
    if secret.is_none() {
        tracing::warn!("[notify] webhook_secret is not set: webhooks go unsigned");
    }
    let webhook = channels::Webhook::new(
        secret,
        Duration::from_millis(settings.notify.webhook_timeout_ms.max(100)),
    )?;
    let sms = settings
        .notify
        .sms_file
        .clone()
        .map(|path| Arc::new(channels::FileSms::new(path)) as Arc<dyn channels::SmsGateway>);
    notify::Notifier::attach(client.clone(), webhook, sms, &settings.routing.replica).await
}

/// Connects, opens the log, key vault and state from `settings`, and runs until `shutdown`.
pub async fn serve(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    serve_once(settings, shutdown)
        .await
        .map_err(casegrid_eventlog::error::transient_when_unavailable)
}

async fn serve_once(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (client, log) = EventLog::connect(settings, services::ROUTING).await?;
    let district = District::load(&settings.district.config_dir)
        .context("loading the district configuration")?;
    let keys = KeyVault::attach(client.clone())
        .await
        .context("opening the key vault")?
        .with_group_commit(
            client.clone(),
            casegrid_eventlog::BatchConfig::from(&settings.eventlog),
        );
    let state = RoutingState::connect(settings.routing.database_url.expose()).await?;
    let numbering = Numbering {
        prefix: settings.district.case_prefix.clone(),
        ..Numbering::default()
    };
    let store = CaseStore::new(log.clone(), numbering, 100_000);
    let mut routing = Routing::new(
        store,
        Config::new(settings.district.config_dir.clone(), district),
        casegrid_runtime::clock::from_settings(&settings.clock),
        keys,
        state,
    );
    if settings.notify.enabled {
        routing = routing.with_notifier(notifier(&client, settings).await?);
    }
    tracing::info!(replica = %settings.routing.replica, "routing serving");
    run(
        client.clone(),
        log,
        routing,
        &settings.routing.replica,
        Duration::from_millis(settings.routing.tick_ms.max(10)),
        shutdown,
    )
    .await?;
    client.drain().await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_in_order;

    #[test]
    fn a_delivery_again_is_passed_over_and_a_lost_one_stops_the_consumer() {
        let mut next = 5;
        assert!(!next_in_order(&mut next, 3).unwrap(), "delivered again");
        assert!(next_in_order(&mut next, 5).unwrap());
        assert!(next_in_order(&mut next, 6).unwrap());
        assert_eq!(next, 7);
        let lost = next_in_order(&mut next, 9).unwrap_err().to_string();
        assert!(lost.contains("9 arrived where 7 was due"), "{lost}");
        assert_eq!(next, 7, "nothing past the gap is taken");
    }
}
