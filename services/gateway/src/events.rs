//! `GET /api/v1/events`: the event log as server-sent events, scoped to the caller.
//!
//! Each SSE event is one envelope of the stream `CASEGRID_EVENTS`: `id:` its stream
//! sequence, `event:` its type, `data:` the envelope with every `sealed` member dropped.
//! A client resumes with `Last-Event-ID` (the last sequence it saw; `0` replays from the
//! start); without it the stream starts with the next new event. The read is an
//! ephemeral ordered consumer from that sequence.
//!
//! **Scope, and why it is folded from the stream.** A department sees the events of a
//! case from the moment the case concerns it: every event of the case at or after the
//! first `CaseDispatched` naming it (lead or assisting) or `WhistleBlown` summoning it.
//! A district-scoped supervisor sees a case once its `CaseFiled` places it in the
//! district. Whether event `s` is shown is therefore a function of the log up to `s`
//! alone, never of when the client connected, so a resumed stream continues exactly
//! where an unbroken one would have been, without gaps or repeats. Asking projection
//! for a case's current `lead`/`assisting` instead would answer with today's
//! departments (after a return and re-dispatch, say) and could lag behind the stream,
//! so the same event would be shown or hidden depending on timing.
//!
//! The first time a connection meets a case, it folds that case's earlier events with
//! direct gets by subject (a case has tens of events; the stream allows direct get),
//! then keeps the case's facts up to date from the events it reads. Operators, grid
//! workers, mediators and city-wide supervisors see everything and fold nothing.
//! If the stream cannot be read, the SSE stream ends; the client resumes.

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::mask;
use crate::openapi::{string, Endpoint};
use crate::startup::AppState;
use async_nats::jetstream::{self, consumer, stream::DirectGetErrorKind};
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use casegrid_contracts::Problem;
use futures_util::{stream, StreamExt};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Subjects of the event stream.
const SUBJECTS: &str = "casegrid.events.>";
/// Forget the facts of cases met once a connection has met this many.
const MAX_CASES: usize = 50_000;

pub(crate) fn endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/events",
        events,
        "Live events, scoped to the caller (server-sent events)",
    )
    .describe(
        "`id:` the stream sequence, `event:` the event type, `data:` the envelope (case_id, \
         version, type, data, actor, …) without ciphertexts. Resume with `Last-Event-ID`.",
    )
    .header(
        "Last-Event-ID",
        "The last stream sequence received; `0` replays from the start.",
        string(),
    )
    .content(200, "An event stream.", "text/event-stream", string())
    .problems(&[400, 503])
}

pub(crate) async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let last_seen = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be a stream sequence (a number)")
                })?,
        ),
    };
    let unavailable = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "{what}");
        ApiError::Problem(Problem::unavailable(format!(
            "the event stream cannot be read right now ({what}); try again shortly"
        )))
    };
    let js = jetstream::new(state.nats.clone());
    let log = js
        .get_stream(&state.events_stream)
        .await
        .map_err(|e| unavailable("opening the stream", &e))?;
    let deliver_policy = match last_seen {
        Some(seq) => consumer::DeliverPolicy::ByStartSequence {
            start_sequence: seq + 1,
        },
        None => consumer::DeliverPolicy::New,
    };
    let consumer = log
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: SUBJECTS.into(),
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| unavailable("creating a consumer", &e))?;
    let messages = consumer
        .messages()
        .await
        .map_err(|e| unavailable("reading the stream", &e))?;
    tracing::debug!(caller = %caller.actor, ?last_seen, "SSE stream opened");
    let follower = Follower {
        messages,
        scope: caller.scope,
        log,
        cases: HashMap::new(),
        _client: state.shared.metrics.sse_client(),
    };
    let events = stream::unfold(follower, |mut f| async move {
        match f.next_event().await {
            Ok(Some(event)) => Some((Ok::<_, std::convert::Infallible>(event), f)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "ending an SSE stream: the event log cannot be read");
                None
            }
        }
    })
    .take_until(state.shared.streams_stop.clone().cancelled_owned());
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// One SSE connection's reading position and what it knows of the cases it met.
struct Follower {
    messages: consumer::pull::Ordered,
    scope: Scope,
    log: jetstream::stream::Stream,
    cases: HashMap<String, CaseFacts>,
    _client: crate::metrics::SseClient,
}

/// What decides a case's visibility, folded from its events.
#[derive(Debug, Default)]
struct CaseFacts {
    departments: HashSet<String>,
    grid: Option<String>,
}

impl CaseFacts {
    fn apply(&mut self, envelope: &Value) {
        let data = &envelope["data"];
        match envelope["type"].as_str() {
            Some("CaseFiled") => {
                if let Some(grid) = data["location"]["grid"].as_str() {
                    self.grid = Some(grid.to_owned());
                }
            }
            Some("CaseDispatched") => {
                let lead = data["lead"].as_str();
                let assisting = data["assisting"].as_array().into_iter().flatten();
                self.departments.extend(
                    lead.into_iter()
                        .chain(assisting.filter_map(Value::as_str))
                        .map(str::to_owned),
                );
            }
            Some("WhistleBlown") => {
                // Summoned departments, as ids or as `{"department": id, …}`.
                let summoned = data["departments"].as_array().into_iter().flatten();
                self.departments.extend(summoned.filter_map(|d| {
                    d.as_str()
                        .or_else(|| d["department"].as_str())
                        .or_else(|| d["id"].as_str())
                        .map(str::to_owned)
                }));
            }
            _ => {}
        }
    }
}

impl Follower {
    /// The next event the caller may see; `None` when the stream ends.
    async fn next_event(&mut self) -> anyhow::Result<Option<Event>> {
        loop {
            let Some(message) = self.messages.next().await else {
                return Ok(None);
            };
            let message = message?;
            let seq = message
                .info()
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .stream_sequence;
            let Ok(mut envelope) = serde_json::from_slice::<Value>(&message.payload) else {
                tracing::warn!(seq, "skipping an unreadable envelope");
                continue;
            };
            if !self
                .admits(seq, message.subject.as_str(), &envelope)
                .await?
            {
                continue;
            }
            mask::drop_sealed(&mut envelope);
            let kind = envelope["type"]
                .as_str()
                .filter(|t| !t.is_empty() && !t.contains(['\n', '\r']))
                .unwrap_or("unknown")
                .to_owned();
            return Ok(Some(
                Event::default()
                    .id(seq.to_string())
                    .event(kind)
                    .data(envelope.to_string()),
            ));
        }
    }

    /// Whether the event at `seq` on `subject` is in the caller's scope.
    async fn admits(&mut self, seq: u64, subject: &str, envelope: &Value) -> anyhow::Result<bool> {
        if self.scope == Scope::City {
            return Ok(true);
        }
        if !self.cases.contains_key(subject) {
            if self.cases.len() >= MAX_CASES {
                self.cases.clear();
            }
            let facts = fold_before(&self.log, subject, seq).await?;
            self.cases.insert(subject.to_owned(), facts);
        }
        let facts = self.cases.get_mut(subject).expect("inserted above");
        facts.apply(envelope);
        Ok(self.scope.admits(
            facts.departments.iter().map(String::as_str),
            facts.grid.as_deref(),
        ))
    }
}

/// The facts of the case on `subject` from its events before `seq`.
async fn fold_before(
    log: &jetstream::stream::Stream,
    subject: &str,
    seq: u64,
) -> anyhow::Result<CaseFacts> {
    let mut facts = CaseFacts::default();
    let mut next = 1;
    while next < seq {
        let message = match log.direct_get_next_for_subject(subject, Some(next)).await {
            Ok(m) => m,
            Err(e) if matches!(e.kind(), DirectGetErrorKind::NotFound) => break,
            Err(e) => return Err(anyhow::anyhow!("direct get on {subject}: {e}")),
        };
        if message.sequence >= seq {
            break;
        }
        if let Ok(envelope) = serde_json::from_slice::<Value>(&message.payload) {
            facts.apply(&envelope);
        }
        next = message.sequence + 1;
    }
    Ok(facts)
}
