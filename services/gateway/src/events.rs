//! `GET /api/v1/events`: the event log as server-sent events, scoped to the caller.
//!
//! Each SSE event is one envelope of the event log: `id:` its stream sequence,
//! `event:` its type, `data:` the envelope with every `sealed` member dropped. A
//! client resumes with `Last-Event-ID` (the last sequence it saw; `0` replays from the
//! start); without it the stream starts with the next new event. The log is read
//! through [`casegrid_eventlog::EventLog`] (the stream and its subjects are named
//! there, once), and every message is classified
//! ([`casegrid_eventlog::classify`]): only valid envelopes are sent, so nothing a
//! foreign tool writes into the stream reaches a client or stops the feed.
//!
//! **Scope follows the current assignment, folded from the stream.** A department
//! sees a case's events while the case concerns it: dispatched to it (lead or
//! assisting), or whistled to it (summoned, or the whistling street). The event that
//! takes the case away (its own return, a re-dispatch elsewhere) is the last it sees.
//! A district-scoped supervisor sees a case once its `CaseFiled` places it in the
//! district. Whether event `s` is shown is a function of the log up to `s` alone,
//! never of when the client connected, so a resumed stream continues exactly where an
//! unbroken one would have been, without gaps or repeats.
//!
//! The first time a connection meets a case, it folds that case's earlier events
//! (one batched direct get by subject), with the domain's own `Case::apply`, then
//! keeps the state up to date from the events it reads. City-wide callers see
//! everything and keep only each case's chain head. If the stream cannot be read,
//! the SSE stream ends; the client resumes.

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::openapi::Endpoint;
use crate::startup::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use casegrid_contracts::Problem;
use casegrid_domain::personal::strip_sealed;
use casegrid_domain::{Case, CaseId};
use casegrid_eventlog::classify::{case_of_subject, classify, Classified, Head, RawMessage};
use casegrid_eventlog::{EventLog, LogConfig, LogError};
use futures_util::stream::BoxStream;
use futures_util::{stream, StreamExt};
use std::collections::HashMap;
use std::time::Duration;

/// Forget the cases met once a connection has met this many (a miss costs one load).
const MAX_CASES: usize = 20_000;

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
        serde_json::json!({ "type": "string", "pattern": "^[0-9]{1,19}$" }),
    )
    // OpenAPI 3.1 has no `itemSchema`: the schema of an event-stream describes one
    // event as its fields (what schemathesis checks each event against).
    .content(
        200,
        "An event stream.",
        "text/event-stream",
        serde_json::json!({
            "type": "object",
            "description": "One server-sent event.",
            "properties": {
                "id": { "type": "string", "pattern": "^[0-9]{1,19}$", "description": "The stream sequence." },
                "event": { "type": "string", "minLength": 1, "description": "The event type (`CaseFiled`, …)." },
                "data": { "type": "string", "description": "The envelope as JSON, without ciphertexts." },
            },
            "required": ["id", "event", "data"],
        }),
    )
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
    let log = EventLog::open(
        state.nats.clone(),
        LogConfig {
            stream: state.events_stream.clone(),
            ..LogConfig::default()
        },
    )
    .await
    .map_err(|e| unavailable("opening the stream", &e))?;
    let from = match last_seen {
        Some(seq) => seq + 1,
        None => {
            log.last_sequence()
                .await
                .map_err(|e| unavailable("reading the stream", &e))?
                + 1
        }
    };
    let messages = log
        .read_raw_from(from)
        .await
        .map_err(|e| unavailable("reading the stream", &e))?
        .boxed();
    tracing::debug!(caller = %caller.actor, ?last_seen, "SSE stream opened");
    let follower = Follower {
        messages,
        scope: caller.scope,
        log,
        cases: HashMap::new(),
        complete: from <= 1,
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
    messages: BoxStream<'static, Result<RawMessage, LogError>>,
    scope: Scope,
    log: EventLog,
    cases: HashMap<CaseId, Followed>,
    /// Read from sequence 1: a case not met has no earlier events.
    complete: bool,
    _client: crate::metrics::SseClient,
}

/// A case as one connection knows it: its chain head and (for scoped callers) state.
struct Followed {
    head: Option<Head>,
    case: Option<Case>,
}

/// The units a case concerns now: its dispatched and summoned departments and the
/// streets that whistled.
fn concerned(case: &Case) -> Vec<String> {
    let mut units = Vec::new();
    if let Some(d) = &case.dispatch {
        units.push(d.lead.to_string());
        units.extend(d.assisting.iter().map(ToString::to_string));
    }
    for (department, summons) in &case.summoned {
        units.push(department.to_string());
        units.push(summons.street.to_string());
    }
    units
}

impl Follower {
    /// The next event the caller may see; `None` when the stream ends.
    async fn next_event(&mut self) -> anyhow::Result<Option<Event>> {
        let prefix = self.log.config().subject_prefix.clone();
        loop {
            let Some(message) = self.messages.next().await else {
                return Ok(None);
            };
            let message = message?;
            let Some(case_id) = case_of_subject(&prefix, &message.subject) else {
                tracing::debug!(seq = message.seq, "skipping a message outside any case");
                continue;
            };
            self.meet(case_id, message.seq).await?;
            let followed = self.cases.get_mut(&case_id).expect("met above");
            let stored = match classify(&prefix, &message, followed.head.as_ref()) {
                Classified::Valid(stored) => stored,
                Classified::Kb(_) => continue,
                Classified::Quarantined(q) => {
                    tracing::debug!(seq = q.seq, reason = %q.reason, "skipping a quarantined message");
                    continue;
                }
            };
            followed.head = Some(Head {
                version: stored.envelope.version,
                hash: stored.envelope.hash.clone(),
            });
            let admitted = match &mut followed.case {
                None => true,
                Some(case) => {
                    let mut units = concerned(case);
                    let e = &stored.envelope;
                    if let Ok(event) =
                        casegrid_domain::Event::from_parts(&e.event_type, e.schema, &e.data)
                    {
                        case.apply(&event);
                    }
                    units.extend(concerned(case));
                    let grid = case
                        .filed
                        .as_ref()
                        .and_then(|f| f.location.grid.as_ref())
                        .map(|g| g.as_str().to_owned());
                    self.scope
                        .admits(units.iter().map(String::as_str), grid.as_deref())
                }
            };
            if !admitted {
                continue;
            }
            let mut envelope = stored.raw;
            strip_sealed(&mut envelope, false);
            let kind = stored.envelope.event_type.as_str();
            let kind = if kind.is_empty() || kind.contains(['\n', '\r']) {
                "unknown"
            } else {
                kind
            };
            return Ok(Some(
                Event::default()
                    .id(message.seq.to_string())
                    .event(kind)
                    .data(envelope.to_string()),
            ));
        }
    }

    /// Makes sure the connection knows the case as of just before `seq`: its earlier
    /// messages, classified and folded, when it has not met the case yet.
    async fn meet(&mut self, case_id: CaseId, seq: u64) -> anyhow::Result<()> {
        if self.cases.contains_key(&case_id) {
            return Ok(());
        }
        if self.cases.len() >= MAX_CASES {
            self.cases.clear();
            self.complete = false;
        }
        let mut followed = Followed {
            head: None,
            case: (self.scope != Scope::City).then(|| Case::new(case_id)),
        };
        if !self.complete {
            let prefix = &self.log.config().subject_prefix;
            for message in self.log.load_case_raw(case_id, 0).await? {
                if message.seq >= seq {
                    break;
                }
                if let Classified::Valid(e) = classify(prefix, &message, followed.head.as_ref()) {
                    if let Some(case) = &mut followed.case {
                        if let Ok(event) = casegrid_domain::Event::from_parts(
                            &e.envelope.event_type,
                            e.envelope.schema,
                            &e.envelope.data,
                        ) {
                            case.apply(&event);
                        }
                    }
                    followed.head = Some(Head {
                        version: e.envelope.version,
                        hash: e.envelope.hash,
                    });
                }
            }
        }
        self.cases.insert(case_id, followed);
        Ok(())
    }
}
