//! [`Decision`]: one command being decided, and the checks every action shares. Each
//! action's own rules live in the module named after it (`sign`, `return_case`, …).

use super::{Case, Rejection, RejectionKind, Status};
use crate::actor::{Actor, ActorKind};
use crate::command::Command;
use crate::event::EscalationLevel;
use crate::ids::DepartmentId;
use std::fmt;
use time::OffsetDateTime;

/// One command being decided: the case, who asks, what, and when. Its checks
/// return rejections that name the actor, the case and the reason.
pub(super) struct Decision<'a> {
    pub(super) case: &'a Case,
    pub(super) actor: &'a Actor,
    pub(super) command: &'a Command,
    pub(super) now: OffsetDateTime,
}

impl Decision<'_> {
    pub(super) fn refuse(&self, kind: RejectionKind, why: impl fmt::Display) -> Rejection {
        self.case.refuse(kind, self.actor, self.command, why)
    }

    pub(super) fn invalid(&self, why: impl fmt::Display) -> Rejection {
        self.refuse(RejectionKind::Invalid, why)
    }

    pub(super) fn state(&self, why: impl fmt::Display) -> Rejection {
        self.refuse(RejectionKind::InvalidState, why)
    }

    pub(super) fn allow(&self, kinds: &[ActorKind]) -> Result<(), Rejection> {
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

    pub(super) fn reason(&self, reason: &str) -> Result<(), Rejection> {
        if reason.trim().is_empty() {
            Err(self.invalid("reason: a reason is required"))
        } else {
            Ok(())
        }
    }

    pub(super) fn text(&self, field: &str, text: &str) -> Result<(), Rejection> {
        if text.trim().is_empty() {
            Err(self.invalid(format_args!("{field}: must not be empty")))
        } else {
            Ok(())
        }
    }

    pub(super) fn status(&self, allowed: &[Status]) -> Result<(), Rejection> {
        if allowed.contains(&self.case.status) {
            Ok(())
        } else {
            Err(self.state(format_args!("it is {}", self.case.status)))
        }
    }

    /// The case's status must be of `class` (`Status::is_in_handling`, …).
    pub(super) fn status_in(&self, class: fn(&Status) -> bool) -> Result<(), Rejection> {
        if class(&self.case.status) {
            Ok(())
        } else {
            Err(self.state(format_args!("it is {}", self.case.status)))
        }
    }

    /// The acting unit as a department id.
    pub(super) fn department(&self) -> Result<DepartmentId, Rejection> {
        DepartmentId::parse(&self.actor.id).map_err(|e| self.invalid(e))
    }

    pub(super) fn handle_due(&self) -> OffsetDateTime {
        self.case
            .dispatch
            .as_ref()
            .map(|d| d.handle_due)
            .unwrap_or(self.now)
    }

    pub(super) fn not_assigned(&self) -> Rejection {
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

    pub(super) fn assigned(&self) -> Result<(), Rejection> {
        if self.case.is_assigned_to(&self.actor.id) {
            Ok(())
        } else {
            Err(self.not_assigned())
        }
    }

    pub(super) fn assigned_or_summoned(&self) -> Result<(), Rejection> {
        if self.case.is_assigned_to(&self.actor.id)
            || self.case.summons_of(&self.actor.id).is_some()
        {
            Ok(())
        } else {
            Err(self.not_assigned())
        }
    }

    pub(super) fn lead(&self) -> Result<(), Rejection> {
        match self.case.lead() {
            Some(lead) if lead.as_str() == self.actor.id => Ok(()),
            Some(lead) if self.case.is_assigned_to(&self.actor.id) => Err(self.refuse(
                RejectionKind::NotAssigned,
                format_args!("only the lead department {lead} may"),
            )),
            _ => self.assigned(),
        }
    }
}

pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

pub(super) fn level_name(level: EscalationLevel) -> &'static str {
    match level {
        EscalationLevel::Community => "community level",
        EscalationLevel::Street => "street level",
        EscalationLevel::Department => "department level",
        EscalationLevel::Leadership => "leadership level",
    }
}

/// A trimmed optional text, `None` when blank.
pub(super) fn clean(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}
