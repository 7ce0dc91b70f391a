//! `GET /api/v1/notifications`: the notifier's delivery records (pending, sent,
//! failed, dead-lettered), for city-wide supervisors, answered by routing.

use crate::auth::{Caller, Scope};
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{one_of, uuid, Endpoint};
use crate::startup::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::Json;
use casegrid_contracts::notifications::{DeliveryState, NotificationsQuery, NotificationsView};
use casegrid_contracts::subjects::ROUTING_NOTIFICATIONS;
use casegrid_domain::{ActorKind, CaseId};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Params {
    case_id: Option<String>,
    state: Option<String>,
    limit: Option<u32>,
}

const STATES: [&str; 4] = ["pending", "sent", "failed", "dead"];

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Json<NotificationsView>, ApiError> {
    // Records name recipients across every grid: city-wide supervisors only.
    if caller.actor.kind != ActorKind::Supervisor || caller.scope != Scope::City {
        return Err(ApiError::forbidden(format!(
            "{} cannot read the notifications: only city-wide supervisors can",
            caller.actor
        )));
    }
    let Query(p) =
        params.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let case_id = match p.case_id.as_deref() {
        None => None,
        Some(c) => Some(CaseId::parse(c).map_err(|_| {
            ApiError::bad_request(format!("case_id: {c:?} is not a case id (a UUID)"))
        })?),
    };
    let delivery = match p.state.as_deref() {
        None => None,
        Some(s) => Some(match s {
            "pending" => DeliveryState::Pending,
            "sent" => DeliveryState::Sent,
            "failed" => DeliveryState::Failed,
            "dead" => DeliveryState::Dead,
            other => {
                return Err(ApiError::bad_request(format!(
                    "state: {other:?} is none of {}",
                    STATES.join(", ")
                )))
            }
        }),
    };
    if p.limit.is_some_and(|l| !(1..=5000).contains(&l)) {
        return Err(ApiError::bad_request("limit: between 1 and 5000"));
    }
    let q = NotificationsQuery {
        case_id,
        state: delivery,
        limit: p.limit,
    };
    Ok(Json(
        bus::request(&state, Target::new(ROUTING_NOTIFICATIONS, "routing"), &q).await?,
    ))
}

pub(crate) fn endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/notifications",
        list,
        "Notifications and their delivery (通知)",
    )
    .describe(
        "The notifications the district's rules (notifications.toml) made — webhook calls \
         and texts — with their delivery: pending, sent, failed (retried with backoff) or \
         dead (the dead-letter list). A citizen's phone is never shown. City-wide \
         supervisors only.",
    )
    .query("case_id", "Only this case's.", uuid())
    .query(
        "state",
        "Only those in this delivery state.",
        one_of(&STATES),
    )
    .query(
        "limit",
        "At most this many (default 500).",
        serde_json::json!({ "type": "integer", "minimum": 1, "maximum": 5000 }),
    )
    .json_of::<NotificationsView>(200, "The notifications, oldest first.")
    .problems(&[400, 403, 503])
}
