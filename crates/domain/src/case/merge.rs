//! 重复件 duplicate: an operator or supervisor merges a case into another (the gateway
//! checks the target is visible, open and not merged).

use super::decision::Decision;
use super::Rejection;
use crate::actor::ActorKind;
use crate::command::Merge;
use crate::event::{CaseMerged, Event};

impl Decision<'_> {
    pub(super) fn merge(&self, c: &Merge) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator, ActorKind::Supervisor])?;
        if c.into == self.case.id {
            return Err(self.invalid("into: a case cannot merge into itself"));
        }
        Ok(Event::CaseMerged(CaseMerged { into: c.into }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;

    #[test]
    fn a_duplicate_merges_into_another_case_never_into_itself() {
        let mut case = given(&replied()[..1]);
        let other = CaseId::for_filing("op.zhang", "call-2");
        let itself = Command::Merge(Merge { into: case.id });
        let why = refused(&case, &operator(), itself, RejectionKind::Invalid);
        assert!(why.contains("into itself"), "{why}");
        refused(
            &case,
            &housing(),
            Command::Merge(Merge { into: other }),
            RejectionKind::Forbidden,
        );
        accept(
            &mut case,
            &operator(),
            Command::Merge(Merge { into: other }),
            NOW,
        );
        assert_eq!(
            (case.status, case.merged_into),
            (Status::Merged, Some(other))
        );
    }
}
