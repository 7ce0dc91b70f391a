//! Files added to cases: `POST /cases/{id}/attachments` (multipart) stores the bytes in
//! the attachment bucket under `<case id>/<sha256>` and records them through intake
//! (`add_attachment`: intake checks the object is there with that size and hash);
//! `GET /cases/{id}/attachments/{sha256}` serves them to a principal who may see the
//! case, after checking the bytes against the hash the event recorded.
//!
//! The type is sniffed from the bytes (`[attachments] types`), never taken from the
//! client; a larger file than `[attachments] max_bytes` is refused with 413 before
//! anything is stored.

use crate::auth::{Caller, Scope};
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{boolean, integer, object, reference, string, uuid, Endpoint};
use crate::routes::{case_id_param, idempotency_key, parse_case_id, path_problem, visible_case};
use crate::startup::AppState;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use casegrid_contracts::subjects::{INTAKE_ACT, INTAKE_LOG};
use casegrid_contracts::{ActRequest, CaseQuery, CommandReply, Problem};
use casegrid_domain::CaseId;
use casegrid_eventlog::attachments::{object_key, sha256_hex};
use casegrid_eventlog::AttachmentStore;
use serde_json::{json, Value};

/// Room for the multipart framing and the small fields beside the file.
const FRAMING: usize = 64 * 1024;

/// A file as the client sent it, before admission.
pub(crate) struct Upload {
    pub(crate) bytes: Vec<u8>,
    pub(crate) personal: bool,
    pub(crate) description: Option<String>,
}

/// A problem of the attachment routes.
fn problem(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> ApiError {
    ApiError::Problem(Problem::new(status, slug, title, detail))
}

fn store(state: &AppState) -> Result<&AttachmentStore, ApiError> {
    state.attachments.as_ref().ok_or_else(|| {
        ApiError::Problem(Problem::unavailable(
            "the attachment bucket is not available to the gateway; the NATS admin creates it",
        ))
    })
}

/// A multipart error: too large (the body limit) answers 413, anything else 400.
pub(crate) fn multipart_problem(e: &MultipartError, max: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        problem(
            413,
            "too-large",
            "File too large",
            format!("file: more than the {max} bytes allowed"),
        )
    } else {
        ApiError::bad_request(format!("multipart body: {}", e.body_text()))
    }
}

/// Reads `file` (required), `personal` (`true`/`false`) and `description`; any other
/// part is refused by name.
async fn read_upload(mut multipart: Multipart, max: u64) -> Result<Upload, ApiError> {
    let mut upload = Upload {
        bytes: Vec::new(),
        personal: false,
        description: None,
    };
    let mut file = false;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_problem(&e, max))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| multipart_problem(&e, max))?;
        match name.as_str() {
            "file" => {
                upload.bytes = bytes.to_vec();
                file = true;
            }
            "personal" => upload.personal = parse_flag(&bytes)?,
            "description" => {
                upload.description = Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            other => {
                return Err(ApiError::Problem(Problem::unprocessable(format!(
                    "{other}: unknown part (the parts are file, personal and description)"
                ))))
            }
        }
    }
    if !file {
        return Err(ApiError::Problem(Problem::unprocessable(
            "file: missing (a multipart part named file holds the bytes)",
        )));
    }
    Ok(upload)
}

fn parse_flag(bytes: &[u8]) -> Result<bool, ApiError> {
    match std::str::from_utf8(bytes).map(str::trim) {
        Ok("true" | "1" | "on") => Ok(true),
        Ok("false" | "0" | "off" | "") => Ok(false),
        _ => Err(ApiError::Problem(Problem::unprocessable(
            "personal: true or false",
        ))),
    }
}

/// What the upload answers: the attachment as recorded and the case after it.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) reply: CommandReply,
    pub(crate) sha256: String,
    pub(crate) media_type: &'static str,
    pub(crate) size: u64,
    pub(crate) personal: bool,
}

/// Admits the file (size, then sniffed type), stores it under its hash, then records
/// it on the case through intake. A refused file stores and appends nothing.
pub(crate) async fn add(
    state: &AppState,
    actor: &casegrid_domain::Actor,
    case_id: CaseId,
    upload: Upload,
    command_id: String,
    correlation_id: String,
) -> Result<Recorded, ApiError> {
    let media_type =
        state
            .attachment_settings
            .admit(&upload.bytes)
            .map_err(|refused| match refused.status() {
                413 => problem(413, "too-large", "File too large", refused.to_string()),
                _ => problem(
                    415,
                    "unsupported-media-type",
                    "File type not accepted",
                    refused.to_string(),
                ),
            })?;
    let store = store(state)?;
    let sha256 = sha256_hex(&upload.bytes);
    let name = object_key(case_id, &sha256);
    store
        .put(&name, &upload.bytes)
        .await
        .map_err(|e| ApiError::Internal {
            status: 503,
            context: "storing an attachment".into(),
            source: e.into(),
        })?;
    let size = upload.bytes.len() as u64;
    let mut body = json!({
        "name": name,
        "sha256": sha256,
        "media_type": media_type,
        "size": size,
        "personal": upload.personal,
    });
    if let Some(d) = upload.description.filter(|d| !d.trim().is_empty()) {
        body["description"] = json!(d);
    }
    let request = ActRequest {
        case_id,
        action: "add_attachment".into(),
        actor: actor.clone(),
        command_id,
        correlation_id,
        if_match: None,
        body,
    };
    let reply: CommandReply = bus::command(
        state,
        Target::new(INTAKE_ACT, "intake"),
        &request,
        &request.correlation_id,
    )
    .await?;
    Ok(Recorded {
        reply,
        sha256,
        media_type,
        size,
        personal: upload.personal,
    })
}

/// `POST /cases/{id}/attachments`.
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = path.map_err(path_problem)?;
    let case_id = parse_case_id(&id)?;
    let command_id = idempotency_key(&headers)?;
    if caller.scope != Scope::City {
        visible_case(&state, &caller, case_id).await?;
    }
    let multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be multipart/form-data: {}",
            e.body_text()
        ))
    })?;
    let max = state.attachment_settings.max_bytes;
    let upload = read_upload(multipart, max).await?;
    let recorded = add(
        &state,
        &caller.actor,
        case_id,
        upload,
        command_id,
        crate::edge::request_id(&headers),
    )
    .await?;
    let location = format!("/api/v1/cases/{case_id}/attachments/{}", recorded.sha256);
    let body = Json(json!({
        "id": recorded.reply.id,
        "version": recorded.reply.version,
        "status": recorded.reply.status,
        "attachment": {
            "sha256": recorded.sha256,
            "media_type": recorded.media_type,
            "size": recorded.size,
            "personal": recorded.personal,
        },
    }));
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], body).into_response())
}

/// The request body limit of the upload route: the largest file plus its framing.
pub(crate) fn body_limit(state: &AppState) -> usize {
    usize::try_from(state.attachment_settings.max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(FRAMING)
}

pub(crate) fn upload_endpoint() -> Endpoint {
    case_id_param(Endpoint::new(
        Method::POST,
        UPLOAD_PATH,
        upload,
        "Add a file to a case",
    ))
    .describe(
        "A photo, recording or document (multipart/form-data: the bytes in the part `file`, \
         optionally `personal` = true to erase the file with the case's personal data, and a \
         `description`). The type is sniffed from the bytes and must be one of `[attachments] \
         types`; larger files than `[attachments] max_bytes` answer 413, other types 415, and \
         nothing is stored or appended. The event `AttachmentAdded` records the SHA-256, type, \
         size and who added it.",
    )
    .multipart_body(only_these(object(
        &[
            (
                "file",
                json!({ "type": "string", "contentMediaType": "application/octet-stream" }),
            ),
            ("personal", boolean()),
            ("description", string()),
        ],
        &["file"],
    )))
    .json(
        201,
        "Recorded; `Location` is the download.",
        object(
            &[
                ("id", uuid()),
                ("version", integer()),
                ("status", reference("Status")),
                (
                    "attachment",
                    object(
                        &[
                            ("sha256", string()),
                            ("media_type", string()),
                            ("size", integer()),
                            ("personal", boolean()),
                        ],
                        &["sha256", "media_type", "size", "personal"],
                    ),
                ),
            ],
            &["id", "version", "status", "attachment"],
        ),
    )
    .problems(&[400, 403, 404, 409, 413, 415, 422, 503])
}

/// `GET /cases/{id}/attachments/{sha256}`: the bytes, when the caller may see the case,
/// the case records the attachment and the stored bytes hash to what it recorded.
pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, sha256)) = path.map_err(path_problem)?;
    let case_id = parse_case_id(&id)?;
    // An unseen case and an unknown file answer alike.
    visible_case(&state, &caller, case_id).await?;
    let not_found = || {
        ApiError::not_found(format!(
            "case {case_id} has no attachment with SHA-256 {sha256}"
        ))
    };
    let name = object_key(case_id, &sha256);
    let log: Value = bus::request(
        &state,
        Target::new(INTAKE_LOG, "intake"),
        &CaseQuery { case_id },
    )
    .await?;
    let events = log["events"].as_array().cloned().unwrap_or_default();
    let recorded = events
        .iter()
        .find(|e| e["type"] == "AttachmentAdded" && e["data"]["name"] == name.as_str())
        .map(|e| e["data"].clone())
        .ok_or_else(not_found)?;
    if recorded["sha256"] != sha256.as_str() {
        return Err(not_found());
    }
    let erased = events.iter().any(|e| e["type"] == "PersonalDataErased");
    let Some(bytes) = store(&state)?
        .get(&name)
        .await
        .map_err(|e| ApiError::Internal {
            status: 503,
            context: "reading an attachment".into(),
            source: e.into(),
        })?
    else {
        if erased && recorded["personal"] == true {
            return Err(problem(
                410,
                "erased",
                "Erased",
                format!("the file {sha256} was erased with case {case_id}'s personal data"),
            ));
        }
        return Err(not_found());
    };
    if sha256_hex(&bytes) != sha256 {
        tracing::error!(%case_id, %sha256, "a stored attachment does not match its recorded hash");
        return Err(ApiError::internal(
            "serving an attachment",
            anyhow::anyhow!("the stored bytes of {name} do not match the recorded SHA-256"),
        ));
    }
    let media_type = recorded["media_type"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_owned();
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::ETAG, format!("\"{sha256}\"")),
            (
                header::CACHE_CONTROL,
                "private, max-age=0, must-revalidate".to_owned(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

pub(crate) fn download_endpoint() -> Endpoint {
    case_id_param(Endpoint::new(
        Method::GET,
        "/api/v1/cases/{id}/attachments/{sha256}",
        download,
        "Download a file of a case",
    ))
    .describe(
        "Served only to a principal who may see the case, and only when the stored bytes \
         hash to the SHA-256 the event recorded. A case outside the principal's scope and an \
         unknown file answer the same 404; a personal file erased with the case's personal \
         data answers 410.",
    )
    .path_param(
        "sha256",
        "The file's SHA-256, lower-case hex.",
        json!({ "type": "string", "pattern": "^[0-9a-f]{64}$" }),
    )
    .content(
        200,
        "The bytes, with the recorded media type.",
        "application/octet-stream",
        json!({ "type": "string", "contentMediaType": "application/octet-stream" }),
    )
    .problems(&[404, 410, 503])
}

/// The upload route's path, which gets [`limit_layer`].
pub(crate) const UPLOAD_PATH: &str = "/api/v1/cases/{id}/attachments";

/// The upload route's body limit layer.
pub(crate) fn limit_layer(state: &AppState) -> DefaultBodyLimit {
    DefaultBodyLimit::max(body_limit(state))
}

/// The parts are these and no others: any other part is refused (422 names it).
fn only_these(mut schema: Value) -> Value {
    schema["additionalProperties"] = json!(false);
    schema
}
