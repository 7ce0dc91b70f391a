//! routing: dispatches every filed case by the district's rules (派单) and decides
//! the departments' actions (签收 sign, 办结 reply).
//!
//! - [`Routing`]: reacts to events and answers action requests over a [`CaseStore`].
//! - [`run`]: the durable consumer `routing` plus the `casegrid-routing` service.
//! - [`serve`]: builds everything from [`Settings`].
//!
//! Reactions are idempotent: the dispatch of a filing carries the command id
//! `dispatch:<event id>`, so a redelivered event dispatches nothing twice.

use anyhow::Context;
use async_nats::jetstream::consumer::{self, pull};
use casegrid_commandbus::answer;
use casegrid_config::District;
use casegrid_contracts::actions::Owner;
use casegrid_contracts::{services, subjects};
use casegrid_domain::command::Dispatch;
use casegrid_domain::{Actor, Command, Event};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, CommandMeta, EventLog, ExecuteError, StoredEvent};
use casegrid_runtime::clock::SharedClock;
use casegrid_runtime::Settings;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Name of routing's durable consumer, shared by its replicas.
pub const CONSUMER: &str = "routing";
/// Events reacted to at once.
const CONCURRENCY: usize = 32;

#[derive(Clone)]
pub struct Routing {
    store: CaseStore,
    district: Arc<District>,
    clock: SharedClock,
}

/// What a reaction did, for logs and tests.
#[derive(Debug, PartialEq, Eq)]
pub enum Reaction {
    Dispatched,
    AlreadyDone,
    /// No rule fits: the case waits for a human dispatcher.
    Unroutable(String),
    Refused(String),
    Ignored,
}

impl Routing {
    pub fn new(store: CaseStore, district: Arc<District>, clock: SharedClock) -> Self {
        Self {
            store,
            district,
            clock,
        }
    }

    /// Reacts to one event from the stream. `Err` means "retry later" (do not ack).
    pub async fn react(&self, stored: &StoredEvent) -> Result<Reaction, ExecuteError> {
        self.store.observe(stored);
        let e = &stored.envelope;
        if e.event_type != "CaseFiled" {
            return Ok(Reaction::Ignored);
        }
        let Ok(Event::CaseFiled(filed)) = Event::from_parts(&e.event_type, e.schema, &e.data)
        else {
            return Ok(Reaction::Refused(format!(
                "unreadable CaseFiled at {}",
                stored.seq
            )));
        };
        let route = match self.district.route_for(
            &filed.category,
            filed.location.grid.as_ref(),
            filed.urgency,
            &[],
        ) {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(case = %e.case_id, %why, "no rule: the case waits for a dispatcher");
                return Ok(Reaction::Unroutable(why.to_string()));
            }
        };
        // Deadlines run in working time from the filing, so a redelivery computes the
        // same ones.
        let due = self
            .district
            .deadlines(&route, filed.urgency, e.occurred_at);
        let command = Command::Dispatch(Dispatch {
            lead: route.lead,
            assisting: route.assisting,
            sign_due: due.sign_due,
            handle_due: due.handle_due,
            rule: route.rule,
        });
        let meta = CommandMeta {
            command_id: format!("dispatch:{}", e.event_id),
            correlation_id: e.correlation_id.clone(),
            causation_id: Some(e.event_id.to_string()),
        };
        match self
            .store
            .execute(
                e.case_id,
                &Actor::routing(),
                &command,
                &meta,
                self.clock.now(),
            )
            .await
        {
            Ok(o) if o.already_done => Ok(Reaction::AlreadyDone),
            Ok(_) => Ok(Reaction::Dispatched),
            Err(ExecuteError::Rejected(r)) => {
                tracing::info!(case = %e.case_id, reason = %r, "dispatch refused");
                Ok(Reaction::Refused(r.detail))
            }
            Err(e) => Err(e),
        }
    }
}

/// Consumes the stream and serves `casegrid-routing` until `shutdown`.
pub async fn run(
    client: async_nats::Client,
    log: EventLog,
    routing: Routing,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let service = casegrid_runtime::service::register(
        &client,
        services::ROUTING,
        services::VERSION,
        "dispatches cases by rule; decides department actions",
    )
    .await?;
    let act = {
        let routing = routing.clone();
        move |payload: bytes::Bytes| {
            let routing = routing.clone();
            async move {
                answer(
                    casegrid_commandbus::act(
                        &routing.store,
                        routing.clock.as_ref(),
                        Owner::Routing,
                        &payload,
                    )
                    .await,
                )
            }
        }
    };
    tokio::try_join!(
        casegrid_runtime::service::serve(&service, subjects::ROUTING_ACT, act, shutdown.clone()),
        consume(log, routing, shutdown.clone()),
    )?;
    Ok(())
}

async fn consume(
    log: EventLog,
    routing: Routing,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let consumer: consumer::Consumer<pull::Config> = log
        .stream()
        .get_or_create_consumer(
            CONSUMER,
            pull::Config {
                durable_name: Some(CONSUMER.into()),
                filter_subject: format!("{}.>", log.config().subject_prefix),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: Duration::from_secs(30),
                max_ack_pending: 1024,
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await
        .context("creating routing's durable consumer")?;
    let messages = consumer
        .stream()
        .max_messages_per_batch(256)
        .heartbeat(Duration::from_secs(5))
        .messages()
        .await
        .context("consuming the event stream")?;
    messages
        .take_until(shutdown.cancelled())
        .for_each_concurrent(CONCURRENCY, |message| {
            let routing = routing.clone();
            async move {
                let message = match message {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "routing consumer");
                        return;
                    }
                };
                let seq = message.info().map(|i| i.stream_sequence).unwrap_or(0);
                let outcome = match StoredEvent::parse(seq, &message.payload) {
                    Ok(stored) => routing.react(&stored).await,
                    Err(e) => {
                        tracing::error!(error = %e, "unreadable event; skipped by routing");
                        Ok(Reaction::Ignored)
                    }
                };
                let ack = match outcome {
                    Ok(_) => message.ack().await,
                    Err(e) => {
                        tracing::warn!(error = %e, seq, "reaction failed; will be redelivered");
                        message
                            .ack_with(async_nats::jetstream::AckKind::Nak(Some(
                                Duration::from_secs(1),
                            )))
                            .await
                    }
                };
                if let Err(e) = ack {
                    tracing::warn!(error = %e, seq, "ack failed; the event will be redelivered");
                }
            }
        })
        .await;
    Ok(())
}

/// Connects, opens the log from `settings`, and runs until `shutdown`.
pub async fn serve(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (client, log) = EventLog::connect(settings, services::ROUTING).await?;
    let district = Arc::new(
        District::load(&settings.district.config_dir)
            .context("loading the district configuration")?,
    );
    let numbering = Numbering {
        prefix: settings.district.case_prefix.clone(),
        ..Numbering::default()
    };
    let store = CaseStore::new(log.clone(), numbering, 100_000);
    let routing = Routing::new(store, district, casegrid_runtime::clock::from_env());
    tracing::info!("routing serving");
    run(client.clone(), log, routing, shutdown).await?;
    client.drain().await.ok();
    Ok(())
}
