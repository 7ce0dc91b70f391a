//! Histories from elsewhere: [`command_for`] names the command that records an event,
//! so an imported event is decided again by [`crate::Case::decide`] at its original
//! instant and stored only if casegrid's own rules would have recorded it. What the
//! deciding service adds at the time (a cutoff, a report-in deadline) comes from the
//! event itself; values the domain derives (`on_time`, `closed`, `approved_by`, …) are
//! derived again, never taken from the old system.

use crate::command::{
    Annotate, BlowWhistle, Close, DecideExtension, Decline, Dispatch, Escalate, MarkDeadlineMissed,
    Merge, RateReportIn, Rating, Reason, RecordAgreement, RecordCallback, RecordMediationSession,
    RecordProgress, Refer, Reply, ReplyAtIntake, RequestExtension, Resume, Return, Supervise,
    Suspend,
};
use crate::{Command, Event};
use time::OffsetDateTime;

/// The command whose decision at `at` records `event`, or why the event cannot be
/// imported (the filing comes from the case row; personal data of mediation parties
/// and erasures are not importable).
pub fn command_for(event: &Event, at: OffsetDateTime) -> Result<Command, String> {
    let reason = |r: &str| Reason {
        reason: r.to_owned(),
    };
    Ok(match event {
        Event::CaseFiled(_) => return Err("CaseFiled: the filing is the case's row".into()),
        Event::RepliedAtIntake(e) => Command::ReplyAtIntake(ReplyAtIntake {
            text: e.text.clone(),
            kb_entry: e.kb_entry,
            personal: e.personal.clone(),
        }),
        Event::CaseDeclined(e) => Command::Decline(Decline {
            reason: e.reason,
            text: e.text.clone(),
        }),
        Event::CaseDispatched(e) => Command::Dispatch(Dispatch {
            lead: e.lead.clone(),
            assisting: e.assisting.clone(),
            sign_due: e.sign_due,
            handle_due: e.handle_due,
            rule: e.rule.clone(),
            return_due: e.return_due,
        }),
        Event::DispatchSigned(_) => Command::Sign,
        Event::DispatchReturned(e) => Command::Return(Return {
            reason: e.reason.clone(),
            suggested_owner: e.suggested_owner.clone(),
        }),
        // The old system checked its cutoff when the request was made.
        Event::ExtensionRequested(e) => Command::RequestExtension(RequestExtension {
            reason: e.reason.clone(),
            handle_due: e.handle_due,
            request_by: at,
        }),
        Event::ExtensionDecided(e) => Command::DecideExtension(DecideExtension {
            granted: e.granted,
            handle_due: e.handle_due,
            comment: e.comment.clone(),
        }),
        Event::ProgressRecorded(e) => Command::RecordProgress(RecordProgress {
            text: e.text.clone(),
            personal: e.personal.clone(),
        }),
        Event::SuspensionRequested(e) => Command::RequestSuspension(reason(&e.reason)),
        Event::CaseSuspended(e) => Command::Suspend(Suspend {
            reason: e.reason.clone(),
        }),
        Event::CaseResumed(e) => Command::Resume(Resume {
            handle_due: e.handle_due,
        }),
        Event::CaseReplied(e) => Command::Reply(Reply {
            result: e.result,
            text: e.text.clone(),
            summary_for_citizen: Some(e.summary_for_citizen.clone()),
            personal: e.personal.clone(),
        }),
        Event::WhistleBlown(e) => Command::BlowWhistle(BlowWhistle {
            departments: e.departments.clone(),
            report_due: e.report_due,
            reason: e.reason.clone(),
        }),
        Event::ReportedIn(_) => Command::ReportIn,
        Event::ReportInRated(e) => Command::RateReportIn(RateReportIn {
            ratings: e
                .ratings
                .iter()
                .map(|r| Rating {
                    department: r.department.clone(),
                    score: r.score,
                    comment: r.comment.clone(),
                })
                .collect(),
        }),
        Event::DeadlineMissed(e) => Command::MarkDeadlineMissed(MarkDeadlineMissed {
            deadline: e.deadline,
            department: e.department.clone(),
        }),
        Event::CaseEscalated(e) => Command::Escalate(Escalate {
            level: e.level,
            reason: e.reason.clone(),
            level_id: e.level_id.clone(),
            rank: e.rank,
        }),
        Event::SupervisionIssued(e) => Command::Supervise(Supervise {
            text: e.text.clone(),
            respond_by: e.respond_by,
        }),
        Event::CallbackRecorded(e) => Command::RecordCallback(RecordCallback {
            satisfaction: e.satisfaction,
            resolved: e.resolved,
            comment: e.comment.clone(),
        }),
        Event::CaseReopened(e) => Command::Reopen(reason(&e.reason)),
        Event::CaseClosed(e) => Command::Close(Close {
            reason: Some(e.reason.clone()),
        }),
        Event::MediationSessionHeld(e) => Command::RecordMediationSession(RecordMediationSession {
            summary: e.summary.clone(),
        }),
        Event::AgreementReached(e) => Command::RecordAgreement(RecordAgreement {
            terms: e.terms.clone(),
            court_confirmation: e.court_confirmation,
            court_confirmation_due: e.court_confirmation_due,
        }),
        Event::MediationFailed(e) => Command::RecordMediationFailure(reason(&e.reason)),
        Event::CaseReferred(e) => Command::Refer(Refer {
            to: e.to,
            institution: e.institution.clone(),
        }),
        Event::CaseMerged(e) => Command::Merge(Merge { into: e.into }),
        Event::NoteAdded(e) => Command::Annotate(Annotate {
            text: e.text.clone(),
            personal: e.personal.clone(),
        }),
        Event::CaseWithdrawn(e) => Command::Withdraw(reason(&e.reason)),
        Event::PersonalDataRevealed(e) => Command::RevealPersonalData(reason(&e.reason)),
        Event::ErasureRequested(e) => Command::RequestErasure(reason(&e.reason)),
        other => {
            return Err(format!(
                "{}: not importable (personal data of its own, or no command records it)",
                other.event_type()
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Case;
    use crate::command::FileCase;
    use crate::event::{CaseKind, Channel, Location, ReplyResult, Urgency};
    use crate::ids::{CaseId, Category, DepartmentId, GridCode};
    use crate::{Actor, ActorKind};
    use time::macros::datetime;

    /// A live history, decided command by command; each of its events, turned back into
    /// its command and decided again at its instant, yields the same event.
    #[test]
    fn every_event_of_a_history_is_recorded_again_by_its_command() {
        let operator = Actor::new(ActorKind::Operator, "op.zhang");
        let housing = Actor::new(ActorKind::Department, "dept.housing");
        let at = |h: u8| datetime!(2026-03-02 08:00 UTC) + time::Duration::hours(h.into());
        let steps: Vec<(Actor, Command, OffsetDateTime)> = vec![
            (
                operator.clone(),
                Command::FileCase(FileCase {
                    channel: Channel::Hotline,
                    kind: CaseKind::Complaint,
                    category: Category::parse("noise").unwrap(),
                    urgency: Urgency::Normal,
                    title: "噪音".into(),
                    description: String::new(),
                    location: Location {
                        address: None,
                        grid: Some(GridCode::parse("NH.HB.BJ.03").unwrap()),
                        ..Default::default()
                    },
                    reporter: Some(crate::personal::Reporter {
                        name: Some(crate::personal::Sealed {
                            masked: "王*".into(),
                            sealed: String::new(),
                        }),
                        ..Default::default()
                    }),
                    source: Default::default(),
                    grid_found: None,
                    personal: Vec::new(),
                }),
                at(0),
            ),
            (
                Actor::routing(),
                Command::Dispatch(Dispatch {
                    lead: DepartmentId::parse("dept.housing").unwrap(),
                    assisting: vec![],
                    sign_due: at(4),
                    handle_due: at(48),
                    rule: "noise".into(),
                    return_due: None,
                }),
                at(0),
            ),
            (housing.clone(), Command::Sign, at(5)),
            (
                housing.clone(),
                Command::Reply(Reply {
                    result: ReplyResult::Resolved,
                    text: "已处理".into(),
                    summary_for_citizen: None,
                    personal: Vec::new(),
                }),
                at(20),
            ),
            (
                operator.clone(),
                Command::RecordCallback(RecordCallback {
                    satisfaction: crate::event::Satisfaction::Satisfied,
                    resolved: true,
                    comment: None,
                }),
                at(30),
            ),
        ];
        let mut live = Case::new(CaseId::for_filing("op.zhang", "k"));
        let mut again = live.clone();
        for (i, (actor, command, at)) in steps.iter().enumerate() {
            let event = live.decide(actor, command, *at).unwrap();
            live.apply(&event);
            let replayed = if i == 0 {
                command.clone()
            } else {
                command_for(&event, *at).unwrap()
            };
            let decided = again.decide(actor, &replayed, *at).unwrap();
            assert_eq!(decided, event, "step {i}");
            again.apply(&decided);
        }
        assert_eq!(again, live);
        assert!(command_for(&steps_first_event(&live), at(0)).is_err());
    }

    fn steps_first_event(case: &Case) -> Event {
        Event::CaseFiled(case.filed.clone().unwrap())
    }
}
