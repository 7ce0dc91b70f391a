//! The case aggregate: [`Case::decide`] turns a command into one event or a
//! [`Rejection`]; [`Case::apply`] folds an event into the state. Deciding holds every
//! business rule; applying never fails and never checks.

use crate::actor::{Actor, ActorKind};
use crate::command::{Command, FileCase};
use crate::event::{
    AgreementReached, CallbackRecorded, CaseClosed, CaseDeclined, CaseDispatched, CaseEscalated,
    CaseFiled, CaseMerged, CaseReferred, CaseReopened, CaseReplied, CaseResumed, CaseSuspended,
    CaseWithdrawn, Deadline, DeadlineMissed, DeclineReason, DispatchReturned, DispatchSigned,
    ErasureRequested, EscalationLevel, Event, ExtensionDecided, ExtensionRequested,
    MediationFailed, MediationOpened, MediationSessionHeld, NoteAdded, Party, PersonalDataErased,
    PersonalDataRevealed, ProgressRecorded, RepliedAtIntake, ReportInRated, ReportInRating,
    ReportedIn, Satisfaction, SupervisionIssued, SuspensionRequested, WhistleBlown,
};
use crate::ids::{CaseId, DepartmentId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Dispatched,
    InProgress,
    Suspended,
    Replied,
    Closed,
    InMediation,
    Referred,
    Merged,
    Declined,
    Withdrawn,
}

impl Status {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Dispatched => "dispatched",
            Self::InProgress => "in_progress",
            Self::Suspended => "suspended",
            Self::Replied => "replied",
            Self::Closed => "closed",
            Self::InMediation => "in_mediation",
            Self::Referred => "referred",
            Self::Merged => "merged",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
        }
    }
}

impl Status {
    /// Closed, merged, declined and withdrawn cases accept only notes, personal-data
    /// reveals and erasure (and a closed case, a reopen).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Closed | Self::Merged | Self::Declined | Self::Withdrawn
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of refusal; the gateway maps it to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectionKind {
    /// The actor's kind may never do this (403).
    Forbidden,
    /// The actor could, but the case is not theirs (403).
    NotAssigned,
    /// The case is in a state where the command makes no sense (409).
    InvalidState,
    /// The command's content is unacceptable (422).
    Invalid,
    /// There is no such case (404).
    NotFound,
    /// The case already exists (filing twice under another key) (409).
    AlreadyExists,
}

/// A refusal a person can read: it names the actor, the case and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{detail}")]
pub struct Rejection {
    pub kind: RejectionKind,
    pub detail: String,
}

impl Rejection {
    pub fn new(kind: RejectionKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// A department summoned by a whistle, tracked on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summons {
    /// The street that blew the whistle; only it rates this department.
    pub street: DepartmentId,
    pub report_due: OffsetDateTime,
    pub signed: bool,
    /// `Some(on_time)` once reported in.
    pub reported: Option<bool>,
    /// The street's score, once rated.
    pub score: Option<u8>,
}

/// A mediation in progress or finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mediation {
    pub mediator: String,
    pub parties: Vec<Party>,
    pub mediation_due: OffsetDateTime,
    pub sessions: u32,
    pub agreement: Option<AgreementReached>,
    pub failure: Option<String>,
}

/// The state of one case, folded from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    /// The number read to citizens (`NH-20261123-000123`); set by the store, which
    /// derives it from the filing's date and stream sequence.
    pub number: Option<String>,
    pub status: Status,
    pub filed: Option<CaseFiled>,
    /// The current dispatch; cleared by a return or a reopen.
    pub dispatch: Option<CaseDispatched>,
    /// Dispatched departments that signed the current dispatch.
    pub signed: BTreeSet<DepartmentId>,
    pub reply: Option<CaseReplied>,
    pub intake_reply: Option<crate::event::RepliedAtIntake>,
    pub callback: Option<CallbackRecorded>,
    /// Every department that ever returned the case (routing excludes them).
    pub returned_by: BTreeSet<DepartmentId>,
    pub pending_extension: Option<ExtensionRequested>,
    /// A suspension the lead asked for, awaiting a supervisor.
    #[serde(default)]
    pub pending_suspension: Option<SuspensionRequested>,
    pub suspension: Option<CaseSuspended>,
    /// Departments summoned by whistles of the current dispatch.
    pub summoned: BTreeMap<DepartmentId, Summons>,
    /// Deadlines already marked missed in the current dispatch.
    pub missed: BTreeSet<(Deadline, DepartmentId)>,
    pub level: Option<EscalationLevel>,
    /// The configured escalation level reached (`escalation.toml` id), if recorded.
    #[serde(default)]
    pub level_id: Option<String>,
    /// The rank of the escalation level reached; 0 before any escalation.
    #[serde(default)]
    pub level_rank: u32,
    pub supervisions: u32,
    pub reopened: u32,
    pub mediation: Option<Mediation>,
    pub referral: Option<CaseReferred>,
    pub merged_into: Option<CaseId>,
    /// An erasure an operator asked for, awaiting a supervisor.
    #[serde(default)]
    pub pending_erasure: Option<ErasureRequested>,
    /// The data key is erased: personal fields read as erased.
    pub personal_erased: bool,
    /// Personal data found in the notes (`NoteAdded.personal`), for the audited reveal.
    #[serde(default)]
    pub noted: Vec<crate::personal::Spotted>,
    /// Number of events applied: the version of the last one.
    pub version: u64,
}

impl Case {
    /// A case that has no events yet.
    pub fn new(id: CaseId) -> Self {
        Self {
            id,
            number: None,
            status: Status::Received,
            filed: None,
            dispatch: None,
            signed: BTreeSet::new(),
            reply: None,
            intake_reply: None,
            callback: None,
            returned_by: BTreeSet::new(),
            pending_extension: None,
            pending_suspension: None,
            suspension: None,
            summoned: BTreeMap::new(),
            missed: BTreeSet::new(),
            level: None,
            level_id: None,
            level_rank: 0,
            supervisions: 0,
            reopened: 0,
            mediation: None,
            referral: None,
            merged_into: None,
            pending_erasure: None,
            personal_erased: false,
            noted: Vec::new(),
            version: 0,
        }
    }

    pub fn exists(&self) -> bool {
        self.version > 0
    }

    /// The case as a person names it: its number, or its id before it has one.
    pub fn label(&self) -> String {
        self.number.clone().unwrap_or_else(|| self.id.to_string())
    }

    pub fn lead(&self) -> Option<&DepartmentId> {
        self.dispatch.as_ref().map(|d| &d.lead)
    }

    /// Departments the case is dispatched to (lead first, then assisting).
    pub fn departments(&self) -> impl Iterator<Item = &DepartmentId> {
        self.dispatch
            .iter()
            .flat_map(|d| std::iter::once(&d.lead).chain(d.assisting.iter()))
    }

    pub fn is_assigned_to(&self, department: &str) -> bool {
        self.departments().any(|d| d.as_str() == department)
    }

    /// The summons of `department` by a whistle, if it was summoned.
    pub fn summons_of(&self, department: &str) -> Option<&Summons> {
        self.summoned
            .iter()
            .find(|(d, _)| d.as_str() == department)
            .map(|(_, s)| s)
    }

    /// A callback found the citizen unsatisfied: the case waits for a reopen (or a close).
    pub fn awaits_reopen(&self) -> bool {
        self.status == Status::Replied && self.callback.as_ref().is_some_and(|c| !c.closed)
    }

    /// Decides a command from `actor` at `now` into one event, or refuses it.
    pub fn decide(
        &self,
        actor: &Actor,
        command: &Command,
        now: OffsetDateTime,
    ) -> Result<Event, Rejection> {
        if let Command::FileCase(file) = command {
            return self.decide_file(actor, file);
        }
        if !self.exists() {
            return Err(Rejection::new(
                RejectionKind::NotFound,
                format!("case {} does not exist", self.id),
            ));
        }
        let d = Decision {
            case: self,
            actor,
            command,
            now,
        };
        let after_final = matches!(
            command,
            Command::Annotate(_)
                | Command::RevealPersonalData(_)
                | Command::RequestErasure(_)
                | Command::ErasePersonalData(_)
        ) || matches!(command, Command::Reopen(_))
            && self.status == Status::Closed;
        if self.status.is_final() && !after_final {
            return Err(d.state(format_args!("it is {}", self.status)));
        }
        match command {
            Command::FileCase(_) => unreachable!("handled above"),
            Command::ReplyAtIntake(r) => {
                d.allow(&[ActorKind::Operator])?;
                self.still_at_intake(&d)?;
                d.text("text", &r.text)?;
                Ok(Event::RepliedAtIntake(RepliedAtIntake {
                    text: r.text.trim().to_owned(),
                }))
            }
            Command::Decline(c) => {
                d.allow(&[ActorKind::Operator])?;
                self.still_at_intake(&d)?;
                if c.reason == DeclineReason::Other {
                    d.text("text", &c.text)?;
                }
                Ok(Event::CaseDeclined(CaseDeclined {
                    reason: c.reason,
                    text: c.text.trim().to_owned(),
                }))
            }
            Command::Dispatch(c) => d.dispatch(c),
            Command::Sign => d.sign(),
            Command::Return(c) => {
                d.allow(&[ActorKind::Department, ActorKind::Street])?;
                d.lead()?;
                d.status(&[Status::Dispatched, Status::InProgress])?;
                d.text("reason", &c.reason)?;
                if c.suggested_owner.as_str() == actor.id {
                    return Err(d.invalid("suggested_owner: a department cannot suggest itself"));
                }
                if let Some(due) = self.dispatch.as_ref().and_then(|x| x.return_due) {
                    if now > due {
                        return Err(
                            d.state(format_args!("the return window ended at {}", rfc3339(due)))
                        );
                    }
                }
                Ok(Event::DispatchReturned(DispatchReturned {
                    department: d.department()?,
                    reason: c.reason.trim().to_owned(),
                    suggested_owner: c.suggested_owner.clone(),
                }))
            }
            Command::RequestExtension(c) => {
                d.allow(&[ActorKind::Department, ActorKind::Street])?;
                d.lead()?;
                d.status(&[Status::InProgress])?;
                d.text("reason", &c.reason)?;
                if self.pending_extension.is_some() {
                    return Err(d.state("an extension request is already pending"));
                }
                let current = d.handle_due();
                if c.handle_due <= current {
                    return Err(d.invalid(format_args!(
                        "handle_due: {} is not after the current deadline {}",
                        rfc3339(c.handle_due),
                        rfc3339(current)
                    )));
                }
                if now > c.request_by {
                    return Err(d.state(format_args!(
                        "an extension must be asked by {}, the configured cutoff before the deadline {}",
                        rfc3339(c.request_by),
                        rfc3339(current)
                    )));
                }
                Ok(Event::ExtensionRequested(ExtensionRequested {
                    department: d.department()?,
                    reason: c.reason.trim().to_owned(),
                    handle_due: c.handle_due,
                    previous_handle_due: current,
                }))
            }
            Command::DecideExtension(c) => {
                d.allow(&[ActorKind::Supervisor])?;
                let Some(pending) = &self.pending_extension else {
                    return Err(d.state("no extension request is pending"));
                };
                let handle_due = if c.granted {
                    let due = c.handle_due.unwrap_or(pending.handle_due);
                    if due <= d.handle_due() {
                        return Err(d.invalid(format_args!(
                            "handle_due: {} is not after the current deadline {}",
                            rfc3339(due),
                            rfc3339(d.handle_due())
                        )));
                    }
                    Some(due)
                } else if c.handle_due.is_some() {
                    return Err(
                        d.invalid("handle_due: only a granted extension moves the deadline")
                    );
                } else {
                    None
                };
                Ok(Event::ExtensionDecided(ExtensionDecided {
                    department: pending.department.clone(),
                    granted: c.granted,
                    handle_due,
                    comment: clean(&c.comment),
                }))
            }
            Command::RecordProgress(c) => {
                d.allow(&[ActorKind::Department, ActorKind::Street])?;
                d.status_in(Status::is_in_handling)?;
                d.assigned_or_summoned()?;
                d.text("text", &c.text)?;
                Ok(Event::ProgressRecorded(ProgressRecorded {
                    department: d.department()?,
                    text: c.text.trim().to_owned(),
                }))
            }
            Command::RequestSuspension(r) => {
                d.allow(&[ActorKind::Department, ActorKind::Street])?;
                d.lead()?;
                d.status(&[Status::InProgress])?;
                d.text("reason", &r.reason)?;
                if self.pending_suspension.is_some() {
                    return Err(d.state("a suspension request is already pending"));
                }
                Ok(Event::SuspensionRequested(SuspensionRequested {
                    department: d.department()?,
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::Suspend(c) => {
                if matches!(actor.kind, ActorKind::Department | ActorKind::Street) {
                    return Err(d.refuse(
                        RejectionKind::Forbidden,
                        "a department asks with request_suspension; a supervisor approves with suspend",
                    ));
                }
                d.allow(&[ActorKind::Supervisor])?;
                d.status(&[Status::InProgress])?;
                let Some(lead) = self.lead().cloned() else {
                    return Err(d.state("it is not dispatched"));
                };
                // Approving a request keeps its reason unless the supervisor gives one.
                let reason = match (&self.pending_suspension, c.reason.trim()) {
                    (Some(asked), "") => asked.reason.clone(),
                    (_, "") => return Err(d.invalid("reason: must not be empty")),
                    (_, given) => given.to_owned(),
                };
                Ok(Event::CaseSuspended(CaseSuspended {
                    department: lead,
                    reason,
                    approved_by: actor.id.clone(),
                    suspended_at: now,
                }))
            }
            Command::Resume(c) => {
                d.allow(&[
                    ActorKind::Department,
                    ActorKind::Street,
                    ActorKind::Supervisor,
                ])?;
                if actor.kind != ActorKind::Supervisor {
                    d.lead()?;
                }
                d.status(&[Status::Suspended])?;
                let Some(suspension) = &self.suspension else {
                    return Err(d.state("it is not suspended"));
                };
                if c.handle_due <= now {
                    return Err(d.invalid(format_args!(
                        "handle_due: {} is already past",
                        rfc3339(c.handle_due)
                    )));
                }
                if c.handle_due < d.handle_due() {
                    return Err(d.invalid(format_args!(
                        "handle_due: {} is before the deadline {} it had when suspended; a suspension never shortens the handling time",
                        rfc3339(c.handle_due),
                        rfc3339(d.handle_due())
                    )));
                }
                Ok(Event::CaseResumed(CaseResumed {
                    suspended_at: suspension.suspended_at,
                    handle_due: c.handle_due,
                }))
            }
            Command::Reply(r) => {
                d.allow(&[ActorKind::Department, ActorKind::Street])?;
                d.lead()?;
                let signed = self.signed.iter().any(|x| x.as_str() == actor.id);
                if self.status == Status::Dispatched && !signed {
                    return Err(d.state("it has not signed the case yet"));
                }
                d.status(&[Status::InProgress])?;
                if r.text.trim().is_empty() {
                    return Err(d.invalid("the reply text is empty"));
                }
                let summary = r
                    .summary_for_citizen
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(&r.text);
                Ok(Event::CaseReplied(CaseReplied {
                    department: d.department()?,
                    result: r.result,
                    text: r.text.clone(),
                    summary_for_citizen: summary.to_owned(),
                }))
            }
            Command::BlowWhistle(c) => d.whistle(c),
            Command::ReportIn => {
                d.allow(&[ActorKind::Department, ActorKind::Street])?;
                d.status_in(Status::is_in_handling)?;
                let Some(summons) = self.summons_of(&actor.id) else {
                    return Err(d.refuse(
                        RejectionKind::NotAssigned,
                        "it was not summoned by a whistle on this case",
                    ));
                };
                if summons.reported.is_some() {
                    return Err(d.state("it has already reported in"));
                }
                Ok(Event::ReportedIn(ReportedIn {
                    department: d.department()?,
                    on_time: now <= summons.report_due,
                }))
            }
            Command::RateReportIn(c) => d.rate(c),
            Command::MarkDeadlineMissed(c) => d.missed(c),
            Command::Escalate(c) => {
                d.allow(&[
                    ActorKind::System,
                    ActorKind::Supervisor,
                    ActorKind::Department,
                    ActorKind::Street,
                ])?;
                if matches!(actor.kind, ActorKind::Department | ActorKind::Street) {
                    d.lead()?;
                }
                d.status(&[
                    Status::Received,
                    Status::Dispatched,
                    Status::InProgress,
                    Status::Suspended,
                ])?;
                d.text("reason", &c.reason)?;
                if let Some(level) = self.level {
                    if c.rank.unwrap_or_else(|| c.level.rank()) <= self.level_rank {
                        let name = match &self.level_id {
                            Some(id) => format!("level {id}"),
                            None => level_name(level).to_owned(),
                        };
                        return Err(d.state(format_args!("it is already escalated to {name}")));
                    }
                }
                Ok(Event::CaseEscalated(CaseEscalated {
                    level: c.level,
                    by: actor.clone(),
                    reason: c.reason.trim().to_owned(),
                    level_id: c.level_id.clone(),
                    rank: c.rank,
                }))
            }
            Command::Supervise(c) => {
                d.allow(&[ActorKind::Supervisor])?;
                d.text("text", &c.text)?;
                if let Some(by) = c.respond_by.filter(|by| *by <= now) {
                    return Err(
                        d.invalid(format_args!("respond_by: {} is already past", rfc3339(by)))
                    );
                }
                Ok(Event::SupervisionIssued(SupervisionIssued {
                    text: c.text.trim().to_owned(),
                    respond_by: c.respond_by,
                }))
            }
            Command::RecordCallback(c) => {
                d.allow(&[ActorKind::Operator])?;
                d.status(&[Status::Replied])?;
                if self.awaits_reopen() {
                    return Err(d.state("an unsatisfied callback is recorded; it awaits reopen"));
                }
                let closed = matches!(
                    c.satisfaction,
                    Satisfaction::Satisfied | Satisfaction::BasicallySatisfied
                );
                Ok(Event::CallbackRecorded(CallbackRecorded {
                    satisfaction: c.satisfaction,
                    resolved: c.resolved,
                    comment: c.comment.clone(),
                    closed,
                }))
            }
            Command::Reopen(r) => {
                d.allow(&[ActorKind::Operator, ActorKind::Supervisor])?;
                d.status(&[Status::Replied, Status::Closed])?;
                d.text("reason", &r.reason)?;
                Ok(Event::CaseReopened(CaseReopened {
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::Close(c) => {
                d.allow(&[ActorKind::Operator, ActorKind::System])?;
                d.status(&[Status::Replied, Status::Referred])?;
                Ok(Event::CaseClosed(CaseClosed {
                    reason: c.reason.clone().unwrap_or_else(|| {
                        if self.status == Status::Referred {
                            "referred; closed".to_owned()
                        } else {
                            "replied; closed without callback".to_owned()
                        }
                    }),
                }))
            }
            Command::OpenMediation(c) => {
                // A mediator opens its own mediation or assigns one to another
                // mediator; an operator or supervisor assigns it (and must name whom).
                d.allow(&[
                    ActorKind::Mediator,
                    ActorKind::Operator,
                    ActorKind::Supervisor,
                ])?;
                let mediator = match (&c.mediator, actor.kind) {
                    (Some(m), _) if m.trim().is_empty() => {
                        return Err(d.invalid("mediator: empty"));
                    }
                    (Some(m), _) => m.trim().to_owned(),
                    (None, ActorKind::Mediator) => actor.id.clone(),
                    (None, _) => {
                        return Err(
                            d.invalid("mediator: name the mediator the mediation is assigned to")
                        )
                    }
                };
                d.status(&[Status::Received, Status::Dispatched, Status::InProgress])?;
                if c.parties.len() < 2 {
                    return Err(d.invalid("parties: a mediation needs both parties"));
                }
                if let Some(i) = c.parties.iter().position(|p| !p.consent) {
                    return Err(d.invalid(format_args!(
                        "parties[{i}].consent: every party must consent to mediation"
                    )));
                }
                if c.mediation_due <= now {
                    return Err(d.invalid(format_args!(
                        "mediation_due: {} is already past",
                        rfc3339(c.mediation_due)
                    )));
                }
                Ok(Event::MediationOpened(MediationOpened {
                    mediator,
                    parties: c.parties.clone(),
                    mediation_due: c.mediation_due,
                }))
            }
            Command::RecordMediationSession(c) => {
                let m = d.mediating(true)?;
                d.text("summary", &c.summary)?;
                Ok(Event::MediationSessionHeld(MediationSessionHeld {
                    session: m.sessions + 1,
                    summary: c.summary.trim().to_owned(),
                }))
            }
            Command::RecordAgreement(c) => {
                d.mediating(true)?;
                d.text("terms", &c.terms)?;
                if c.court_confirmation_due <= now {
                    return Err(d.invalid(format_args!(
                        "court_confirmation_due: {} is already past",
                        rfc3339(c.court_confirmation_due)
                    )));
                }
                Ok(Event::AgreementReached(AgreementReached {
                    terms: c.terms.trim().to_owned(),
                    court_confirmation: c.court_confirmation,
                    court_confirmation_due: c.court_confirmation_due,
                }))
            }
            Command::RecordMediationFailure(r) => {
                d.mediating(false)?;
                d.text("reason", &r.reason)?;
                Ok(Event::MediationFailed(MediationFailed {
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::Refer(c) => {
                d.allow(&[ActorKind::Mediator])?;
                d.status(&[Status::InMediation])?;
                let m = d.mediator()?;
                if m.failure.is_none() {
                    return Err(d.state("its mediation has not failed"));
                }
                d.text("institution", &c.institution)?;
                Ok(Event::CaseReferred(CaseReferred {
                    to: c.to,
                    institution: c.institution.trim().to_owned(),
                }))
            }
            Command::Merge(c) => {
                d.allow(&[ActorKind::Operator, ActorKind::Supervisor])?;
                if c.into == self.id {
                    return Err(d.invalid("into: a case cannot merge into itself"));
                }
                Ok(Event::CaseMerged(CaseMerged { into: c.into }))
            }
            Command::Annotate(a) => {
                if matches!(actor.kind, ActorKind::Public) {
                    return Err(d.refuse(RejectionKind::Forbidden, "only staff may annotate"));
                }
                if a.text.trim().is_empty() {
                    return Err(d.invalid("the note is empty"));
                }
                Ok(Event::NoteAdded(NoteAdded {
                    text: a.text.clone(),
                    personal: a.personal.clone(),
                }))
            }
            Command::Withdraw(r) => {
                d.allow(&[ActorKind::Operator])?;
                d.status_in(Status::is_open)?;
                d.text("reason", &r.reason)?;
                Ok(Event::CaseWithdrawn(CaseWithdrawn {
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::RevealPersonalData(r) => {
                d.allow(&[ActorKind::Operator, ActorKind::Supervisor])?;
                d.reason(&r.reason)?;
                if self.personal_erased {
                    return Err(d.state("its personal data is erased"));
                }
                let fields = self.personal_fields();
                if fields.is_empty() {
                    return Err(d.state("it holds no personal data"));
                }
                Ok(Event::PersonalDataRevealed(PersonalDataRevealed {
                    fields,
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::RequestErasure(r) => {
                d.allow(&[ActorKind::Operator])?;
                d.reason(&r.reason)?;
                if self.personal_erased {
                    return Err(d.state("its personal data is already erased"));
                }
                if self.pending_erasure.is_some() {
                    return Err(d.state("an erasure request is already pending"));
                }
                Ok(Event::ErasureRequested(ErasureRequested {
                    requested_by: actor.id.clone(),
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::ErasePersonalData(r) => {
                if actor.kind == ActorKind::Operator {
                    return Err(d.refuse(
                        RejectionKind::Forbidden,
                        "an operator asks with request_erasure; a supervisor erases",
                    ));
                }
                d.allow(&[ActorKind::Supervisor])?;
                d.reason(&r.reason)?;
                if self.personal_erased {
                    return Err(d.state("its personal data is already erased"));
                }
                Ok(Event::PersonalDataErased(PersonalDataErased {
                    reason: r.reason.trim().to_owned(),
                    requested_by: self
                        .pending_erasure
                        .as_ref()
                        .map(|e| e.requested_by.clone()),
                }))
            }
        }
    }

    /// Intake may still answer or decline a case: it is received, or routing has
    /// dispatched it automatically and no department has signed yet (the operator
    /// answers during the call while the dispatch is already on its way).
    fn still_at_intake(&self, d: &Decision<'_>) -> Result<(), Rejection> {
        let unsigned_dispatch = self.status == Status::Dispatched && self.signed.is_empty();
        if unsigned_dispatch {
            Ok(())
        } else {
            d.status(&[Status::Received])
        }
    }

    /// Names of the sealed personal fields the case holds: the reporter's
    /// (`reporter.phone`, …) and the mediation parties' (`parties[0].name`, …).
    pub fn personal_fields(&self) -> Vec<String> {
        self.sealed_fields()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// Keeps masked values only, the typed twin of [`crate::personal::strip_sealed`]:
    /// every sealed ciphertext blanked (a read model never holds one) and, once the
    /// case's key is erased, every masked value [`crate::personal::ERASED`] too.
    pub fn keep_masked_only(&mut self) {
        let erased = self.personal_erased;
        let reporter = self
            .filed
            .as_mut()
            .and_then(|f| f.reporter.as_mut())
            .into_iter()
            .flat_map(|r| [&mut r.name, &mut r.phone, &mut r.id_number, &mut r.address])
            .flatten();
        let parties = self
            .mediation
            .iter_mut()
            .flat_map(|m| m.parties.iter_mut())
            .flat_map(|p| std::iter::once(&mut p.name).chain(p.phone.as_mut()));
        for field in reporter.chain(parties) {
            field.sealed.clear();
            if erased {
                crate::personal::ERASED.clone_into(&mut field.masked);
            }
        }
        if let Some(f) = self.filed.as_mut().filter(|_| erased) {
            crate::personal::erase_in_text(&mut f.description, &f.personal);
        }
        let texts = self.filed.iter_mut().flat_map(|f| f.personal.iter_mut());
        for s in texts.chain(self.noted.iter_mut()) {
            s.value.sealed.clear();
            if erased {
                crate::personal::ERASED.clone_into(&mut s.value.masked);
            }
        }
    }

    /// The sealed personal fields with their names (also their associated data).
    pub fn sealed_fields(&self) -> Vec<(String, &crate::personal::Sealed)> {
        let reporter = self
            .filed
            .as_ref()
            .and_then(|f| f.reporter.as_ref())
            .into_iter()
            .flat_map(|r| r.fields().map(|(name, sealed)| (name.to_owned(), sealed)));
        let parties = self
            .mediation
            .iter()
            .flat_map(|m| m.parties.iter().enumerate())
            .flat_map(|(i, p)| {
                std::iter::once((format!("parties[{i}].name"), &p.name)).chain(
                    p.phone
                        .as_ref()
                        .map(|ph| (format!("parties[{i}].phone"), ph)),
                )
            });
        let texts = self.filed.iter().flat_map(|f| f.personal.iter());
        let texts = texts
            .chain(&self.noted)
            .map(|s| (s.field.clone(), &s.value));
        reporter.chain(parties).chain(texts).collect()
    }

    fn decide_file(&self, actor: &Actor, file: &FileCase) -> Result<Event, Rejection> {
        use crate::event::Channel;
        if self.exists() {
            return Err(Rejection::new(
                RejectionKind::AlreadyExists,
                format!("case {} already exists", self.label()),
            ));
        }
        let allowed: &[ActorKind] = match file.channel {
            Channel::Hotline => &[ActorKind::Operator],
            Channel::GridPatrol => &[ActorKind::GridWorker, ActorKind::Operator],
            Channel::SuggestionBox => &[ActorKind::Public, ActorKind::Operator],
        };
        if !allowed.contains(&actor.kind) {
            return Err(Rejection::new(
                RejectionKind::Forbidden,
                format!(
                    "{actor} cannot file a case through the {:?} channel",
                    file.channel
                ),
            ));
        }
        let invalid = |detail: String| Rejection::new(RejectionKind::Invalid, detail);
        if file.title.trim().is_empty() {
            return Err(invalid("title: must not be empty".into()));
        }
        if file.title.chars().count() > 200 {
            return Err(invalid("title: longer than 200 characters".into()));
        }
        if file.description.chars().count() > 10_000 {
            return Err(invalid("description: longer than 10000 characters".into()));
        }
        if file.channel == Channel::GridPatrol && file.location.grid.is_none() {
            return Err(invalid(
                "location.grid: a grid patrol case needs its grid code or its point".into(),
            ));
        }
        if file.channel == Channel::Hotline && file.reporter.as_ref().is_none_or(|r| r.is_empty()) {
            return Err(invalid(
                "reporter: a hotline case needs the caller's name or phone".into(),
            ));
        }
        Ok(Event::CaseFiled(CaseFiled {
            channel: file.channel,
            kind: file.kind,
            category: file.category.clone(),
            urgency: file.urgency,
            title: file.title.trim().to_owned(),
            description: file.description.clone(),
            location: file.location.clone(),
            reporter: file.reporter.clone(),
            source: file.source.clone(),
            grid_found: file.grid_found.clone(),
            personal: file.personal.clone(),
        }))
    }

    /// Folds one event into the state. Never fails: events are facts.
    pub fn apply(&mut self, event: &Event) {
        self.version += 1;
        match event {
            Event::CaseFiled(f) => {
                self.filed = Some(f.clone());
                self.status = Status::Received;
            }
            Event::RepliedAtIntake(r) => {
                self.intake_reply = Some(r.clone());
                self.status = Status::Replied;
            }
            Event::CaseDeclined(_) => self.status = Status::Declined,
            Event::CaseDispatched(d) => {
                self.clear_dispatch();
                self.dispatch = Some(d.clone());
                self.status = Status::Dispatched;
            }
            Event::DispatchSigned(s) => {
                if s.whistle {
                    if let Some(summons) = self.summoned.get_mut(&s.department) {
                        summons.signed = true;
                    }
                } else {
                    self.signed.insert(s.department.clone());
                    if self.lead() == Some(&s.department) {
                        self.status = Status::InProgress;
                    }
                }
            }
            Event::DispatchReturned(r) => {
                self.returned_by.insert(r.department.clone());
                self.clear_dispatch();
                self.status = Status::Received;
            }
            Event::ExtensionRequested(r) => self.pending_extension = Some(r.clone()),
            Event::ExtensionDecided(x) => {
                self.pending_extension = None;
                if let Some(due) = x.handle_due.filter(|_| x.granted) {
                    self.move_handle_due(due);
                }
            }
            Event::NoteAdded(n) => self.noted.extend(n.personal.iter().cloned()),
            Event::ProgressRecorded(_) | Event::PersonalDataRevealed(_) => {}
            Event::SuspensionRequested(r) => self.pending_suspension = Some(r.clone()),
            Event::CaseSuspended(s) => {
                self.pending_suspension = None;
                self.suspension = Some(s.clone());
                self.status = Status::Suspended;
            }
            Event::CaseResumed(r) => {
                self.suspension = None;
                self.move_handle_due(r.handle_due);
                self.status = Status::InProgress;
            }
            Event::CaseReplied(r) => {
                self.reply = Some(r.clone());
                self.pending_extension = None;
                self.pending_suspension = None;
                self.status = Status::Replied;
            }
            Event::WhistleBlown(w) => {
                for department in &w.departments {
                    self.summoned.insert(
                        department.clone(),
                        Summons {
                            street: w.street.clone(),
                            report_due: w.report_due,
                            signed: false,
                            reported: None,
                            score: None,
                        },
                    );
                }
            }
            Event::ReportedIn(r) => {
                if let Some(summons) = self.summoned.get_mut(&r.department) {
                    summons.reported = Some(r.on_time);
                }
            }
            Event::ReportInRated(r) => {
                for rating in &r.ratings {
                    if let Some(summons) = self.summoned.get_mut(&rating.department) {
                        summons.score = Some(rating.score);
                    }
                }
            }
            Event::DeadlineMissed(m) => {
                self.missed.insert((m.deadline, m.department.clone()));
            }
            Event::CaseEscalated(e) => {
                self.level = Some(e.level);
                self.level_id = e.level_id.clone();
                self.level_rank = e.rank();
            }
            Event::SupervisionIssued(_) => self.supervisions += 1,
            Event::CallbackRecorded(c) => {
                self.callback = Some(c.clone());
                if c.closed {
                    self.status = Status::Closed;
                }
            }
            Event::CaseReopened(_) => {
                self.clear_dispatch();
                self.reply = None;
                self.intake_reply = None;
                self.callback = None;
                self.mediation = None;
                self.reopened += 1;
                self.status = Status::Received;
            }
            Event::CaseClosed(_) => self.status = Status::Closed,
            Event::MediationOpened(m) => {
                self.mediation = Some(Mediation {
                    mediator: m.mediator.clone(),
                    parties: m.parties.clone(),
                    mediation_due: m.mediation_due,
                    sessions: 0,
                    agreement: None,
                    failure: None,
                });
                self.status = Status::InMediation;
            }
            Event::MediationSessionHeld(s) => {
                if let Some(m) = &mut self.mediation {
                    m.sessions = s.session;
                }
            }
            Event::AgreementReached(a) => {
                if let Some(m) = &mut self.mediation {
                    m.agreement = Some(a.clone());
                }
                // The agreement answers the citizen: callback and close follow as for a reply.
                self.status = Status::Replied;
            }
            Event::MediationFailed(f) => {
                if let Some(m) = &mut self.mediation {
                    m.failure = Some(f.reason.clone());
                }
            }
            Event::CaseReferred(r) => {
                self.referral = Some(r.clone());
                self.status = Status::Referred;
            }
            Event::CaseMerged(m) => {
                self.merged_into = Some(m.into);
                self.status = Status::Merged;
            }
            Event::CaseWithdrawn(_) => self.status = Status::Withdrawn,
            Event::ErasureRequested(r) => self.pending_erasure = Some(r.clone()),
            Event::PersonalDataErased(_) => {
                self.pending_erasure = None;
                self.personal_erased = true;
            }
        }
    }

    /// Forgets the current dispatch and everything tied to it (signatures, whistles,
    /// missed deadlines, a pending extension, a suspension); `returned_by` stays.
    fn clear_dispatch(&mut self) {
        self.dispatch = None;
        self.signed.clear();
        self.summoned.clear();
        self.missed.clear();
        self.pending_extension = None;
        self.pending_suspension = None;
        self.suspension = None;
    }

    /// A new handling deadline may be missed again.
    fn move_handle_due(&mut self, due: OffsetDateTime) {
        if let Some(d) = &mut self.dispatch {
            d.handle_due = due;
            let lead = d.lead.clone();
            self.missed.remove(&(Deadline::Handle, lead));
        }
    }

    fn refuse(
        &self,
        kind: RejectionKind,
        actor: &Actor,
        command: &Command,
        why: impl fmt::Display,
    ) -> Rejection {
        Rejection::new(
            kind,
            format!(
                "{actor} cannot {} case {}: {why}",
                command.action(),
                self.label()
            ),
        )
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn level_name(level: EscalationLevel) -> &'static str {
    match level {
        EscalationLevel::Community => "community level",
        EscalationLevel::Street => "street level",
        EscalationLevel::Department => "department level",
        EscalationLevel::Leadership => "leadership level",
    }
}

fn clean(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// One command being decided: the case, who asks, what, and when. Its checks
/// return rejections that name the actor, the case and the reason.
struct Decision<'a> {
    case: &'a Case,
    actor: &'a Actor,
    command: &'a Command,
    now: OffsetDateTime,
}

impl Decision<'_> {
    fn refuse(&self, kind: RejectionKind, why: impl fmt::Display) -> Rejection {
        self.case.refuse(kind, self.actor, self.command, why)
    }

    fn invalid(&self, why: impl fmt::Display) -> Rejection {
        self.refuse(RejectionKind::Invalid, why)
    }

    fn state(&self, why: impl fmt::Display) -> Rejection {
        self.refuse(RejectionKind::InvalidState, why)
    }

    fn allow(&self, kinds: &[ActorKind]) -> Result<(), Rejection> {
        if kinds.contains(&self.actor.kind) {
            Ok(())
        } else {
            let who: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            Err(self.refuse(
                RejectionKind::Forbidden,
                format_args!("only {} may", who.join(" or ")),
            ))
        }
    }

    fn reason(&self, reason: &str) -> Result<(), Rejection> {
        if reason.trim().is_empty() {
            Err(self.invalid("reason: a reason is required"))
        } else {
            Ok(())
        }
    }

    fn text(&self, field: &str, text: &str) -> Result<(), Rejection> {
        if text.trim().is_empty() {
            Err(self.invalid(format_args!("{field}: must not be empty")))
        } else {
            Ok(())
        }
    }

    fn status(&self, allowed: &[Status]) -> Result<(), Rejection> {
        if allowed.contains(&self.case.status) {
            Ok(())
        } else {
            Err(self.state(format_args!("it is {}", self.case.status)))
        }
    }

    /// The case's status must be of `class` (`Status::is_in_handling`, …).
    fn status_in(&self, class: fn(&Status) -> bool) -> Result<(), Rejection> {
        if class(&self.case.status) {
            Ok(())
        } else {
            Err(self.state(format_args!("it is {}", self.case.status)))
        }
    }

    /// The acting unit as a department id.
    fn department(&self) -> Result<DepartmentId, Rejection> {
        DepartmentId::parse(&self.actor.id).map_err(|e| self.invalid(e))
    }

    fn handle_due(&self) -> OffsetDateTime {
        self.case
            .dispatch
            .as_ref()
            .map(|d| d.handle_due)
            .unwrap_or(self.now)
    }

    fn not_assigned(&self) -> Rejection {
        let to: Vec<&str> = self.case.departments().map(|d| d.as_str()).collect();
        let mut why = if to.is_empty() {
            "it is not dispatched yet".to_owned()
        } else {
            format!("it is dispatched to {}", to.join(", "))
        };
        if !self.case.summoned.is_empty() {
            let summoned: Vec<&str> = self.case.summoned.keys().map(|d| d.as_str()).collect();
            why.push_str(&format!(" and summons {}", summoned.join(", ")));
        }
        self.refuse(RejectionKind::NotAssigned, why)
    }

    fn assigned(&self) -> Result<(), Rejection> {
        if self.case.is_assigned_to(&self.actor.id) {
            Ok(())
        } else {
            Err(self.not_assigned())
        }
    }

    fn assigned_or_summoned(&self) -> Result<(), Rejection> {
        if self.case.is_assigned_to(&self.actor.id)
            || self.case.summons_of(&self.actor.id).is_some()
        {
            Ok(())
        } else {
            Err(self.not_assigned())
        }
    }

    fn lead(&self) -> Result<(), Rejection> {
        match self.case.lead() {
            Some(lead) if lead.as_str() == self.actor.id => Ok(()),
            Some(lead) if self.case.is_assigned_to(&self.actor.id) => Err(self.refuse(
                RejectionKind::NotAssigned,
                format_args!("only the lead department {lead} may"),
            )),
            _ => self.assigned(),
        }
    }

    /// The case's mediation, run by this actor.
    fn mediator(&self) -> Result<&Mediation, Rejection> {
        let Some(m) = &self.case.mediation else {
            return Err(self.state("it has no mediation"));
        };
        if m.mediator != self.actor.id {
            return Err(self.refuse(
                RejectionKind::NotAssigned,
                format_args!("it is mediated by {}", m.mediator),
            ));
        }
        Ok(m)
    }

    /// An open mediation this mediator runs; `in_time` also requires the mediation
    /// deadline not to have passed.
    fn mediating(&self, in_time: bool) -> Result<&Mediation, Rejection> {
        self.allow(&[ActorKind::Mediator])?;
        self.status(&[Status::InMediation])?;
        let m = self.mediator()?;
        if m.failure.is_some() {
            return Err(self.state("its mediation has failed"));
        }
        if in_time && self.now > m.mediation_due {
            return Err(self.state(format_args!(
                "its mediation deadline passed at {}",
                rfc3339(m.mediation_due)
            )));
        }
        Ok(m)
    }

    fn dispatch(&self, c: &crate::command::Dispatch) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::System, ActorKind::Supervisor])?;
        self.status(&[Status::Received])?;
        if c.assisting.contains(&c.lead) {
            return Err(self.invalid(format_args!("{} cannot both lead and assist", c.lead)));
        }
        let unique: BTreeSet<&DepartmentId> = c.assisting.iter().collect();
        if unique.len() != c.assisting.len() {
            return Err(self.invalid("assisting: a department is named twice"));
        }
        if c.handle_due < c.sign_due {
            return Err(self.invalid("the handling deadline is before the sign deadline"));
        }
        if c.sign_due <= self.now {
            return Err(self.invalid(format_args!(
                "sign_due: {} is already past",
                rfc3339(c.sign_due)
            )));
        }
        // Routing excludes units that returned the case; a supervisor may overrule
        // a return it finds unfounded.
        if self.actor.kind == ActorKind::System && self.case.returned_by.contains(&c.lead) {
            return Err(self.invalid(format_args!("lead: {} returned this case before", c.lead)));
        }
        Ok(Event::CaseDispatched(CaseDispatched {
            lead: c.lead.clone(),
            assisting: c.assisting.clone(),
            sign_due: c.sign_due,
            handle_due: c.handle_due,
            rule: c.rule.clone(),
            return_due: c.return_due,
        }))
    }

    fn sign(&self) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Department, ActorKind::Street])?;
        self.status(&[Status::Dispatched, Status::InProgress])?;
        let case = self.case;
        if case.is_assigned_to(&self.actor.id) {
            if case.signed.iter().any(|d| d.as_str() == self.actor.id) {
                return Err(self.state("it has already signed"));
            }
            let on_time = case
                .dispatch
                .as_ref()
                .is_some_and(|d| self.now <= d.sign_due);
            return Ok(Event::DispatchSigned(DispatchSigned {
                department: self.department()?,
                on_time,
                whistle: false,
            }));
        }
        let Some(summons) = case.summons_of(&self.actor.id) else {
            return Err(self.not_assigned());
        };
        if summons.signed {
            return Err(self.state("it has already signed"));
        }
        Ok(Event::DispatchSigned(DispatchSigned {
            department: self.department()?,
            on_time: self.now <= summons.report_due,
            whistle: true,
        }))
    }

    fn whistle(&self, c: &crate::command::BlowWhistle) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Street])?;
        self.status(&[Status::Dispatched, Status::InProgress])?;
        self.assigned()?;
        self.text("reason", &c.reason)?;
        if c.departments.is_empty() {
            return Err(self.invalid("departments: summon at least one department"));
        }
        let mut seen = BTreeSet::new();
        for (i, department) in c.departments.iter().enumerate() {
            let why = if !seen.insert(department) {
                "is named twice"
            } else if department.as_str() == self.actor.id {
                "is the whistling street itself"
            } else if self.case.is_assigned_to(department.as_str()) {
                "is already dispatched the case"
            } else if self.case.summoned.contains_key(department) {
                "is already summoned"
            } else {
                continue;
            };
            return Err(self.invalid(format_args!("departments[{i}]: {department} {why}")));
        }
        if c.report_due <= self.now {
            return Err(self.invalid(format_args!(
                "report_due: {} is already past",
                rfc3339(c.report_due)
            )));
        }
        Ok(Event::WhistleBlown(WhistleBlown {
            street: self.department()?,
            departments: c.departments.clone(),
            report_due: c.report_due,
            reason: c.reason.trim().to_owned(),
        }))
    }

    fn rate(&self, c: &crate::command::RateReportIn) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Street])?;
        if c.ratings.is_empty() {
            return Err(self.invalid("ratings: rate at least one department"));
        }
        let mut seen = BTreeSet::new();
        for (i, rating) in c.ratings.iter().enumerate() {
            let department = &rating.department;
            let Some(summons) = self.case.summoned.get(department) else {
                return Err(self.refuse(
                    RejectionKind::NotAssigned,
                    format_args!("ratings[{i}]: {department} was not summoned to it"),
                ));
            };
            if summons.street.as_str() != self.actor.id {
                return Err(self.refuse(
                    RejectionKind::NotAssigned,
                    format_args!(
                        "ratings[{i}]: {department} was summoned by {}, who alone rates it",
                        summons.street
                    ),
                ));
            }
            if !seen.insert(department) {
                return Err(self.invalid(format_args!("ratings[{i}]: {department} is rated twice")));
            }
            if !(1..=5).contains(&rating.score) {
                return Err(self.invalid(format_args!(
                    "ratings[{i}].score: {} is not a whole score from 1 to 5",
                    rating.score
                )));
            }
            if summons.score.is_some() {
                return Err(self.state(format_args!("ratings[{i}]: {department} is already rated")));
            }
        }
        Ok(Event::ReportInRated(ReportInRated {
            street: self.department()?,
            ratings: c
                .ratings
                .iter()
                .map(|r| ReportInRating {
                    department: r.department.clone(),
                    score: r.score,
                    comment: clean(&r.comment),
                })
                .collect(),
        }))
    }

    /// Accepted exactly for an open deadline ([`Case::open_deadlines`]) that has passed.
    fn missed(&self, c: &crate::command::MarkDeadlineMissed) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::System])?;
        let department = &c.department;
        let Some(open) = self.case.open_deadline(c.deadline, department) else {
            return Err(self.why_not_open(c));
        };
        if self.now <= open.due {
            return Err(self.state(format_args!(
                "the deadline of {department} runs until {}",
                rfc3339(open.due)
            )));
        }
        Ok(Event::DeadlineMissed(DeadlineMissed {
            deadline: c.deadline,
            department: department.clone(),
            due: open.due,
        }))
    }

    /// Why a deadline is not open, in words a person can act on.
    fn why_not_open(&self, c: &crate::command::MarkDeadlineMissed) -> Rejection {
        let case = self.case;
        let department = &c.department;
        if let Err(r) = self.status_in(Status::is_overdue_able) {
            return r;
        }
        let why = match c.deadline {
            Deadline::Sign if !case.is_assigned_to(department.as_str()) => {
                return self.invalid(format_args!(
                    "department: it is not dispatched to {department}"
                ))
            }
            Deadline::Sign if case.signed.contains(department) => {
                format!("{department} has signed")
            }
            Deadline::Handle if case.lead() != Some(department) => {
                return self.invalid(format_args!("department: {department} does not lead it"))
            }
            Deadline::Report => match case.summoned.get(department) {
                None => {
                    return self.invalid(format_args!("department: {department} was not summoned"))
                }
                Some(s) if s.reported.is_some() => format!("{department} has reported in"),
                Some(_) => format!("this deadline of {department} is already marked missed"),
            },
            _ => format!("this deadline of {department} is already marked missed"),
        };
        self.state(why)
    }
}

mod deadlines;

pub use deadlines::OpenDeadline;

#[cfg(test)]
mod escalation_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
