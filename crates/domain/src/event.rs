//! Events: the facts of a case, past tense. `Event` serializes as
//! `{"type": "CaseFiled", "data": {…}}`, the two members of the log envelope.

use crate::actor::Actor;
use crate::ids::CaseId;
use crate::ids::{Category, DepartmentId, GridCode};
use crate::personal::{Reporter, Sealed};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The schema written for new events of `event_type`: 1 for every type except those
/// listed here, whose older data [`Event::from_parts`] upcasts on read.
///
/// | type | schema | change |
/// | --- | --- | --- |
/// | `CaseReplied` | 2 | adds the required `summary_for_citizen` (schema 1 read it as `text`) |
pub fn schema_of(event_type: &str) -> u32 {
    match event_type {
        "CaseReplied" => 2,
        _ => 1,
    }
}

// The filing is the one big variant and comes once per case; boxing it would only
// complicate every constructor and match in the services.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    CaseFiled(CaseFiled),
    RepliedAtIntake(RepliedAtIntake),
    CaseDeclined(CaseDeclined),
    CaseDispatched(CaseDispatched),
    DispatchSigned(DispatchSigned),
    DispatchReturned(DispatchReturned),
    ExtensionRequested(ExtensionRequested),
    ExtensionDecided(ExtensionDecided),
    ProgressRecorded(ProgressRecorded),
    SuspensionRequested(SuspensionRequested),
    CaseSuspended(CaseSuspended),
    CaseResumed(CaseResumed),
    CaseReplied(CaseReplied),
    WhistleBlown(WhistleBlown),
    ReportedIn(ReportedIn),
    ReportInRated(ReportInRated),
    DeadlineMissed(DeadlineMissed),
    CaseEscalated(CaseEscalated),
    SupervisionIssued(SupervisionIssued),
    CallbackRecorded(CallbackRecorded),
    CaseReopened(CaseReopened),
    CaseClosed(CaseClosed),
    MediationOpened(MediationOpened),
    MediationSessionHeld(MediationSessionHeld),
    AgreementReached(AgreementReached),
    MediationFailed(MediationFailed),
    CaseReferred(CaseReferred),
    CaseMerged(CaseMerged),
    NoteAdded(NoteAdded),
    AttachmentAdded(AttachmentAdded),
    CaseWithdrawn(CaseWithdrawn),
    PersonalDataRevealed(PersonalDataRevealed),
    ErasureRequested(ErasureRequested),
    PersonalDataErased(PersonalDataErased),
    RatingAppealed(RatingAppealed),
    AppealDecided(AppealDecided),
}

/// A stored event whose type, schema or data this version cannot read.
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
            Self::RepliedAtIntake(_) => "RepliedAtIntake",
            Self::CaseDeclined(_) => "CaseDeclined",
            Self::CaseDispatched(_) => "CaseDispatched",
            Self::DispatchSigned(_) => "DispatchSigned",
            Self::DispatchReturned(_) => "DispatchReturned",
            Self::ExtensionRequested(_) => "ExtensionRequested",
            Self::ExtensionDecided(_) => "ExtensionDecided",
            Self::ProgressRecorded(_) => "ProgressRecorded",
            Self::SuspensionRequested(_) => "SuspensionRequested",
            Self::CaseSuspended(_) => "CaseSuspended",
            Self::CaseResumed(_) => "CaseResumed",
            Self::CaseReplied(_) => "CaseReplied",
            Self::WhistleBlown(_) => "WhistleBlown",
            Self::ReportedIn(_) => "ReportedIn",
            Self::ReportInRated(_) => "ReportInRated",
            Self::DeadlineMissed(_) => "DeadlineMissed",
            Self::CaseEscalated(_) => "CaseEscalated",
            Self::SupervisionIssued(_) => "SupervisionIssued",
            Self::CallbackRecorded(_) => "CallbackRecorded",
            Self::CaseReopened(_) => "CaseReopened",
            Self::CaseClosed(_) => "CaseClosed",
            Self::MediationOpened(_) => "MediationOpened",
            Self::MediationSessionHeld(_) => "MediationSessionHeld",
            Self::AgreementReached(_) => "AgreementReached",
            Self::MediationFailed(_) => "MediationFailed",
            Self::CaseReferred(_) => "CaseReferred",
            Self::CaseMerged(_) => "CaseMerged",
            Self::NoteAdded(_) => "NoteAdded",
            Self::AttachmentAdded(_) => "AttachmentAdded",
            Self::CaseWithdrawn(_) => "CaseWithdrawn",
            Self::PersonalDataRevealed(_) => "PersonalDataRevealed",
            Self::ErasureRequested(_) => "ErasureRequested",
            Self::PersonalDataErased(_) => "PersonalDataErased",
            Self::RatingAppealed(_) => "RatingAppealed",
            Self::AppealDecided(_) => "AppealDecided",
        }
    }

    /// The schema this event is written at (the envelope's `schema`).
    pub fn schema(&self) -> u32 {
        schema_of(self.event_type())
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

    /// Reads an event back from the envelope's `type`, `schema` and `data`, upcasting
    /// data written at an older schema to the current one first.
    pub fn from_parts(
        event_type: &str,
        schema: u32,
        data: &serde_json::Value,
    ) -> Result<Self, UnreadableEvent> {
        let unreadable = |source| UnreadableEvent {
            event_type: event_type.to_owned(),
            schema,
            source,
        };
        let current = schema_of(event_type);
        if schema == 0 || schema > current {
            return Err(unreadable(serde::de::Error::custom(format!(
                "this version reads {event_type} up to schema {current}"
            ))));
        }
        let mut data = data.clone();
        for from in schema..current {
            upcast(event_type, from, &mut data).map_err(unreadable)?;
        }
        let tagged = serde_json::json!({ "type": event_type, "data": data });
        serde_json::from_value(tagged).map_err(unreadable)
    }
}

/// Rewrites `data` of `event_type` from schema `from` to `from + 1`. Each step is
/// small and kept forever: the log holds every schema ever written.
fn upcast(
    event_type: &str,
    from: u32,
    data: &mut serde_json::Value,
) -> Result<(), serde_json::Error> {
    use serde::de::Error as _;
    match (event_type, from) {
        // CaseReplied 1 → 2: the citizen's summary was the reply text itself.
        ("CaseReplied", 1) => {
            let obj = data
                .as_object_mut()
                .ok_or_else(|| serde_json::Error::custom("data is not an object"))?;
            let text = obj
                .get("text")
                .cloned()
                .ok_or_else(|| serde_json::Error::missing_field("text"))?;
            obj.entry("summary_for_citizen").or_insert(text);
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Hotline,
    SuggestionBox,
    GridPatrol,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    #[default]
    Normal,
    Urgent,
    Critical,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridCode>,
    /// The incident's point as filed, decimal degrees as strings (events hold no floats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long: Option<String>,
    /// The system of `lat`/`long` when it is not WGS 84 (a Chinese map SDK's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinate_system: Option<crate::point::CoordinateSystem>,
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
    /// How `location.grid` was found; absent in events written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_found: Option<crate::point::GridFound>,
    /// Phones, ID and card numbers found in `description` (masked there), sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal: Vec<crate::personal::Spotted>,
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
    /// End of the return window (退单时限), computed by routing from configuration
    /// and the working calendar. Absent in events written before it existed: then
    /// the lead may return the case until it replies.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub return_due: Option<OffsetDateTime>,
}

/// 签收.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchSigned {
    pub department: DepartmentId,
    /// Signed before the sign deadline (counts for 响应率); for a summoned department,
    /// before its report-in deadline.
    pub on_time: bool,
    /// The department signs a whistle's summons, not a dispatch (it does not count
    /// for 响应率). Absent (false) in older events and for dispatches.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whistle: bool,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyResult {
    Resolved,
    Explained,
    Unresolvable,
}

/// 办结答复. Schema 2 (see [`schema_of`]): `summary_for_citizen` is what the hotline
/// reads to the citizen at callback; schema-1 events are upcast with it equal to `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReplied {
    pub department: DepartmentId,
    pub result: ReplyResult,
    /// The department's full answer (办结情况).
    pub text: String,
    pub summary_for_citizen: String,
    /// Phones, ID and card numbers found in the texts (masked there), sealed; absent
    /// in events written before free texts were sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal: Vec<crate::personal::Spotted>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// When the callback was recorded: the appeal window (申诉) counts from it.
    /// Absent in callbacks recorded before appeals existed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub recorded_at: Option<OffsetDateTime>,
}

/// 申诉: the department a callback counted against says it handled the case
/// correctly (an unreasonable demand, a matter outside its powers) and asks a
/// supervisor to take the callback out of its figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingAppealed {
    /// The version of the `CallbackRecorded` appealed.
    pub callback_version: u64,
    pub department: DepartmentId,
    pub reason: String,
}

/// 甄别: a supervisor's ruling on an appeal. Accepted, the callback leaves the
/// department's 满意率 and 解决率 and is counted on its own line; rejected, it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppealDecided {
    pub callback_version: u64,
    pub department: DepartmentId,
    pub accepted: bool,
    pub reason: String,
    pub decided_by: String,
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
    /// Phones, ID and card numbers found in `text` (masked there), sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal: Vec<crate::personal::Spotted>,
}

/// 附件: a file in the attachment object store (`name` is its object key); who
/// added it is the envelope's actor. A `personal` attachment is deleted with the
/// case's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentAdded {
    pub name: String,
    pub sha256: String,
    pub media_type: String,
    pub size: u64,
    pub personal: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// 查看个人信息: who saw which personal fields, and why (the actor is in the envelope).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataRevealed {
    pub fields: Vec<String>,
    pub reason: String,
}

/// 个人信息删除申请: an operator asks a supervisor to erase the case's personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRequested {
    /// The operator who asked (also the envelope's actor).
    pub requested_by: String,
    pub reason: String,
}

/// 个人信息删除: a supervisor erased (approving an operator's request, or on its own);
/// the case's data key is deleted; its personal fields read as erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataErased {
    pub reason: String,
    /// The operator whose request this approves; absent for a supervisor's own
    /// erasure and in events written before approvals were commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// 直接答复: the operator answered at intake; no dispatch is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepliedAtIntake {
    pub text: String,
    /// The knowledge-base entry cited; absent in events written before citations and
    /// for answers from no entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kb_entry: Option<crate::kb::KbEntryId>,
    /// Phones, ID and card numbers found in the texts (masked there), sealed; absent
    /// in events written before free texts were sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal: Vec<crate::personal::Spotted>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// 已进入诉讼程序.
    InLitigation,
    /// 已进入仲裁程序.
    InArbitration,
    /// 已进入信访程序.
    InPetition,
    /// 不属于受理范围.
    OutOfScope,
    Other,
}

/// 不予受理.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseDeclined {
    pub reason: DeclineReason,
    pub text: String,
}

/// 退单: the case goes back to `received`, awaiting a dispatch that excludes `department`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchReturned {
    pub department: DepartmentId,
    pub reason: String,
    pub suggested_owner: DepartmentId,
}

/// 延期申请: the lead asks to move the handling deadline to `handle_due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionRequested {
    pub department: DepartmentId,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub handle_due: OffsetDateTime,
    /// The handling deadline when asked.
    #[serde(with = "time::serde::rfc3339")]
    pub previous_handle_due: OffsetDateTime,
}

/// 延期审批: a supervisor grants (moving the handling deadline) or refuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtensionDecided {
    pub department: DepartmentId,
    pub granted: bool,
    /// The new handling deadline, when granted.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub handle_due: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// 办理进展.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressRecorded {
    pub department: DepartmentId,
    pub text: String,
    /// Phones, ID and card numbers found in the texts (masked there), sealed; absent
    /// in events written before free texts were sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal: Vec<crate::personal::Spotted>,
}

/// 中止申请: the lead department asks a supervisor to suspend; the clock keeps running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionRequested {
    pub department: DepartmentId,
    pub reason: String,
}

/// 中止: the handling clock stops at `suspended_at`, the approval's instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSuspended {
    /// The lead department whose case is suspended.
    pub department: DepartmentId,
    pub reason: String,
    /// The supervisor who approved: the actor of this event (before approvals were
    /// commands, a name the department wrote; such events still load as they are).
    pub approved_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub suspended_at: OffsetDateTime,
}

/// 恢复: the clock runs again; `handle_due` is the remaining time counted from now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseResumed {
    #[serde(with = "time::serde::rfc3339")]
    pub suspended_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub handle_due: OffsetDateTime,
}

/// 吹哨: a street summons departments, each to report in by `report_due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhistleBlown {
    pub street: DepartmentId,
    pub departments: Vec<DepartmentId>,
    #[serde(with = "time::serde::rfc3339")]
    pub report_due: OffsetDateTime,
    pub reason: String,
}

/// 报到.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedIn {
    pub department: DepartmentId,
    /// Reported before its report-in deadline.
    pub on_time: bool,
}

/// One department's score from the street that summoned it: 1 (worst) to 5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportInRating {
    pub department: DepartmentId,
    pub score: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// 评价: the whistling street scores the departments it summoned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportInRated {
    pub street: DepartmentId,
    pub ratings: Vec<ReportInRating>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deadline {
    Sign,
    Handle,
    Report,
}

/// 超期: routing's timer found `department` past its `deadline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineMissed {
    pub deadline: Deadline,
    pub department: DepartmentId,
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
}

/// The grid levels a case climbs (村居主战 → 镇街会战 → 部门助战 → 领导征战).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationLevel {
    Community,
    Street,
    Department,
    Leadership,
}

impl EscalationLevel {
    /// 1 for the community level, counting up: a configured ladder's rank maps onto it.
    pub fn rank(self) -> u32 {
        match self {
            Self::Community => 1,
            Self::Street => 2,
            Self::Department => 3,
            Self::Leadership => 4,
        }
    }

    /// The grid level of a configured ladder's rank (a rank above 4 is leadership).
    pub fn of_rank(rank: u32) -> Self {
        match rank {
            0 | 1 => Self::Community,
            2 => Self::Street,
            3 => Self::Department,
            _ => Self::Leadership,
        }
    }
}

/// 升级. `by` is who escalated; escalating never counts against that unit's figures.
/// `level_id` and `rank` name the level of the configured ladder (`escalation.toml`);
/// events written before the ladder was configured lack them and rank by `level`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEscalated {
    pub level: EscalationLevel,
    pub by: Actor,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
}

impl CaseEscalated {
    /// The rank reached: the configured one, else the grid level's.
    pub fn rank(&self) -> u32 {
        self.rank.unwrap_or_else(|| self.level.rank())
    }
}

/// 督办.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionIssued {
    pub text: String,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub respond_by: Option<OffsetDateTime>,
}

/// 重办: back to `received` for a new dispatch; `returned_by` is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReopened {
    pub reason: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    /// 申请人.
    Applicant,
    /// 被申请人.
    Respondent,
    Other,
}

/// A party to a dispute; personal fields are sealed like the reporter's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub role: PartyRole,
    pub name: Sealed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Sealed>,
    pub consent: bool,
}

/// 调解: opened by `mediator`, with every party's consent, to end by `mediation_due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediationOpened {
    pub mediator: String,
    pub parties: Vec<Party>,
    #[serde(with = "time::serde::rfc3339")]
    pub mediation_due: OffsetDateTime,
}

/// One mediation session (numbered from 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediationSessionHeld {
    pub session: u32,
    pub summary: String,
}

/// 调解协议. With `court_confirmation`, the parties apply jointly for 司法确认 by
/// `court_confirmation_due`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementReached {
    pub terms: String,
    pub court_confirmation: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub court_confirmation_due: OffsetDateTime,
}

/// 调解不成.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediationFailed {
    pub reason: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralTarget {
    Court,
    Arbitration,
}

/// 诉调对接: after a failed mediation, the dispute goes to a court or arbitration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReferred {
    pub to: ReferralTarget,
    /// The court or commission, e.g. `南湖区人民法院`.
    pub institution: String,
}

/// 合并重复件: this case is a duplicate of `into`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseMerged {
    pub into: CaseId,
}

/// 撤件.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseWithdrawn {
    pub reason: String,
}
