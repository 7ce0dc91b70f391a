//! Read-model views as projection answers them and the gateway serves them.
//! Personal data appears masked only.

use casegrid_domain::{Actor, CaseId, Status};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /cases/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CaseView {
    pub id: CaseId,
    pub number: String,
    pub status: Status,
    pub version: u64,
    pub channel: String,
    pub kind: String,
    pub category: String,
    pub urgency: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub grid: Option<String>,
    /// Masked (`王**`); `[erased]` once the case's data key is erased.
    #[serde(default)]
    pub reporter_name: Option<String>,
    /// Masked (`138****1234`).
    #[serde(default)]
    pub reporter_phone: Option<String>,
    #[serde(default)]
    pub lead: Option<String>,
    #[serde(default)]
    pub assisting: Vec<String>,
    /// Departments that have signed.
    #[serde(default)]
    pub signed: Vec<String>,
    /// Departments summoned by a whistle (吹哨报到), each until it reports in or after.
    #[serde(default)]
    pub summoned: Vec<String>,
    /// Streets that blew the whistle on the case.
    #[serde(default)]
    pub whistled_by: Vec<String>,
    /// Escalation level (`street`, `department`, `leadership`), if escalated.
    #[serde(default)]
    pub level: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    #[schemars(extend("format" = "date-time"))]
    pub sign_due: Option<String>,
    #[serde(default)]
    #[schemars(extend("format" = "date-time"))]
    pub handle_due: Option<String>,
    /// The routing rule that dispatched the case.
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub reply_result: Option<String>,
    #[serde(default)]
    pub satisfaction: Option<String>,
    #[schemars(extend("format" = "date-time"))]
    pub filed_at: String,
    #[schemars(extend("format" = "date-time"))]
    pub updated_at: String,
    /// The principal (id) that filed the case.
    #[serde(default)]
    pub filed_by: Option<String>,
    /// The mediator the case's mediation is assigned to.
    #[serde(default)]
    pub mediator: Option<String>,
    /// The deadlines whose clock runs (`Case::running_deadlines`): none while the case
    /// is suspended, in mediation, replied or final.
    #[serde(default)]
    pub deadlines: Vec<DeadlineView>,
}

/// A running deadline: `unit` must `sign`, `handle` or `report` (in) by `due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DeadlineView {
    pub kind: String,
    pub unit: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub due: String,
    /// Already marked missed (超期).
    pub missed: bool,
}

impl DeadlineView {
    /// The running deadlines of a case, from the domain.
    pub fn of(case: &casegrid_domain::Case) -> Vec<Self> {
        case.running_deadlines()
            .into_iter()
            .map(|(d, missed)| Self {
                kind: serde_json::to_value(d.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                unit: d.unit.to_string(),
                due: d
                    .due
                    .format(&casegrid_domain::time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                missed,
            })
            .collect()
    }
}

impl CaseView {
    /// Units the case concerns: dispatched to (lead, assisting), summoned by a whistle,
    /// or the street that blew it. These may read and act on it.
    pub fn departments(&self) -> impl Iterator<Item = &str> {
        self.lead
            .iter()
            .map(String::as_str)
            .chain(self.assisting.iter().map(String::as_str))
            .chain(self.summoned.iter().map(String::as_str))
            .chain(self.whistled_by.iter().map(String::as_str))
    }
}

/// One line of `GET /cases/{id}/timeline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TimelineEntry {
    pub version: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    #[schemars(extend("format" = "date-time"))]
    pub occurred_at: String,
    pub actor: Actor,
    /// The actor's display name where known (`区城管执法局`), else the id.
    pub actor_name: String,
    /// One line a supervisor understands: `派单 dispatched to dept.urban (lead) by rules.toml#noise`.
    pub summary: String,
    /// The event's data with personal fields masked.
    pub data: serde_json::Value,
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub prev_hash: String,
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TimelineView {
    pub case_id: CaseId,
    pub number: String,
    pub events: Vec<TimelineEntry>,
}

/// One case in a department's inbox (`GET /inbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InboxItem {
    pub id: CaseId,
    pub number: String,
    pub title: String,
    pub category: String,
    pub urgency: String,
    pub status: Status,
    /// `lead` or `assisting`.
    pub role: String,
    pub signed: bool,
    #[serde(default)]
    #[schemars(extend("format" = "date-time"))]
    pub sign_due: Option<String>,
    #[serde(default)]
    #[schemars(extend("format" = "date-time"))]
    pub handle_due: Option<String>,
    pub version: u64,
    /// This unit's own running deadline (to sign, handle, or report in), the inbox's
    /// countdown; absent while the case's clock is stopped.
    #[serde(default)]
    #[schemars(extend("format" = "date-time"))]
    pub due: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct InboxView {
    pub department: String,
    pub items: Vec<InboxItem>,
}

/// One stored message that is not applied: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct QuarantinedMessage {
    /// Stream sequence.
    pub seq: u64,
    pub subject: String,
    pub case_id: Option<String>,
    pub version: Option<u64>,
    /// `newer_version`, `unreadable`, `chain_break`, `version_gap` or `duplicate_version`.
    pub reason: String,
    pub detail: String,
    /// The first bytes of the payload.
    pub head: String,
}

/// The quarantine: how many messages per reason, and the messages (oldest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct QuarantineView {
    pub counts: std::collections::BTreeMap<String, u64>,
    pub items: Vec<QuarantinedMessage>,
}
