//! Escalation: the system (a missed deadline), a supervisor or the lead raises the case
//! up the configured ladder; a level is never reached twice.

use super::decision::{level_name, Decision};
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Escalate;
use crate::event::{CaseEscalated, Event};

impl Decision<'_> {
    pub(super) fn escalate(&self, c: &Escalate) -> Result<Event, Rejection> {
        self.allow(&[
            ActorKind::System,
            ActorKind::Supervisor,
            ActorKind::Department,
            ActorKind::Street,
        ])?;
        if matches!(self.actor.kind, ActorKind::Department | ActorKind::Street) {
            self.lead()?;
        }
        self.status(&[
            Status::Received,
            Status::Dispatched,
            Status::InProgress,
            Status::Suspended,
        ])?;
        self.text("reason", &c.reason)?;
        let case = self.case;
        if let Some(level) = case.level {
            if c.rank.unwrap_or_else(|| c.level.rank()) <= case.level_rank {
                let name = match &case.level_id {
                    Some(id) => format!("level {id}"),
                    None => level_name(level).to_owned(),
                };
                return Err(self.state(format_args!("it is already escalated to {name}")));
            }
        }
        Ok(Event::CaseEscalated(CaseEscalated {
            level: c.level,
            by: self.actor.clone(),
            reason: c.reason.trim().to_owned(),
            level_id: c.level_id.clone(),
            rank: c.rank,
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
    fn escalation_climbs_and_records_who_escalated() {
        let mut case = given(&signed());
        let escalate = |level| {
            Command::Escalate(Escalate {
                level,
                reason: "社区无法协调".into(),
                level_id: None,
                rank: None,
            })
        };
        refused(
            &case,
            &operator(),
            escalate(EscalationLevel::Street),
            RejectionKind::Forbidden,
        );
        let event = accept(
            &mut case,
            &housing(),
            escalate(EscalationLevel::Street),
            NOW,
        );
        assert!(matches!(event, Event::CaseEscalated(e) if e.by == housing()));
        refused(
            &case,
            &supervisor(),
            escalate(EscalationLevel::Street),
            RejectionKind::InvalidState,
        );
        accept(
            &mut case,
            &Actor::routing(),
            escalate(EscalationLevel::Department),
            NOW,
        );
        assert_eq!(case.level, Some(EscalationLevel::Department));

        let supervise = Command::Supervise(Supervise {
            text: "请三日内办结".into(),
            respond_by: None,
        });
        refused(
            &case,
            &operator(),
            supervise.clone(),
            RejectionKind::Forbidden,
        );
        accept(&mut case, &supervisor(), supervise, NOW);
        assert_eq!(case.supervisions, 1);
    }

    fn escalate(level: EscalationLevel, configured: Option<(&str, u32)>) -> Command {
        Command::Escalate(Escalate {
            level,
            reason: "签收超期".into(),
            level_id: configured.map(|(id, _)| id.to_owned()),
            rank: configured.map(|(_, rank)| rank),
        })
    }

    #[test]
    fn an_event_without_a_configured_level_loads_and_ranks_by_its_grid_level() {
        let old = serde_json::json!({
            "level": "street",
            "by": {"kind": "system", "id": "routing"},
            "reason": "sign deadline of dept.water missed"
        });
        let event = Event::from_parts("CaseEscalated", 1, &old).expect("an old event loads");
        let mut case = given(&replied()[..3]);
        case.apply(&event);
        assert_eq!(case.level, Some(EscalationLevel::Street));
        assert_eq!((case.level_id.as_deref(), case.level_rank), (None, 2));
        // The next configured level must rank above it.
        let r = case
            .decide(
                &Actor::routing(),
                &escalate(EscalationLevel::Street, Some(("street", 2))),
                NOW,
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        let up = case
            .decide(
                &Actor::routing(),
                &escalate(EscalationLevel::Department, Some(("department", 3))),
                NOW,
            )
            .unwrap();
        case.apply(&up);
        assert_eq!(
            (case.level_id.as_deref(), case.level_rank),
            (Some("department"), 3)
        );
    }

    #[test]
    fn a_ladder_longer_than_the_grid_levels_still_climbs_by_rank() {
        let mut case = given(&replied()[..3]);
        for rank in 1..=6 {
            let event = case
                .decide(
                    &Actor::routing(),
                    &escalate(EscalationLevel::of_rank(rank), Some(("level", rank))),
                    NOW,
                )
                .unwrap_or_else(|r| panic!("rank {rank}: {r}"));
            case.apply(&event);
            assert_eq!(case.level_rank, rank);
        }
        assert_eq!(case.level, Some(EscalationLevel::Leadership));
    }
}
