//! The whole lifecycle, command by command: given events, when a command, then an
//! event or a rejection.

use super::tests::{dispatch_to_housing, given, housing, operator, replied, water, NOW};
use super::*;
use crate::command::*;
use crate::event::{PartyRole, ReferralTarget, ReplyResult};
use crate::personal::Sealed;
use time::macros::datetime;

fn supervisor() -> Actor {
    Actor::new(ActorKind::Supervisor, "sup.li")
}
fn hubin() -> Actor {
    Actor::new(ActorKind::Street, "street.hubin")
}
fn police() -> Actor {
    Actor::new(ActorKind::Department, "dept.police")
}
fn mediator() -> Actor {
    Actor::new(ActorKind::Mediator, "med.chen")
}
fn dept(id: &str) -> DepartmentId {
    DepartmentId::parse(id).unwrap()
}
fn reason(text: &str) -> Reason {
    Reason {
        reason: text.into(),
    }
}

/// Filed, dispatched to dept.housing (assisting street.hubin) and signed by the lead.
fn signed() -> Vec<(Actor, Command)> {
    replied()[..3].to_vec()
}

fn with(mut steps: Vec<(Actor, Command)>, more: Vec<(Actor, Command)>) -> Vec<(Actor, Command)> {
    steps.extend(more);
    steps
}

fn refused(case: &Case, actor: &Actor, command: Command, kind: RejectionKind) -> String {
    let r = case.decide(actor, &command, NOW).unwrap_err();
    assert_eq!(r.kind, kind, "{}", r.detail);
    assert!(r.detail.contains(&case.label()), "{}", r.detail);
    r.detail
}

fn accept(case: &mut Case, actor: &Actor, command: Command, at: OffsetDateTime) -> Event {
    let event = case
        .decide(actor, &command, at)
        .unwrap_or_else(|r| panic!("{} refused: {r}", command.action()));
    case.apply(&event);
    event
}

#[test]
fn an_operator_answers_at_intake_or_declines_before_anyone_signs() {
    let mut case = given(&replied()[..1]);
    let answer = Command::ReplyAtIntake(ReplyAtIntake {
        text: "施工许可至22点".into(),
    });
    refused(&case, &housing(), answer.clone(), RejectionKind::Forbidden);
    accept(&mut case, &operator(), answer, NOW);
    assert_eq!(case.status, Status::Replied);

    let mut case = given(&replied()[..1]);
    let other = Command::Decline(Decline {
        reason: DeclineReason::Other,
        text: " ".into(),
    });
    let detail = refused(&case, &operator(), other, RejectionKind::Invalid);
    assert!(detail.ends_with("text: must not be empty"), "{detail}");
    let decline = Command::Decline(Decline {
        reason: DeclineReason::InLitigation,
        text: String::new(),
    });
    accept(&mut case, &operator(), decline.clone(), NOW);
    assert_eq!(case.status, Status::Declined);

    // Routing's automatic dispatch does not take the case from intake before anyone signs.
    let mut case = given(&replied()[..2]);
    accept(&mut case, &operator(), decline.clone(), NOW);
    assert_eq!(case.status, Status::Declined);

    let case = given(&replied()[..3]);
    let detail = refused(&case, &operator(), decline, RejectionKind::InvalidState);
    assert!(detail.ends_with("it is in_progress"), "{detail}");
}

#[test]
fn the_lead_returns_within_the_window_and_routing_then_excludes_it() {
    let mut case = given(&replied()[..2]);
    let give_back = Command::Return(Return {
        reason: "噪音属城管执法职责".into(),
        suggested_owner: dept("dept.urban"),
    });
    let detail = refused(
        &case,
        &hubin(),
        give_back.clone(),
        RejectionKind::NotAssigned,
    );
    assert!(
        detail.contains("only the lead department dept.housing"),
        "{detail}"
    );
    let late = datetime!(2026-11-24 10:01 UTC);
    let r = case.decide(&housing(), &give_back, late).unwrap_err();
    assert_eq!(r.kind, RejectionKind::InvalidState);
    assert!(
        r.detail
            .contains("the return window ended at 2026-11-24T10:00:00Z"),
        "{}",
        r.detail
    );

    accept(&mut case, &housing(), give_back, NOW);
    assert_eq!(case.status, Status::Received);
    assert!(case.dispatch.is_none() && case.signed.is_empty());
    assert!(case.returned_by.contains(&dept("dept.housing")));

    let detail = refused(
        &case,
        &Actor::routing(),
        dispatch_to_housing(),
        RejectionKind::Invalid,
    );
    assert!(
        detail.contains("dept.housing returned this case before"),
        "{detail}"
    );
    // A supervisor may overrule an unfounded return.
    accept(&mut case, &supervisor(), dispatch_to_housing(), NOW);
    assert_eq!(case.status, Status::Dispatched);
    assert!(case.returned_by.contains(&dept("dept.housing")));
}

#[test]
fn extensions_are_asked_by_the_cutoff_and_decided_by_supervisors() {
    let mut case = given(&signed());
    let ask = |request_by| {
        Command::RequestExtension(RequestExtension {
            reason: "需第三方噪音检测".into(),
            handle_due: datetime!(2026-12-07 18:00 UTC),
            request_by,
        })
    };
    let r = case
        .decide(
            &housing(),
            &ask(datetime!(2026-11-29 18:00 UTC)),
            datetime!(2026-11-30 09:00 UTC),
        )
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::InvalidState);
    assert!(
        r.detail.contains("must be asked by 2026-11-29T18:00:00Z"),
        "{}",
        r.detail
    );
    refused(
        &case,
        &hubin(),
        ask(datetime!(2026-11-29 18:00 UTC)),
        RejectionKind::NotAssigned,
    );
    accept(
        &mut case,
        &housing(),
        ask(datetime!(2026-11-29 18:00 UTC)),
        NOW,
    );
    refused(
        &case,
        &housing(),
        ask(datetime!(2026-11-29 18:00 UTC)),
        RejectionKind::InvalidState,
    );

    let grant = Command::DecideExtension(DecideExtension {
        granted: true,
        handle_due: None,
        comment: None,
    });
    refused(&case, &housing(), grant.clone(), RejectionKind::Forbidden);
    accept(&mut case, &supervisor(), grant.clone(), NOW);
    assert_eq!(
        case.dispatch.as_ref().unwrap().handle_due,
        datetime!(2026-12-07 18:00 UTC)
    );
    assert!(case.pending_extension.is_none());
    refused(&case, &supervisor(), grant, RejectionKind::InvalidState);
}

#[test]
fn suspension_needs_an_approver_and_resuming_never_shortens_the_deadline() {
    let mut case = given(&signed());
    let suspend = |reason: &str| {
        Command::Suspend(Suspend {
            reason: reason.into(),
        })
    };
    let ask = Command::RequestSuspension(reason("等待业主提供材料"));
    // A department cannot suspend by itself, whatever it writes.
    refused(
        &case,
        &housing(),
        suspend("等待业主提供材料"),
        RejectionKind::Forbidden,
    );
    refused(&case, &hubin(), ask.clone(), RejectionKind::NotAssigned);
    refused(
        &case,
        &housing(),
        Command::RequestSuspension(reason(" ")),
        RejectionKind::Invalid,
    );
    // The lead asks: the clock keeps running until a supervisor approves.
    let asked_at = datetime!(2026-11-24 10:00 UTC);
    let event = accept(&mut case, &housing(), ask.clone(), asked_at);
    assert!(matches!(event, Event::SuspensionRequested(_)));
    assert_eq!(case.status, Status::InProgress);
    assert!(case.suspension.is_none());
    refused(&case, &housing(), ask, RejectionKind::InvalidState);
    let at = datetime!(2026-11-25 10:00 UTC);
    let event = accept(&mut case, &supervisor(), suspend(""), at);
    let Event::CaseSuspended(s) = event else {
        panic!("not a suspension")
    };
    assert_eq!(
        (
            s.approved_by.as_str(),
            s.department.as_str(),
            s.reason.as_str()
        ),
        ("sup.li", "dept.housing", "等待业主提供材料")
    );
    assert_eq!(s.suspended_at, at, "the clock stops at approval");
    assert_eq!(case.status, Status::Suspended);
    assert!(case.pending_suspension.is_none());
    let reply = Command::Reply(Reply {
        result: ReplyResult::Resolved,
        text: "x".into(),
        summary_for_citizen: None,
    });
    refused(&case, &housing(), reply, RejectionKind::InvalidState);

    let resume = |handle_due| Command::Resume(Resume { handle_due });
    let later = datetime!(2026-11-28 10:00 UTC);
    let r = case
        .decide(&housing(), &resume(datetime!(2026-11-29 18:00 UTC)), later)
        .unwrap_err();
    assert!(r.detail.contains("never shortens"), "{}", r.detail);
    let event = accept(
        &mut case,
        &housing(),
        resume(datetime!(2026-12-03 18:00 UTC)),
        later,
    );
    assert!(matches!(event, Event::CaseResumed(r) if r.suspended_at == at));
    assert_eq!(case.status, Status::InProgress);
    assert_eq!(
        case.dispatch.as_ref().unwrap().handle_due,
        datetime!(2026-12-03 18:00 UTC)
    );
}

#[test]
fn a_street_whistles_departments_that_each_report_in_and_are_rated() {
    let mut case = given(&signed());
    let whistle = |departments: &[&str]| {
        Command::BlowWhistle(BlowWhistle {
            departments: departments.iter().map(|d| dept(d)).collect(),
            report_due: datetime!(2026-11-23 12:00 UTC),
            reason: "联合执法".into(),
        })
    };
    refused(
        &case,
        &housing(),
        whistle(&["dept.police"]),
        RejectionKind::Forbidden,
    );
    let other_street = Actor::new(ActorKind::Street, "street.xihu");
    refused(
        &case,
        &other_street,
        whistle(&["dept.police"]),
        RejectionKind::NotAssigned,
    );
    let detail = refused(
        &case,
        &hubin(),
        whistle(&["dept.housing"]),
        RejectionKind::Invalid,
    );
    assert!(detail.contains("already dispatched"), "{detail}");
    accept(
        &mut case,
        &hubin(),
        whistle(&["dept.police", "dept.water"]),
        NOW,
    );

    accept(&mut case, &police(), Command::ReportIn, NOW);
    refused(
        &case,
        &police(),
        Command::ReportIn,
        RejectionKind::InvalidState,
    );
    let event = accept(
        &mut case,
        &water(),
        Command::ReportIn,
        datetime!(2026-11-23 13:00 UTC),
    );
    assert!(matches!(event, Event::ReportedIn(r) if !r.on_time));
    refused(
        &case,
        &Actor::new(ActorKind::Department, "dept.transport"),
        Command::ReportIn,
        RejectionKind::NotAssigned,
    );
    // A summoned department signs the summons and records progress too.
    let event = accept(&mut case, &police(), Command::Sign, NOW);
    assert!(matches!(event, Event::DispatchSigned(s) if s.whistle && s.on_time));
    accept(
        &mut case,
        &police(),
        Command::RecordProgress(RecordProgress {
            text: "已出警".into(),
        }),
        NOW,
    );

    let rate = |department: &str, score| {
        Command::RateReportIn(RateReportIn {
            ratings: vec![Rating {
                department: dept(department),
                score,
                comment: None,
            }],
        })
    };
    refused(
        &case,
        &other_street,
        rate("dept.police", 5),
        RejectionKind::NotAssigned,
    );
    refused(
        &case,
        &hubin(),
        rate("dept.housing", 5),
        RejectionKind::NotAssigned,
    );
    let detail = refused(
        &case,
        &hubin(),
        rate("dept.police", 6),
        RejectionKind::Invalid,
    );
    assert!(detail.contains("ratings[0].score"), "{detail}");
    accept(&mut case, &hubin(), rate("dept.police", 5), NOW);
    assert_eq!(case.summoned[&dept("dept.police")].score, Some(5));
    refused(
        &case,
        &hubin(),
        rate("dept.police", 4),
        RejectionKind::InvalidState,
    );
}

#[test]
fn routing_marks_missed_deadlines_once_and_only_when_past() {
    let mut case = given(&replied()[..2]);
    let missed = |deadline, department: &str| {
        Command::MarkDeadlineMissed(MarkDeadlineMissed {
            deadline,
            department: dept(department),
        })
    };
    let after = datetime!(2026-11-23 12:30 UTC);
    let r = case
        .decide(
            &Actor::routing(),
            &missed(Deadline::Sign, "dept.housing"),
            NOW,
        )
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::InvalidState);
    let r = case
        .decide(
            &supervisor(),
            &missed(Deadline::Sign, "dept.housing"),
            after,
        )
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::Forbidden);
    accept(
        &mut case,
        &Actor::routing(),
        missed(Deadline::Sign, "dept.housing"),
        after,
    );
    let r = case
        .decide(
            &Actor::routing(),
            &missed(Deadline::Sign, "dept.housing"),
            after,
        )
        .unwrap_err();
    assert!(r.detail.contains("already marked"), "{}", r.detail);
    let r = case
        .decide(
            &Actor::routing(),
            &missed(Deadline::Handle, "street.hubin"),
            after,
        )
        .unwrap_err();
    assert_eq!(r.kind, RejectionKind::Invalid);
}

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

#[test]
fn an_unsatisfied_callback_awaits_reopen_which_leads_to_a_new_dispatch() {
    let mut case = given(&replied());
    let callback = |satisfaction| {
        Command::RecordCallback(RecordCallback {
            satisfaction,
            resolved: false,
            comment: None,
        })
    };
    accept(
        &mut case,
        &operator(),
        callback(Satisfaction::Unsatisfied),
        NOW,
    );
    assert!(case.awaits_reopen());
    refused(
        &case,
        &operator(),
        callback(Satisfaction::Satisfied),
        RejectionKind::InvalidState,
    );
    refused(
        &case,
        &housing(),
        Command::Reopen(reason("不满意")),
        RejectionKind::Forbidden,
    );
    accept(
        &mut case,
        &operator(),
        Command::Reopen(reason("群众不满意")),
        NOW,
    );
    assert_eq!(case.status, Status::Received);
    assert!(case.dispatch.is_none() && case.reply.is_none() && case.callback.is_none());
    accept(&mut case, &Actor::routing(), dispatch_to_housing(), NOW);
    assert_eq!(case.status, Status::Dispatched);
    assert_eq!(case.reopened, 1);
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

fn party(role: PartyRole, consent: bool) -> crate::event::Party {
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

fn open_mediation(consent: bool) -> Command {
    Command::OpenMediation(OpenMediation {
        parties: vec![
            party(PartyRole::Applicant, true),
            party(PartyRole::Respondent, consent),
        ],
        mediation_due: datetime!(2026-12-23 18:00 UTC),
        mediator: None,
    })
}

fn assigned_to(mediator: &str) -> Command {
    let Command::OpenMediation(mut open) = open_mediation(true) else {
        unreachable!()
    };
    open.mediator = Some(mediator.to_owned());
    Command::OpenMediation(open)
}

#[test]
fn mediation_needs_consent_and_ends_in_an_agreement_within_its_deadline() {
    let mut case = given(&replied()[..1]);
    let detail = refused(
        &case,
        &mediator(),
        open_mediation(false),
        RejectionKind::Invalid,
    );
    assert!(detail.contains("parties[1].consent"), "{detail}");
    let detail = refused(
        &case,
        &operator(),
        open_mediation(true),
        RejectionKind::Invalid,
    );
    assert!(detail.contains("mediator: name the mediator"), "{detail}");
    accept(&mut case, &mediator(), open_mediation(true), NOW);
    assert_eq!(case.mediation.as_ref().unwrap().mediator, mediator().id);
    assert_eq!(case.status, Status::InMediation);
    assert!(case
        .personal_fields()
        .contains(&"parties[1].name".to_owned()));

    let session = Command::RecordMediationSession(RecordMediationSession {
        summary: "双方陈述".into(),
    });
    let other = Actor::new(ActorKind::Mediator, "med.zhou");
    refused(&case, &other, session.clone(), RejectionKind::NotAssigned);
    let event = accept(&mut case, &mediator(), session, NOW);
    assert!(matches!(event, Event::MediationSessionHeld(s) if s.session == 1));

    let agree = Command::RecordAgreement(RecordAgreement {
        terms: "赔偿2000元".into(),
        court_confirmation: true,
        court_confirmation_due: datetime!(2027-01-25 18:00 UTC),
    });
    let r = case
        .decide(&mediator(), &agree, datetime!(2026-12-24 09:00 UTC))
        .unwrap_err();
    assert!(
        r.detail.contains("mediation deadline passed"),
        "{}",
        r.detail
    );
    accept(&mut case, &mediator(), agree, NOW);
    assert_eq!(case.status, Status::Replied);
    let agreement = case.mediation.as_ref().unwrap().agreement.as_ref().unwrap();
    assert_eq!(
        agreement.court_confirmation_due,
        datetime!(2027-01-25 18:00 UTC)
    );
}

#[test]
fn a_failed_mediation_is_referred_then_closed() {
    let mut case = given(&with(
        replied()[..1].to_vec(),
        vec![(mediator(), open_mediation(true))],
    ));
    let refer = Command::Refer(Refer {
        to: ReferralTarget::Court,
        institution: "南湖区人民法院".into(),
    });
    refused(
        &case,
        &mediator(),
        refer.clone(),
        RejectionKind::InvalidState,
    );
    accept(
        &mut case,
        &mediator(),
        Command::RecordMediationFailure(reason("被申请人拒绝")),
        NOW,
    );
    accept(&mut case, &mediator(), refer, NOW);
    assert_eq!(case.status, Status::Referred);
    accept(
        &mut case,
        &operator(),
        Command::Close(Close { reason: None }),
        NOW,
    );
    assert_eq!(case.status, Status::Closed);
}

#[test]
fn replies_are_written_at_schema_2_and_schema_1_replies_still_read() {
    assert_eq!(crate::event::schema_of("CaseReplied"), 2);
    assert_eq!(crate::event::schema_of("CaseFiled"), 1);
    // As stored in the log by casegrid before schema 2.
    let old: serde_json::Value = serde_json::from_str(
        r#"{"department": "dept.housing", "result": "resolved", "text": "已责令工地夜间停工"}"#,
    )
    .unwrap();
    let event = Event::from_parts("CaseReplied", 1, &old).unwrap();
    let Event::CaseReplied(reply) = &event else {
        panic!("not a reply: {event:?}")
    };
    assert_eq!(reply.summary_for_citizen, "已责令工地夜间停工");
    assert!(
        Event::from_parts("CaseReplied", 2, &old).is_err(),
        "schema 2 requires the summary"
    );
    assert!(Event::from_parts("CaseReplied", 3, &event.data()).is_err());
    assert_eq!(event.schema(), 2);
    assert_eq!(
        Event::from_parts("CaseReplied", 2, &event.data()).unwrap(),
        event
    );

    // Old dispatches without return_due still read, and allow returns until the reply.
    let old = serde_json::json!({"lead": "dept.housing", "assisting": [],
        "sign_due": "2026-11-23T12:00:00Z", "handle_due": "2026-11-30T18:00:00Z", "rule": "noise"});
    let Event::CaseDispatched(d) = Event::from_parts("CaseDispatched", 1, &old).unwrap() else {
        panic!("not a dispatch")
    };
    assert_eq!(d.return_due, None);
}

#[test]
fn a_supervisor_suspends_directly_with_a_reason() {
    let mut case = given(&signed());
    let suspend = |reason: &str| {
        Command::Suspend(Suspend {
            reason: reason.into(),
        })
    };
    refused(&case, &supervisor(), suspend(""), RejectionKind::Invalid);
    refused(
        &case,
        &operator(),
        suspend("等待鉴定"),
        RejectionKind::Forbidden,
    );
    let event = accept(&mut case, &supervisor(), suspend("等待鉴定"), NOW);
    assert!(matches!(event, Event::CaseSuspended(s) if s.approved_by == "sup.li"));
}

#[test]
fn an_erasure_is_asked_by_an_operator_and_done_by_a_supervisor() {
    let mut case = given(&signed());
    let erase = Command::ErasePersonalData(reason("依法删除"));
    refused(&case, &operator(), erase.clone(), RejectionKind::Forbidden);
    refused(
        &case,
        &housing(),
        Command::RequestErasure(reason("x")),
        RejectionKind::Forbidden,
    );
    let event = accept(
        &mut case,
        &operator(),
        Command::RequestErasure(reason("本人申请")),
        NOW,
    );
    assert!(matches!(event, Event::ErasureRequested(r) if r.requested_by == "op.zhang"));
    assert!(!case.personal_erased, "asking erases nothing");
    refused(&case, &operator(), erase.clone(), RejectionKind::Forbidden);
    let event = accept(&mut case, &supervisor(), erase.clone(), NOW);
    assert!(
        matches!(&event, Event::PersonalDataErased(e) if e.requested_by.as_deref() == Some("op.zhang")),
        "{event:?}"
    );
    assert!(case.personal_erased && case.pending_erasure.is_none());
    refused(&case, &supervisor(), erase, RejectionKind::InvalidState);
}

#[test]
fn an_old_suspension_naming_its_approver_in_data_still_applies() {
    let old = serde_json::json!({"department": "dept.housing", "reason": "等待",
        "approved_by": "sup.li", "suspended_at": "2026-11-24T04:00:00Z"});
    let event = Event::from_parts("CaseSuspended", 1, &old).expect("old event loads");
    let mut case = given(&signed());
    case.apply(&event);
    assert_eq!(case.status, Status::Suspended);
    let old = serde_json::json!({"reason": "本人申请"});
    let event = Event::from_parts("PersonalDataErased", 1, &old).expect("old erasure loads");
    case.apply(&event);
    assert!(case.personal_erased);
}

#[test]
fn a_mediation_is_assigned_when_it_is_opened() {
    // An operator assigns the mediation to med.zhou: only med.zhou runs it.
    let mut case = given(&replied()[..1]);
    let event = accept(&mut case, &operator(), assigned_to("med.zhou"), NOW);
    assert!(matches!(&event, Event::MediationOpened(m) if m.mediator == "med.zhou"));
    let session = Command::RecordMediationSession(RecordMediationSession {
        summary: "双方陈述".into(),
    });
    refused(
        &case,
        &mediator(),
        session.clone(),
        RejectionKind::NotAssigned,
    );
    let zhou = Actor::new(ActorKind::Mediator, "med.zhou");
    accept(&mut case, &zhou, session, NOW);
    // A mediator may hand a new mediation to a colleague; a department may not open one.
    let mut other = given(&replied()[..1]);
    let event = accept(&mut other, &mediator(), assigned_to("med.zhou"), NOW);
    assert!(matches!(&event, Event::MediationOpened(m) if m.mediator == "med.zhou"));
    let fresh = given(&replied()[..1]);
    let urban = Actor::new(ActorKind::Department, "dept.urban");
    refused(
        &fresh,
        &urban,
        assigned_to("med.zhou"),
        RejectionKind::Forbidden,
    );
}
