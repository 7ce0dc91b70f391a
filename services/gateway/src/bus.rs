//! One NATS request to a casegrid service, its failures classified for the client:
//! nobody listening is 503 naming the service, no answer in time is 504, and a
//! `{"problem": …}` answer is forwarded with its own status.

use crate::error::ApiError;
use crate::startup::AppState;
use async_nats::RequestErrorKind;
use casegrid_contracts::{Answer, Problem};
use serde::de::DeserializeOwned;
use serde::Serialize;

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
    let message = state
        .nats
        .send_request(
            target.subject,
            async_nats::Request::new()
                .payload(payload.into())
                .headers(headers(request_id))
                .timeout(Some(timeout)),
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

fn headers(request_id: Option<&str>) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    if let Some(id) = request_id {
        headers.insert(casegrid_runtime::correlation::HEADER, id);
    }
    headers
}
