//! 重办 reopen: an operator or supervisor sends a replied or closed case back for a new
//! dispatch.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Reason;
use crate::event::{CaseReopened, Event};

impl Decision<'_> {
    pub(super) fn reopen(&self, r: &Reason) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator, ActorKind::Supervisor])?;
        self.status(&[Status::Replied, Status::Closed])?;
        self.text("reason", &r.reason)?;
        Ok(Event::CaseReopened(CaseReopened {
            reason: r.reason.trim().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::actor::Actor;
    use crate::command::*;
    use crate::event::*;

    #[test]
    fn an_unsatisfied_callback_awaits_reopen_which_leads_to_a_new_dispatch() {
        let mut case = given(&replied());
        let callback = |satisfaction| {
            Command::RecordCallback(RecordCallback {
                satisfaction,
                resolved: false,
                comment: None,
            })
        };
        accept(
            &mut case,
            &operator(),
            callback(Satisfaction::Unsatisfied),
            NOW,
        );
        assert!(case.awaits_reopen());
        refused(
            &case,
            &operator(),
            callback(Satisfaction::Satisfied),
            RejectionKind::InvalidState,
        );
        refused(
            &case,
            &housing(),
            Command::Reopen(reason("不满意")),
            RejectionKind::Forbidden,
        );
        accept(
            &mut case,
            &operator(),
            Command::Reopen(reason("群众不满意")),
            NOW,
        );
        assert_eq!(case.status, Status::Received);
        assert!(case.dispatch.is_none() && case.reply.is_none() && case.callback.is_none());
        accept(&mut case, &Actor::routing(), dispatch_to_housing(), NOW);
        assert_eq!(case.status, Status::Dispatched);
        assert_eq!(case.reopened, 1);
    }
}
