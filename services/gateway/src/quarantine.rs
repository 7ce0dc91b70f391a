//! `GET /api/v1/audit/quarantine`: the stored messages no consumer applies (see
//! `casegrid_eventlog::classify`), as the projection holds them, for supervisors.

use crate::auth::{Caller, Scope};
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{array, integer, nullable_string, object, one_of, string, Endpoint};
use crate::startup::AppState;
use axum::extract::State;
use axum::http::Method;
use axum::Json;
use casegrid_contracts::subjects::PROJECTION_QUARANTINE;
use casegrid_contracts::views::QuarantineView;
use casegrid_domain::ActorKind;
use casegrid_eventlog::Reason;
use serde_json::json;

pub(crate) async fn quarantine(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<QuarantineView>, ApiError> {
    // The first bytes of a foreign message may hold anything: city-wide supervisors only.
    if caller.actor.kind != ActorKind::Supervisor || caller.scope != Scope::City {
        return Err(ApiError::forbidden(format!(
            "{} cannot read the quarantine: only city-wide supervisors can",
            caller.actor
        )));
    }
    let view: QuarantineView = bus::request(
        &state,
        Target::new(PROJECTION_QUARANTINE, "projection"),
        &json!({}),
    )
    .await?;
    Ok(Json(view))
}

pub(crate) fn endpoint() -> Endpoint {
    let reasons: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    let item = object(
        &[
            ("seq", integer()),
            ("subject", string()),
            ("case_id", nullable_string()),
            ("version", json!({ "type": ["integer", "null"] })),
            ("reason", one_of(&reasons)),
            ("detail", string()),
            ("head", string()),
        ],
        &["seq", "subject", "reason", "detail", "head"],
    );
    Endpoint::new(
        Method::GET,
        "/api/v1/audit/quarantine",
        quarantine,
        "Stored messages that are not applied (quarantine)",
    )
    .describe(
        "Every message of the stream that no consumer applies — unreadable, a chain break, a \
         version gap or duplicate, or written by a newer version — with its stream sequence, \
         subject, reason and first bytes; counts per reason. City-wide supervisors only.",
    )
    .json(
        200,
        "The quarantine.",
        object(
            &[
                (
                    "counts",
                    json!({ "type": "object", "additionalProperties": integer() }),
                ),
                ("items", array(item)),
            ],
            &["counts", "items"],
        ),
    )
    .problems(&[403, 503])
}
