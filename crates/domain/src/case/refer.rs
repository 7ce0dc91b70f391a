//! 诉调对接 referral: after a failed mediation the mediator refers the case to a court
//! or another institution.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Refer;
use crate::event::{CaseReferred, Event};

impl Decision<'_> {
    pub(super) fn refer(&self, c: &Refer) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Mediator])?;
        self.status(&[Status::InMediation])?;
        let m = self.mediator()?;
        if m.failure.is_none() {
            return Err(self.state("its mediation has not failed"));
        }
        self.text("institution", &c.institution)?;
        Ok(Event::CaseReferred(CaseReferred {
            to: c.to,
            institution: c.institution.trim().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use crate::event::*;

    #[test]
    fn a_failed_mediation_is_referred_then_closed() {
        let mut case = given(&with(
            replied()[..1].to_vec(),
            vec![(mediator(), open_mediation(true))],
        ));
        let refer = Command::Refer(Refer {
            to: ReferralTarget::Court,
            institution: "南湖区人民法院".into(),
        });
        refused(
            &case,
            &mediator(),
            refer.clone(),
            RejectionKind::InvalidState,
        );
        accept(
            &mut case,
            &mediator(),
            Command::RecordMediationFailure(reason("被申请人拒绝")),
            NOW,
        );
        accept(&mut case, &mediator(), refer, NOW);
        assert_eq!(case.status, Status::Referred);
        accept(
            &mut case,
            &operator(),
            Command::Close(Close { reason: None }),
            NOW,
        );
        assert_eq!(case.status, Status::Closed);
    }
}
