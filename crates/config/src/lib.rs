//! The district configuration (`deploy/config/`): grid tree, departments, routing
//! rules, working calendar, escalation ladder and principals, loaded from TOML and
//! validated as a whole. Every problem names its file, its entry and what is wrong,
//! and [`District::load`] reports all of them at once.
//!
//! - [`District`]: everything loaded, with [`District::route_for`] for dispatch,
//!   [`District::deadlines`] for the instants a route sets and
//!   [`District::version`] naming the configuration that decided.
//! - [`calendar`]: working hours, weekends, holidays and make-up days (调休), and
//!   deadline arithmetic in working time.
//! - [`rule`]: routing rules and their per-urgency [`Terms`].
//! - [`span`]: deadline spans as written (`30m`, `2h`, `5d`).
//! - [`boundaries`]: grid boundaries (GeoJSON) and [`District::locate`], a point's grid.
//! - [`escalation`]: the escalation ladder (村居主战 → … → 领导征战).
//! - [`Principal`]: a demo principal and its static token.

pub mod assessment;
pub mod boundaries;
pub mod calendar;
pub mod escalation;
pub mod rule;
pub mod span;

pub use boundaries::{Boundaries, Located, Unlocated};
pub use calendar::Calendar;
pub use escalation::{EscalationLevel, Notify, Role};
pub use rule::{Deadlines, Rule, Terms};
pub use span::Span;

use casegrid_domain::event::Urgency;
use casegrid_domain::{ActorKind, Category, DepartmentId, GridCode};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepartmentKind {
    /// 条: a functional department of the district.
    Functional,
    /// 块: a street office or township government.
    Territorial,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
    pub kind: DepartmentKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub code: GridCode,
    pub name: String,
    pub level: String,
    /// The territorial office of a street-level node.
    #[serde(default)]
    pub office: Option<DepartmentId>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    pub token: String,
    pub kind: ActorKind,
    pub id: String,
    pub name: String,
    /// A grid code: for a supervisor (`NH.HB`) the part of the tree it oversees
    /// (absent or `city`: the whole city); for a grid worker (`NH.HB.BJ.03`) the grid it
    /// patrols (absent: it sees only the cases it filed). Nobody else has one.
    #[serde(default)]
    pub scope: Option<String>,
}

/// Where a case goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub lead: DepartmentId,
    pub assisting: Vec<DepartmentId>,
    /// The sign term in whole hours, rounded up (working hours unless the terms run
    /// around the clock). Kept for older callers: take instants from
    /// [`District::deadlines`], which honours the calendar.
    pub sign_hours: u32,
    /// The handle term in whole hours, as `sign_hours`.
    pub handle_hours: u32,
    /// Names the rule that decided (`rules.toml#noise`, or `…+territorial`).
    pub rule: String,
    /// The id of that rule in `rules.toml`.
    pub rule_id: String,
    /// The urgency the route was asked for; `terms` are the rule's at it.
    pub urgency: Urgency,
    pub terms: Terms,
}

/// Why a case cannot be routed by rule. In every case the caller leaves the case to
/// a human dispatcher's queue; none of these goes away by retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// No rule names the category.
    UnknownCategory(String),
    /// The rule leaves the case to its territory, but the case has no grid (or the
    /// grid no street-level office).
    NoTerritorialOffice(String),
    /// Every department a rule would choose has returned the case.
    NoneLeft {
        category: String,
        excluded: Vec<DepartmentId>,
    },
}

impl fmt::Display for NoRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownCategory(c) => write!(f, "no rule for category {c}"),
            Self::NoTerritorialOffice(g) => {
                write!(
                    f,
                    "no territorial office for grid {g} and the rule names no lead"
                )
            }
            Self::NoneLeft { category, excluded } => {
                let excluded: Vec<&str> = excluded.iter().map(|d| d.as_str()).collect();
                write!(
                    f,
                    "no lead left for category {category}: {} returned it",
                    excluded.join(", ")
                )
            }
        }
    }
}

impl std::error::Error for NoRoute {}

/// One configuration problem: file, entry and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub entry: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.file.display(),
            self.entry,
            self.message
        )
    }
}

/// Every problem found while loading a configuration folder. The folder cannot be
/// used until all are fixed.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} configuration problem(s):", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

/// Collects the problems of one file.
pub(crate) struct Problems<'a> {
    file: &'a Path,
    list: &'a mut Vec<Problem>,
}

impl<'a> Problems<'a> {
    pub(crate) fn new(file: &'a Path, list: &'a mut Vec<Problem>) -> Self {
        Self { file, list }
    }

    pub(crate) fn add(&mut self, entry: impl Into<String>, message: impl Into<String>) {
        self.list.push(Problem {
            file: self.file.to_owned(),
            entry: entry.into(),
            message: message.into(),
        });
    }

    /// Problems so far, in every file: compare before and after to see if an entry
    /// added any.
    pub(crate) fn count(&self) -> usize {
        self.list.len()
    }
}

/// The loaded, validated district.
#[derive(Debug, Clone)]
pub struct District {
    pub dir: PathBuf,
    pub departments: BTreeMap<DepartmentId, Department>,
    pub grids: BTreeMap<GridCode, Grid>,
    /// Each category's rules, most specific first.
    pub rules: BTreeMap<Category, Vec<Rule>>,
    pub principals: HashMap<String, Principal>,
    pub calendar: Calendar,
    /// The escalation ladder, first level first.
    pub escalation: Vec<EscalationLevel>,
    pub policy: Policy,
    /// The monthly ranking (红黑榜) from `assessment.toml`.
    pub ranking: casegrid_contracts::ranking::RankingConfig,
    /// Grid boundaries from `[locate]` of grids.toml; empty when none are configured.
    pub boundaries: Boundaries,
    version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    department: Vec<Department>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridsFile {
    grid: Vec<Grid>,
    #[serde(default)]
    locate: Option<boundaries::LocateEntry>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    policy: PolicyEntry,
    rule: Vec<rule::RuleEntry>,
}

/// `[policy]` of rules.toml: the time limits of 12345 practice.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyEntry {
    #[serde(default = "default_return_within")]
    return_within: String,
    #[serde(default = "default_extension_cutoff")]
    extension_cutoff: String,
    #[serde(default = "default_days_30")]
    mediation_days: u32,
    #[serde(default = "default_days_30")]
    court_confirmation_days: u32,
    #[serde(default = "default_appeal_within")]
    appeal_within: String,
}

fn default_return_within() -> String {
    "1d".into()
}
fn default_extension_cutoff() -> String {
    "1d".into()
}
fn default_appeal_within() -> String {
    "3d".into()
}
fn default_days_30() -> u32 {
    30
}

impl Default for PolicyEntry {
    fn default() -> Self {
        Self {
            return_within: default_return_within(),
            extension_cutoff: default_extension_cutoff(),
            mediation_days: 30,
            court_confirmation_days: 30,
            appeal_within: default_appeal_within(),
        }
    }
}

/// The time limits of 12345 practice (DESIGN.md, "Case lifecycle"), from the
/// `[policy]` table of rules.toml. Working-time spans count working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// A return (退单) comes within this working time of the dispatch.
    pub return_within: Span,
    /// An extension is asked at least this working time before the handling deadline.
    pub extension_cutoff: Span,
    /// A mediation ends within this many calendar days unless both parties extend it.
    pub mediation_days: u32,
    /// 司法确认 is applied for jointly within this many calendar days of the agreement.
    pub court_confirmation_days: u32,
    /// 申诉: the lead appeals a callback within this working time of it.
    pub appeal_within: Span,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalsFile {
    principal: Vec<Principal>,
}

/// The files of a configuration folder, in the order the version hashes them.
pub const FILES: [&str; 6] = [
    "departments.toml",
    "grids.toml",
    "rules.toml",
    "calendar.toml",
    "escalation.toml",
    "principals.toml",
];

fn parse<T: serde::de::DeserializeOwned>(
    text: Option<&str>,
    problems: &mut Problems<'_>,
) -> Option<T> {
    let text = text?;
    match toml::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.add(
                e.span()
                    .map(|s| format!("line {}", text[..s.start].lines().count().max(1)))
                    .unwrap_or_else(|| "file".into()),
                e.message().trim(),
            );
            None
        }
    }
}

/// FNV-1a, 64 bits: stable across builds and platforms, which is all a version needs.
fn fnv1a64(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn whole_hours(d: Duration) -> u32 {
    u32::try_from((d.whole_minutes() + 59) / 60).unwrap_or(u32::MAX)
}

impl District {
    /// Loads and validates `dir`; the error lists every problem found.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let mut list = Vec::new();
        let paths = FILES.map(|f| dir.join(f));
        let mut version = FNV_OFFSET;
        let texts = paths.clone().map(|path| {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| {
                    Problems::new(&path, &mut list).add("file", format!("cannot read: {e}"))
                })
                .ok();
            // The name and a separator go in too, so moving text between files
            // changes the version.
            version = fnv1a64(
                version,
                path.file_name().unwrap_or_default().as_encoded_bytes(),
            );
            version = fnv1a64(version, &[0]);
            version = fnv1a64(version, text.as_deref().unwrap_or_default().as_bytes());
            version = fnv1a64(version, &[0]);
            text
        });
        let [departments_file, grids_file, rules_file, calendar_file, escalation_file, principals_file] =
            &paths;
        let [departments_text, grids_text, rules_text, calendar_text, escalation_text, principals_text] =
            &texts;

        let mut problems = Problems::new(departments_file, &mut list);
        let mut departments = BTreeMap::new();
        let entries: Option<DepartmentsFile> = parse(departments_text.as_deref(), &mut problems);
        for d in entries.map(|f| f.department).unwrap_or_default() {
            let entry = format!("department {}", d.id);
            if departments.insert(d.id.clone(), d).is_some() {
                problems.add(entry, "defined twice");
            }
        }

        let mut problems = Problems::new(grids_file, &mut list);
        let mut grids = BTreeMap::new();
        let entries: Option<GridsFile> = parse(grids_text.as_deref(), &mut problems);
        let (grid_entries, locate) = entries.map(|f| (f.grid, f.locate)).unwrap_or_default();
        for g in grid_entries {
            let entry = format!("grid {}", g.code);
            if let Some(office) = &g.office {
                if !departments.contains_key(office) {
                    problems.add(entry.as_str(), format!("unknown office {office}"));
                }
            }
            if grids.insert(g.code.clone(), g).is_some() {
                problems.add(entry, "defined twice");
            }
        }
        for code in grids.keys() {
            if let Some((parent, _)) = code.as_str().rsplit_once('.') {
                if !grids.keys().any(|k| k.as_str() == parent) {
                    problems.add(
                        format!("grid {code}"),
                        format!("its parent {parent} is not defined"),
                    );
                }
            }
        }

        let boundaries = match &locate {
            None => Boundaries::default(),
            Some(entry) => {
                let text = std::fs::read_to_string(dir.join(entry.file())).ok();
                // The boundaries decide grids, so they are part of the version too.
                version = fnv1a64(version, entry.file().as_bytes());
                version = fnv1a64(version, &[0]);
                version = fnv1a64(version, text.as_deref().unwrap_or_default().as_bytes());
                boundaries::load(entry, text.as_deref(), &grids, &mut problems)
            }
        };

        let mut problems = Problems::new(calendar_file, &mut list);
        let calendar = parse::<calendar::CalendarFile>(calendar_text.as_deref(), &mut problems)
            .and_then(|f| f.validate(&mut problems));

        let mut problems = Problems::new(rules_file, &mut list);
        let known = rule::Known {
            departments: &departments,
            grids: &grids,
            calendar: calendar.as_ref(),
        };
        let mut rules: BTreeMap<Category, Vec<Rule>> = BTreeMap::new();
        let mut ids = Vec::new();
        let entries: Option<RulesFile> = parse(rules_text.as_deref(), &mut problems);
        let (policy_entry, rule_entries) = entries.map(|f| (f.policy, f.rule)).unwrap_or_default();
        let mut span = |field: &str, text: &str| match Span::parse(text) {
            Ok(s) => s,
            Err(e) => {
                problems.add(format!("policy.{field}"), e);
                Span::default()
            }
        };
        let policy = Policy {
            return_within: span("return_within", &policy_entry.return_within),
            extension_cutoff: span("extension_cutoff", &policy_entry.extension_cutoff),
            mediation_days: policy_entry.mediation_days,
            court_confirmation_days: policy_entry.court_confirmation_days,
            appeal_within: span("appeal_within", &policy_entry.appeal_within),
        };
        for r in rule_entries {
            if ids.contains(&r.id) {
                problems.add(format!("rule {}", r.id), "defined twice");
            }
            ids.push(r.id.clone());
            let Some(r) = r.validate(&known, &mut problems) else {
                continue;
            };
            let same = rules.entry(r.category.clone()).or_default();
            if let Some(other) = same.iter().find(|o| o.overlaps(&r)) {
                problems.add(
                    format!("rule {}", r.id),
                    format!(
                        "overlapping rules with equal priority: {} and {} both match {}",
                        other.id,
                        r.id,
                        r.scope()
                    ),
                );
            }
            same.push(r);
        }
        for (category, same) in &mut rules {
            for r in same.iter() {
                if r.public && (r.grid_prefix.is_some() || r.urgency.is_some()) {
                    problems.add(
                        format!("rule {}", r.id),
                        "public = true belongs on the category's general rule (the one \
                         without grid_prefix and urgency): a category is published or not",
                    );
                }
            }
            if !same
                .iter()
                .any(|r| r.grid_prefix.is_none() && r.urgency.is_none())
            {
                problems.add(
                    format!("category {category}"),
                    "no rule without grid_prefix and urgency, so some cases of it could not be routed",
                );
            }
            same.sort_by(|a, b| {
                b.specificity()
                    .cmp(&a.specificity())
                    .then_with(|| a.id.cmp(&b.id))
            });
        }

        let mut problems = Problems::new(escalation_file, &mut list);
        let escalation =
            parse::<escalation::EscalationFile>(escalation_text.as_deref(), &mut problems)
                .map(|f| f.validate(&departments, &mut problems))
                .unwrap_or_default();

        let ranking = assessment::load(dir, &mut list);
        let mut problems = Problems::new(principals_file, &mut list);
        let mut principals = HashMap::new();
        let entries: Option<PrincipalsFile> = parse(principals_text.as_deref(), &mut problems);
        for p in entries.map(|f| f.principal).unwrap_or_default() {
            let entry = format!("principal {}", p.id);
            if p.token.len() < 8 {
                problems.add(entry.as_str(), "token shorter than 8 characters");
            }
            if p.kind == ActorKind::Department || p.kind == ActorKind::Street {
                let known = DepartmentId::parse(&p.id).is_ok_and(|d| departments.contains_key(&d));
                if !known {
                    problems.add(entry.as_str(), format!("unknown department {}", p.id));
                }
            }
            match (p.kind, p.scope.as_deref()) {
                (_, None | Some("city")) => {}
                (ActorKind::Supervisor | ActorKind::GridWorker, Some(code)) => {
                    if !grids.keys().any(|g| g.as_str() == code) {
                        problems.add(
                            entry.as_str(),
                            format!("scope {code} is no grid code of this district"),
                        );
                    }
                }
                (kind, Some(_)) => problems.add(
                    entry.as_str(),
                    format!(
                        "only supervisors and grid workers have a scope, not a {}",
                        kind.as_str()
                    ),
                ),
            }
            if principals.insert(p.token.clone(), p).is_some() {
                problems.add(entry, "token used twice");
            }
        }

        match calendar {
            Some(calendar) if list.is_empty() => Ok(District {
                dir: dir.to_owned(),
                departments,
                grids,
                rules,
                principals,
                calendar,
                escalation,
                policy,
                ranking,
                boundaries,
                version: format!("{version:016x}"),
            }),
            _ => Err(ConfigError(list)),
        }
    }

    /// The configuration version: FNV-1a 64 over the files of [`FILES`] in that
    /// order, as 16 hex digits. Events record it to say which configuration decided.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// A span of working time as a duration (a day = one day's working hours).
    pub fn working(&self, span: Span) -> Duration {
        span.with_day(self.calendar.working_day())
    }

    /// Until when the lead may return a case dispatched at `dispatched_at`.
    pub fn return_due(&self, dispatched_at: OffsetDateTime) -> OffsetDateTime {
        self.calendar
            .add_working(dispatched_at, self.working(self.policy.return_within))
            .to_offset(time::UtcOffset::UTC)
    }

    /// The last moment to ask for an extension of a handling deadline.
    pub fn extension_request_by(&self, handle_due: OffsetDateTime) -> OffsetDateTime {
        self.calendar
            .sub_working(handle_due, self.working(self.policy.extension_cutoff))
            .to_offset(time::UtcOffset::UTC)
    }

    /// Until when the lead may appeal a callback recorded at `callback_at` (申诉).
    pub fn appeal_by(&self, callback_at: OffsetDateTime) -> OffsetDateTime {
        self.calendar
            .add_working(callback_at, self.working(self.policy.appeal_within))
            .to_offset(time::UtcOffset::UTC)
    }

    /// When a mediation opened at `from` must end.
    pub fn mediation_due(&self, from: OffsetDateTime) -> OffsetDateTime {
        from + Duration::days(self.policy.mediation_days.into())
    }

    /// Until when 司法确认 may be applied for after an agreement at `from`.
    pub fn court_confirmation_due(&self, from: OffsetDateTime) -> OffsetDateTime {
        from + Duration::days(self.policy.court_confirmation_days.into())
    }

    /// The grid of a WGS 84 point (see [`Boundaries::locate`]).
    pub fn locate(&self, point: casegrid_domain::point::Wgs84) -> Result<Located, Unlocated> {
        self.boundaries.locate(point)
    }

    pub fn has_category(&self, category: &str) -> bool {
        self.rules.keys().any(|c| c.as_str() == category)
    }

    pub fn principal(&self, token: &str) -> Option<&Principal> {
        self.principals.get(token)
    }

    /// Whether `principals.toml` names a principal of `kind` with `id` (a mediator a
    /// mediation may be assigned to, for one).
    pub fn has_principal(&self, kind: ActorKind, id: &str) -> bool {
        self.principals
            .values()
            .any(|p| p.kind == kind && p.id == id)
    }

    /// Whether the district publishes the cases of `category` (Open311): its general
    /// rule says `public = true`. Unknown categories are not public.
    pub fn is_public(&self, category: &str) -> bool {
        self.rules
            .iter()
            .find(|(c, _)| c.as_str() == category)
            .is_some_and(|(_, rules)| rules.iter().any(|r| r.public))
    }

    /// The categories the district publishes, in order.
    pub fn public_categories(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(_, rules)| rules.iter().any(|r| r.public))
            .map(|(c, _)| c.as_str().to_owned())
            .collect()
    }

    /// How many rules there are (`rules` holds them by category).
    pub fn rule_count(&self) -> usize {
        self.rules.values().map(Vec::len).sum()
    }

    /// The rule with `id`.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.values().flatten().find(|r| r.id == id)
    }

    /// The territorial office of a grid: the nearest ancestor naming one.
    pub fn territorial_office(&self, grid: &GridCode) -> Option<&DepartmentId> {
        let ancestors: Vec<&str> = grid.ancestors().collect();
        ancestors.iter().rev().find_map(|code| {
            self.grids
                .iter()
                .find(|(k, _)| k.as_str() == *code)
                .and_then(|(_, g)| g.office.as_ref())
        })
    }

    /// [`District::route_for`] a case of normal urgency.
    pub fn route(
        &self,
        category: &Category,
        grid: Option<&GridCode>,
        exclude: &[DepartmentId],
    ) -> Result<Route, NoRoute> {
        self.route_for(category, grid, Urgency::Normal, exclude)
    }

    /// Where a case of `category` in `grid` at `urgency` goes, excluding `exclude`
    /// (departments that returned it).
    ///
    /// The leads are tried in order: each matching rule's, most specific first (a
    /// rule without a lead means the grid's territorial office), then the territorial
    /// office. The first not excluded leads, under the terms of the rule that chose it.
    pub fn route_for(
        &self,
        category: &Category,
        grid: Option<&GridCode>,
        urgency: Urgency,
        exclude: &[DepartmentId],
    ) -> Result<Route, NoRoute> {
        let matching: Vec<&Rule> = self
            .rules
            .get(category)
            .into_iter()
            .flatten()
            .filter(|r| r.matches(grid, urgency))
            .collect();
        let Some(&first) = matching.first() else {
            return Err(NoRoute::UnknownCategory(category.to_string()));
        };
        let territorial = grid.and_then(|g| self.territorial_office(g));
        let candidates = matching
            .iter()
            .map(|r| match &r.lead {
                Some(lead) => (Some(lead), *r, false),
                None => (territorial, *r, true),
            })
            .chain([(territorial, first, true)]);
        let mut any = false;
        for (lead, rule, by_territory) in candidates {
            let Some(lead) = lead else { continue };
            any = true;
            if exclude.contains(lead) {
                continue;
            }
            let terms = *rule.terms(urgency);
            return Ok(Route {
                lead: lead.clone(),
                assisting: rule
                    .assisting
                    .iter()
                    .filter(|d| *d != lead && !exclude.contains(d))
                    .cloned()
                    .collect(),
                sign_hours: whole_hours(terms.duration(terms.sign, &self.calendar)),
                handle_hours: whole_hours(terms.duration(terms.handle, &self.calendar)),
                rule: format!(
                    "rules.toml#{}{}",
                    rule.id,
                    if by_territory { "+territorial" } else { "" }
                ),
                rule_id: rule.id.clone(),
                urgency,
                terms,
            });
        }
        Err(if any {
            NoRoute::NoneLeft {
                category: category.to_string(),
                excluded: exclude.to_vec(),
            }
        } else {
            NoRoute::NoTerritorialOffice(grid.map_or_else(|| "(none)".into(), |g| g.to_string()))
        })
    }

    /// The deadlines of `route` for a case of `urgency` dispatched at `from`, under
    /// its rule's terms at that urgency and the district's calendar.
    pub fn deadlines(&self, route: &Route, urgency: Urgency, from: OffsetDateTime) -> Deadlines {
        self.rule(&route.rule_id)
            .map_or(&route.terms, |r| r.terms(urgency))
            .deadlines(&self.calendar, from)
    }

    /// The level after `current` (the first level for `None`); `None` at the top.
    pub fn next_escalation(&self, current: Option<&str>) -> Option<&EscalationLevel> {
        match current {
            None => self.escalation.first(),
            Some(id) => {
                let at = self.escalation.iter().position(|l| l.id == id)?;
                self.escalation.get(at + 1)
            }
        }
    }
}

#[cfg(test)]
mod tests;
