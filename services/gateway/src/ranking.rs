//! `GET /stats/ranking?month=YYYY-MM`: the month's 红黑榜 — each department's
//! composite score by the district's weights (`assessment.toml`), its rank and the
//! change from the month before ([`casegrid_contracts::ranking`]), from the figures
//! the projection answers for both months.

use crate::auth::{Caller, Scope};
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{reference, Endpoint};
use crate::startup::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::Json;
use casegrid_contracts::query::{GroupBy, Period, StatsQuery, StatsView};
use casegrid_contracts::ranking::{month_bounds, rank, RankingView};
use casegrid_contracts::subjects::PROJECTION_STATS;
use casegrid_domain::ActorKind;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RankingParams {
    month: String,
}

/// `+08:00`: the district's offset, which months are local to.
fn offset_text(offset: time::UtcOffset) -> String {
    let (h, m, _) = offset.as_hms();
    let sign = if h < 0 || m < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

/// The ranking is published to every unit (红黑榜 are public inside the district):
/// operators, supervisors, departments and street offices read it; a district
/// supervisor's counts only the cases of its part of the grid tree.
pub(crate) async fn ranking(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<RankingParams>, QueryRejection>,
) -> Result<Json<RankingView>, ApiError> {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    if !matches!(
        caller.actor.kind,
        ActorKind::Operator | ActorKind::Supervisor | ActorKind::Department | ActorKind::Street
    ) {
        return Err(ApiError::forbidden(format!(
            "{} cannot read the ranking: operators, supervisors, departments and street \
             offices can",
            caller.actor
        )));
    }
    let offset = offset_text(state.district.calendar.offset);
    let Some((previous, [prev_start, start, end])) = month_bounds(&p.month, &offset) else {
        return Err(ApiError::bad_request(format!(
            "month: {:?} is not a month (YYYY-MM, e.g. 2026-11)",
            p.month
        )));
    };
    let grid_prefix = match &caller.scope {
        Scope::District(code) if caller.actor.kind == ActorKind::Supervisor => Some(code.clone()),
        _ => None,
    };
    let figures = |from: String, to: String| StatsQuery {
        group_by: GroupBy::Department,
        period: Period::All,
        from: Some(from),
        to: Some(to),
        grid_prefix: grid_prefix.clone(),
    };
    let target = || Target::new(PROJECTION_STATS, "projection");
    let this: StatsView = bus::request(&state, target(), &figures(start.clone(), end)).await?;
    let last: StatsView = bus::request(&state, target(), &figures(prev_start, start)).await?;
    Ok(Json(rank(
        &p.month,
        &previous,
        &this,
        &last,
        &state.district.ranking,
    )))
}

pub(crate) fn endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/stats/ranking",
        ranking,
        "The month's 红黑榜: composite scores, ranks and change from the month before",
    )
    .describe(
        "Each department's composite score (per mille) is the weighted mean of its rates of \
         the month (weights in the district's assessment.toml; 回退率 and 重办率 count as \
         1000 − the rate); units rank highest first, equal scores sharing a rank; `change` \
         is the places gained since the month before; the best and worst `list_size` units \
         are on the red (红榜) and black (黑榜) lists. Months are local to the district. \
         Escalated cases never count against the unit that escalated them; callbacks taken \
         out by an accepted appeal do not count.",
    )
    .required_query(
        "month",
        "The month, YYYY-MM.",
        json!({ "type": "string", "pattern": casegrid_contracts::ranking::MONTH_PATTERN }),
    )
    .json(200, "The ranking.", reference("RankingView"))
    .problems(&[400, 403, 503])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_as_rfc3339() {
        let at = |h, m| offset_text(time::UtcOffset::from_hms(h, m, 0).unwrap());
        assert_eq!(at(8, 0), "+08:00");
        assert_eq!(at(0, 0), "+00:00");
        assert_eq!(at(-3, -30), "-03:30");
    }
}
