//! Lists and figures: `GET /cases` (filters), `GET /overdue`, `GET /stats`, and the
//! scope rules they share. A department's lists are asked for its own cases only (the
//! `department` filter is forced to its id; asking for another department answers an
//! empty page), a district supervisor's for its district's grid, a grid worker's for
//! its filings and its grid, a mediator's for its mediations (and re-checked);
//! a district supervisor's figures count the cases of its part of the grid tree only.
//! Reporters' phones are masked for everyone but operators and supervisors.

use crate::auth::{Caller, Scope};
use crate::bus::{self, Target};
use crate::error::ApiError;
use crate::openapi::{
    boolean, date_time, one_of, page_size, reference, string, Endpoint, STATUSES,
};
use crate::startup::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::Json;
use casegrid_contracts::query::{
    CaseFilter, CasePage, GroupBy, ListQuery, OverdueQuery, Period, StatsQuery, StatsView,
};
use casegrid_contracts::subjects::{PROJECTION_LIST, PROJECTION_OVERDUE, PROJECTION_STATS};
use casegrid_contracts::views::CaseView;
use casegrid_domain::ids::grid_within;
use casegrid_domain::ActorKind;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

const PROJECTION: &str = "projection";

/// Masks what the caller may not see in clear: reporters' phones for everyone but
/// operators and supervisors. Services already mask what they answer; the gateway
/// makes sure anyway (with the domain's one phone masker), because a leak here cannot
/// be taken back.
pub(crate) fn mask_view(caller: &Caller, view: &mut CaseView) {
    if !caller.sees_personal_data() {
        view.reporter_phone = view
            .reporter_phone
            .as_deref()
            .map(casegrid_domain::ids::mask_phone);
    }
}

/// The page masked, and for a district supervisor re-checked by grid. A department's
/// lists are asked with its own id as the `department` filter, which projection answers
/// with the cases dispatched or whistled to it; a whistle is not in `CaseView`, so
/// re-checking the views here would hide the whistled ones.
fn scoped_page(caller: &Caller, mut page: CasePage) -> CasePage {
    if !matches!(caller.scope, Scope::City | Scope::Department(_)) {
        page.items.retain(|v| caller.scope.admits_view(v));
    }
    page.items.iter_mut().for_each(|v| mask_view(caller, v));
    page
}

fn empty_page() -> CasePage {
    CasePage {
        items: Vec::new(),
        next_cursor: None,
    }
}

fn query_problem(e: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("query string: {}", e.body_text()))
}

/// The filters of `GET /cases` from its query string: `status` repeated or a comma list,
/// `q` the text searched, the rest as named.
pub(crate) fn list_query(pairs: Vec<(String, String)>) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery::default();
    for (name, value) in pairs {
        let value = value.trim().to_owned();
        let f = &mut q.filter;
        let slot = match name.as_str() {
            "status" => {
                if value.is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "status: empty; statuses are {}",
                        STATUSES.join(", ")
                    )));
                }
                for s in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !STATUSES.contains(&s) {
                        return Err(ApiError::bad_request(format!(
                            "status: {s:?} is not a status; statuses are {}",
                            STATUSES.join(", ")
                        )));
                    }
                    f.status.push(s.to_owned());
                }
                continue;
            }
            "overdue" => {
                f.overdue = Some(value.parse().map_err(|_| {
                    ApiError::bad_request(format!("overdue: {value:?} is neither true nor false"))
                })?);
                continue;
            }
            "limit" => {
                q.limit = Some(page_limit(&value)?);
                continue;
            }
            "filed_from" | "filed_to" => {
                instant(&name, &value)?;
                if name == "filed_from" {
                    &mut f.filed_from
                } else {
                    &mut f.filed_to
                }
            }
            "department" => &mut f.department,
            "street" => &mut f.street,
            "grid_prefix" => &mut f.grid_prefix,
            "category" => &mut f.category,
            "channel" => {
                one_of_values("channel", &value, CHANNELS)?;
                &mut f.channel
            }
            "urgency" => {
                one_of_values("urgency", &value, URGENCIES)?;
                &mut f.urgency
            }
            "q" => &mut f.text,
            "cursor" => &mut q.cursor,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {other:?}; known: status, department, street, \
                     grid_prefix, category, channel, urgency, overdue, filed_from, filed_to, q, \
                     cursor, limit"
                )))
            }
        };
        if slot.is_some() {
            return Err(ApiError::bad_request(format!("{name}: given twice")));
        }
        if !value.is_empty() {
            *slot = Some(value);
        }
    }
    Ok(q)
}

const CHANNELS: &[&str] = &["hotline", "suggestion_box", "grid_patrol"];
const URGENCIES: &[&str] = &["normal", "urgent", "critical"];

/// One of `allowed` (as the document's enum says: not empty either).
fn one_of_values(name: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{name}: {value:?} is not one of {}",
            allowed.join(", ")
        )))
    }
}

/// The largest page of `/cases` and `/overdue` (`casegrid_readmodel`'s `LIST_MAX`).
pub(crate) const LIST_MAX: u32 = 500;

/// A page size: a whole number from 1 to [`LIST_MAX`].
fn page_limit(value: &str) -> Result<u32, ApiError> {
    value
        .parse()
        .ok()
        .filter(|n| (1..=LIST_MAX).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "limit: {value:?} is not a whole number from 1 to {LIST_MAX}"
            ))
        })
}

/// Checks that `value` is an RFC 3339 instant.
pub(crate) fn instant(name: &str, value: &str) -> Result<time::OffsetDateTime, ApiError> {
    time::OffsetDateTime::parse(value, &Rfc3339).map_err(|e| {
        ApiError::bad_request(format!(
            "{name}: {value:?} is not an RFC 3339 instant (2026-11-23T08:00:00Z): {e}"
        ))
    })
}

/// Narrows `filter` to the caller's scope; `None` when nothing the caller asked for
/// can be in scope (another department, a grid outside the district).
fn scope_filter(caller: &Caller, mut filter: CaseFilter) -> Option<CaseFilter> {
    match &caller.scope {
        Scope::City => {}
        Scope::Department(me) => {
            if !own_department(me, &mut filter.department) {
                return None;
            }
        }
        Scope::District(code) => match &filter.grid_prefix {
            Some(g) if grid_within(g, code) => {}
            Some(_) => return None,
            None => filter.grid_prefix = Some(code.clone()),
        },
        Scope::Patrol { me, grid } => {
            filter.filed_by = Some(me.clone());
            filter.or_grid = grid.clone();
        }
        Scope::Mediation(me) => filter.mediator = Some(me.clone()),
    }
    Some(filter)
}

/// `GET /cases`.
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    let Query(pairs) = params.map_err(query_problem)?;
    let query = list_query(pairs)?;
    Ok(Json(scoped_list(&state, &caller, query).await?))
}

/// A page of `query` as `caller` may see it: narrowed to its scope, re-checked, masked
/// (what `GET /cases` and its export answer).
pub(crate) async fn scoped_list(
    state: &AppState,
    caller: &Caller,
    mut query: ListQuery,
) -> Result<CasePage, ApiError> {
    let Some(filter) = scope_filter(caller, query.filter) else {
        return Ok(empty_page());
    };
    query.filter = filter;
    let page: CasePage =
        bus::request(state, Target::new(PROJECTION_LIST, PROJECTION), &query).await?;
    Ok(scoped_page(caller, page))
}

pub(crate) fn list_endpoint() -> Endpoint {
    let e = Endpoint::new(Method::GET, "/api/v1/cases", list, "List cases (filters)").describe(
        "Newest filing first, a page at a time (pass `next_cursor` back as `cursor`). \
         A department lists only cases dispatched to it; reporters' phones are masked \
         for everyone but operators and supervisors.",
    );
    list_filters(e)
        .query("cursor", "`next_cursor` of the previous page.", string())
        .query(
            "limit",
            "Page size (default 50, at most 500).",
            page_size(LIST_MAX),
        )
        .json(200, "A page of cases.", reference("CasePage"))
        .problems(&[400, 503])
}

/// The filters of `GET /cases`, shared with its export.
pub(crate) fn list_filters(e: Endpoint) -> Endpoint {
    e.query(
        "status",
        "Any of these statuses: repeated or a comma list.",
        one_of(STATUSES),
    )
    .query(
        "department",
        "Dispatched to this department (lead or assisting).",
        string(),
    )
    .query(
        "street",
        "In this street/township (its grid code, `NH.HB`).",
        string(),
    )
    .query(
        "grid_prefix",
        "In this grid or below it (`NH.HB.BJ`).",
        string(),
    )
    .query("category", "The category (`noise`).", string())
    .query(
        "channel",
        "hotline, suggestion_box or grid_patrol.",
        one_of(CHANNELS),
    )
    .query("urgency", "normal, urgent or critical.", one_of(URGENCIES))
    .query(
        "overdue",
        "Past the handling deadline and still running.",
        boolean(),
    )
    .query(
        "filed_from",
        "Filed at or after this instant (RFC 3339).",
        date_time(),
    )
    .query(
        "filed_to",
        "Filed before this instant (RFC 3339).",
        date_time(),
    )
    .query("q", "Words in the title or the description.", string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverdueParams {
    department: Option<String>,
    street: Option<String>,
    category: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// A department sees only its own cases: `asked` becomes `me`; false when it asked for
/// another department (the answer is then empty, never another unit's cases).
fn own_department(me: &str, asked: &mut Option<String>) -> bool {
    if asked.as_deref().is_some_and(|d| d != me) {
        return false;
    }
    *asked = Some(me.to_owned());
    true
}

/// `GET /overdue`: cases past their handling deadline and still running.
pub(crate) async fn overdue(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<OverdueParams>, QueryRejection>,
) -> Result<Json<CasePage>, ApiError> {
    let Query(p) = params.map_err(query_problem)?;
    if let Some(limit) = p.limit {
        page_limit(&limit.to_string())?;
    }
    let mut query = OverdueQuery {
        department: p.department,
        street: p.street,
        category: p.category,
        cursor: p.cursor,
        limit: p.limit,
        ..OverdueQuery::default()
    };
    match &caller.scope {
        Scope::City => {}
        Scope::Department(me) => {
            if !own_department(me, &mut query.department) {
                return Ok(Json(empty_page()));
            }
        }
        Scope::District(code) => query.grid_prefix = Some(code.clone()),
        Scope::Patrol { me, grid } => {
            query.filed_by = Some(me.clone());
            query.or_grid = grid.clone();
        }
        Scope::Mediation(me) => query.mediator = Some(me.clone()),
    }
    let page: CasePage =
        bus::request(&state, Target::new(PROJECTION_OVERDUE, PROJECTION), &query).await?;
    Ok(Json(scoped_page(&caller, page)))
}

pub(crate) fn overdue_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/overdue",
        overdue,
        "Overdue cases (超期)",
    )
    .describe(
        "Past the handling deadline and still running, most overdue first. A department \
         sees its own cases only.",
    )
    .query("department", "Dispatched to this department.", string())
    .query("street", "In this street/township (`NH.HB`).", string())
    .query("category", "The category.", string())
    .query("cursor", "`next_cursor` of the previous page.", string())
    .query(
        "limit",
        "Page size (default 50, at most 500).",
        page_size(LIST_MAX),
    )
    .json(200, "A page of cases.", reference("CasePage"))
    .problems(&[400, 503])
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsParams {
    #[serde(default)]
    group_by: GroupBy,
    #[serde(default)]
    period: Period,
    from: Option<String>,
    to: Option<String>,
}

/// `GET /stats`: the figures. Operators and supervisors see every row; a department
/// or street office only its own (grouped by department, or by street for the streets
/// whose office it is).
pub(crate) async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Json<StatsView>, ApiError> {
    let Query(p) = params.map_err(query_problem)?;
    Ok(Json(scoped_stats(&state, &caller, p).await?))
}

/// The figures of `p` as `caller` may see them (what `GET /stats` and its export answer).
pub(crate) async fn scoped_stats(
    state: &AppState,
    caller: &Caller,
    p: StatsParams,
) -> Result<StatsView, ApiError> {
    for (name, value) in [("from", &p.from), ("to", &p.to)] {
        if let Some(v) = value {
            instant(name, v)?;
        }
    }
    // Which row keys the caller may see; `None`: all.
    let own: Option<Vec<String>> = match (&caller.actor.kind, &caller.scope) {
        (ActorKind::Operator | ActorKind::Supervisor, Scope::District(code)) => match p.group_by {
            GroupBy::Street => Some(
                state
                    .district
                    .grids
                    .keys()
                    .map(|g| g.as_str().to_owned())
                    .filter(|g| grid_within(g, code))
                    .collect(),
            ),
            _ => None,
        },
        (ActorKind::Operator | ActorKind::Supervisor, _) => None,
        (_, Scope::Department(me)) => match p.group_by {
            GroupBy::Department => Some(vec![me.clone()]),
            GroupBy::Street => Some(
                state
                    .district
                    .grids
                    .values()
                    .filter(|g| g.office.as_ref().is_some_and(|o| o.as_str() == me))
                    .map(|g| g.code.as_str().to_owned())
                    .collect(),
            ),
            GroupBy::Category => {
                return Err(ApiError::forbidden(format!(
                    "{} sees its own figures only: group_by=department (or street, for a \
                     street office)",
                    caller.actor
                )))
            }
        },
        _ => {
            return Err(ApiError::forbidden(format!(
                "{} cannot read the figures: operators, supervisors, departments and street \
                 offices can",
                caller.actor
            )))
        }
    };
    // A district supervisor's figures count its part of the grid tree only, whatever
    // they are grouped by: no unit's city-wide numbers.
    let grid_prefix = match &caller.scope {
        Scope::District(code) => Some(code.clone()),
        _ => None,
    };
    let query = StatsQuery {
        group_by: p.group_by,
        period: p.period,
        from: p.from,
        to: p.to,
        grid_prefix,
    };
    let mut view: StatsView =
        bus::request(state, Target::new(PROJECTION_STATS, PROJECTION), &query).await?;
    if let Some(own) = own {
        view.rows
            .retain(|r| r.key.as_ref().is_some_and(|k| own.contains(k)));
    }
    Ok(view)
}

pub(crate) fn stats_endpoint() -> Endpoint {
    Endpoint::new(
        Method::GET,
        "/api/v1/stats",
        stats,
        "The figures: 响应率, 解决率, 满意率, 办结率, and the assessment rates",
    )
    .describe(
        "Each rate with the counts behind it, by department, street or category and by day, \
         month or all time. Operators and city-wide supervisors see every row; a district \
         supervisor the rows of its part of the grid tree, counting its cases only; a \
         department or street office its own row only; grid workers and mediators none.",
    )
    .query(
        "group_by",
        "department (default), street or category.",
        one_of(&["department", "street", "category"]),
    )
    .query(
        "period",
        "day, month or all (default).",
        one_of(&["day", "month", "all"]),
    )
    .query(
        "from",
        "From this instant (RFC 3339, inclusive).",
        date_time(),
    )
    .query("to", "To this instant (RFC 3339, exclusive).", date_time())
    .json(200, "The figures.", reference("StatsView"))
    .problems(&[400, 403, 503])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn list_filters_read_from_the_query_string() {
        let q = list_query(pairs(&[
            ("status", "dispatched,in_progress"),
            ("status", "suspended"),
            ("q", "噪音 施工"),
            ("overdue", "true"),
            ("limit", "10"),
            ("filed_from", "2026-11-01T00:00:00+08:00"),
        ]))
        .unwrap();
        assert_eq!(q.filter.status, ["dispatched", "in_progress", "suspended"]);
        assert_eq!(q.filter.text.as_deref(), Some("噪音 施工"));
        assert_eq!(q.filter.overdue, Some(true));
        assert_eq!(q.limit, Some(10));
        for bad in [
            ("status", "open"),
            ("overdue", "yes"),
            ("filed_to", "yesterday"),
            ("colour", "red"),
        ] {
            assert!(list_query(pairs(&[bad])).is_err(), "{bad:?}");
        }
        assert!(list_query(pairs(&[("category", "a"), ("category", "b")])).is_err());
    }
}
