//! 甄别: a supervisor accepts or rejects the pending appeal of a callback, with a reason.

use super::decision::Decision;
use super::{Case, Rejection};
use crate::actor::ActorKind;
use crate::command::DecideAppeal;
use crate::event::{AppealDecided, Event};

impl Decision<'_> {
    pub(super) fn decide_appeal(&self, c: &DecideAppeal) -> Result<Event, Rejection> {
        let (d, actor) = (self, self.actor);
        d.allow(&[ActorKind::Supervisor])?;
        let pending = self
            .case
            .rated
            .as_ref()
            .and_then(|r| r.appeal.as_ref().map(|a| (r.version, a)))
            .filter(|(_, a)| a.accepted.is_none());
        let Some((callback_version, appeal)) = pending else {
            return Err(d.state("no appeal is pending"));
        };
        d.reason(&c.reason)?;
        Ok(Event::AppealDecided(AppealDecided {
            callback_version,
            department: appeal.department.clone(),
            accepted: c.accepted,
            reason: c.reason.trim().to_owned(),
            decided_by: actor.id.clone(),
        }))
    }
}

impl Case {
    pub(super) fn apply_appeal_decided(&mut self, a: &AppealDecided) {
        if let Some(appeal) = self
            .rated
            .as_mut()
            .filter(|r| r.version == a.callback_version)
            .and_then(|r| r.appeal.as_mut())
        {
            appeal.accepted = Some(a.accepted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::appeal_rating::tests::{appeal, rated_unsatisfied};
    use super::super::testing::{housing, NOW};
    use super::*;
    use crate::actor::Actor;
    use crate::command::Command;
    use crate::RejectionKind;
    use time::macros::datetime;

    fn supervisor() -> Actor {
        Actor::new(ActorKind::Supervisor, "sup.li")
    }

    fn decide(accepted: bool) -> Command {
        Command::DecideAppeal(DecideAppeal {
            accepted,
            reason: "经核实，诉求不合理".into(),
        })
    }

    fn appealed() -> Case {
        let mut case = rated_unsatisfied();
        let e = case
            .decide(&housing(), &appeal(datetime!(2026-11-26 10:00 UTC)), NOW)
            .unwrap();
        case.apply(&e);
        case
    }

    #[test]
    fn a_supervisor_accepts_or_rejects_the_pending_appeal() {
        for accepted in [true, false] {
            let mut case = appealed();
            let event = case.decide(&supervisor(), &decide(accepted), NOW).unwrap();
            assert_eq!(
                event,
                Event::AppealDecided(AppealDecided {
                    callback_version: 5,
                    department: crate::DepartmentId::parse("dept.housing").unwrap(),
                    accepted,
                    reason: "经核实，诉求不合理".into(),
                    decided_by: "sup.li".into(),
                })
            );
            case.apply(&event);
            let rated = case.rated.as_ref().unwrap();
            assert_eq!(rated.appeal.as_ref().unwrap().accepted, Some(accepted));
            // Ruled once: no second ruling, no second appeal.
            let r = case.decide(&supervisor(), &decide(true), NOW).unwrap_err();
            assert_eq!(r.kind, RejectionKind::InvalidState);
            let r = case
                .decide(&housing(), &appeal(datetime!(2026-11-26 10:00 UTC)), NOW)
                .unwrap_err();
            assert_eq!(r.kind, RejectionKind::InvalidState);
        }
    }

    #[test]
    fn only_a_supervisor_decides_and_only_a_pending_appeal() {
        let case = appealed();
        let r = case.decide(&housing(), &decide(true), NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Forbidden);
        let r = rated_unsatisfied()
            .decide(&supervisor(), &decide(true), NOW)
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        assert!(r.detail.contains("no appeal is pending"), "{}", r.detail);
        let empty = Command::DecideAppeal(DecideAppeal {
            accepted: false,
            reason: String::new(),
        });
        let r = case.decide(&supervisor(), &empty, NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
    }
}
