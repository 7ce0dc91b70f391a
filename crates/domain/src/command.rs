//! Commands: what an actor asks of a case. Each decides into exactly one event
//! or a typed rejection ([`crate::Case::decide`]).
//!
//! Numbers that live in configuration (return window, extension cutoff, report-in
//! deadline, mediation length, court-confirmation window) never appear here as
//! constants: the service computes the instants from configuration and the working
//! calendar and puts them into the command (`return_due`, `request_by`, `report_due`,
//! `mediation_due`, `court_confirmation_due`), or an earlier event carries them.
//! Commands that hold only what an actor typed derive `Deserialize` and are API bodies.

use crate::event::{
    CaseKind, Channel, Deadline, DeclineReason, EscalationLevel, Location, Party, ReferralTarget,
    ReplyResult, Satisfaction, Urgency,
};
use crate::ids::{CaseId, Category, DepartmentId};
use crate::personal::Reporter;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

// The filing is the one big variant and comes once per case; boxing it would only
// complicate every constructor and match in the services.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    FileCase(FileCase),
    ReplyAtIntake(ReplyAtIntake),
    Decline(Decline),
    Dispatch(Dispatch),
    Sign,
    Return(Return),
    RequestExtension(RequestExtension),
    DecideExtension(DecideExtension),
    RecordProgress(RecordProgress),
    RequestSuspension(Reason),
    Suspend(Suspend),
    Resume(Resume),
    Reply(Reply),
    BlowWhistle(BlowWhistle),
    ReportIn,
    RateReportIn(RateReportIn),
    MarkDeadlineMissed(MarkDeadlineMissed),
    Escalate(Escalate),
    Supervise(Supervise),
    RecordCallback(RecordCallback),
    Reopen(Reason),
    Close(Close),
    OpenMediation(OpenMediation),
    RecordMediationSession(RecordMediationSession),
    RecordAgreement(RecordAgreement),
    RecordMediationFailure(Reason),
    Refer(Refer),
    Merge(Merge),
    Annotate(Annotate),
    AddAttachment(AddAttachment),
    Withdraw(Reason),
    RevealPersonalData(Reason),
    RequestErasure(Reason),
    ErasePersonalData(Reason),
    AppealRating(AppealRating),
    DecideAppeal(DecideAppeal),
}

impl Command {
    /// The verb in rejections ("… cannot {action} case …"); for most commands
    /// also the API action name (`/actions/{action}`).
    pub fn action(&self) -> &'static str {
        match self {
            Self::FileCase(_) => "file",
            Self::ReplyAtIntake(_) => "reply at intake to",
            Self::Decline(_) => "decline",
            Self::Dispatch(_) => "dispatch",
            Self::Sign => "sign",
            Self::Return(_) => "return",
            Self::RequestExtension(_) => "request an extension of",
            Self::DecideExtension(_) => "decide an extension of",
            Self::RecordProgress(_) => "record progress on",
            Self::RequestSuspension(_) => "request suspension of",
            Self::Suspend(_) => "suspend",
            Self::Resume(_) => "resume",
            Self::Reply(_) => "reply",
            Self::BlowWhistle(_) => "blow the whistle on",
            Self::ReportIn => "report in on",
            Self::RateReportIn(_) => "rate report-ins on",
            Self::MarkDeadlineMissed(_) => "mark a missed deadline on",
            Self::Escalate(_) => "escalate",
            Self::Supervise(_) => "supervise",
            Self::RecordCallback(_) => "callback",
            Self::Reopen(_) => "reopen",
            Self::Close(_) => "close",
            Self::OpenMediation(_) => "open mediation on",
            Self::RecordMediationSession(_) => "record a mediation session on",
            Self::RecordAgreement(_) => "record an agreement on",
            Self::RecordMediationFailure(_) => "record a mediation failure on",
            Self::Refer(_) => "refer",
            Self::Merge(_) => "merge",
            Self::Annotate(_) => "annotate",
            Self::AddAttachment(_) => "add an attachment to",
            Self::Withdraw(_) => "withdraw",
            Self::RevealPersonalData(_) => "reveal personal data of",
            Self::RequestErasure(_) => "request erasure of personal data of",
            Self::ErasePersonalData(_) => "erase personal data of",
            Self::AppealRating(_) => "appeal the callback of",
            Self::DecideAppeal(_) => "decide the appeal on",
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
    /// How the caller found `location.grid` (given, from coordinates, nearest).
    pub grid_found: Option<crate::point::GridFound>,
    /// Personal data the caller found in `description` (already masked there), sealed.
    pub personal: Vec<crate::personal::Spotted>,
}

/// 直接答复.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyAtIntake {
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub text: String,
    /// The knowledge-base entry the answer comes from (the service checks it exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kb_entry: Option<crate::kb::KbEntryId>,
    /// Personal data the service found in the texts (already masked there), sealed;
    /// never from a request body.
    #[serde(skip)]
    pub personal: Vec<crate::personal::Spotted>,
}

/// 不予受理: `text` is required when `reason` is `other`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(transform = crate::schema::decline_rule))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    pub reason: DeclineReason,
    #[serde(default)]
    pub text: String,
}

/// 派单 (also re-dispatch after a return or a reopen). Deadlines come from routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub lead: DepartmentId,
    pub assisting: Vec<DepartmentId>,
    pub sign_due: OffsetDateTime,
    pub handle_due: OffsetDateTime,
    pub rule: String,
    /// End of the return window; `None` leaves returns open until the reply.
    pub return_due: Option<OffsetDateTime>,
}

/// 退单: only the lead, within the return window, naming who should own the case.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Return {
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub reason: String,
    pub suggested_owner: DepartmentId,
}

/// 延期申请. `request_by` is the latest instant a request is accepted: the current
/// handling deadline less the configured cutoff in working time (service-computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestExtension {
    pub reason: String,
    pub handle_due: OffsetDateTime,
    pub request_by: OffsetDateTime,
}

/// 延期审批: `handle_due` may grant another date than the one asked for.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideExtension {
    pub granted: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>", extend("format" = "date-time")))]
    pub handle_due: Option<OffsetDateTime>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// 办理进展.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordProgress {
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub text: String,
    /// Personal data the service found in the texts (already masked there), sealed;
    /// never from a request body.
    #[serde(skip)]
    pub personal: Vec<crate::personal::Spotted>,
}

/// 中止, by a supervisor: approving the lead department's pending request
/// (`RequestSuspension`; `reason` may then be empty: the request's reason stands) or
/// suspending directly (a reason is required). The approval is the supervisor's own
/// command: nobody names an approver in a body.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    #[serde(default)]
    pub reason: String,
}

/// 恢复: `handle_due` is the remaining working time at suspension counted from now,
/// computed by routing; it may not be earlier than the deadline before suspension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub handle_due: OffsetDateTime,
}

/// 办结答复. `summary_for_citizen` defaults to `text`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub result: ReplyResult,
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub text: String,
    #[serde(default)]
    pub summary_for_citizen: Option<String>,
    /// Personal data the service found in the texts (already masked there), sealed;
    /// never from a request body.
    #[serde(skip)]
    pub personal: Vec<crate::personal::Spotted>,
}

/// 吹哨. `report_due` comes from configuration (minutes to hours after now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlowWhistle {
    pub departments: Vec<DepartmentId>,
    pub report_due: OffsetDateTime,
    pub reason: String,
}

/// 评价 of report-ins, one rating per summoned department.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateReportIn {
    #[serde(deserialize_with = "crate::object::objects")]
    pub ratings: Vec<Rating>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub department: DepartmentId,
    /// 1 to 5.
    #[cfg_attr(feature = "schema", schemars(range(min = 1, max = 5)))]
    pub score: u8,
    #[serde(default)]
    pub comment: Option<String>,
}

/// 超期, from routing's timers.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkDeadlineMissed {
    pub deadline: Deadline,
    pub department: DepartmentId,
}

/// 升级.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalate {
    pub level: EscalationLevel,
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub reason: String,
    /// The configured ladder's level (routing fills it in; never from a request body).
    #[serde(default, skip_deserializing)]
    pub level_id: Option<String>,
    /// The configured level's rank (1 = first); absent: the rank of `level`.
    #[serde(default, skip_deserializing)]
    pub rank: Option<u32>,
}

/// 督办.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supervise {
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub text: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>", extend("format" = "date-time")))]
    pub respond_by: Option<OffsetDateTime>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCallback {
    pub satisfaction: Satisfaction,
    pub resolved: bool,
    #[serde(default)]
    pub comment: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Close {
    #[serde(default)]
    pub reason: Option<String>,
}

/// 调解: parties' personal fields already sealed; `mediation_due` from configuration.
/// `mediator` assigns the mediation (a mediator principal the service has checked);
/// absent, the mediator who opens it runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMediation {
    pub parties: Vec<Party>,
    pub mediation_due: OffsetDateTime,
    pub mediator: Option<String>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMediationSession {
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub summary: String,
}

/// 调解协议. `court_confirmation_due` is the agreement time plus the configured
/// court-confirmation window (service-computed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAgreement {
    pub terms: String,
    pub court_confirmation: bool,
    pub court_confirmation_due: OffsetDateTime,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refer {
    pub to: ReferralTarget,
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub institution: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    pub into: CaseId,
}

/// 备注: a note on the case; any staff member, in any state.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annotate {
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub text: String,
    /// Personal data the service found in `text` (already masked there), sealed; never
    /// from a request body.
    #[serde(skip)]
    pub personal: Vec<crate::personal::Spotted>,
}

/// 附件: a file already stored in the attachment bucket under `name`, recorded on
/// the case with its SHA-256 (lower-case hex), sniffed media type and size.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddAttachment {
    pub name: String,
    pub sha256: String,
    pub media_type: String,
    pub size: u64,
    #[serde(default)]
    pub personal: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A command whose only content is why it is done (reopen, withdraw, reveal, erase, …).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub reason: String,
}

/// 申诉. `appeal_by` is the end of the appeal window: the configured working days
/// after the callback, computed by the service from the calendar; `None` when the
/// callback carries no instant to count from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppealRating {
    pub reason: String,
    pub appeal_by: Option<OffsetDateTime>,
}

/// 甄别: a supervisor accepts or rejects the pending appeal, with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DecideAppeal {
    pub accepted: bool,
    #[cfg_attr(feature = "schema", schemars(regex(pattern = crate::schema::NOT_BLANK)))]
    pub reason: String,
}
