//! Property tests: random sequences of commands from random actors against one case.
//!
//! Invariants checked on every sequence:
//! (a) replay: folding the accepted events (read back through `Event::from_parts` at
//!     their schema) into a fresh case gives exactly the live state;
//! (b) versions are contiguous: each accepted command adds version n + 1;
//! (c) no rule is broken by an accepted command (see [`check_rules`]);
//! (d) a rejection leaves the state unchanged.

use super::*;
use crate::actor::ActorKind;
use crate::command::FileCase;
use crate::command::*;
use crate::event::*;
use crate::event::{Party, PartyRole, ReferralTarget, ReplyResult};
use crate::personal::Sealed;
use proptest::prelude::*;
use time::macros::datetime;
use time::Duration;

const BASE: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn actors() -> Vec<Actor> {
    use ActorKind::*;
    [
        (Operator, "op.a"),
        (Supervisor, "sup.a"),
        (System, "routing"),
        (Department, "dept.housing"),
        (Department, "dept.water"),
        (Department, "dept.police"),
        (Street, "street.hubin"),
        (Street, "street.xihu"),
        (Mediator, "med.a"),
        (Mediator, "med.b"),
        (GridWorker, "grid.a"),
        (Public, "public"),
    ]
    .into_iter()
    .map(|(kind, id)| Actor::new(kind, id))
    .collect()
}

const UNITS: &[&str] = &[
    "dept.housing",
    "dept.water",
    "dept.police",
    "street.hubin",
    "street.xihu",
];

/// The random choices of one step; [`command`] turns them into a command.
#[derive(Debug, Clone)]
struct Step {
    actor: usize,
    kind: u8,
    a: usize,
    b: usize,
    hours: i64,
    pick: u8,
    flag: bool,
    minutes: i64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..actors().len(),
        0u8..45,
        0..UNITS.len(),
        0..UNITS.len(),
        -4i64..240,
        0u8..7,
        any::<bool>(),
        0i64..600,
    )
        .prop_map(|(actor, kind, a, b, hours, pick, flag, minutes)| Step {
            actor,
            kind,
            a,
            b,
            hours,
            pick,
            flag,
            minutes,
        })
}

fn unit(i: usize) -> DepartmentId {
    DepartmentId::parse(UNITS[i]).unwrap()
}

fn text(s: &Step) -> String {
    if s.pick == 0 {
        " ".into()
    } else {
        "说明".into()
    }
}

fn sealed() -> Sealed {
    Sealed {
        masked: "王**".into(),
        sealed: "c2VhbGVk".into(),
    }
}

fn filing() -> Command {
    use crate::event::{CaseKind, Channel, Location, Urgency};
    use crate::personal::Reporter;
    Command::FileCase(FileCase {
        channel: Channel::Hotline,
        kind: CaseKind::Dispute,
        category: crate::ids::Category::parse("neighbor_dispute").unwrap(),
        urgency: Urgency::Normal,
        title: "邻里纠纷".into(),
        description: "楼上漏水".into(),
        location: Location::default(),
        reporter: Some(Reporter {
            phone: Some(sealed()),
            ..Default::default()
        }),
        source: Default::default(),
        grid_found: None,
        personal: Vec::new(),
    })
}

/// Kinds 30 and up repeat the commands that move a case forward, so that random
/// sequences get deep into the lifecycle before a final state stops them.
const FORWARD: [u8; 15] = [2, 3, 10, 11, 12, 17, 4, 5, 6, 8, 9, 13, 3, 2, 20];

fn command(s: &Step, case_id: CaseId, now: OffsetDateTime) -> Command {
    let at = |hours: i64| now + Duration::hours(hours);
    let reason = || Reason { reason: text(s) };
    // Final states (decline, merge, withdraw) are reached rarely, for the same reason.
    let rarely = s.pick == 6;
    let kind = match s.kind {
        k @ 0..30 => k,
        k => FORWARD[usize::from(k - 30)],
    };
    match kind {
        0 => Command::ReplyAtIntake(ReplyAtIntake {
            text: text(s),
            kb_entry: None,
            personal: Vec::new(),
        }),
        1 => Command::Decline(Decline {
            reason: [
                DeclineReason::InLitigation,
                DeclineReason::InArbitration,
                DeclineReason::InPetition,
                DeclineReason::OutOfScope,
                DeclineReason::Other,
            ][usize::from(s.pick) % 5],
            text: if s.flag {
                "诉讼中".into()
            } else {
                String::new()
            },
        }),
        2 => Command::Dispatch(Dispatch {
            lead: unit(s.a),
            assisting: if s.flag { vec![unit(s.b)] } else { vec![] },
            sign_due: at(s.hours / 4),
            handle_due: at(s.hours),
            rule: "random".into(),
            return_due: (s.pick > 2).then(|| at(s.hours / 8)),
        }),
        3 => Command::Sign,
        4 => Command::Return(Return {
            reason: text(s),
            suggested_owner: unit(s.b),
        }),
        5 => Command::RequestExtension(RequestExtension {
            reason: text(s),
            handle_due: at(s.hours + 48),
            request_by: at(s.hours / 2),
        }),
        6 => Command::DecideExtension(DecideExtension {
            granted: s.flag,
            handle_due: (s.pick == 6).then(|| at(s.hours + 100)),
            comment: None,
        }),
        7 => Command::RecordProgress(RecordProgress {
            text: text(s),
            personal: Vec::new(),
        }),
        8 => {
            if s.pick == 0 {
                Command::RequestSuspension(reason())
            } else {
                Command::Suspend(Suspend {
                    reason: if s.flag {
                        String::new()
                    } else {
                        "等待鉴定".into()
                    },
                })
            }
        }
        9 => Command::Resume(Resume {
            handle_due: at(s.hours * 2),
        }),
        10 => Command::Reply(Reply {
            result: ReplyResult::Resolved,
            text: text(s),
            summary_for_citizen: s.flag.then(|| "已解决".into()),
            personal: Vec::new(),
        }),
        11 => Command::BlowWhistle(BlowWhistle {
            departments: if s.flag {
                vec![unit(s.a), unit(s.b)]
            } else {
                vec![unit(s.a)]
            },
            report_due: at(s.hours / 8),
            reason: text(s),
        }),
        12 => Command::ReportIn,
        13 => Command::RateReportIn(RateReportIn {
            ratings: vec![Rating {
                department: unit(s.a),
                score: s.pick,
                comment: None,
            }],
        }),
        14 => Command::MarkDeadlineMissed(MarkDeadlineMissed {
            deadline: [Deadline::Sign, Deadline::Handle, Deadline::Report][usize::from(s.pick) % 3],
            department: unit(s.a),
        }),
        15 => Command::Escalate(Escalate {
            level: [
                EscalationLevel::Community,
                EscalationLevel::Street,
                EscalationLevel::Department,
                EscalationLevel::Leadership,
            ][usize::from(s.pick) % 4],
            reason: "无法解决".into(),
            level_id: None,
            rank: None,
        }),
        16 => Command::Supervise(Supervise {
            text: text(s),
            respond_by: s.flag.then(|| at(s.hours)),
        }),
        17 => Command::RecordCallback(RecordCallback {
            satisfaction: [
                Satisfaction::Satisfied,
                Satisfaction::BasicallySatisfied,
                Satisfaction::Unsatisfied,
            ][usize::from(s.pick) % 3],
            resolved: s.flag,
            comment: None,
        }),
        18 => Command::Reopen(reason()),
        19 => Command::Close(Close { reason: None }),
        20 => Command::OpenMediation(OpenMediation {
            parties: vec![
                Party {
                    role: PartyRole::Applicant,
                    name: sealed(),
                    phone: None,
                    consent: true,
                },
                Party {
                    role: PartyRole::Respondent,
                    name: sealed(),
                    phone: Some(sealed()),
                    consent: s.flag || s.pick > 1,
                },
            ],
            mediation_due: at(s.hours),
            mediator: None,
        }),
        21 => Command::RecordMediationSession(RecordMediationSession { summary: text(s) }),
        22 => Command::RecordAgreement(RecordAgreement {
            terms: text(s),
            court_confirmation: s.flag,
            court_confirmation_due: at(s.hours + 24),
        }),
        23 => Command::RecordMediationFailure(reason()),
        24 => Command::Refer(Refer {
            to: if s.flag {
                ReferralTarget::Court
            } else {
                ReferralTarget::Arbitration
            },
            institution: text(s),
        }),
        25 => Command::Merge(Merge {
            into: if !rarely {
                case_id
            } else {
                CaseId::for_filing("op.a", "other")
            },
        }),
        26 => Command::Annotate(Annotate {
            text: text(s),
            personal: Vec::new(),
        }),
        27 => Command::Withdraw(Reason {
            reason: if rarely {
                "撤回".into()
            } else {
                String::new()
            },
        }),
        28 => Command::RevealPersonalData(reason()),
        29 if s.flag => Command::RequestErasure(reason()),
        _ => Command::ErasePersonalData(reason()),
    }
}

/// (c): what an accepted command may have done, judged on the state before it.
fn check_rules(before: &Case, actor: &Actor, event: &Event) -> Result<(), TestCaseError> {
    let kind = actor.kind;
    if before.status.is_final() {
        let allowed = matches!(
            event,
            Event::NoteAdded(_)
                | Event::AttachmentAdded(_)
                | Event::PersonalDataRevealed(_)
                | Event::ErasureRequested(_)
                | Event::PersonalDataErased(_)
        ) || matches!(event, Event::CaseReopened(_))
            && before.status == Status::Closed;
        prop_assert!(allowed, "{} after {}", event.event_type(), before.status);
    }
    let summoned = |d: &DepartmentId| before.summoned.contains_key(d);
    match event {
        Event::CaseReplied(r) => {
            prop_assert_eq!(before.lead(), Some(&r.department));
            prop_assert_eq!(&actor.id, r.department.as_str());
        }
        Event::DispatchSigned(s) => {
            prop_assert_eq!(&actor.id, s.department.as_str());
            prop_assert!(before.is_assigned_to(s.department.as_str()) || summoned(&s.department));
        }
        Event::DispatchReturned(r) => prop_assert_eq!(before.lead(), Some(&r.department)),
        // Approvals are the supervisor's own commands.
        Event::ExtensionDecided(_)
        | Event::SupervisionIssued(_)
        | Event::CaseSuspended(_)
        | Event::PersonalDataErased(_) => prop_assert_eq!(kind, ActorKind::Supervisor),
        Event::SuspensionRequested(r) => {
            prop_assert_eq!(before.lead(), Some(&r.department));
            prop_assert_eq!(&actor.id, r.department.as_str());
        }
        Event::ErasureRequested(_) => prop_assert_eq!(kind, ActorKind::Operator),
        Event::ReportInRated(r) => {
            prop_assert_eq!(kind, ActorKind::Street);
            prop_assert_eq!(&actor.id, r.street.as_str());
            for rating in &r.ratings {
                let summons = before.summoned.get(&rating.department);
                prop_assert!(summons.is_some_and(|s| s.street == r.street));
                prop_assert!((1..=5).contains(&rating.score));
            }
        }
        Event::ReportedIn(r) => prop_assert!(summoned(&r.department)),
        Event::ProgressRecorded(p) => {
            prop_assert!(before.is_assigned_to(p.department.as_str()) || summoned(&p.department))
        }
        Event::DeadlineMissed(_) => prop_assert_eq!(kind, ActorKind::System),
        Event::RepliedAtIntake(_)
        | Event::CaseDeclined(_)
        | Event::CallbackRecorded(_)
        | Event::CaseWithdrawn(_) => prop_assert_eq!(kind, ActorKind::Operator),
        Event::CaseReopened(_) | Event::CaseMerged(_) => {
            prop_assert!(matches!(kind, ActorKind::Operator | ActorKind::Supervisor))
        }
        Event::CaseDispatched(_) => {
            prop_assert!(matches!(kind, ActorKind::System | ActorKind::Supervisor))
        }
        Event::MediationOpened(m) => {
            prop_assert_eq!(kind, ActorKind::Mediator);
            prop_assert!(m.parties.len() >= 2 && m.parties.iter().all(|p| p.consent));
        }
        Event::MediationSessionHeld(_)
        | Event::AgreementReached(_)
        | Event::MediationFailed(_)
        | Event::CaseReferred(_) => {
            let mediator = before.mediation.as_ref().map(|m| m.mediator.as_str());
            prop_assert_eq!(mediator, Some(actor.id.as_str()));
        }
        Event::WhistleBlown(w) => {
            prop_assert_eq!(kind, ActorKind::Street);
            prop_assert!(before.is_assigned_to(w.street.as_str()));
        }
        _ => {}
    }
    Ok(())
}

fn run(steps: &[Step]) -> Result<(Case, Vec<Event>), TestCaseError> {
    let actors = actors();
    let mut case = Case::new(CaseId::for_filing("op.a", "call-1"));
    case.number = Some("NH-20261123-000001".into());
    let mut now = BASE;
    let first = case.decide(&actors[0], &filing(), now).expect("filing");
    case.apply(&first);
    let mut events = vec![first];
    for s in steps {
        now += Duration::minutes(s.minutes);
        let actor = &actors[s.actor];
        let command = command(s, case.id, now);
        let before = case.clone();
        match case.decide(actor, &command, now) {
            Ok(event) => {
                check_rules(&before, actor, &event)?;
                case.apply(&event);
                // (b) contiguous versions: one more than before, and the log's length.
                prop_assert_eq!(case.version, before.version + 1);
                prop_assert_eq!(case.version, events.len() as u64 + 1);
                prop_assert!(case.returned_by.is_superset(&before.returned_by));
                events.push(event);
            }
            Err(rejection) => {
                // (d) nothing changed, and the refusal names the case.
                prop_assert_eq!(&case, &before);
                prop_assert!(
                    rejection.detail.contains(&case.label()),
                    "{}",
                    rejection.detail
                );
            }
        }
    }
    Ok((case, events))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_commands_keep_every_invariant(steps in prop::collection::vec(step(), 1..80)) {
        let (case, events) = run(&steps)?;
        // (a) replay from the events as stored (type, schema, data) gives the same state.
        let mut replayed = Case::new(case.id);
        replayed.number = case.number.clone();
        for event in &events {
            let stored = Event::from_parts(event.event_type(), event.schema(), &event.data())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&stored, event);
            replayed.apply(&stored);
        }
        prop_assert_eq!(replayed, case);
    }
}

/// The generator reaches deep into the lifecycle, so the invariants are exercised
/// on more than refusals.
#[test]
fn random_sequences_reach_most_event_types() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = prop::collection::vec(step(), 60..80);
    let mut seen = BTreeSet::new();
    for _ in 0..2000 {
        let steps = strategy.new_tree(&mut runner).unwrap().current();
        let (_, events) = run(&steps).unwrap();
        seen.extend(events.iter().map(Event::event_type));
    }
    assert!(
        seen.len() >= 29,
        "only {} event types: {seen:?}",
        seen.len()
    );
}
