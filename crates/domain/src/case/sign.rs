//! 签收 sign: a dispatched department, or a department summoned by a whistle, takes
//! the case on; signing after the deadline is recorded as late.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::event::{DispatchSigned, Event};

impl Decision<'_> {
    pub(super) fn sign(&self) -> Result<Event, Rejection> {
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use crate::event::*;
    use time::macros::datetime;

    #[test]
    fn a_department_not_dispatched_to_cannot_sign() {
        let case = given(&replied()[..2]);
        let r = case.decide(&water(), &Command::Sign, NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::NotAssigned);
        assert_eq!(
            r.detail,
            "dept.water cannot sign case NH-20261123-000001: it is dispatched to dept.housing, street.hubin"
        );
    }

    #[test]
    fn signing_after_the_deadline_is_recorded_as_late() {
        let case = given(&replied()[..2]);
        let late = datetime!(2026-11-23 12:01 UTC);
        let event = case.decide(&housing(), &Command::Sign, late).unwrap();
        assert!(matches!(event, Event::DispatchSigned(s) if !s.on_time));
    }

    #[test]
    fn signing_twice_is_refused() {
        let case = given(&replied()[..3]);
        let r = case.decide(&housing(), &Command::Sign, NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
    }
}
