//! Scenarios across actions: a missing case, final statuses, events' wire form and
//! masking. Each action's own given/when/then tests sit beside it (`sign.rs`, …).

use super::testing::*;
use super::*;
use crate::command::*;
use crate::event::*;
use crate::personal::Sealed;

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

#[test]
fn a_final_case_accepts_only_notes_personal_data_and_the_reopen_of_a_closed_case() {
    let mut case = given(&with(
        replied(),
        vec![(operator(), Command::Close(Close { reason: None }))],
    ));
    refused(
        &case,
        &Actor::routing(),
        dispatch_to_housing(),
        RejectionKind::InvalidState,
    );
    accept(
        &mut case,
        &housing(),
        Command::Annotate(Annotate {
            text: "归档".into(),
            personal: Vec::new(),
        }),
        NOW,
    );
    accept(
        &mut case,
        &supervisor(),
        Command::Reopen(reason("复查发现未解决")),
        NOW,
    );
    assert_eq!(case.status, Status::Received);

    let into = CaseId::for_filing("op.zhang", "call-0");
    let merge = Command::Merge(Merge { into });
    refused(&case, &housing(), merge.clone(), RejectionKind::Forbidden);
    let itself = Command::Merge(Merge { into: case.id });
    refused(&case, &operator(), itself, RejectionKind::Invalid);
    accept(&mut case, &operator(), merge, NOW);
    assert_eq!(
        (case.status, case.merged_into),
        (Status::Merged, Some(into))
    );
    let detail = refused(
        &case,
        &supervisor(),
        Command::Reopen(reason("x")),
        RejectionKind::InvalidState,
    );
    assert!(detail.ends_with("it is merged"), "{detail}");

    let mut case = given(&signed());
    refused(
        &case,
        &housing(),
        Command::Withdraw(reason("撤回")),
        RejectionKind::Forbidden,
    );
    accept(
        &mut case,
        &operator(),
        Command::Withdraw(reason("来电人撤回")),
        NOW,
    );
    assert_eq!(case.status, Status::Withdrawn);
    refused(
        &case,
        &housing(),
        Command::Sign,
        RejectionKind::InvalidState,
    );
}
