//! Suspension: the lead asks (the clock keeps running); a supervisor suspends (the
//! clock stops); resuming sets a handling deadline never shorter than before.

use super::decision::{rfc3339, Decision};
use super::{Rejection, RejectionKind, Status};
use crate::actor::ActorKind;
use crate::command::{Reason, Resume, Suspend};
use crate::event::{CaseResumed, CaseSuspended, Event, SuspensionRequested};

impl Decision<'_> {
    pub(super) fn request_suspension(&self, r: &Reason) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Department, ActorKind::Street])?;
        self.lead()?;
        self.status(&[Status::InProgress])?;
        self.text("reason", &r.reason)?;
        if self.case.pending_suspension.is_some() {
            return Err(self.state("a suspension request is already pending"));
        }
        Ok(Event::SuspensionRequested(SuspensionRequested {
            department: self.department()?,
            reason: r.reason.trim().to_owned(),
        }))
    }

    pub(super) fn suspend(&self, c: &Suspend) -> Result<Event, Rejection> {
        if matches!(self.actor.kind, ActorKind::Department | ActorKind::Street) {
            return Err(self.refuse(
                RejectionKind::Forbidden,
                "a department asks with request_suspension; a supervisor approves with suspend",
            ));
        }
        self.allow(&[ActorKind::Supervisor])?;
        self.status(&[Status::InProgress])?;
        let Some(lead) = self.case.lead().cloned() else {
            return Err(self.state("it is not dispatched"));
        };
        // Approving a request keeps its reason unless the supervisor gives one.
        let reason = match (&self.case.pending_suspension, c.reason.trim()) {
            (Some(asked), "") => asked.reason.clone(),
            (_, "") => return Err(self.invalid("reason: must not be empty")),
            (_, given) => given.to_owned(),
        };
        Ok(Event::CaseSuspended(CaseSuspended {
            department: lead,
            reason,
            approved_by: self.actor.id.clone(),
            suspended_at: self.now,
        }))
    }

    pub(super) fn resume(&self, c: &Resume) -> Result<Event, Rejection> {
        self.allow(&[
            ActorKind::Department,
            ActorKind::Street,
            ActorKind::Supervisor,
        ])?;
        if self.actor.kind != ActorKind::Supervisor {
            self.lead()?;
        }
        self.status(&[Status::Suspended])?;
        let Some(suspension) = &self.case.suspension else {
            return Err(self.state("it is not suspended"));
        };
        if c.handle_due <= self.now {
            return Err(self.invalid(format_args!(
                "handle_due: {} is already past",
                rfc3339(c.handle_due)
            )));
        }
        if c.handle_due < self.handle_due() {
            return Err(self.invalid(format_args!(
                "handle_due: {} is before the deadline {} it had when suspended; a suspension never shortens the handling time",
                rfc3339(c.handle_due),
                rfc3339(self.handle_due())
            )));
        }
        Ok(Event::CaseResumed(CaseResumed {
            suspended_at: suspension.suspended_at,
            handle_due: c.handle_due,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use crate::event::*;
    use time::macros::datetime;

    #[test]
    fn suspension_needs_an_approver_and_resuming_never_shortens_the_deadline() {
        let mut case = given(&signed());
        let suspend = |reason: &str| {
            Command::Suspend(Suspend {
                reason: reason.into(),
            })
        };
        let ask = Command::RequestSuspension(reason("等待业主提供材料"));
        // A department cannot suspend by itself, whatever it writes.
        refused(
            &case,
            &housing(),
            suspend("等待业主提供材料"),
            RejectionKind::Forbidden,
        );
        refused(&case, &hubin(), ask.clone(), RejectionKind::NotAssigned);
        refused(
            &case,
            &housing(),
            Command::RequestSuspension(reason(" ")),
            RejectionKind::Invalid,
        );
        // The lead asks: the clock keeps running until a supervisor approves.
        let asked_at = datetime!(2026-11-24 10:00 UTC);
        let event = accept(&mut case, &housing(), ask.clone(), asked_at);
        assert!(matches!(event, Event::SuspensionRequested(_)));
        assert_eq!(case.status, Status::InProgress);
        assert!(case.suspension.is_none());
        refused(&case, &housing(), ask, RejectionKind::InvalidState);
        let at = datetime!(2026-11-25 10:00 UTC);
        let event = accept(&mut case, &supervisor(), suspend(""), at);
        let Event::CaseSuspended(s) = event else {
            panic!("not a suspension")
        };
        assert_eq!(
            (
                s.approved_by.as_str(),
                s.department.as_str(),
                s.reason.as_str()
            ),
            ("sup.li", "dept.housing", "等待业主提供材料")
        );
        assert_eq!(s.suspended_at, at, "the clock stops at approval");
        assert_eq!(case.status, Status::Suspended);
        assert!(case.pending_suspension.is_none());
        let reply = Command::Reply(Reply {
            result: ReplyResult::Resolved,
            text: "x".into(),
            summary_for_citizen: None,
            personal: Vec::new(),
        });
        refused(&case, &housing(), reply, RejectionKind::InvalidState);

        let resume = |handle_due| Command::Resume(Resume { handle_due });
        let later = datetime!(2026-11-28 10:00 UTC);
        let r = case
            .decide(&housing(), &resume(datetime!(2026-11-29 18:00 UTC)), later)
            .unwrap_err();
        assert!(r.detail.contains("never shortens"), "{}", r.detail);
        let event = accept(
            &mut case,
            &housing(),
            resume(datetime!(2026-12-03 18:00 UTC)),
            later,
        );
        assert!(matches!(event, Event::CaseResumed(r) if r.suspended_at == at));
        assert_eq!(case.status, Status::InProgress);
        assert_eq!(
            case.dispatch.as_ref().unwrap().handle_due,
            datetime!(2026-12-03 18:00 UTC)
        );
    }

    #[test]
    fn a_supervisor_suspends_directly_with_a_reason() {
        let mut case = given(&signed());
        let suspend = |reason: &str| {
            Command::Suspend(Suspend {
                reason: reason.into(),
            })
        };
        refused(&case, &supervisor(), suspend(""), RejectionKind::Invalid);
        refused(
            &case,
            &operator(),
            suspend("等待鉴定"),
            RejectionKind::Forbidden,
        );
        let event = accept(&mut case, &supervisor(), suspend("等待鉴定"), NOW);
        assert!(matches!(event, Event::CaseSuspended(s) if s.approved_by == "sup.li"));
    }

    #[test]
    fn an_old_suspension_naming_its_approver_in_data_still_applies() {
        let old = serde_json::json!({"department": "dept.housing", "reason": "等待",
            "approved_by": "sup.li", "suspended_at": "2026-11-24T04:00:00Z"});
        let event = Event::from_parts("CaseSuspended", 1, &old).expect("old event loads");
        let mut case = given(&signed());
        case.apply(&event);
        assert_eq!(case.status, Status::Suspended);
        let old = serde_json::json!({"reason": "本人申请"});
        let event = Event::from_parts("PersonalDataErased", 1, &old).expect("old erasure loads");
        case.apply(&event);
        assert!(case.personal_erased);
    }
}
