//! The handlers of `/api/v1`, `/healthz` and `/readyz`. Each one authenticates,
//! parses what it was sent, asks the owning service over NATS, and shapes the answer.

use crate::auth::Caller;
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use casegrid_contracts::actions::{self, Owner};
use casegrid_contracts::subjects::{
    INTAKE_ACT, INTAKE_FILE, INTAKE_LOG, PROJECTION_CASE, PROJECTION_INBOX, PROJECTION_TIMELINE,
    ROUTING_ACT,
};
use casegrid_contracts::views::{CaseView, InboxView, TimelineView};
use casegrid_contracts::{ActRequest, CaseQuery, CommandReply, FileRequest, InboxQuery, Problem};
use casegrid_domain::{ActorKind, CaseId};
use serde::Deserialize;
use serde_json::{json, Value};

const INTAKE: &str = "intake";
const ROUTING: &str = "routing";
const PROJECTION: &str = "projection";

/// `POST /cases`: file a case. 201 with `Location` when this request created it, 200
/// when the same `Idempotency-Key` was filed before.
pub(crate) async fn file_case(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_object(body?, false)?;
    let request = FileRequest {
        actor: caller.0,
        idempotency_key: idempotency_key(&headers)?,
        correlation_id: correlation_id(),
        body,
    };
    let reply: CommandReply = bus::request(
        &state.nats,
        state.request_timeout,
        Target::new(INTAKE_FILE, INTAKE),
        &request,
    )
    .await?;
    let body = Json(json!({
        "id": reply.id,
        "number": reply.number,
        "version": reply.version,
        "status": reply.status,
    }));
    if reply.created {
        let location = format!("/api/v1/cases/{}", reply.id);
        Ok((StatusCode::CREATED, [(header::LOCATION, location)], body).into_response())
    } else {
        Ok((StatusCode::OK, body).into_response())
    }
}

/// `GET /cases/{id}`.
pub(crate) async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<CaseView>, ApiError> {
    let case_id = case_id(id)?;
    Ok(Json(visible_case(&state, &caller, case_id).await?))
}

/// `GET /cases/{id}/timeline`: a department sees it only for cases dispatched to it.
pub(crate) async fn get_timeline(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<TimelineView>, ApiError> {
    let case_id = case_id(id)?;
    if caller.department().is_some() {
        visible_case(&state, &caller, case_id).await?;
    }
    let timeline = bus::request(
        &state.nats,
        state.request_timeout,
        Target::new(PROJECTION_TIMELINE, PROJECTION),
        &CaseQuery { case_id },
    )
    .await?;
    Ok(Json(timeline))
}

/// `GET /cases/{id}/log`: the envelopes exactly as stored, for operators and supervisors.
pub(crate) async fn get_log(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let case_id = case_id(id)?;
    if !matches!(caller.0.kind, ActorKind::Operator | ActorKind::Supervisor) {
        return Err(ApiError::forbidden(format!(
            "{} cannot read the event log: only operators and supervisors can",
            caller.0
        )));
    }
    let log = bus::request(
        &state.nats,
        state.request_timeout,
        Target::new(INTAKE_LOG, INTAKE),
        &CaseQuery { case_id },
    )
    .await?;
    Ok(Json(log))
}

/// `POST /cases/{id}/actions/{action}`: sent to the service that decides the action.
pub(crate) async fn act(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path((id, action)) = path.map_err(path_problem)?;
    let case_id = parse_case_id(&id)?;
    let target = match actions::owner(&action) {
        Some(Owner::Intake) => Target::new(INTAKE_ACT, INTAKE),
        Some(Owner::Routing) => Target::new(ROUTING_ACT, ROUTING),
        None => return Err(actions::unknown_action(&action).into()),
    };
    let if_match = if_match(&headers)?;
    let command_id = idempotency_key(&headers)?;
    let body = json_object(body?, true)?;
    let request = ActRequest {
        case_id,
        action,
        actor: caller.0,
        command_id,
        correlation_id: correlation_id(),
        if_match,
        body,
    };
    let reply: CommandReply =
        bus::request(&state.nats, state.request_timeout, target, &request).await?;
    let mut answer = json!({
        "id": reply.id,
        "version": reply.version,
        "status": reply.status,
    });
    if let Some(revealed) = reply.revealed {
        answer["personal_data"] = Value::Object(revealed);
    }
    Ok(Json(answer))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboxParams {
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /inbox`: the caller's department's open cases.
pub(crate) async fn inbox(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<InboxParams>, QueryRejection>,
) -> Result<Json<InboxView>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let Some(department) = caller.department() else {
        return Err(ApiError::forbidden(format!(
            "{} has no inbox: only departments and street offices do",
            caller.0
        )));
    };
    let query = InboxQuery {
        department: department.to_owned(),
        limit: params.limit,
    };
    let inbox = bus::request(
        &state.nats,
        state.request_timeout,
        Target::new(PROJECTION_INBOX, PROJECTION),
        &query,
    )
    .await?;
    Ok(Json(inbox))
}

/// `/healthz`: the process answers.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// `/readyz`: the NATS connection is up and every service behind the gateway answers
/// its NATS service-API ping.
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    use casegrid_contracts::services;
    if let other @ (async_nats::connection::State::Pending
    | async_nats::connection::State::Disconnected) = state.nats.connection_state()
    {
        return Err(Problem::unavailable(format!("the NATS connection is {other}")).into());
    }
    for name in [services::INTAKE, services::ROUTING, services::PROJECTION] {
        let ping = state.nats.request(format!("$SRV.PING.{name}"), "".into());
        match tokio::time::timeout(std::time::Duration::from_secs(2), ping).await {
            Ok(Ok(_)) => {}
            _ => return Err(Problem::unavailable(format!("{name} does not answer")).into()),
        }
    }
    Ok("ok")
}

/// Reads a case, answering 404 to a department it is not dispatched to, so that the
/// existence of other departments' cases does not leak.
async fn visible_case(
    state: &AppState,
    caller: &Caller,
    case_id: CaseId,
) -> Result<CaseView, ApiError> {
    let view: CaseView = bus::request(
        &state.nats,
        state.request_timeout,
        Target::new(PROJECTION_CASE, PROJECTION),
        &CaseQuery { case_id },
    )
    .await?;
    match caller.department() {
        Some(dept) if !view.departments().any(|d| d == dept) => {
            Err(ApiError::not_found(format!("no case {case_id}")))
        }
        _ => Ok(view),
    }
}

fn case_id(path: Result<Path<String>, PathRejection>) -> Result<CaseId, ApiError> {
    let Path(id) = path.map_err(path_problem)?;
    parse_case_id(&id)
}

fn parse_case_id(id: &str) -> Result<CaseId, ApiError> {
    CaseId::parse(id).map_err(|e| {
        ApiError::not_found(format!(
            "no case {id:?}: case ids are UUIDs ({})",
            e.problem
        ))
    })
}

fn path_problem(e: PathRejection) -> ApiError {
    ApiError::bad_request(format!("path: {}", e.body_text()))
}

/// The body as a JSON object; `allow_empty` takes an empty body as `{}`.
fn json_object(body: Bytes, allow_empty: bool) -> Result<Value, ApiError> {
    if allow_empty && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Ok(Value::Object(map)),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                Problem::new(
                    413,
                    "too-large",
                    "Content too large",
                    "the request body is larger than this gateway accepts",
                )
                .into()
            }
            other => ApiError::bad_request(format!("reading the body: {}", other.body_text())),
        }
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map(str::trim)
                .map_err(|_| ApiError::bad_request(format!("the {name} header is not ASCII")))
        })
        .transpose()
}

/// `Idempotency-Key`, else a fresh UUID (the request then cannot be safely retried).
fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    match header_str(headers, "idempotency-key")? {
        Some("") => Err(ApiError::bad_request("the Idempotency-Key header is empty")),
        Some(key) => Ok(key.to_owned()),
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// `If-Match: <version>`; quotes as in an entity tag (`"4"`) are accepted.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    header_str(headers, "if-match")?
        .map(|v| {
            let bare = v.strip_prefix("W/").unwrap_or(v).trim_matches('"');
            bare.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!(
                    "If-Match must be the case version you last saw (a number), not {v:?}"
                ))
            })
        })
        .transpose()
}

fn correlation_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
