//! Given events, when a command, then an event or a rejection — no I/O.

use super::*;
use crate::command::{Close, Dispatch, RecordCallback, Reply};
use crate::event::{CaseKind, Channel, Location, ReplyResult, Urgency};
use crate::ids::{Category, GridCode};
use crate::personal::{Reporter, Sealed};
use time::macros::datetime;

pub(super) const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

pub(super) fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op.zhang")
}
pub(super) fn housing() -> Actor {
    Actor::new(ActorKind::Department, "dept.housing")
}
pub(super) fn water() -> Actor {
    Actor::new(ActorKind::Department, "dept.water")
}

pub(super) fn file_noise() -> Command {
    Command::FileCase(FileCase {
        channel: Channel::Hotline,
        kind: CaseKind::Complaint,
        category: Category::parse("noise").unwrap(),
        urgency: Urgency::Normal,
        title: "夜间施工噪音扰民".into(),
        description: "滨江路12号工地每晚十一点后仍在施工".into(),
        location: Location {
            address: None,
            grid: Some(GridCode::parse("NH.HB.BJ.03").unwrap()),
            ..Default::default()
        },
        reporter: Some(Reporter {
            name: Some(Sealed {
                masked: "王**".into(),
                sealed: "x".into(),
            }),
            phone: None,
            ..Default::default()
        }),
        source: Default::default(),
        grid_found: None,
        personal: Vec::new(),
    })
}

pub(super) fn dispatch_to_housing() -> Command {
    Command::Dispatch(Dispatch {
        lead: DepartmentId::parse("dept.housing").unwrap(),
        assisting: vec![DepartmentId::parse("street.hubin").unwrap()],
        sign_due: datetime!(2026-11-23 12:00 UTC),
        handle_due: datetime!(2026-11-30 18:00 UTC),
        rule: "noise".into(),
        return_due: Some(datetime!(2026-11-24 10:00 UTC)),
    })
}

/// Folds the given commands, each of which must be accepted.
pub(super) fn given(steps: &[(Actor, Command)]) -> Case {
    let mut case = Case::new(CaseId::for_filing("op.zhang", "call-1"));
    case.number = Some("NH-20261123-000001".into());
    for (actor, command) in steps {
        let event = case
            .decide(actor, command, NOW)
            .unwrap_or_else(|r| panic!("given step {} refused: {r}", command.action()));
        case.apply(&event);
    }
    case
}

pub(super) fn replied() -> Vec<(Actor, Command)> {
    vec![
        (operator(), file_noise()),
        (Actor::routing(), dispatch_to_housing()),
        (housing(), Command::Sign),
        (
            housing(),
            Command::Reply(Reply {
                result: ReplyResult::Resolved,
                text: "已责令工地夜间停工".into(),
                summary_for_citizen: None,
            }),
        ),
    ]
}

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
fn a_department_not_dispatched_to_cannot_sign() {
    let case = given(&replied()[..2]);
    let r = case.decide(&water(), &Command::Sign, NOW).unwrap_err();
    assert_eq!(r.kind, RejectionKind::NotAssigned);
    assert_eq!(
        r.detail,
        "dept.water cannot sign case NH-20261123-000001: it is dispatched to dept.housing, street.hubin"
    );
}

#[test]
fn signing_after_the_deadline_is_recorded_as_late() {
    let case = given(&replied()[..2]);
    let late = datetime!(2026-11-23 12:01 UTC);
    let event = case.decide(&housing(), &Command::Sign, late).unwrap();
    assert!(matches!(event, Event::DispatchSigned(s) if !s.on_time));
}

#[test]
fn an_assisting_department_signs_but_does_not_reply() {
    let street = Actor::new(ActorKind::Street, "street.hubin");
    let mut case = given(&replied()[..3]);
    let signed = case.decide(&street, &Command::Sign, NOW).unwrap();
    case.apply(&signed);
    let r = case
        .decide(
            &street,
            &Command::Reply(Reply {
                result: ReplyResult::Resolved,
                text: "x".into(),
                summary_for_citizen: None,
            }),
            NOW,
        )
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::NotAssigned);
    assert!(r.detail.contains("only the lead department dept.housing"));
}

#[test]
fn the_lead_must_sign_before_replying() {
    let case = given(&replied()[..2]);
    let r = case
        .decide(
            &housing(),
            &Command::Reply(Reply {
                result: ReplyResult::Resolved,
                text: "done".into(),
                summary_for_citizen: None,
            }),
            NOW,
        )
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::InvalidState);
}

#[test]
fn signing_twice_is_refused() {
    let case = given(&replied()[..3]);
    let r = case.decide(&housing(), &Command::Sign, NOW).unwrap_err();
    assert_eq!(r.kind, RejectionKind::InvalidState);
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

#[test]
fn a_closed_case_refuses_another_close() {
    let mut steps = replied();
    steps.push((operator(), Command::Close(Close { reason: None })));
    let case = given(&steps);
    assert_eq!(case.status, Status::Closed);
    let r = case
        .decide(&operator(), &Command::Close(Close { reason: None }), NOW)
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::InvalidState);
    assert!(r.detail.ends_with("it is closed"), "{}", r.detail);
}

#[test]
fn filing_checks_channel_and_content() {
    let case = Case::new(CaseId::for_filing("x", "y"));
    let r = case.decide(&housing(), &file_noise(), NOW).unwrap_err();
    assert_eq!(r.kind, RejectionKind::Forbidden);
    let Command::FileCase(mut f) = file_noise() else {
        unreachable!()
    };
    f.title = "  ".into();
    let r = case
        .decide(&operator(), &Command::FileCase(f), NOW)
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::Invalid);
    assert!(r.detail.starts_with("title"));
}

#[test]
fn filing_an_existing_case_is_refused() {
    let case = given(&replied()[..1]);
    let r = case.decide(&operator(), &file_noise(), NOW).unwrap_err();
    assert_eq!(r.kind, RejectionKind::AlreadyExists);
}

#[test]
fn commands_on_a_missing_case_are_not_found() {
    let case = Case::new(CaseId::for_filing("x", "y"));
    let r = case.decide(&housing(), &Command::Sign, NOW).unwrap_err();
    assert_eq!(r.kind, RejectionKind::NotFound);
}

#[test]
fn events_round_trip_through_type_and_data() {
    let case = given(&[]);
    let event = case.decide(&operator(), &file_noise(), NOW).unwrap();
    let back = Event::from_parts(event.event_type(), 1, &event.data()).unwrap();
    assert_eq!(back, event);
    assert!(Event::from_parts("NoSuchEvent", 1, &event.data()).is_err());
}

#[test]
fn operators_and_supervisors_reveal_with_a_reason_departments_never() {
    use crate::command::Reason;
    let case = given(&replied()[..2]);
    let reveal = |reason: &str| {
        Command::RevealPersonalData(Reason {
            reason: reason.into(),
        })
    };
    let event = case
        .decide(&operator(), &reveal("回访需要联系来电人"), NOW)
        .unwrap();
    assert!(
        matches!(&event, Event::PersonalDataRevealed(r) if r.fields == ["reporter.name"]),
        "{event:?}"
    );
    let supervisor = Actor::new(ActorKind::Supervisor, "sup.li");
    assert!(case.decide(&supervisor, &reveal("督办核实"), NOW).is_ok());
    let r = case.decide(&housing(), &reveal("想看看"), NOW).unwrap_err();
    assert_eq!(r.kind, RejectionKind::Forbidden);
    let r = case.decide(&operator(), &reveal("  "), NOW).unwrap_err();
    assert_eq!(r.kind, RejectionKind::Invalid);
    assert!(r.detail.contains("reason"), "{}", r.detail);
}

#[test]
fn an_erased_case_reveals_nothing_and_erases_once() {
    use crate::command::Reason;
    let mut case = given(&replied()[..1]);
    let erase = Command::ErasePersonalData(Reason {
        reason: "来电人依法申请删除".into(),
    });
    let supervisor = Actor::new(ActorKind::Supervisor, "sup.li");
    let event = case.decide(&supervisor, &erase, NOW).unwrap();
    case.apply(&event);
    assert!(case.personal_erased);
    assert_eq!(
        case.decide(&supervisor, &erase, NOW).unwrap_err().kind,
        RejectionKind::InvalidState
    );
    let reveal = Command::RevealPersonalData(Reason { reason: "x".into() });
    let r = case.decide(&operator(), &reveal, NOW).unwrap_err();
    assert!(r.detail.contains("erased"), "{}", r.detail);
}

#[test]
fn keeping_masked_values_only_blanks_ciphertexts_and_after_erasure_the_masks() {
    let mut case = given(&[(operator(), file_noise())]);
    case.keep_masked_only();
    let name = |c: &Case| {
        c.filed
            .as_ref()
            .unwrap()
            .reporter
            .clone()
            .unwrap()
            .name
            .unwrap()
    };
    assert_eq!(
        name(&case),
        Sealed {
            masked: "王**".into(),
            sealed: String::new()
        }
    );
    case.personal_erased = true;
    case.keep_masked_only();
    assert_eq!(name(&case).masked, crate::personal::ERASED);
}
