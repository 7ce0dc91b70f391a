//! Routing rules (`rules.toml`): which department leads a case of a category, in a
//! part of the grid tree, at an urgency, and the deadlines (terms) it works to.
//!
//! Of the rules that match a case the most specific wins: the longest grid prefix,
//! then a rule naming the case's urgency, then the higher priority.

use crate::calendar::Calendar;
use crate::span::Span;
use crate::{Department, Grid, Problems};
use casegrid_domain::event::Urgency;
use casegrid_domain::{Category, DepartmentId, GridCode};
use serde::Deserialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

const URGENCIES: [(&str, Urgency); 3] = [
    ("normal", Urgency::Normal),
    ("urgent", Urgency::Urgent),
    ("critical", Urgency::Critical),
];

/// Reads `normal`, `urgent` or `critical`.
pub fn parse_urgency(s: &str) -> Option<Urgency> {
    URGENCIES.iter().find(|(n, _)| *n == s).map(|(_, u)| *u)
}

fn slot(u: Urgency) -> usize {
    match u {
        Urgency::Normal => 0,
        Urgency::Urgent => 1,
        Urgency::Critical => 2,
    }
}

fn urgency_name(u: Urgency) -> &'static str {
    URGENCIES[slot(u)].0
}

/// The deadlines a rule sets at one urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// 签收: time to sign the dispatch.
    pub sign: Span,
    /// 办结: time to reply to the citizen.
    pub handle: Span,
    /// 报到: time for a summoned department to report in after a whistle.
    pub report_in: Span,
    /// The deadlines run around the clock (a day is 24 hours) instead of in working time.
    pub calendar_time: bool,
}

/// Deadline instants of a case, all counted from the same start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    pub sign_due: OffsetDateTime,
    pub handle_due: OffsetDateTime,
    pub report_due: OffsetDateTime,
}

impl Terms {
    /// What `span` lasts under these terms: working time or around the clock.
    pub fn duration(&self, span: Span, calendar: &Calendar) -> Duration {
        span.with_day(if self.calendar_time {
            Duration::DAY
        } else {
            calendar.working_day()
        })
    }

    pub fn due(&self, span: Span, calendar: &Calendar, from: OffsetDateTime) -> OffsetDateTime {
        let d = self.duration(span, calendar);
        let due = if self.calendar_time {
            from + d
        } else {
            calendar.add_working(from, d)
        };
        // Events hold instants in UTC, whatever the city's offset.
        due.to_offset(time::UtcOffset::UTC)
    }

    pub fn deadlines(&self, calendar: &Calendar, from: OffsetDateTime) -> Deadlines {
        Deadlines {
            sign_due: self.due(self.sign, calendar, from),
            handle_due: self.due(self.handle, calendar, from),
            report_due: self.due(self.report_in, calendar, from),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique in `rules.toml`; a dispatch names it as `rules.toml#<id>`.
    pub id: String,
    pub category: Category,
    pub name: String,
    /// Absent: the territorial office of the case's grid leads (属地管理).
    pub lead: Option<DepartmentId>,
    pub assisting: Vec<DepartmentId>,
    /// Only cases in this part of the grid tree.
    pub grid_prefix: Option<GridCode>,
    /// Only cases of this urgency.
    pub urgency: Option<Urgency>,
    /// Breaks ties between rules as specific as each other (higher wins).
    pub priority: i64,
    /// The district publishes cases of this category (Open311 `GET requests`); set on
    /// the category's general rule only. Default false: nothing is public unless said.
    pub public: bool,
    terms: [Terms; 3],
}

impl Rule {
    /// The terms at `urgency`: the rule's own, with its `[rule.<urgency>]` overrides.
    pub fn terms(&self, urgency: Urgency) -> &Terms {
        &self.terms[slot(urgency)]
    }

    pub fn matches(&self, grid: Option<&GridCode>, urgency: Urgency) -> bool {
        let in_grid = match (&self.grid_prefix, grid) {
            (None, _) => true,
            (Some(prefix), Some(g)) => g.is_within(prefix.as_str()),
            (Some(_), None) => false,
        };
        in_grid && self.urgency.is_none_or(|u| u == urgency)
    }

    /// Larger is more specific: grid-prefix depth, then urgency named, then priority.
    pub fn specificity(&self) -> (usize, bool, i64) {
        (
            self.grid_prefix
                .as_ref()
                .map_or(0, |p| p.ancestors().count()),
            self.urgency.is_some(),
            self.priority,
        )
    }

    /// Whether both rules can match one case and neither is more specific.
    pub(crate) fn overlaps(&self, other: &Rule) -> bool {
        self.category == other.category
            && self.grid_prefix == other.grid_prefix
            && self.urgency == other.urgency
            && self.priority == other.priority
    }

    /// How the rule is written in messages: `noise (in NH.NS, urgent, priority 1)`.
    pub(crate) fn scope(&self) -> String {
        let mut parts = vec![format!("category {}", self.category)];
        if let Some(p) = &self.grid_prefix {
            parts.push(format!("grid prefix {p}"));
        }
        if let Some(u) = self.urgency {
            parts.push(format!("urgency {}", urgency_name(u)));
        }
        parts.push(format!("priority {}", self.priority));
        parts.join(", ")
    }
}

#[derive(Deserialize)]
pub(crate) struct RuleEntry {
    pub(crate) id: String,
    category: Category,
    name: String,
    #[serde(default)]
    lead: Option<DepartmentId>,
    #[serde(default)]
    assisting: Vec<DepartmentId>,
    #[serde(default)]
    grid_prefix: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    priority: i64,
    sign: String,
    handle: String,
    report_in: String,
    #[serde(default)]
    calendar_time: bool,
    #[serde(default)]
    public: bool,
    /// `[rule.urgent]`-style overrides, and anything misspelt.
    #[serde(flatten)]
    rest: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    sign: Option<String>,
    handle: Option<String>,
    report_in: Option<String>,
    calendar_time: Option<bool>,
}

/// What a rule is checked against.
pub(crate) struct Known<'a> {
    pub(crate) departments: &'a BTreeMap<DepartmentId, Department>,
    pub(crate) grids: &'a BTreeMap<GridCode, Grid>,
    pub(crate) calendar: Option<&'a Calendar>,
}

impl RuleEntry {
    pub(crate) fn validate(self, known: &Known<'_>, problems: &mut Problems<'_>) -> Option<Rule> {
        let before = problems.count();
        let entry = format!("rule {}", self.id);
        let mut problem = |message: String| problems.add(entry.as_str(), message);
        if self.id.is_empty() {
            problem("the id is empty".into());
        }
        for d in self.lead.iter().chain(&self.assisting) {
            if !known.departments.contains_key(d) {
                problem(format!("unknown department {d}"));
            }
        }
        let grid_prefix = self.grid_prefix.as_deref().and_then(|p| {
            match GridCode::parse(p) {
                Ok(code) if known.grids.contains_key(&code) => return Some(code),
                Ok(_) => problem(format!("grid_prefix {p} names no grid")),
                Err(e) => problem(format!("grid_prefix: {e}")),
            }
            None
        });
        let urgency = self.urgency.as_deref().and_then(|u| {
            let parsed = parse_urgency(u);
            if parsed.is_none() {
                problem(format!(
                    "unknown urgency {u:?} (expected normal, urgent or critical)"
                ));
            }
            parsed
        });
        let mut span = |field: &str, s: &str| {
            Span::parse(s)
                .map_err(|m| problem(format!("{field}: {m}")))
                .ok()
        };
        let base = (
            span("sign", &self.sign),
            span("handle", &self.handle),
            span("report_in", &self.report_in),
        );
        let mut overrides: [Option<Override>; 3] = [None, None, None];
        for (key, value) in self.rest {
            match (parse_urgency(&key), value) {
                (Some(u), v @ toml::Value::Table(_)) => match v.try_into::<Override>() {
                    Ok(o) => overrides[slot(u)] = Some(o),
                    Err(e) => problem(format!("[{key}]: {}", e.message().trim())),
                },
                (None, toml::Value::Table(_)) => problem(format!(
                    "unknown urgency {key:?} (expected normal, urgent or critical)"
                )),
                (_, _) => problem(format!("unknown field {key:?}")),
            }
        }
        let (Some(sign), Some(handle), Some(report_in)) = base else {
            return None;
        };
        let base = Terms {
            sign,
            handle,
            report_in,
            calendar_time: self.calendar_time,
        };
        let mut terms = [base; 3];
        for (u, o) in URGENCIES.iter().map(|(_, u)| *u).zip(&overrides) {
            let Some(o) = o else { continue };
            let t = &mut terms[slot(u)];
            let name = urgency_name(u);
            for (field, text, target) in [
                ("sign", &o.sign, &mut t.sign),
                ("handle", &o.handle, &mut t.handle),
                ("report_in", &o.report_in, &mut t.report_in),
            ] {
                if let Some(text) = text {
                    match Span::parse(text) {
                        Ok(s) => *target = s,
                        Err(m) => problem(format!("[{name}] {field}: {m}")),
                    }
                }
            }
            if let Some(c) = o.calendar_time {
                t.calendar_time = c;
            }
        }
        for (u, t) in URGENCIES.iter().map(|(n, _)| *n).zip(&terms) {
            if t.sign.is_zero() || t.report_in.is_zero() {
                problem(format!("{u}: sign and report_in must be longer than 0m"));
            }
            // A broken calendar is reported on its own; the check goes on with a
            // usual working day so that this file's problems come out too.
            let day = if t.calendar_time {
                Duration::DAY
            } else {
                known
                    .calendar
                    .map_or(Duration::hours(8), Calendar::working_day)
            };
            if t.handle.with_day(day) < t.sign.with_day(day) {
                problem(format!(
                    "{u}: handle ({}) is shorter than sign ({})",
                    t.handle, t.sign
                ));
            }
        }
        (problems.count() == before).then_some(Rule {
            id: self.id,
            category: self.category,
            name: self.name,
            lead: self.lead,
            assisting: self.assisting,
            grid_prefix,
            urgency,
            priority: self.priority,
            public: self.public,
            terms,
        })
    }
}
