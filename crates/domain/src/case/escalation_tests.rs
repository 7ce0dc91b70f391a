//! Escalation by the configured ladder's rank; events written before levels had ids
//! still load and rank by their grid level.

use super::tests::{given, NOW};
use super::*;
use crate::command::Escalate;

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
    let mut case = given(&super::tests::replied()[..3]);
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
    let mut case = given(&super::tests::replied()[..3]);
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
