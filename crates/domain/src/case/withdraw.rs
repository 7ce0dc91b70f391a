//! Withdrawal: the operator records that the citizen withdrew an open case.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Reason;
use crate::event::{CaseWithdrawn, Event};

impl Decision<'_> {
    pub(super) fn withdraw(&self, r: &Reason) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator])?;
        self.status_in(Status::is_open)?;
        self.text("reason", &r.reason)?;
        Ok(Event::CaseWithdrawn(CaseWithdrawn {
            reason: r.reason.trim().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;

    #[test]
    fn an_operator_withdraws_an_open_case_with_a_reason() {
        let mut case = given(&signed());
        refused(
            &case,
            &operator(),
            Command::Withdraw(reason(" ")),
            RejectionKind::Invalid,
        );
        refused(
            &case,
            &housing(),
            Command::Withdraw(reason("撤诉")),
            RejectionKind::Forbidden,
        );
        accept(
            &mut case,
            &operator(),
            Command::Withdraw(reason("来电人撤回")),
            NOW,
        );
        assert_eq!(case.status, Status::Withdrawn);
        let again = refused(
            &case,
            &operator(),
            Command::Withdraw(reason("again")),
            RejectionKind::InvalidState,
        );
        assert!(again.ends_with("it is withdrawn"), "{again}");
    }
}
