//! The NATS contracts between casegrid's services: subjects, request and answer
//! bodies, and the problem type every refusal travels as.
//!
//! - [`subjects`]: every request subject and the service that owns it.
//! - [`FileRequest`], [`ActRequest`], [`CommandReply`]: commands through intake and routing.
//! - [`CaseQuery`], [`InboxQuery`]: queries answered by projection.
//! - [`query`]: case lists, overdue lists and figures (projection); a case as of a
//!   past instant (intake).
//! - [`Answer`] and [`Problem`]: `{"ok": …}` or `{"problem": …}` on every reply.
//! - [`actions`]: which service owns an API action, and parsing its body into a command.
//! - [`filing`]: the body of `POST /api/v1/cases`.
//!
//! The API bodies and views derive `schemars::JsonSchema`: the gateway's OpenAPI
//! document is generated from these types.

pub mod actions;
pub mod filing;
pub mod kb;
pub mod problem;
pub mod query;
pub mod ranking;
pub mod similar;
pub mod views;

pub use problem::Problem;

use casegrid_domain::{Actor, CaseId, Status};
use serde::{Deserialize, Serialize};

pub mod subjects {
    //! Request subjects; services answer them in the queue group of their service.
    pub const INTAKE_FILE: &str = "casegrid.intake.file";
    pub const INTAKE_ACT: &str = "casegrid.intake.act";
    pub const ROUTING_ACT: &str = "casegrid.routing.act";
    /// A case's envelopes exactly as stored, answered by intake.
    pub const INTAKE_LOG: &str = "casegrid.intake.log";
    /// The server's own check of one case's hash chain, answered by intake.
    pub const INTAKE_AUDIT: &str = "casegrid.intake.audit";
    pub const PROJECTION_CASE: &str = "casegrid.projection.case";
    pub const PROJECTION_TIMELINE: &str = "casegrid.projection.timeline";
    pub const PROJECTION_INBOX: &str = "casegrid.projection.inbox";
    /// Answered with the projection's checkpoint (last applied stream sequence).
    pub const PROJECTION_CHECKPOINT: &str = "casegrid.projection.checkpoint";
    /// Answered with the number of cases in each status (`{"received": 3, …}`).
    pub const PROJECTION_COUNTS: &str = "casegrid.projection.counts";
    /// [`crate::query::ListQuery`] → [`crate::query::CasePage`].
    pub const PROJECTION_LIST: &str = "casegrid.projection.list";
    /// [`crate::query::OverdueQuery`] → [`crate::query::CasePage`].
    pub const PROJECTION_OVERDUE: &str = "casegrid.projection.overdue";
    /// [`crate::query::StatsQuery`] → [`crate::query::StatsView`].
    pub const PROJECTION_STATS: &str = "casegrid.projection.stats";
    /// `{}` → [`crate::views::QuarantineView`]: the stored messages the projection did
    /// not apply (unreadable, chain breaks, version gaps or duplicates, newer versions).
    pub const PROJECTION_QUARANTINE: &str = "casegrid.projection.quarantine";
    /// `PublicQuery` → `PublicPage`: the Open311 list, cases and public notes in one.
    pub const PROJECTION_PUBLIC: &str = "casegrid.projection.public";
    /// [`crate::query::AsOfQuery`] → [`crate::query::AsOfView`], folded from the log
    /// by intake.
    pub const INTAKE_AS_OF: &str = "casegrid.intake.as_of";
    /// [`crate::similar::SimilarQuery`] → [`crate::similar::SimilarView`]: duplicate
    /// candidates of a case or of a draft.
    pub const PROJECTION_SIMILAR: &str = "casegrid.projection.similar";
    /// [`crate::kb::KbRequest`] → [`crate::kb::KbReply`]: create or edit a
    /// knowledge-base entry, decided by intake.
    pub const INTAKE_KB: &str = "casegrid.intake.kb";
    /// [`crate::kb::KbSearchQuery`] → [`crate::kb::KbPage`].
    pub const PROJECTION_KB_SEARCH: &str = "casegrid.projection.kb_search";
    /// [`crate::kb::KbEntryQuery`] → [`crate::kb::KbEntryView`].
    pub const PROJECTION_KB_ENTRY: &str = "casegrid.projection.kb_entry";
    /// [`crate::kb::KbEntryQuery`] → [`crate::kb::KbHistoryView`].
    pub const PROJECTION_KB_HISTORY: &str = "casegrid.projection.kb_history";
    /// [`crate::kb::KbExpiredQuery`] → [`crate::kb::KbPage`].
    pub const PROJECTION_KB_EXPIRED: &str = "casegrid.projection.kb_expired";
}

/// Service names as registered with the NATS service API (`$SRV.PING` lists them).
pub mod services {
    pub const INTAKE: &str = "casegrid-intake";
    pub const ROUTING: &str = "casegrid-routing";
    pub const PROJECTION: &str = "casegrid-projection";
    pub const VERSION: &str = env!("CARGO_PKG_VERSION");
}

/// File a case (`POST /cases`): the body is the API's JSON, parsed by intake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRequest {
    pub actor: Actor,
    /// `Idempotency-Key`; absent, the gateway makes one up (the filing is not retriable).
    /// The case id is a UUIDv5 of (actor id, key); the command id is the key in the
    /// actor's namespace (`http:<kind>:<id>:<key>`), made by intake.
    pub idempotency_key: String,
    pub correlation_id: String,
    pub body: serde_json::Value,
}

/// Act on a case (`POST /cases/{id}/actions/{action}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActRequest {
    pub case_id: CaseId,
    pub action: String,
    pub actor: Actor,
    /// The client's `Idempotency-Key`, or one made up by the gateway. The deciding
    /// service stores it in the actor's namespace (`http:<kind>:<id>:<key>`), so it can
    /// never name another principal's command nor a system one.
    pub command_id: String,
    pub correlation_id: String,
    /// `If-Match`: the version the client last saw.
    #[serde(default)]
    pub if_match: Option<u64>,
    pub body: serde_json::Value,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    pub id: CaseId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    pub version: u64,
    pub status: Status,
    /// True when this request created the case (answer 201), false when repeated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
    /// `reveal` only: the clear personal fields (`{"reporter.phone": "138…"}`), each
    /// `[erased]` when the case's key is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealed: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Read one case (`GET /cases/{id}`, `/timeline`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseQuery {
    pub case_id: CaseId,
}

/// A department's inbox: cases dispatched to it and not yet replied or closed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxQuery {
    pub department: String,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Every reply on a request subject: `{"ok": …}` or `{"problem": …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer<T> {
    Ok(T),
    Problem(Problem),
}

impl<T> From<Result<T, Problem>> for Answer<T> {
    fn from(r: Result<T, Problem>) -> Self {
        match r {
            Ok(v) => Answer::Ok(v),
            Err(p) => Answer::Problem(p),
        }
    }
}

impl<T> Answer<T> {
    pub fn into_result(self) -> Result<T, Problem> {
        match self {
            Answer::Ok(v) => Ok(v),
            Answer::Problem(p) => Err(p),
        }
    }
}
