//! Events: the facts of a case, past tense. `Event` serializes as
//! `{"type": "CaseFiled", "data": {…}}`, the two members of the log envelope.

use crate::ids::{Category, DepartmentId, GridCode};
use crate::personal::Reporter;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The schema version written for new events; older ones are upcast on read.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    CaseFiled(CaseFiled),
    CaseDispatched(CaseDispatched),
    DispatchSigned(DispatchSigned),
    CaseReplied(CaseReplied),
    CallbackRecorded(CallbackRecorded),
    CaseClosed(CaseClosed),
    NoteAdded(NoteAdded),
    PersonalDataRevealed(PersonalDataRevealed),
    PersonalDataErased(PersonalDataErased),
}

/// A stored event whose type or data this version cannot read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read event {event_type} (schema {schema}): {source}")]
pub struct UnreadableEvent {
    pub event_type: String,
    pub schema: u32,
    #[source]
    pub source: serde_json::Error,
}

impl Event {
    /// The envelope's `type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::CaseFiled(_) => "CaseFiled",
            Self::CaseDispatched(_) => "CaseDispatched",
            Self::DispatchSigned(_) => "DispatchSigned",
            Self::CaseReplied(_) => "CaseReplied",
            Self::CallbackRecorded(_) => "CallbackRecorded",
            Self::CaseClosed(_) => "CaseClosed",
            Self::NoteAdded(_) => "NoteAdded",
            Self::PersonalDataRevealed(_) => "PersonalDataRevealed",
            Self::PersonalDataErased(_) => "PersonalDataErased",
        }
    }

    /// The envelope's `data`.
    pub fn data(&self) -> serde_json::Value {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(mut m)) => {
                m.remove("data").unwrap_or(serde_json::Value::Null)
            }
            _ => unreachable!("events serialize as adjacently tagged objects"),
        }
    }

    /// Reads an event back from the envelope's `type`, `schema` and `data`.
    pub fn from_parts(
        event_type: &str,
        schema: u32,
        data: &serde_json::Value,
    ) -> Result<Self, UnreadableEvent> {
        let tagged = serde_json::json!({ "type": event_type, "data": data });
        serde_json::from_value(tagged).map_err(|source| UnreadableEvent {
            event_type: event_type.to_owned(),
            schema,
            source,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Hotline,
    SuggestionBox,
    GridPatrol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    Inquiry,
    Help,
    Complaint,
    Report,
    Suggestion,
    Dispute,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    #[default]
    Normal,
    Urgent,
    Critical,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridCode>,
}

/// 受理.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFiled {
    pub channel: Channel,
    pub kind: CaseKind,
    pub category: Category,
    pub urgency: Urgency,
    pub title: String,
    pub description: String,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<Reporter>,
    /// Channel details: call id, patroller, attachment references.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub source: serde_json::Map<String, serde_json::Value>,
}

/// 派单.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseDispatched {
    pub lead: DepartmentId,
    #[serde(default)]
    pub assisting: Vec<DepartmentId>,
    #[serde(with = "time::serde::rfc3339")]
    pub sign_due: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub handle_due: OffsetDateTime,
    /// The routing rule that chose the departments, or `manual`.
    pub rule: String,
}

/// 签收.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchSigned {
    pub department: DepartmentId,
    /// Signed before the sign deadline (counts for 响应率).
    pub on_time: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyResult {
    Resolved,
    Explained,
    Unresolvable,
}

/// 办结答复.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReplied {
    pub department: DepartmentId,
    pub result: ReplyResult,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

/// 回访评价. A satisfied callback closes the case in the same event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecorded {
    pub satisfaction: Satisfaction,
    pub resolved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub closed: bool,
}

/// 结案.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseClosed {
    pub reason: String,
}

/// 备注.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteAdded {
    pub text: String,
}

/// 查看个人信息: who saw which personal fields, and why (the actor is in the envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataRevealed {
    pub fields: Vec<String>,
    pub reason: String,
}

/// 个人信息删除: the case's data key is deleted; its personal fields read as erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    pub reason: String,
}
