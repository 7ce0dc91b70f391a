//! The knowledge base (知识库) over HTTP: `POST /kb` creates an entry, `PUT /kb/{id}`
//! edits it (intake decides, with the configured editors: supervisors by default),
//! `GET /kb` searches by text (character bigrams, so Chinese needs no word breaks) and
//! category, `GET /kb/{id}` and `/kb/{id}/history` read an entry and every version of it,
//! `GET /kb/expired` lists the entries past their validity for their owners (a
//! department sees its own). Entries hold no personal data: every principal may read.

use crate::auth::{Caller, Scope};
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{
    array, date_time, idempotency_key_schema, integer, nullable_string, object, reference, string,
    uuid, Endpoint,
};
use crate::routes::{idempotency_key, json_object, path_problem};
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use casegrid_contracts::kb::{
    KbEntryQuery, KbEntryView, KbExpiredQuery, KbHistoryView, KbPage, KbReply, KbRequest,
    KbSearchQuery,
};
use casegrid_contracts::subjects::{
    INTAKE_KB, PROJECTION_KB_ENTRY, PROJECTION_KB_EXPIRED, PROJECTION_KB_HISTORY,
    PROJECTION_KB_SEARCH,
};
use casegrid_domain::kb::{KbDraft, KbEntryId};
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

const INTAKE: &str = "intake";
const PROJECTION: &str = "projection";

fn entry_id(path: Result<Path<String>, PathRejection>) -> Result<KbEntryId, ApiError> {
    let Path(id) = path.map_err(path_problem)?;
    KbEntryId::parse(id.trim()).map_err(|e| ApiError::bad_request(format!("id: {}", e.problem)))
}

async fn write(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    entry_id: Option<KbEntryId>,
    body: Result<Bytes, BytesRejection>,
) -> Result<KbReply, ApiError> {
    let request = KbRequest {
        entry_id,
        actor: caller.actor,
        idempotency_key: idempotency_key(headers)?,
        correlation_id: crate::edge::request_id(headers),
        body: json_object(body?, false)?,
    };
    let reply: KbReply = bus::command(
        state,
        Target::new(INTAKE_KB, INTAKE),
        &request,
        &request.correlation_id,
    )
    .await?;
    readable(state, &reply).await;
    Ok(reply)
}

/// How long a write waits for the read model to show it.
const READ_BACK: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits (at most [`READ_BACK`]) until projection answers the entry at the written
/// version, so the `Location` of a 201 and a read right after an edit find what was
/// written (the read model follows the log a moment later). A read model that stays
/// behind does not fail the write: it is appended.
async fn readable(state: &AppState, reply: &KbReply) {
    let until = tokio::time::Instant::now() + READ_BACK;
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let q = KbEntryQuery { id: reply.id };
        let seen: Result<KbEntryView, ApiError> =
            bus::request(state, Target::new(PROJECTION_KB_ENTRY, PROJECTION), &q).await;
        if seen.is_ok_and(|v| v.version >= reply.version) || tokio::time::Instant::now() >= until {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
}

/// `POST /kb`: 201 with `Location` when this request created the entry, 200 when the
/// same `Idempotency-Key` created it before.
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let reply = write(&state, caller, &headers, None, body).await?;
    let body = Json(json!({ "id": reply.id, "version": reply.version }));
    if reply.created {
        let location = format!("/api/v1/kb/{}", reply.id);
        Ok((StatusCode::CREATED, [(header::LOCATION, location)], body).into_response())
    } else {
        Ok((StatusCode::OK, body).into_response())
    }
}

/// `PUT /kb/{id}`: a new version of the whole entry.
pub(crate) async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = entry_id(id)?;
    let reply = write(&state, caller, &headers, Some(id), body).await?;
    Ok(Json(json!({ "id": reply.id, "version": reply.version })))
}

/// The query string of `GET /kb`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    q: Option<String>,
    category: Option<String>,
    valid_at: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    _caller: Caller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<KbPage>, ApiError> {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    if let Some(at) = p.valid_at.as_deref() {
        crate::queries::instant("valid_at", at.trim())?;
    }
    let q = KbSearchQuery {
        q: p.q,
        category: p.category,
        valid_at: p.valid_at.map(|v| v.trim().to_owned()),
        limit: p.limit,
    };
    Ok(Json(
        bus::request(&state, Target::new(PROJECTION_KB_SEARCH, PROJECTION), &q).await?,
    ))
}

pub(crate) async fn get_entry(
    State(state): State<AppState>,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<KbEntryView>, ApiError> {
    let q = KbEntryQuery { id: entry_id(id)? };
    Ok(Json(
        bus::request(&state, Target::new(PROJECTION_KB_ENTRY, PROJECTION), &q).await?,
    ))
}

pub(crate) async fn history(
    State(state): State<AppState>,
    _caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<KbHistoryView>, ApiError> {
    let q = KbEntryQuery { id: entry_id(id)? };
    Ok(Json(
        bus::request(&state, Target::new(PROJECTION_KB_HISTORY, PROJECTION), &q).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpiredParams {
    owner: Option<String>,
}

/// `GET /kb/expired`: past their validity now (the gateway's clock); a department or
/// street is always asked for its own entries.
pub(crate) async fn expired(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<ExpiredParams>, QueryRejection>,
) -> Result<Json<KbPage>, ApiError> {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let owner = match &caller.scope {
        Scope::Department(me) => Some(me.clone()),
        _ => p
            .owner
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty()),
    };
    let now = state
        .clock
        .now()
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| ApiError::internal("formatting the time", e))?;
    let q = KbExpiredQuery { owner, now };
    Ok(Json(
        bus::request(&state, Target::new(PROJECTION_KB_EXPIRED, PROJECTION), &q).await?,
    ))
}

fn id_param(e: Endpoint) -> Endpoint {
    e.path_param("id", "The entry id (a UUID).", uuid())
}

fn written() -> Value {
    object(
        &[("id", string()), ("version", integer())],
        &["id", "version"],
    )
}

/// Every knowledge-base route, in the order the document lists them.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::POST, "/api/v1/kb", create, "Create a knowledge-base entry (知识库)")
            .describe(
                "By the principal kinds of `[kb] editors` (supervisors by default); an event on the \
                 entry's own subject `casegrid.events.kb.<id>`, hash-chained and audited like a case's.",
            )
            .header(
                "Idempotency-Key",
                "The same key and body answer the same entry (200); another body answers 422.",
                idempotency_key_schema(),
            )
            .body_of::<KbDraft>()
            .json(201, "Created by this request; `Location` names the entry.", written())
            .json(200, "Created before with the same Idempotency-Key.", written())
            .problems(&[400, 403, 409, 422, 503]),
        Endpoint::new(Method::GET, "/api/v1/kb", search, "Search the knowledge base")
            .describe(
                "`q` matched by character bigrams against question and answer (Chinese needs no \
                 word breaks), best first (`score` per mille of the query found); `category`; \
                 `valid_at` keeps the entries valid then.",
            )
            .query("q", "The text searched.", string())
            .query("category", "Only this category.", string())
            .query("valid_at", "An RFC 3339 instant: only entries valid then.", date_time())
            .query(
                "limit",
                "At most this many (default 20; more than 200 reads as 200, 0 as 1).",
                json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX }),
            )
            .json(200, "The hits.", reference("KbPage"))
            .problems(&[400, 503]),
        Endpoint::new(
            Method::GET,
            "/api/v1/kb/expired",
            expired,
            "Knowledge-base entries past their validity",
        )
        .describe(
            "Entries whose `valid_until` has passed, for their owner department to renew or \
             retire; a department sees its own, others may name an `owner`.",
        )
        .query("owner", "Only this owner department.", string())
        .json(200, "The expired entries, longest expired first.", reference("KbPage"))
        .problems(&[400, 503]),
        id_param(Endpoint::new(
            Method::GET,
            "/api/v1/kb/{id}",
            get_entry,
            "Read a knowledge-base entry",
        ))
        .json(200, "The entry, with its answers at intake.", reference("KbEntryView"))
        .problems(&[400, 404, 503]),
        id_param(Endpoint::new(
            Method::PUT,
            "/api/v1/kb/{id}",
            edit,
            "Edit a knowledge-base entry",
        ))
        .describe("A new version of the whole entry; the earlier ones stay in its history.")
        .header("Idempotency-Key", "Makes the edit retriable.", idempotency_key_schema())
        .body_of::<KbDraft>()
        .json(200, "The entry's new version.", written())
        .problems(&[400, 403, 404, 422, 503]),
        id_param(Endpoint::new(
            Method::GET,
            "/api/v1/kb/{id}/history",
            history,
            "Every version of a knowledge-base entry",
        ))
        .json(200, "The versions as stored, oldest first.", reference("KbHistoryView"))
        .problems(&[400, 404, 503]),
    ]
}

pub(crate) fn components() -> Value {
    json!({
        "KbEntryView": object(
            &[
                ("id", string()),
                ("version", integer()),
                ("question", string()),
                ("answer", string()),
                ("category", string()),
                ("valid_from", string()),
                ("valid_until", nullable_string()),
                ("owner", string()),
                ("created_at", string()),
                ("updated_at", string()),
                ("answers_at_intake", integer()),
            ],
            &["id", "version", "question", "answer", "category", "valid_from", "owner",
              "answers_at_intake"],
        ),
        "KbPage": object(
            &[(
                "items",
                array(object(
                    &[("score", integer()), ("entry", reference("KbEntryView"))],
                    &["score", "entry"],
                )),
            )],
            &["items"],
        ),
        "KbHistoryView": object(
            &[
                ("id", string()),
                (
                    "versions",
                    array(object(
                        &[
                            ("version", integer()),
                            ("type", string()),
                            ("occurred_at", string()),
                            ("actor", reference("Actor")),
                            ("data", json!({ "type": "object" })),
                            ("prev_hash", string()),
                            ("hash", string()),
                        ],
                        &["version", "type", "occurred_at", "actor", "data", "prev_hash", "hash"],
                    )),
                ),
            ],
            &["id", "versions"],
        ),
    })
}
