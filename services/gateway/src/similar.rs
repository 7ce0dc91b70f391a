//! Duplicate candidates (重复件): `GET /cases/{id}/similar` for a case's page and
//! `GET /cases/similar` for a filing being typed at intake. Projection ranks the open
//! cases of the category nearby by likeness of text; the gateway fills in the
//! `[duplicates]` settings and keeps only the cases the caller may see. Merging stays
//! a person's decision (the `merge` action).

use crate::auth::Caller;
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{array, integer, object, reference, string, Endpoint};
use crate::startup::AppState;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::Json;
use casegrid_contracts::similar::{SimilarQuery, SimilarView};
use casegrid_contracts::subjects::PROJECTION_SIMILAR;
use serde::Deserialize;
use serde_json::{json, Value};

const PROJECTION: &str = "projection";

/// The settings' window, distance, score and limit on `q`.
fn configured(state: &AppState, mut q: SimilarQuery) -> SimilarQuery {
    let d = &state.duplicates;
    q.window_days = Some(d.window_days);
    q.max_distance_m = Some(d.max_distance_m);
    q.min_score = Some(d.min_score);
    q.limit = Some(d.limit);
    q
}

async fn ask(
    state: &AppState,
    caller: &Caller,
    q: SimilarQuery,
) -> Result<Json<SimilarView>, ApiError> {
    let mut view: SimilarView = bus::request(
        state,
        Target::new(PROJECTION_SIMILAR, PROJECTION),
        &configured(state, q),
    )
    .await?;
    view.items.retain(|c| caller.scope.admits_view(&c.case));
    view.items
        .iter_mut()
        .for_each(|c| crate::queries::mask_view(caller, &mut c.case));
    Ok(Json(view))
}

/// `GET /cases/{id}/similar`: 404 when the case is outside the caller's scope.
pub(crate) async fn of_case(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SimilarView>, ApiError> {
    let case_id = crate::routes::case_id(id)?;
    crate::routes::visible_case(&state, &caller, case_id).await?;
    let q = SimilarQuery {
        case_id: Some(case_id),
        ..SimilarQuery::default()
    };
    ask(&state, &caller, q).await
}

fn view_schema() -> Value {
    reference("SimilarView")
}

pub(crate) fn of_case_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/cases/{id}/similar",
        of_case,
        "Possible duplicates of a case",
    )
    .path_param("id", "The case id (a UUID).", string())
    .describe(
        "Open cases of the same category in the same grid (or, when both carry coordinates, \
         within `[duplicates] max_distance_m`), filed within `[duplicates] window_days` of the \
         case, ranked by likeness of title and description (character bigrams; per mille), \
         ties the earlier filing first. Only cases the caller may see. Merging is the `merge` \
         action, a person's decision.",
    )
    .json(200, "The candidates.", view_schema())
    .problems(&[400, 404, 503])
}

/// The query string of `GET /cases/similar`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Draft {
    category: Option<String>,
    grid: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    lat: Option<String>,
    long: Option<String>,
}

/// `GET /cases/similar?category=&grid=&title=&description=[&lat=&long=]`: candidates
/// for a filing not yet made, as the operator types it.
pub(crate) async fn of_draft(
    State(state): State<AppState>,
    caller: Caller,
    draft: Result<Query<Draft>, QueryRejection>,
) -> Result<Json<SimilarView>, ApiError> {
    let Query(d) =
        draft.map_err(|e| ApiError::bad_request(format!("query string: {}", e.body_text())))?;
    let category = d
        .category
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if category.is_none() {
        return Err(ApiError::bad_request("category: required"));
    }
    if let Some(grid) = d.grid.as_deref().filter(|g| !g.trim().is_empty()) {
        casegrid_domain::GridCode::parse(grid.trim())
            .map_err(|e| ApiError::bad_request(format!("grid: {e}")))?;
    }
    if d.lat.is_some() != d.long.is_some() {
        return Err(ApiError::bad_request("lat, long: give both or neither"));
    }
    for (name, value, limit) in [("lat", &d.lat, 90.0), ("long", &d.long, 180.0)] {
        if let Some(v) = value {
            let ok = v
                .trim()
                .parse::<f64>()
                .is_ok_and(|x| x.is_finite() && x.abs() <= limit);
            if !ok {
                return Err(ApiError::bad_request(format!(
                    "{name}: {v:?} is not decimal degrees within ±{limit}"
                )));
            }
        }
    }
    let q = SimilarQuery {
        category,
        grid: d
            .grid
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty()),
        title: d.title,
        description: d.description,
        lat: d.lat,
        long: d.long,
        ..SimilarQuery::default()
    };
    ask(&state, &caller, q).await
}

pub(crate) fn of_draft_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/cases/similar",
        of_draft,
        "Possible duplicates of a filing being typed",
    )
    .describe(
        "What `GET /cases/{id}/similar` answers for a case, for a draft: the operator's console \
         asks while the call is taken, before filing.",
    )
    .required_query(
        "category",
        "The draft's category.",
        json!({ "type": "string", "minLength": 1 }),
    )
    .query("grid", "The draft's grid code.", string())
    .query("title", "The draft's title.", string())
    .query("description", "The draft's description.", string())
    .query(
        "lat",
        "Latitude in decimal degrees (with `long`).",
        json!({ "type": "string", "pattern": casegrid_contracts::filing::LAT_PATTERN }),
    )
    .query(
        "long",
        "Longitude in decimal degrees (with `lat`).",
        json!({ "type": "string", "pattern": casegrid_contracts::filing::LONG_PATTERN }),
    )
    .json(200, "The candidates.", view_schema())
    .problems(&[400, 503])
}

/// The schemas of the answers.
pub(crate) fn components() -> Value {
    json!({
        "SimilarView": object(
            &[(
                "items",
                array(object(
                    &[
                        ("score", integer()),
                        ("distance_m", integer()),
                        ("case", reference("CaseView")),
                    ],
                    &["score", "case"],
                )),
            )],
            &["items"],
        ),
    })
}
