//! The escalation ladder (`escalation.toml`): 村居主战 → 镇街会战 → 部门助战 → 领导征战.
//! A missed deadline moves a case one level up; each level says who is notified and
//! how long it has before the case moves on.

use crate::span::Span;
use crate::{Department, Problems};
use casegrid_domain::DepartmentId;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Whom a level notifies: a role resolved against the case, or a fixed department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notify {
    Role(Role),
    Department(DepartmentId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The grid worker of the case's grid (网格员).
    GridWorker,
    /// The community or village committee of the case's grid (村居委会).
    Community,
    /// The street office or township of the case's grid (属地).
    TerritorialOffice,
    /// The lead department of the dispatch (主办).
    Lead,
    /// The assisting departments of the dispatch (协办).
    Assisting,
    /// The 12345 supervision desk (督办).
    Supervisor,
    /// The district's leaders on duty (区领导).
    DistrictLeader,
}

const ROLES: [(&str, Role); 7] = [
    ("grid_worker", Role::GridWorker),
    ("community", Role::Community),
    ("territorial_office", Role::TerritorialOffice),
    ("lead", Role::Lead),
    ("assisting", Role::Assisting),
    ("supervisor", Role::Supervisor),
    ("district_leader", Role::DistrictLeader),
];

impl Role {
    /// The role named `name` as the configuration writes it (`grid_worker`, …).
    pub fn named(name: &str) -> Option<Self> {
        ROLES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
    }

    /// The name the configuration writes for this role.
    pub fn name(self) -> &'static str {
        ROLES
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(n, _)| *n)
            .expect("every role is named")
    }

    /// Every role name, for messages.
    pub fn names() -> String {
        ROLES.map(|(name, _)| name).join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationLevel {
    pub id: String,
    pub name: String,
    /// 1 for the first level, counting up.
    pub rank: usize,
    pub notify: Vec<Notify>,
    /// Working time this level has before the case moves up; absent on the last.
    pub respond: Option<Span>,
}

impl crate::District {
    /// The configured level a case at `rank` climbs to next; `None` at the top. (A
    /// case starts at the first level, rank 1; routing escalates it from there.) By rank, so a case escalated under an
    /// older ladder, or before levels had ids, still climbs one level at a time.
    pub fn escalation_above(&self, rank: u32) -> Option<&EscalationLevel> {
        self.escalation.iter().find(|l| l.rank as u32 > rank)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EscalationFile {
    level: Vec<LevelEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LevelEntry {
    id: String,
    name: String,
    notify: Vec<String>,
    #[serde(default)]
    respond: Option<String>,
}

impl EscalationFile {
    pub(crate) fn validate(
        self,
        departments: &BTreeMap<DepartmentId, Department>,
        problems: &mut Problems<'_>,
    ) -> Vec<EscalationLevel> {
        let mut levels: Vec<EscalationLevel> = Vec::new();
        if self.level.is_empty() {
            problems.add("level", "no escalation levels");
        }
        for (i, l) in self.level.into_iter().enumerate() {
            let entry = format!("level {}", l.id);
            if levels.iter().any(|o| o.id == l.id) {
                problems.add(entry.as_str(), "defined twice");
            }
            if l.notify.is_empty() {
                problems.add(entry.as_str(), "notifies nobody");
            }
            let mut notify = Vec::new();
            for n in &l.notify {
                if let Some((_, role)) = ROLES.iter().find(|(name, _)| name == n) {
                    notify.push(Notify::Role(*role));
                    continue;
                }
                match DepartmentId::parse(n) {
                    Ok(d) if departments.contains_key(&d) => notify.push(Notify::Department(d)),
                    _ => problems.add(
                        entry.as_str(),
                        format!(
                            "unknown notify target {n:?} (a department id or one of {})",
                            ROLES.map(|(name, _)| name).join(", ")
                        ),
                    ),
                }
            }
            let respond = l.respond.as_deref().and_then(|s| {
                Span::parse(s)
                    .map_err(|m| problems.add(entry.as_str(), format!("respond: {m}")))
                    .ok()
            });
            levels.push(EscalationLevel {
                id: l.id,
                name: l.name,
                rank: i + 1,
                notify,
                respond,
            });
        }
        levels
    }
}
