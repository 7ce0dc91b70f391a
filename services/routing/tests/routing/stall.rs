//! Rows the domain would refuse to mark missed (a case gone to mediation keeps its
//! sign and handle deadlines in a fold that does not know mediation) must not fill
//! the timer's 500 oldest due rows for ever: a fresh case's deadline still fires.

use crate::harness::{demo_config, Harness};
use casegrid_domain::command::OpenMediation;
use casegrid_domain::event::{Deadline, Party, PartyRole};
use casegrid_domain::personal::Sealed;
use casegrid_domain::{Actor, ActorKind, Command, DepartmentId, Status};
use casegrid_testkit::eventually;
use futures_util::StreamExt;
use std::time::Duration;
use time::macros::datetime;

fn party(role: PartyRole, masked: &str) -> Party {
    Party {
        role,
        name: Sealed {
            masked: masked.into(),
            sealed: "sealed-for-test".into(),
        },
        phone: None,
        consent: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_refused_rows_do_not_stop_a_fresh_deadline() {
    // Tuesday 10:00 in the city.
    let h = Harness::start(datetime!(2026-11-24 10:00 +08:00), demo_config()).await;
    let n = 260; // each leaves a sign and a handle row: over 500 rows in all
    let cases: Vec<_> = futures_util::stream::iter(0..n)
        .map(|i| {
            let h = &h;
            async move { h.file_leak(&format!("leak-{i}")).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    h.caught_up().await;
    let mediator = Actor::new(ActorKind::Mediator, "med.chen");
    let open = Command::OpenMediation(OpenMediation {
        parties: vec![
            party(PartyRole::Applicant, "王**"),
            party(PartyRole::Respondent, "李**"),
        ],
        mediation_due: datetime!(2026-12-24 10:00 +08:00),
        mediator: None,
    });
    futures_util::stream::iter(&cases)
        .map(|case| {
            let (h, mediator, open) = (&h, &mediator, &open);
            async move {
                let o = h
                    .act(*case, mediator, open, &format!("mediate-{case}"))
                    .await;
                assert_eq!(o.expect("open mediation").case.status, Status::InMediation);
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    h.caught_up().await;

    // A week later every old sign and handle deadline has passed; the mediated cases'
    // clocks are stopped, so none of them may be marked missed.
    h.clock.set(datetime!(2026-12-01 10:00 +08:00));
    let fresh = h.file_leak("fresh").await;
    h.caught_up().await;
    assert_eq!(h.case(fresh).await.status, Status::Dispatched);
    h.clock.set(datetime!(2026-12-01 11:30 +08:00));
    let water = DepartmentId::parse("dept.water").unwrap();
    let missed = async {
        eventually(
            Duration::from_secs(20),
            "the fresh sign deadline to fire",
            || async {
                let case = h.case(fresh).await;
                case.missed
                    .contains(&(Deadline::Sign, water.clone()))
                    .then_some(())
            },
        )
        .await
    };
    missed.await;
    // The table caches exactly the domain's open deadlines: the fresh handle deadline.
    let fresh_open = h.case(fresh).await.open_deadlines();
    assert_eq!(fresh_open.len(), 1, "{fresh_open:?}");
    eventually(
        Duration::from_secs(20),
        "the table to hold only open deadlines",
        || async {
            let rows = h.routing.state().all_deadlines().await.ok()?;
            let rows: Vec<_> = rows
                .into_iter()
                .map(|r| (r.case_id, r.deadline, r.department, r.due))
                .collect();
            let want: Vec<_> = fresh_open
                .iter()
                .map(|d| (fresh, d.kind, d.unit.clone(), d.due))
                .collect();
            (rows == want).then_some(())
        },
    )
    .await;
    for case in &cases {
        let c = h.case(*case).await;
        assert!(
            c.missed.is_empty(),
            "a mediated case had a deadline marked missed"
        );
    }
}

/// A row the domain refuses (here: planted as an older build's fold left it, for a
/// case in mediation) is removed when it comes due, and nothing is marked missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_row_never_stays() {
    let h = Harness::start(datetime!(2026-11-24 10:00 +08:00), demo_config()).await;
    let case = h.file_leak("planted").await;
    h.caught_up().await;
    let mediator = Actor::new(ActorKind::Mediator, "med.chen");
    let open = Command::OpenMediation(OpenMediation {
        parties: vec![
            party(PartyRole::Applicant, "王**"),
            party(PartyRole::Respondent, "李**"),
        ],
        mediation_due: datetime!(2026-12-24 10:00 +08:00),
        mediator: None,
    });
    h.act(case, &mediator, &open, "mediate").await.unwrap();
    h.caught_up().await;
    assert!(h.routing.state().all_deadlines().await.unwrap().is_empty());

    let db = sqlx::SqlitePool::connect(&format!("sqlite:{}", h.state_db().display()))
        .await
        .unwrap();
    sqlx::query("INSERT INTO deadlines (case_id, kind, department, due_at) VALUES (?, 'sign', 'dept.water', ?)")
        .bind(case.to_string())
        .bind(datetime!(2026-11-24 11:00 +08:00).unix_timestamp())
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(h.routing.state().all_deadlines().await.unwrap().len(), 1);
    h.clock.set(datetime!(2026-11-24 12:00 +08:00));
    eventually(Duration::from_secs(20), "the refused row to go", || async {
        h.routing
            .state()
            .all_deadlines()
            .await
            .ok()?
            .is_empty()
            .then_some(())
    })
    .await;
    assert!(h.case(case).await.missed.is_empty());
}

/// Routing that reacts after the clock has moved past the sign deadline a filing would
/// have had (it was down, or far behind) still dispatches: the deadlines then run from
/// its own time, and no case stays received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_reaction_still_dispatches() {
    let mut h = Harness::without_routing(datetime!(2026-11-24 10:00 +08:00), demo_config()).await;
    let case = h.file_leak("late").await;
    // Routing starts two days later.
    h.clock.set(datetime!(2026-11-26 15:00 +08:00));
    h.start_routing();
    h.caught_up().await;
    let c = h.case(case).await;
    assert_eq!(
        c.status,
        Status::Dispatched,
        "the case was never dispatched"
    );
    assert!(c.dispatch.unwrap().sign_due > h.now());
}
