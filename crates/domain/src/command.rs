//! Commands: what an actor asks of a case. Each decides into exactly one event
//! or a typed rejection ([`crate::Case::decide`]).

use crate::event::{CaseKind, Channel, Location, ReplyResult, Satisfaction, Urgency};
use crate::ids::{Category, DepartmentId};
use crate::personal::Reporter;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    FileCase(FileCase),
    Dispatch(Dispatch),
    Sign,
    Reply(Reply),
    RecordCallback(RecordCallback),
    Close(Close),
    Annotate(Annotate),
    RevealPersonalData(Reason),
    ErasePersonalData(Reason),
}

impl Command {
    /// The action name used in the API (`/actions/{action}`) and in rejections.
    pub fn action(&self) -> &'static str {
        match self {
            Self::FileCase(_) => "file",
            Self::Dispatch(_) => "dispatch",
            Self::Sign => "sign",
            Self::Reply(_) => "reply",
            Self::RecordCallback(_) => "callback",
            Self::Close(_) => "close",
            Self::Annotate(_) => "annotate",
            Self::RevealPersonalData(_) => "reveal personal data of",
            Self::ErasePersonalData(_) => "erase personal data of",
        }
    }
}

/// 受理: the personal data in `reporter` is already sealed by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCase {
    pub channel: Channel,
    pub kind: CaseKind,
    pub category: Category,
    pub urgency: Urgency,
    pub title: String,
    pub description: String,
    pub location: Location,
    pub reporter: Option<Reporter>,
    pub source: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub lead: DepartmentId,
    pub assisting: Vec<DepartmentId>,
    pub sign_due: OffsetDateTime,
    pub handle_due: OffsetDateTime,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub result: ReplyResult,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCallback {
    pub satisfaction: Satisfaction,
    pub resolved: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Close {
    #[serde(default)]
    pub reason: Option<String>,
}

/// 备注: a note on the case; any staff member, in any state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annotate {
    pub text: String,
}

/// A command whose only content is why it is done (reveal, erase, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}
