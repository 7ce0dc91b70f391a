//! Shared givens for the actions' given/when/then tests: actors, a noise complaint
//! filed by the hotline, its dispatch, and folding accepted commands.

use super::*;
use crate::actor::ActorKind;
use crate::command::*;
use crate::event::*;
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
                personal: Vec::new(),
            }),
        ),
    ]
}

pub(super) fn supervisor() -> Actor {
    Actor::new(ActorKind::Supervisor, "sup.li")
}

pub(super) fn hubin() -> Actor {
    Actor::new(ActorKind::Street, "street.hubin")
}

pub(super) fn police() -> Actor {
    Actor::new(ActorKind::Department, "dept.police")
}

pub(super) fn mediator() -> Actor {
    Actor::new(ActorKind::Mediator, "med.chen")
}

pub(super) fn dept(id: &str) -> DepartmentId {
    DepartmentId::parse(id).unwrap()
}

pub(super) fn reason(text: &str) -> Reason {
    Reason {
        reason: text.into(),
    }
}

/// Filed, dispatched to dept.housing (assisting street.hubin) and signed by the lead.
pub(super) fn signed() -> Vec<(Actor, Command)> {
    replied()[..3].to_vec()
}

pub(super) fn with(
    mut steps: Vec<(Actor, Command)>,
    more: Vec<(Actor, Command)>,
) -> Vec<(Actor, Command)> {
    steps.extend(more);
    steps
}

pub(super) fn refused(case: &Case, actor: &Actor, command: Command, kind: RejectionKind) -> String {
    let r = case.decide(actor, &command, NOW).unwrap_err();
    assert_eq!(r.kind, kind, "{}", r.detail);
    assert!(r.detail.contains(&case.label()), "{}", r.detail);
    r.detail
}

pub(super) fn accept(
    case: &mut Case,
    actor: &Actor,
    command: Command,
    at: OffsetDateTime,
) -> Event {
    let event = case
        .decide(actor, &command, at)
        .unwrap_or_else(|r| panic!("{} refused: {r}", command.action()));
    case.apply(&event);
    event
}

pub(super) fn party(role: PartyRole, consent: bool) -> crate::event::Party {
    crate::event::Party {
        role,
        name: Sealed {
            masked: "王**".into(),
            sealed: "c2VhbGVk".into(),
        },
        phone: None,
        consent,
    }
}

pub(super) fn open_mediation(consent: bool) -> Command {
    Command::OpenMediation(OpenMediation {
        parties: vec![
            party(PartyRole::Applicant, true),
            party(PartyRole::Respondent, consent),
        ],
        mediation_due: datetime!(2026-12-23 18:00 UTC),
        mediator: None,
    })
}

pub(super) fn assigned_to(mediator: &str) -> Command {
    let Command::OpenMediation(mut open) = open_mediation(true) else {
        unreachable!()
    };
    open.mediator = Some(mediator.to_owned());
    Command::OpenMediation(open)
}

/// `command` as the owning service's edge hands it on: its free texts masked, their
/// phones and ID numbers sealed (by a stand-in for the case's key) as at `version`.
pub(super) fn sealed_at_the_edge(mut command: Command, version: u64) -> Command {
    crate::personal::seal_free_texts(&mut command, version, |_, _, masked| Sealed {
        masked,
        sealed: "c2VhbGVk".into(),
    });
    command
}

/// The case holds `field` sealed, an audited reveal names it, and once the key is
/// erased the view (`keep_masked_only`) keeps neither the sealed nor the masked form.
pub(super) fn revealed_then_erased(case: &mut Case, field: &str) {
    let fields = case.personal_fields();
    assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    let reveal = Command::RevealPersonalData(reason("核实联系人"));
    let event = accept(case, &operator(), reveal, NOW);
    assert!(
        matches!(&event, Event::PersonalDataRevealed(r) if r.fields.iter().any(|f| f == field)),
        "{event:?}"
    );
    let erase = Command::ErasePersonalData(reason("依法删除"));
    accept(case, &supervisor(), erase, NOW);
    case.keep_masked_only();
    let (_, sealed) = case
        .sealed_fields()
        .into_iter()
        .find(|(f, _)| f == field)
        .expect("the field stays, erased");
    assert_eq!(
        (sealed.masked.as_str(), sealed.sealed.as_str()),
        (crate::personal::ERASED, "")
    );
}
