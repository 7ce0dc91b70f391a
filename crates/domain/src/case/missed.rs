//! Missed deadlines: routing's timer marks a deadline missed, accepted exactly for an
//! open deadline ([`super::Case::open_deadlines`]) that has passed.

use super::decision::{rfc3339, Decision};
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::MarkDeadlineMissed;
use crate::event::{Deadline, DeadlineMissed, Event};

impl Decision<'_> {
    pub(super) fn missed(&self, c: &MarkDeadlineMissed) -> Result<Event, Rejection> {
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
    fn why_not_open(&self, c: &MarkDeadlineMissed) -> Rejection {
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

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::actor::Actor;
    use crate::command::*;
    use crate::event::*;
    use time::macros::datetime;

    #[test]
    fn routing_marks_missed_deadlines_once_and_only_when_past() {
        let mut case = given(&replied()[..2]);
        let missed = |deadline, department: &str| {
            Command::MarkDeadlineMissed(MarkDeadlineMissed {
                deadline,
                department: dept(department),
            })
        };
        let after = datetime!(2026-11-23 12:30 UTC);
        let r = case
            .decide(
                &Actor::routing(),
                &missed(Deadline::Sign, "dept.housing"),
                NOW,
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        let r = case
            .decide(
                &supervisor(),
                &missed(Deadline::Sign, "dept.housing"),
                after,
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::Forbidden);
        accept(
            &mut case,
            &Actor::routing(),
            missed(Deadline::Sign, "dept.housing"),
            after,
        );
        let r = case
            .decide(
                &Actor::routing(),
                &missed(Deadline::Sign, "dept.housing"),
                after,
            )
            .unwrap_err();
        assert!(r.detail.contains("already marked"), "{}", r.detail);
        let r = case
            .decide(
                &Actor::routing(),
                &missed(Deadline::Handle, "street.hubin"),
                after,
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
    }
}
