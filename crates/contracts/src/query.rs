//! Queries beyond one case: the case list with filters, the overdue list, the figures
//! (响应率, 解决率, 满意率, 办结率), answered by projection; and a case as of a past
//! instant, folded from the log by intake.
//!
//! The list, overdue and figures types mirror the JSON of `casegrid_readmodel::query`
//! (which projection serves); optional members are left out when absent, so a request
//! names only the filters it means.

use crate::views::CaseView;
use casegrid_domain::{CaseId, Status};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Filters of a case list; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaseFilter {
    /// Any of these statuses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<String>,
    /// Concerning this department: lead, assisting, summoned or whistling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The street/township as its grid code (`NH.HB`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// In this grid or below it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    /// Past the handling deadline and still running (`true`), or not (`false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue: Option<bool>,
    /// Filed at or after this instant (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filed_from: Option<String>,
    /// Filed before this instant (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filed_to: Option<String>,
    /// Words found in the title or the description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Filed by this principal (its id) — or, with `or_grid`, in that grid: a grid
    /// worker's reach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filed_by: Option<String>,
    /// With `filed_by`: also the cases in this grid or below it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub or_grid: Option<String>,
    /// Whose mediation is assigned to this mediator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mediator: Option<String>,
    /// Any of these categories.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// None of these kinds (`dispute`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_kinds: Vec<String>,
}

/// `casegrid.projection.list`: newest filing first, a page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    #[serde(flatten)]
    pub filter: CaseFilter,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Default 50, at most 500.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `casegrid.projection.overdue`: overdue cases, most overdue first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverdueQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// In this grid or below it (a district supervisor's part of the tree).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_prefix: Option<String>,
    /// Filed by this principal — or, with `or_grid`, in that grid ([`CaseFilter`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filed_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub or_grid: Option<String>,
    /// Whose mediation is assigned to this mediator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mediator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A page of cases; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CasePage {
    pub items: Vec<CaseView>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// What the figures are grouped by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    #[default]
    Department,
    Street,
    Category,
}

/// The period of each row: the local day or month, or all time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Month,
    #[default]
    All,
}

/// `casegrid.projection.stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsQuery {
    pub group_by: GroupBy,
    pub period: Period,
    /// Counted from this instant (RFC 3339, inclusive) …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// … to this one (exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Only cases in this grid or below it (a district supervisor's part of the tree):
    /// every row, whatever it is grouped by, counts those cases alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid_prefix: Option<String>,
}

/// `casegrid.projection.public`: the Open311 list in one query — the cases (newest
/// filing first) and, for each, its notes of the public event types.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublicQuery {
    /// Which cases; the asker puts the public categories in `filter.categories`.
    pub filter: CaseFilter,
    /// These cases only (Open311 `service_request_id`), when not empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<CaseId>,
    /// Default 50, at most 1,000 (Open311's default window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One public note: an event of a public type, said without free text or names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicNote {
    /// The event's version in its case (Open311 `update_id` is `<case>.<version>`).
    #[serde(default)]
    pub version: u64,
    /// RFC 3339.
    pub datetime: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub summary: String,
}

/// A case with its public notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRequest {
    pub case: CaseView,
    pub notes: Vec<PublicNote>,
    /// Where the filer said it is, as it was given (decimal degrees as text: events
    /// hold no floats): `source.open311.lat` and `.long` of the filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long: Option<String>,
    /// The filing's first attachment reference (`source.attachments`), e.g. Open311's
    /// `media_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
}

/// The answer to [`PublicQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicPage {
    pub items: Vec<PublicRequest>,
}

/// A rate with the counts behind it: `count` of `of`, in per mille rounded half up
/// (`None` when `of` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Rate {
    pub count: u64,
    pub of: u64,
    pub permille: Option<u32>,
}

impl Rate {
    pub fn new(count: u64, of: u64) -> Self {
        Self {
            count,
            of,
            permille: (of > 0).then(|| ((count * 2000 + of) / (2 * of)) as u32),
        }
    }
}

/// The figures of one group and period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StatsRow {
    /// The department, street (`NH.HB`) or category; `null` for cases without one.
    pub key: Option<String>,
    /// `2026-11-23`, `2026-11` or `all`.
    pub period: String,
    /// 响应率.
    pub response: Rate,
    /// 解决率.
    pub resolution: Rate,
    /// 满意率.
    pub satisfaction: Rate,
    pub satisfied: u64,
    pub basically_satisfied: u64,
    /// 办结率.
    pub completion: Rate,
    /// 及时签收率: the lead's work orders signed before the sign deadline / the lead's
    /// work orders (响应率 counts assisting departments too).
    #[serde(default)]
    pub timely_sign: Rate,
    /// 按时办结率: replies before the handling deadline (approved extensions and
    /// suspended time counted) / replies.
    #[serde(default)]
    pub on_time_reply: Rate,
    /// 回退率: dispatches returned by their lead / dispatches.
    #[serde(default)]
    pub returns: Rate,
    /// 重办率: replies reopened / replies.
    #[serde(default)]
    pub reopens: Rate,
    /// 超期件数: dispatches whose handling deadline passed before the reply.
    #[serde(default)]
    pub overdue: u64,
    /// Working time from dispatch to the lead's signature.
    #[serde(default)]
    pub sign_time: WorkingTime,
    /// Working time from dispatch to the reply, suspended time left out.
    #[serde(default)]
    pub reply_time: WorkingTime,
    /// Callbacks an accepted appeal (甄别) took out of 解决率 and 满意率.
    #[serde(default)]
    pub appealed: u64,
}

/// Working time summed over `of` work orders, in minutes of the district calendar's
/// working hours; `average_minutes` rounded half up (`None` when `of` is 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WorkingTime {
    pub total_minutes: u64,
    pub of: u64,
    pub average_minutes: Option<u64>,
}

impl WorkingTime {
    pub fn new(total_minutes: u64, of: u64) -> Self {
        Self {
            total_minutes,
            of,
            average_minutes: (of > 0).then(|| (total_minutes * 2 + of) / (2 * of)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StatsView {
    pub group_by: GroupBy,
    pub period: Period,
    pub rows: Vec<StatsRow>,
}

/// `casegrid.intake.as_of`: a case as it stood at an instant, folded from the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsOfQuery {
    pub case_id: CaseId,
    /// RFC 3339; events that occurred at or before it are folded.
    pub as_of: String,
}

/// The answer to [`AsOfQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AsOfView {
    pub case_id: CaseId,
    /// The instant asked for, in UTC.
    #[schemars(extend("format" = "date-time"))]
    pub as_of: String,
    /// The version of the last event folded.
    pub version: u64,
    pub status: Status,
    /// The domain's case state (`casegrid_domain::Case`) with personal data masked:
    /// no `sealed` member anywhere, and `[erased]` for masked values once erased.
    pub state: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_name_only_the_filters_given() {
        let q = ListQuery {
            filter: CaseFilter {
                status: vec!["dispatched".into()],
                department: Some("dept.urban".into()),
                ..CaseFilter::default()
            },
            limit: Some(10),
            ..ListQuery::default()
        };
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            json!({"status": ["dispatched"], "department": "dept.urban", "limit": 10})
        );
        assert_eq!(
            serde_json::to_value(StatsQuery::default()).unwrap(),
            json!({"group_by": "department", "period": "all"})
        );
    }

    #[test]
    fn stats_answers_read_back() {
        let answer = json!({"group_by": "street", "period": "month", "rows": [{
            "key": "NH.HB", "period": "2026-11",
            "response": {"count": 2, "of": 3, "permille": 667},
            "resolution": {"count": 0, "of": 0, "permille": null},
            "satisfaction": {"count": 1, "of": 1, "permille": 1000},
            "satisfied": 1, "basically_satisfied": 0,
            "completion": {"count": 1, "of": 4, "permille": 250}}]});
        let view: StatsView = serde_json::from_value(answer.clone()).unwrap();
        assert_eq!(view.rows[0].response.permille, Some(667));
        // Answers of older gateways lack the newer figures: they read as empty.
        let written = serde_json::to_value(&view).unwrap();
        for (name, value) in answer["rows"][0].as_object().unwrap() {
            assert_eq!(&written["rows"][0][name], value, "{name}");
        }
        assert_eq!(written["rows"][0]["timely_sign"]["of"], 0);
        assert_eq!(written["rows"][0]["appealed"], 0);
    }
}
