//! Who acts on a case.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of principal; the domain's permission rules are written against it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// 话务员: files cases from calls, calls citizens back.
    Operator,
    /// 网格员: files cases found on patrol.
    GridWorker,
    /// 职能部门: signs, handles and replies to cases dispatched to it.
    Department,
    /// 街乡: the territorial street office; blows the whistle.
    Street,
    /// 人民调解员.
    Mediator,
    /// 督办 / 考核.
    Supervisor,
    /// A citizen through a public channel (suggestion box, Open311).
    Public,
    /// casegrid itself (routing's automatic dispatch, timers).
    System,
}

impl ActorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::GridWorker => "grid_worker",
            Self::Department => "department",
            Self::Street => "street",
            Self::Mediator => "mediator",
            Self::Supervisor => "supervisor",
            Self::Public => "public",
            Self::System => "system",
        }
    }
}

/// An actor as recorded in every event envelope: `{"kind": "department", "id": "dept.housing"}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    /// The routing service acting on its own.
    pub fn routing() -> Self {
        Self::new(ActorKind::System, "routing")
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ActorKind::Department | ActorKind::Street | ActorKind::System => f.write_str(&self.id),
            kind => write!(f, "{} {}", kind.as_str().replace('_', " "), self.id),
        }
    }
}
