//! 回访 callback: the hotline asks the citizen about a replied case; satisfied closes
//! it, unsatisfied leaves it waiting for a reopen.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::RecordCallback;
use crate::event::{CallbackRecorded, Event, Satisfaction};

impl Decision<'_> {
    pub(super) fn record_callback(&self, c: &RecordCallback) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator])?;
        self.status(&[Status::Replied])?;
        if self.case.awaits_reopen() {
            return Err(self.state("an unsatisfied callback is recorded; it awaits reopen"));
        }
        let closed = matches!(
            c.satisfaction,
            Satisfaction::Satisfied | Satisfaction::BasicallySatisfied
        );
        Ok(Event::CallbackRecorded(CallbackRecorded {
            satisfaction: c.satisfaction,
            resolved: c.resolved,
            comment: c.comment.clone(),
            closed,
            recorded_at: Some(self.now),
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
    fn a_case_runs_from_filing_to_closed_by_a_satisfied_callback() {
        let mut case = given(&replied());
        assert_eq!(case.status, Status::Replied);
        assert_eq!(case.version, 4);
        let event = case
            .decide(
                &operator(),
                &Command::RecordCallback(RecordCallback {
                    satisfaction: Satisfaction::Satisfied,
                    resolved: true,
                    comment: None,
                }),
                NOW,
            )
            .unwrap();
        assert!(matches!(&event, Event::CallbackRecorded(c) if c.closed));
        case.apply(&event);
        assert_eq!(case.status, Status::Closed);
    }

    #[test]
    fn an_unsatisfied_callback_leaves_the_case_open() {
        let mut case = given(&replied());
        let event = case
            .decide(
                &operator(),
                &Command::RecordCallback(RecordCallback {
                    satisfaction: Satisfaction::Unsatisfied,
                    resolved: false,
                    comment: Some("还在施工".into()),
                }),
                NOW,
            )
            .unwrap();
        case.apply(&event);
        assert_eq!(case.status, Status::Replied);
    }

    #[test]
    fn only_operators_record_callbacks() {
        let case = given(&replied());
        let r = case
            .decide(
                &housing(),
                &Command::RecordCallback(RecordCallback {
                    satisfaction: Satisfaction::Satisfied,
                    resolved: true,
                    comment: None,
                }),
                NOW,
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::Forbidden);
    }
}
