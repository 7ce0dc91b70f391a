//! The case aggregate: [`Case::decide`] turns a command into one event or a
//! [`Rejection`]; [`Case::apply`] folds an event into the state. Deciding holds every
//! business rule; applying never fails and never checks.

use crate::actor::Actor;
use crate::command::Command;
use crate::event::{
    AgreementReached, CallbackRecorded, CaseDispatched, CaseFiled, CaseReferred, CaseReplied,
    CaseSuspended, Deadline, ErasureRequested, EscalationLevel, Event, ExtensionRequested, Party,
    SuspensionRequested,
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
    /// Files recorded on the case, in order.
    #[serde(default)]
    pub attachments: Vec<crate::event::AttachmentAdded>,
    /// The last callback, whom it counted against, and its appeal (申诉).
    #[serde(default)]
    pub rated: Option<RatedCallback>,
    /// Personal data found in the notes, progress reports and replies (their events'
    /// `personal`), for the audited reveal.
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
            attachments: Vec::new(),
            rated: None,
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
                | Command::AddAttachment(_)
                | Command::RevealPersonalData(_)
                | Command::RequestErasure(_)
                | Command::ErasePersonalData(_)
                | Command::AppealRating(_)
                | Command::DecideAppeal(_)
        ) || matches!(command, Command::Reopen(_))
            && self.status == Status::Closed;
        if self.status.is_final() && !after_final {
            return Err(d.state(format_args!("it is {}", self.status)));
        }
        // One module per glossary action (see the `mod` list at the end of this file).
        match command {
            Command::FileCase(_) => unreachable!("handled above"),
            Command::ReplyAtIntake(c) => d.reply_at_intake(c),
            Command::Decline(c) => d.decline(c),
            Command::Dispatch(c) => d.dispatch(c),
            Command::Sign => d.sign(),
            Command::Return(c) => d.return_case(c),
            Command::RequestExtension(c) => d.request_extension(c),
            Command::DecideExtension(c) => d.decide_extension(c),
            Command::RecordProgress(c) => d.record_progress(c),
            Command::RequestSuspension(c) => d.request_suspension(c),
            Command::Suspend(c) => d.suspend(c),
            Command::Resume(c) => d.resume(c),
            Command::Reply(c) => d.reply(c),
            Command::BlowWhistle(c) => d.whistle(c),
            Command::ReportIn => d.report_in(),
            Command::RateReportIn(c) => d.rate(c),
            Command::MarkDeadlineMissed(c) => d.missed(c),
            Command::Escalate(c) => d.escalate(c),
            Command::Supervise(c) => d.supervise(c),
            Command::RecordCallback(c) => d.record_callback(c),
            Command::Reopen(c) => d.reopen(c),
            Command::Close(c) => d.close(c),
            Command::OpenMediation(c) => d.open_mediation(c),
            Command::RecordMediationSession(c) => d.record_mediation_session(c),
            Command::RecordAgreement(c) => d.record_agreement(c),
            Command::RecordMediationFailure(c) => d.record_mediation_failure(c),
            Command::Refer(c) => d.refer(c),
            Command::Merge(c) => d.merge(c),
            Command::Annotate(c) => d.annotate(c),
            Command::AddAttachment(c) => d.add_attachment(c),
            Command::Withdraw(c) => d.withdraw(c),
            Command::RevealPersonalData(c) => d.reveal(c),
            Command::RequestErasure(c) => d.request_erasure(c),
            Command::ErasePersonalData(c) => d.erase(c),
            Command::AppealRating(c) => d.appeal_rating(c),
            Command::DecideAppeal(c) => d.decide_appeal(c),
        }
    }

    /// The attachment recorded under this object key.
    pub fn attachment(&self, name: &str) -> Option<&crate::event::AttachmentAdded> {
        self.attachments.iter().find(|a| a.name == name)
    }

    /// Object keys of the attachments marked personal: deleted from the bucket when
    /// the case's personal data is erased (again on a replayed erase).
    pub fn personal_attachments(&self) -> Vec<&str> {
        self.attachments
            .iter()
            .filter(|a| a.personal)
            .map(|a| a.name.as_str())
            .collect()
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
            crate::personal::erase_in_text(&mut f.title, &f.personal);
        }
        if let Some(r) = self.reply.as_mut().filter(|_| erased) {
            crate::personal::erase_in_text(&mut r.text, &r.personal);
            crate::personal::erase_in_text(&mut r.summary_for_citizen, &r.personal);
        }
        if let Some(r) = self.intake_reply.as_mut().filter(|_| erased) {
            crate::personal::erase_in_text(&mut r.text, &r.personal);
        }
        let texts = self.filed.iter_mut().flat_map(|f| f.personal.iter_mut());
        let replies = self.reply.iter_mut().flat_map(|r| r.personal.iter_mut());
        let replies = replies.chain(
            self.intake_reply
                .iter_mut()
                .flat_map(|r| r.personal.iter_mut()),
        );
        for s in texts.chain(replies).chain(self.noted.iter_mut()) {
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

    /// Folds one event into the state. Never fails: events are facts.
    pub fn apply(&mut self, event: &Event) {
        self.version += 1;
        match event {
            Event::CaseFiled(f) => {
                self.filed = Some(f.clone());
                self.status = Status::Received;
            }
            Event::RepliedAtIntake(r) => {
                self.noted.extend(r.personal.iter().cloned());
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
            Event::ProgressRecorded(p) => self.noted.extend(p.personal.iter().cloned()),
            Event::PersonalDataRevealed(_) => {}
            Event::AttachmentAdded(a) => self.attachments.push(a.clone()),
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
                self.noted.extend(r.personal.iter().cloned());
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
                self.rated = Some(RatedCallback::of(self, c));
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
            Event::RatingAppealed(a) => self.apply_rating_appealed(a),
            Event::AppealDecided(a) => self.apply_appeal_decided(a),
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

mod annotate;
mod appeal_rating;
mod attachment;
mod callback;
mod close;
mod deadlines;
mod decide_appeal;
mod decision;
mod dispatch;
mod escalate;
mod extension;
mod file;
mod intake;
mod mediation;
mod merge;
mod missed;
mod personal_data;
mod progress;
mod refer;
mod reopen;
mod reply;
mod return_case;
mod sign;
mod supervise;
mod suspension;
mod whistle;
mod withdraw;

use decision::Decision;

pub use appeal_rating::{Appeal, RatedCallback};
pub use deadlines::OpenDeadline;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
