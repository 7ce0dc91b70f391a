//! 派单 dispatch: routing (or a supervisor) gives the case a lead, assisting units and
//! deadlines.

use super::decision::{rfc3339, Decision};
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Dispatch;
use crate::event::{CaseDispatched, Event};
use crate::ids::DepartmentId;
use std::collections::BTreeSet;

impl Decision<'_> {
    pub(super) fn dispatch(&self, c: &Dispatch) -> Result<Event, Rejection> {
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use time::macros::datetime;

    fn dispatch(lead: &str, assisting: &[&str]) -> Command {
        Command::Dispatch(Dispatch {
            lead: dept(lead),
            assisting: assisting.iter().map(|d| dept(d)).collect(),
            sign_due: datetime!(2026-11-23 12:00 UTC),
            handle_due: datetime!(2026-11-30 18:00 UTC),
            rule: "noise".into(),
            return_due: None,
        })
    }

    #[test]
    fn routing_dispatches_a_received_case_once_to_distinct_units() {
        let case = given(&replied()[..1]);
        let routing = Actor::routing();
        let lead_assists = refused(
            &case,
            &routing,
            dispatch("dept.housing", &["dept.housing"]),
            RejectionKind::Invalid,
        );
        assert!(
            lead_assists.contains("cannot both lead and assist"),
            "{lead_assists}"
        );
        let twice = refused(
            &case,
            &routing,
            dispatch("dept.housing", &["dept.water", "dept.water"]),
            RejectionKind::Invalid,
        );
        assert!(twice.contains("named twice"), "{twice}");
        refused(
            &case,
            &operator(),
            dispatch("dept.housing", &[]),
            RejectionKind::Forbidden,
        );

        let dispatched = given(&replied()[..2]);
        let again = refused(
            &dispatched,
            &routing,
            dispatch("dept.water", &[]),
            RejectionKind::InvalidState,
        );
        assert!(again.ends_with("it is dispatched"), "{again}");
    }

    #[test]
    fn a_sign_deadline_already_past_is_refused() {
        let case = given(&replied()[..1]);
        let mut late = dispatch("dept.housing", &[]);
        if let Command::Dispatch(d) = &mut late {
            d.sign_due = NOW;
        }
        let why = refused(&case, &Actor::routing(), late, RejectionKind::Invalid);
        assert!(why.contains("sign_due"), "{why}");
    }
}
