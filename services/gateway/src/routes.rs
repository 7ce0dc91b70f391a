//! The route table ([`endpoints`]) and the handlers of `/api/v1`, `/openapi.json`,
//! `/metrics`, `/healthz` and `/readyz`. Each handler authenticates, parses what it
//! was sent, asks the owning service over NATS, and shapes the answer; each is
//! declared once, as an [`Endpoint`] right after it, with its body and answer schemas.

use crate::auth::{Caller, Scope};
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{
    array, date_time, idempotency_key_schema, integer, object, one_of, page_size, reference,
    string, uuid, Endpoint, IDEMPOTENCY_KEY_MAX,
};
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use casegrid_contracts::actions::{self, Owner};
use casegrid_contracts::query::{AsOfQuery, AsOfView};
use casegrid_contracts::subjects::{
    INTAKE_ACT, INTAKE_AS_OF, INTAKE_AUDIT, INTAKE_FILE, INTAKE_LOG, PROJECTION_CASE,
    PROJECTION_INBOX, PROJECTION_TIMELINE, ROUTING_ACT,
};
use casegrid_contracts::views::{CaseView, InboxView, TimelineView};
use casegrid_contracts::{ActRequest, CaseQuery, CommandReply, FileRequest, InboxQuery, Problem};
use casegrid_domain::personal::strip_sealed;
use casegrid_domain::{ActorKind, CaseId};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Every route, in the order the document lists them.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        file_case_endpoint(),
        crate::queries::list_endpoint(),
        crate::similar::of_draft_endpoint(),
        crate::export::cases_endpoint(),
        get_case_endpoint(),
        crate::similar::of_case_endpoint(),
        get_timeline_endpoint(),
        get_log_endpoint(),
        get_audit_endpoint(),
        act_endpoint(),
        crate::attachments::upload_endpoint(),
        crate::attachments::download_endpoint(),
        inbox_endpoint(),
        crate::queries::overdue_endpoint(),
        crate::queries::stats_endpoint(),
        crate::ranking::endpoint(),
        crate::export::stats_endpoint(),
        crate::events::endpoint(),
        crate::quarantine::endpoint(),
        crate::notifications::endpoint(),
        openapi_endpoint(),
        metrics_endpoint(),
        healthz_endpoint(),
        readyz_endpoint(),
    ]
    .into_iter()
    .chain(crate::kb::endpoints())
    .chain(crate::open311::endpoints())
    .collect()
}

pub(crate) fn case_id_param(e: Endpoint) -> Endpoint {
    e.path_param("id", "The case id (a UUID).", uuid())
}

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
    let request_id = crate::edge::request_id(&headers);
    let request = FileRequest {
        actor: caller.actor,
        idempotency_key: idempotency_key(&headers)?,
        correlation_id: request_id.clone(),
        body,
    };
    let reply: CommandReply = bus::command(
        &state,
        Target::new(INTAKE_FILE, INTAKE),
        &request,
        &request_id,
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

fn file_case_endpoint() -> Endpoint {
    let filed = object(
        &[
            ("id", uuid()),
            ("number", string()),
            ("version", integer()),
            ("status", reference("Status")),
        ],
        &["id", "number", "version", "status"],
    );
    Endpoint::new(
        Method::POST,
        "/api/v1/cases",
        file_case,
        "File a case (受理)",
    )
    .describe(
        "`category` is one of the district's (its routing rules), `location.grid` one of its \
         grids. A hotline case needs the reporter's name or phone, a grid patrol case its grid; \
         operators file from the hotline, grid workers on patrol.",
    )
    .header(
        "Idempotency-Key",
        "Makes the filing retriable: the same key and body answer the same case (200); \
         the same key with another body answers 422 `idempotency-key-reused`.",
        idempotency_key_schema(),
    )
    .body_of::<casegrid_contracts::filing::FileBody>()
    .json(
        201,
        "Filed by this request; `Location` names the case.",
        filed.clone(),
    )
    .json(200, "Filed before with the same Idempotency-Key.", filed)
    .links_to(201, "/api/v1/cases/{id}")
    .links_to(200, "/api/v1/cases/{id}")
    .problems(&[403, 409, 422, 503])
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseParams {
    #[serde(default)]
    as_of: Option<String>,
}

/// `GET /cases/{id}`: the read model's view, or with `?as_of=` the case folded from
/// the log up to that instant (scoped as the case is now).
pub(crate) async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CaseParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let case_id = case_id(id)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let as_of = params
        .as_of
        .map(|a| crate::queries::instant("as_of", a.trim()))
        .transpose()?;
    let mut view = visible_case(&state, &caller, case_id).await?;
    let Some(as_of) = as_of else {
        crate::queries::mask_view(&caller, &mut view);
        return Ok(Json(view).into_response());
    };
    let as_of = as_of
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| ApiError::bad_request(format!("as_of: {e}")))?;
    let mut past: AsOfView = bus::request(
        &state,
        Target::new(INTAKE_AS_OF, INTAKE),
        &AsOfQuery { case_id, as_of },
    )
    .await?;
    strip_sealed(&mut past.state, false);
    Ok(Json(past).into_response())
}

fn get_case_endpoint() -> Endpoint {
    case_id_param(Endpoint::new(
        Method::GET,
        "/api/v1/cases/{id}",
        get_case,
        "Read a case",
    ))
    .describe(
        "Personal data is masked; a department sees only cases dispatched or whistled to it. \
         With `as_of`, the case as it stood at that instant, folded from the event log (not \
         the read model): an `AsOfView`.",
    )
    .query(
        "as_of",
        "An RFC 3339 instant: answer the case as of then.",
        date_time(),
    )
    .json(
        200,
        "The case (`CaseView`), or with `as_of` its past state (`AsOfView`).",
        json!({ "anyOf": [reference("CaseView"), reference("AsOfView")] }),
    )
    .problems(&[400, 404, 503])
}

/// `GET /cases/{id}/timeline`: a department sees it only for cases dispatched to it.
pub(crate) async fn get_timeline(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<TimelineView>, ApiError> {
    let case_id = case_id(id)?;
    if caller.scope != Scope::City {
        visible_case(&state, &caller, case_id).await?;
    }
    let mut timeline: TimelineView = bus::request(
        &state,
        Target::new(PROJECTION_TIMELINE, PROJECTION),
        &CaseQuery { case_id },
    )
    .await?;
    for entry in &mut timeline.events {
        strip_sealed(&mut entry.data, false);
    }
    Ok(Json(timeline))
}

fn get_timeline_endpoint() -> Endpoint {
    case_id_param(Endpoint::new(
        Method::GET,
        "/api/v1/cases/{id}/timeline",
        get_timeline,
        "A case's history for people",
    ))
    .describe("Summaries, actor names and masked personal data (no ciphertexts).")
    .json_of::<TimelineView>(200, "The timeline.")
    .problems(&[404, 503])
}

/// `GET /cases/{id}/log`: the envelopes exactly as stored, for operators and supervisors.
pub(crate) async fn get_log(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let case_id = case_id(id)?;
    if !matches!(
        caller.actor.kind,
        ActorKind::Operator | ActorKind::Supervisor
    ) {
        return Err(ApiError::forbidden(format!(
            "{} cannot read the event log: only operators and supervisors can",
            caller.actor
        )));
    }
    if caller.scope != Scope::City {
        visible_case(&state, &caller, case_id).await?;
    }
    let log = bus::request(
        &state,
        Target::new(INTAKE_LOG, INTAKE),
        &CaseQuery { case_id },
    )
    .await?;
    Ok(Json(log))
}

fn get_log_endpoint() -> Endpoint {
    case_id_param(Endpoint::new(
        Method::GET,
        "/api/v1/cases/{id}/log",
        get_log,
        "A case's events exactly as stored",
    ))
    .describe(
        "Operators and supervisors only: the envelopes as stored in the stream (personal \
         fields sealed), so anyone can re-check the hash chain.",
    )
    .json(
        200,
        "The envelopes.",
        object(
            &[
                ("case_id", string()),
                ("events", array(json!({ "type": "object" }))),
            ],
            &["events"],
        ),
    )
    .problems(&[403, 404, 503])
}

/// `GET /cases/{id}/audit`: the server's own check of the case's hash chain, for anyone
/// who may read the case (it holds no personal data).
pub(crate) async fn get_audit(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let case_id = case_id(id)?;
    if caller.scope != Scope::City {
        visible_case(&state, &caller, case_id).await?;
    }
    let audit = bus::request(
        &state,
        Target::new(INTAKE_AUDIT, INTAKE),
        &CaseQuery { case_id },
    )
    .await?;
    Ok(Json(audit))
}

fn get_audit_endpoint() -> Endpoint {
    case_id_param(Endpoint::new(
        Method::GET,
        "/api/v1/cases/{id}/audit",
        get_audit,
        "The server's check of a case's hash chain",
    ))
    .describe(
        "Versions contiguous from 1, every prev_hash linked to the previous hash, every \
         hash recomputed from the stored bytes (RFC 8785 + SHA-256).",
    )
    .json(
        200,
        "The check.",
        object(
            &[
                ("case_id", string()),
                ("events", json!({ "type": "integer" })),
                ("last_hash", string()),
                ("verified", json!({ "type": "boolean" })),
                ("first_break", json!({ "type": ["object", "null"] })),
            ],
            &["case_id", "events", "verified"],
        ),
    )
    .problems(&[404, 503])
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
    if caller.scope != Scope::City && !caller.scope.acts_unseen(&action) {
        visible_case(&state, &caller, case_id).await?;
        if action == "merge" {
            merge_target_visible(&state, &caller, &body).await?;
        }
    }
    let request = ActRequest {
        case_id,
        action,
        actor: caller.actor.clone(),
        command_id,
        correlation_id: crate::edge::request_id(&headers),
        if_match,
        body,
    };
    let reply: CommandReply =
        bus::command(&state, target, &request, &request.correlation_id).await?;
    let mut answer = json!({
        "id": reply.id,
        "version": reply.version,
        "status": reply.status,
    });
    match reply.revealed {
        Some(revealed) if caller.sees_personal_data() => {
            answer["personal_data"] = Value::Object(revealed);
        }
        Some(_) => tracing::warn!(
            caller = %caller.actor,
            "a service revealed personal data to a principal who may not see it; withheld"
        ),
        None => {}
    }
    Ok(Json(answer))
}

fn act_endpoint() -> Endpoint {
    let known: Vec<&'static str> = actions::ACTIONS.iter().map(|(a, _)| *a).collect();
    case_id_param(Endpoint::new(
        Method::POST,
        "/api/v1/cases/{id}/actions/{action}",
        act,
        "Act on a case (one action per command)",
    ))
    .describe(
        "Documented once per action, each with its body. Approvals are the approver's own \
         action: a lead department asks with `request_suspension` and a supervisor approves \
         with `suspend` (`{}` keeps the request's reason; the clock stops then), or suspends \
         directly with a reason; an operator asks with `request_erasure` and a supervisor \
         erases with `erase`.",
    )
    .path_param("action", "The action.", one_of(&known))
    .header(
        "If-Match",
        "The case version the client last saw; a newer case answers 412.",
        json!({ "type": "string", "pattern": "^(W/)?\"?[0-9]{1,19}\"?$" }),
    )
    .header(
        "Idempotency-Key",
        "Yours alone (stored as `http:<kind>:<id>:<key>`): the same action with the same \
         body again answers the first result and does nothing more; another action or body \
         with the same key answers 422 `idempotency-key-reused`.",
        idempotency_key_schema(),
    )
    .per_value("action", known, actions::body_schema)
    .json(
        200,
        "The case after the action.",
        reference("CommandAnswer"),
    )
    .problems(&[403, 404, 409, 412, 422, 503])
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
            caller.actor
        )));
    };
    if let Some(limit) = params.limit {
        if !(1..=INBOX_MAX).contains(&limit) {
            return Err(ApiError::bad_request(format!(
                "limit: {limit} is not between 1 and {INBOX_MAX}"
            )));
        }
    }
    let query = InboxQuery {
        department: department.to_owned(),
        limit: params.limit,
    };
    let inbox = bus::request(&state, Target::new(PROJECTION_INBOX, PROJECTION), &query).await?;
    Ok(Json(inbox))
}

/// The largest inbox page (`casegrid_readmodel::INBOX_MAX`).
const INBOX_MAX: u32 = 1000;

fn inbox_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/inbox",
        inbox,
        "A department's open cases",
    )
    .query("limit", "At most this many cases.", page_size(INBOX_MAX))
    .json_of::<InboxView>(200, "The inbox.")
    .problems(&[400, 403, 503])
}

/// The document `openapi::document` made from [`endpoints`].
#[derive(Clone)]
pub(crate) struct OpenApi(pub(crate) Arc<Value>);

/// `/openapi.json`.
pub(crate) async fn openapi(Extension(OpenApi(document)): Extension<OpenApi>) -> Json<Value> {
    Json(Value::clone(&document))
}

fn openapi_endpoint() -> Endpoint {
    Endpoint::new(Method::GET, "/openapi.json", openapi, "This document")
        .public()
        .problems(&[429])
        .json(200, "OpenAPI 3.1.", json!({ "type": "object" }))
}

/// `/metrics`: Prometheus text exposition, for city-wide supervisors' tokens only
/// (a scraper gets one): the figures are the whole system's.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    if caller.actor.kind != ActorKind::Supervisor || caller.scope != Scope::City {
        return Err(ApiError::forbidden(format!(
            "{} cannot read the metrics: a city-wide supervisor's token (or a scraper's) can",
            caller.actor
        )));
    }
    let system = crate::system_metrics::read(&state.nats).await;
    Ok((
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.shared.metrics.render(&system),
    )
        .into_response())
}

fn metrics_endpoint() -> Endpoint {
    Endpoint::new(Method::GET, "/metrics", metrics, "Prometheus metrics")
        .describe("A city-wide supervisor's token: scrape with `Authorization: Bearer …`.")
        .content(
            200,
            "OpenMetrics text (Prometheus reads it).",
            "application/openmetrics-text",
            string(),
        )
        .problems(&[403])
}

/// `/healthz`: the process answers.
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

fn healthz_endpoint() -> Endpoint {
    Endpoint::new(Method::GET, "/healthz", healthz, "The process answers")
        .public()
        .content(200, "`ok`.", "text/plain", string())
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

fn readyz_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/readyz",
        readyz,
        "NATS is connected and every service answers",
    )
    .public()
    .content(200, "`ok`.", "text/plain", string())
    .problems(&[503])
}

/// Reads a case, answering 404 when it is outside the caller's scope (a department
/// it is not dispatched or whistled to), so that the existence of others' cases does
/// not leak: the detail is the same as for a case that does not exist.
pub(crate) async fn visible_case(
    state: &AppState,
    caller: &Caller,
    case_id: CaseId,
) -> Result<CaseView, ApiError> {
    let view: CaseView = bus::request(
        state,
        Target::new(PROJECTION_CASE, PROJECTION),
        &CaseQuery { case_id },
    )
    .await?;
    if caller.scope.admits_view(&view) {
        Ok(view)
    } else {
        Err(Problem::case_not_found(case_id).into())
    }
}

/// A merge's `into` must be a case the caller may see; one outside its scope reads
/// as one that does not exist (intake checks it exists, is open and is not merged).
async fn merge_target_visible(
    state: &AppState,
    caller: &Caller,
    body: &Value,
) -> Result<(), ApiError> {
    let Some(into) = body
        .get("into")
        .and_then(Value::as_str)
        .and_then(|s| CaseId::parse(s).ok())
    else {
        return Ok(()); // intake names the bad field
    };
    match visible_case(state, caller, into).await {
        Err(ApiError::Problem(p)) if p.status == 404 => {
            Err(Problem::unprocessable(format!("into: no case {into} to merge into")).into())
        }
        other => other.map(drop),
    }
}

pub(crate) fn case_id(path: Result<Path<String>, PathRejection>) -> Result<CaseId, ApiError> {
    let Path(id) = path.map_err(path_problem)?;
    parse_case_id(&id)
}

pub(crate) fn parse_case_id(id: &str) -> Result<CaseId, ApiError> {
    CaseId::parse(id).map_err(|e| {
        ApiError::not_found(format!(
            "no case {id:?}: case ids are UUIDs ({})",
            e.problem
        ))
    })
}

pub(crate) fn path_problem(e: PathRejection) -> ApiError {
    ApiError::bad_request(format!("path: {}", e.body_text()))
}

/// The body as a JSON object, I-JSON only (`ijson`: 422 naming the member); `allow_empty`
/// takes an empty body as `{}`.
pub(crate) fn json_object(body: Bytes, allow_empty: bool) -> Result<Value, ApiError> {
    if allow_empty && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    if let crate::ijson::Outcome::Violation(v) = crate::ijson::check(&body) {
        return Err(Problem::new(422, "not-i-json", "Not I-JSON", v.to_string()).into());
    }
    match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => {
            let mut object = Value::Object(map);
            crate::ijson::whole_numbers_as_integers(&mut object);
            Ok(object)
        }
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

/// `Idempotency-Key` (1 to [`IDEMPOTENCY_KEY_MAX`] printable ASCII characters), else a
/// fresh UUID (the request then cannot be safely retried).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    match header_str(headers, "idempotency-key")? {
        Some("") => Err(ApiError::bad_request("the Idempotency-Key header is empty")),
        Some(key) if key.len() > IDEMPOTENCY_KEY_MAX => Err(ApiError::bad_request(format!(
            "the Idempotency-Key header is longer than {IDEMPOTENCY_KEY_MAX} characters"
        ))),
        Some(key) if !key.bytes().all(|b| (b' '..=b'~').contains(&b)) => Err(
            ApiError::bad_request("the Idempotency-Key header holds other than printable ASCII"),
        ),
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
