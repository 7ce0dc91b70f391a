//! 退单 return: the lead gives a dispatch back within the return window, with a reason
//! and the unit it suggests instead; routing then excludes it.

use super::decision::{rfc3339, Decision};
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Return;
use crate::event::{DispatchReturned, Event};

impl Decision<'_> {
    pub(super) fn return_case(&self, c: &Return) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Department, ActorKind::Street])?;
        self.lead()?;
        self.status(&[Status::Dispatched, Status::InProgress])?;
        self.text("reason", &c.reason)?;
        if c.suggested_owner.as_str() == self.actor.id {
            return Err(self.invalid("suggested_owner: a department cannot suggest itself"));
        }
        if let Some(due) = self.case.dispatch.as_ref().and_then(|x| x.return_due) {
            if self.now > due {
                return Err(self.state(format_args!("the return window ended at {}", rfc3339(due))));
            }
        }
        Ok(Event::DispatchReturned(DispatchReturned {
            department: self.department()?,
            reason: c.reason.trim().to_owned(),
            suggested_owner: c.suggested_owner.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::actor::Actor;
    use crate::command::*;
    use time::macros::datetime;

    #[test]
    fn the_lead_returns_within_the_window_and_routing_then_excludes_it() {
        let mut case = given(&replied()[..2]);
        let give_back = Command::Return(Return {
            reason: "噪音属城管执法职责".into(),
            suggested_owner: dept("dept.urban"),
        });
        let detail = refused(
            &case,
            &hubin(),
            give_back.clone(),
            RejectionKind::NotAssigned,
        );
        assert!(
            detail.contains("only the lead department dept.housing"),
            "{detail}"
        );
        let late = datetime!(2026-11-24 10:01 UTC);
        let r = case.decide(&housing(), &give_back, late).unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        assert!(
            r.detail
                .contains("the return window ended at 2026-11-24T10:00:00Z"),
            "{}",
            r.detail
        );

        accept(&mut case, &housing(), give_back, NOW);
        assert_eq!(case.status, Status::Received);
        assert!(case.dispatch.is_none() && case.signed.is_empty());
        assert!(case.returned_by.contains(&dept("dept.housing")));

        let detail = refused(
            &case,
            &Actor::routing(),
            dispatch_to_housing(),
            RejectionKind::Invalid,
        );
        assert!(
            detail.contains("dept.housing returned this case before"),
            "{detail}"
        );
        // A supervisor may overrule an unfounded return.
        accept(&mut case, &supervisor(), dispatch_to_housing(), NOW);
        assert_eq!(case.status, Status::Dispatched);
        assert!(case.returned_by.contains(&dept("dept.housing")));
    }
}
