//! One NATS request to a casegrid service, its failures classified for the client:
//! nobody listening is 503 naming the service, no answer in time is 504, and a
//! `{"problem": …}` answer is forwarded with its own status.

use crate::error::ApiError;
use crate::startup::AppState;
use async_nats::RequestErrorKind;
use casegrid_contracts::{Answer, Problem};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A request subject and the service that answers it (named in 503 and 504 problems).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub(crate) subject: &'static str,
    pub(crate) service: &'static str,
}

impl Target {
    pub(crate) const fn new(subject: &'static str, service: &'static str) -> Self {
        Self { subject, service }
    }
}

/// Sends `request` to `target` and reads its `Answer<T>`.
/// Failures are counted in the metrics by service and kind.
pub(crate) async fn request<Q: Serialize, T: DeserializeOwned>(
    state: &AppState,
    target: Target,
    request: &Q,
) -> Result<T, ApiError> {
    send(state, target, request, None).await
}

/// [`request`] for a command: `request_id` goes in the `X-Request-Id` NATS header and
/// becomes the `correlation_id` of the events the command appends.
pub(crate) async fn command<Q: Serialize, T: DeserializeOwned>(
    state: &AppState,
    target: Target,
    request: &Q,
    request_id: &str,
) -> Result<T, ApiError> {
    send(state, target, request, Some(request_id)).await
}

async fn send<Q: Serialize, T: DeserializeOwned>(
    state: &AppState,
    target: Target,
    request: &Q,
    request_id: Option<&str>,
) -> Result<T, ApiError> {
    let payload = serde_json::to_vec(request)
        .map_err(|e| ApiError::internal(format!("encoding a request to {}", target.subject), e))?;
    let timeout = state.request_timeout;
    let metrics = &state.shared.metrics;
    let message = resending(
        &state.nats,
        target.subject,
        payload.into(),
        headers(request_id),
        timeout,
        state.resend_after,
    )
    .await
    .inspect_err(|e| {
        let kind = match e.kind() {
            RequestErrorKind::NoResponders => "no_responders",
            RequestErrorKind::TimedOut => "timeout",
            _ => "other",
        };
        metrics.nats_failure(target.service, kind);
    })
    .map_err(|e| match e.kind() {
        RequestErrorKind::NoResponders => ApiError::Problem(Problem::unavailable(format!(
            "{} is not running (nobody answers {})",
            target.service, target.subject
        ))),
        RequestErrorKind::TimedOut => ApiError::Problem(Problem::new(
            504,
            "timeout",
            "Gateway timeout",
            format!("{} did not answer within {timeout:?}", target.service),
        )),
        _ => ApiError::Internal {
            status: 503,
            context: format!("requesting {}", target.subject),
            source: e.into(),
        },
    })?;
    let answer: Answer<T> = serde_json::from_slice(&message.payload).map_err(|e| {
        metrics.nats_failure(target.service, "unreadable");
        ApiError::bad_gateway(format!("reading the answer of {}", target.service), e)
    })?;
    answer.into_result().map_err(ApiError::Problem)
}

/// The most copies of one request in flight at once.
const MAX_COPIES: usize = 4;

/// Sends the request, and sends the very same bytes again (so a command keeps its
/// command id and runs at most once: the services answer a known id with what it did)
/// while no answer has come: at once when the gateway's NATS connection was
/// re-established since the last copy went out (an answer published while it was down
/// is lost), and after `resend_after`, doubling, when the copy may have died with the
/// service that took it (a SIGKILLed replica answers nothing; the NATS server cannot
/// tell). The first answer wins, but a 503 problem only when no other copy is in
/// flight; nobody listening to the first copy answers at once (to a later copy: it goes
/// again shortly, as a replica may be starting); a timeout only when no copy was
/// answered within `timeout` of the first.
pub(crate) async fn resending(
    nats: &async_nats::Client,
    subject: &'static str,
    payload: bytes::Bytes,
    headers: async_nats::HeaderMap,
    timeout: Duration,
    resend_after: Duration,
) -> Result<async_nats::Message, async_nats::RequestError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let connects = || nats.statistics().connects.load(Ordering::Relaxed);
    let copy = || {
        let (nats, payload, headers) = (nats.clone(), payload.clone(), headers.clone());
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        async move {
            nats.send_request(
                subject,
                async_nats::Request::new()
                    .payload(payload)
                    .headers(headers)
                    .timeout(Some(left.max(Duration::from_millis(1)))),
            )
            .await
        }
    };
    let mut copies = FuturesUnordered::new();
    let mut sent_at = connects();
    copies.push(copy());
    let mut sent = 1;
    let mut wait = resend_after;
    let mut next_resend = tokio::time::Instant::now() + wait;
    let mut last_error = None;
    let mut held = None;
    // How often the connection's count of connects is looked at.
    let mut tick = tokio::time::interval(RECONNECT_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            Some(answered) = copies.next(), if !copies.is_empty() => {
                match answered {
                    // Another copy may still succeed (this one met the other's append
                    // in process, say): keep the answer for when none is left.
                    Ok(message) if !copies.is_empty() && provisional(&message) => {
                        held = Some(message);
                    }
                    Ok(message) => return Ok(message),
                    Err(e) if e.kind() == RequestErrorKind::NoResponders && sent == 1 => {
                        return Err(e)
                    }
                    // Nobody took this copy, but an earlier one went out (its replica may
                    // be dead, its successor starting): try again shortly.
                    Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                        last_error = Some(e);
                        next_resend = tokio::time::Instant::now() + NO_RESPONDERS_AGAIN;
                    }
                    Err(e) => {
                        // A copy failed (sent while disconnected, say): with none left
                        // in flight, the next goes out at the next check.
                        last_error = Some(e);
                        if copies.is_empty() {
                            next_resend = tokio::time::Instant::now();
                        }
                    }
                }
                if copies.is_empty() {
                    if let Some(message) = held.take() {
                        return Ok(message);
                    }
                }
            }
            _ = tick.tick() => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    if copies.is_empty() {
                        break;
                    }
                    continue;
                }
                let reconnected = connects() != sent_at;
                if (reconnected || now >= next_resend) && copies.len() < MAX_COPIES {
                    if reconnected {
                        tracing::info!(subject, "NATS reconnected with a request unanswered: sending it again");
                    } else if !copies.is_empty() {
                        tracing::debug!(subject, waited = ?wait, "no answer yet: sending the request again");
                        wait = wait.saturating_mul(2);
                    }
                    next_resend = now + wait;
                    sent_at = connects();
                    copies.push(copy());
                    sent += 1;
                }
            }
        }
    }
    Err(last_error.unwrap_or_else(|| RequestErrorKind::TimedOut.into()))
}

/// Whether an answer is a 503 problem (the log or key store unavailable for this copy,
/// the case contended), which a copy still in flight may better.
fn provisional(message: &async_nats::Message) -> bool {
    #[derive(serde::Deserialize)]
    struct Status {
        status: u16,
    }
    #[derive(serde::Deserialize)]
    struct Head {
        problem: Status,
    }
    serde_json::from_slice::<Head>(&message.payload).is_ok_and(|h| h.problem.status == 503)
}

/// How soon a copy nobody took is sent again while an earlier copy is out.
const NO_RESPONDERS_AGAIN: Duration = Duration::from_millis(100);

/// How often a waiting request checks whether the connection was re-established.
const RECONNECT_CHECK: Duration = Duration::from_millis(50);

fn headers(request_id: Option<&str>) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    if let Some(id) = request_id {
        headers.insert(casegrid_runtime::correlation::HEADER, id);
    }
    headers
}
