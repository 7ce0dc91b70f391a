//! The case aggregate: [`Case::decide`] turns a command into one event or a
//! [`Rejection`]; [`Case::apply`] folds an event into the state. Deciding holds every
//! business rule; applying never fails and never checks.

use crate::actor::{Actor, ActorKind};
use crate::command::{Command, FileCase};
use crate::event::{
    CallbackRecorded, CaseClosed, CaseDispatched, CaseFiled, CaseReplied, DispatchSigned, Event,
    NoteAdded, PersonalDataErased, PersonalDataRevealed, Satisfaction,
};
use crate::ids::{CaseId, DepartmentId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
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
    pub fn as_str(&self) -> &'static str {
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

/// The state of one case, folded from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    pub id: CaseId,
    /// The number read to citizens (`NH-20261123-000123`); set by the store, which
    /// derives it from the filing's date and stream sequence.
    pub number: Option<String>,
    pub status: Status,
    pub filed: Option<CaseFiled>,
    pub dispatch: Option<CaseDispatched>,
    pub signed: BTreeSet<DepartmentId>,
    pub reply: Option<CaseReplied>,
    pub callback: Option<CallbackRecorded>,
    /// The data key is erased: personal fields read as erased.
    pub personal_erased: bool,
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
            callback: None,
            personal_erased: false,
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
        match command {
            Command::FileCase(_) => unreachable!("handled above"),
            Command::Dispatch(d) => {
                self.allow(actor, command, &[ActorKind::System, ActorKind::Supervisor])?;
                self.require_status(actor, command, &[Status::Received])?;
                if d.assisting.contains(&d.lead) {
                    return Err(self.invalid(
                        actor,
                        command,
                        format!("{} cannot both lead and assist", d.lead),
                    ));
                }
                if d.handle_due < d.sign_due {
                    return Err(self.invalid(
                        actor,
                        command,
                        "the handling deadline is before the sign deadline",
                    ));
                }
                Ok(Event::CaseDispatched(CaseDispatched {
                    lead: d.lead.clone(),
                    assisting: d.assisting.clone(),
                    sign_due: d.sign_due,
                    handle_due: d.handle_due,
                    rule: d.rule.clone(),
                }))
            }
            Command::Sign => {
                self.allow(actor, command, &[ActorKind::Department, ActorKind::Street])?;
                self.require_status(actor, command, &[Status::Dispatched, Status::InProgress])?;
                self.require_assigned(actor, command)?;
                if self.signed.iter().any(|d| d.as_str() == actor.id) {
                    return Err(self.refuse(
                        RejectionKind::InvalidState,
                        actor,
                        command,
                        "it has already signed",
                    ));
                }
                let department = DepartmentId::parse(&actor.id)
                    .map_err(|e| self.invalid(actor, command, e.to_string()))?;
                let on_time = self.dispatch.as_ref().is_some_and(|d| now <= d.sign_due);
                Ok(Event::DispatchSigned(DispatchSigned {
                    department,
                    on_time,
                }))
            }
            Command::Reply(r) => {
                self.allow(actor, command, &[ActorKind::Department, ActorKind::Street])?;
                self.require_lead(actor, command)?;
                let signed = self.signed.iter().any(|d| d.as_str() == actor.id);
                if self.status == Status::Dispatched && !signed {
                    return Err(self.refuse(
                        RejectionKind::InvalidState,
                        actor,
                        command,
                        "it has not signed the case yet",
                    ));
                }
                self.require_status(actor, command, &[Status::InProgress])?;
                if r.text.trim().is_empty() {
                    return Err(self.invalid(actor, command, "the reply text is empty"));
                }
                Ok(Event::CaseReplied(CaseReplied {
                    department: DepartmentId::parse(&actor.id)
                        .map_err(|e| self.invalid(actor, command, e.to_string()))?,
                    result: r.result,
                    text: r.text.clone(),
                }))
            }
            Command::RecordCallback(c) => {
                self.allow(actor, command, &[ActorKind::Operator])?;
                self.require_status(actor, command, &[Status::Replied])?;
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
            Command::Annotate(a) => {
                if matches!(actor.kind, ActorKind::Public) {
                    return Err(self.refuse(
                        RejectionKind::Forbidden,
                        actor,
                        command,
                        "only staff may annotate",
                    ));
                }
                if a.text.trim().is_empty() {
                    return Err(self.invalid(actor, command, "the note is empty"));
                }
                Ok(Event::NoteAdded(NoteAdded {
                    text: a.text.clone(),
                }))
            }
            Command::RevealPersonalData(r) => {
                self.allow(
                    actor,
                    command,
                    &[ActorKind::Operator, ActorKind::Supervisor],
                )?;
                self.require_reason(actor, command, &r.reason)?;
                if self.personal_erased {
                    return Err(self.refuse(
                        RejectionKind::InvalidState,
                        actor,
                        command,
                        "its personal data is erased",
                    ));
                }
                let fields: Vec<String> = self
                    .filed
                    .as_ref()
                    .and_then(|f| f.reporter.as_ref())
                    .map(|r| r.fields().map(|(name, _)| name.to_owned()).collect())
                    .unwrap_or_default();
                if fields.is_empty() {
                    return Err(self.refuse(
                        RejectionKind::InvalidState,
                        actor,
                        command,
                        "it holds no personal data",
                    ));
                }
                Ok(Event::PersonalDataRevealed(PersonalDataRevealed {
                    fields,
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::ErasePersonalData(r) => {
                self.allow(
                    actor,
                    command,
                    &[ActorKind::Operator, ActorKind::Supervisor],
                )?;
                self.require_reason(actor, command, &r.reason)?;
                if self.personal_erased {
                    return Err(self.refuse(
                        RejectionKind::InvalidState,
                        actor,
                        command,
                        "its personal data is already erased",
                    ));
                }
                Ok(Event::PersonalDataErased(PersonalDataErased {
                    reason: r.reason.trim().to_owned(),
                }))
            }
            Command::Close(c) => {
                self.allow(actor, command, &[ActorKind::Operator, ActorKind::System])?;
                self.require_status(actor, command, &[Status::Replied])?;
                Ok(Event::CaseClosed(CaseClosed {
                    reason: c
                        .reason
                        .clone()
                        .unwrap_or_else(|| "replied; closed without callback".to_owned()),
                }))
            }
        }
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
                "location.grid: a grid patrol case needs its grid code".into(),
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
            Event::CaseDispatched(d) => {
                self.dispatch = Some(d.clone());
                self.signed.clear();
                self.status = Status::Dispatched;
            }
            Event::DispatchSigned(s) => {
                self.signed.insert(s.department.clone());
                if self.lead() == Some(&s.department) {
                    self.status = Status::InProgress;
                }
            }
            Event::CaseReplied(r) => {
                self.reply = Some(r.clone());
                self.status = Status::Replied;
            }
            Event::CallbackRecorded(c) => {
                self.callback = Some(c.clone());
                if c.closed {
                    self.status = Status::Closed;
                }
            }
            Event::CaseClosed(_) => self.status = Status::Closed,
            Event::NoteAdded(_) | Event::PersonalDataRevealed(_) => {}
            Event::PersonalDataErased(_) => self.personal_erased = true,
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

    fn invalid(&self, actor: &Actor, command: &Command, why: impl fmt::Display) -> Rejection {
        self.refuse(RejectionKind::Invalid, actor, command, why)
    }

    fn allow(
        &self,
        actor: &Actor,
        command: &Command,
        kinds: &[ActorKind],
    ) -> Result<(), Rejection> {
        if kinds.contains(&actor.kind) {
            Ok(())
        } else {
            let who: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            Err(self.refuse(
                RejectionKind::Forbidden,
                actor,
                command,
                format!("only {} may", who.join(" or ")),
            ))
        }
    }

    fn require_reason(
        &self,
        actor: &Actor,
        command: &Command,
        reason: &str,
    ) -> Result<(), Rejection> {
        if reason.trim().is_empty() {
            Err(self.invalid(actor, command, "reason: a reason is required"))
        } else {
            Ok(())
        }
    }

    fn require_status(
        &self,
        actor: &Actor,
        command: &Command,
        allowed: &[Status],
    ) -> Result<(), Rejection> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(self.refuse(
                RejectionKind::InvalidState,
                actor,
                command,
                format!("it is {}", self.status),
            ))
        }
    }

    fn require_assigned(&self, actor: &Actor, command: &Command) -> Result<(), Rejection> {
        if self.is_assigned_to(&actor.id) {
            return Ok(());
        }
        let to: Vec<&str> = self.departments().map(|d| d.as_str()).collect();
        let why = if to.is_empty() {
            "it is not dispatched yet".to_owned()
        } else {
            format!("it is dispatched to {}", to.join(", "))
        };
        Err(self.refuse(RejectionKind::NotAssigned, actor, command, why))
    }

    fn require_lead(&self, actor: &Actor, command: &Command) -> Result<(), Rejection> {
        match self.lead() {
            Some(lead) if lead.as_str() == actor.id => Ok(()),
            Some(lead) if self.is_assigned_to(&actor.id) => Err(self.refuse(
                RejectionKind::NotAssigned,
                actor,
                command,
                format!("only the lead department {lead} may"),
            )),
            _ => self.require_assigned(actor, command),
        }
    }
}

#[cfg(test)]
mod tests;
