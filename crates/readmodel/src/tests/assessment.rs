//! The assessment figures (issue 15) on a fixture with known outcomes, every value
//! computed by hand below, with the demo district's calendar (09:00–12:00 and
//! 13:30–17:30 at +08:00, i.e. 01:00–04:00 and 05:30–09:30 UTC, Monday to Friday;
//! 2026-11-23 is a Monday).

use super::*;
use casegrid_contracts::query::{StatsRow, WorkingTime};
use casegrid_contracts::ranking::{month_bounds, rank, RankingConfig};

/// Puts the chain's next event at `t` (a `Chain` moves 10 minutes per event).
fn at(chain: &mut Chain, t: OffsetDateTime) -> &mut Chain {
    chain.at = t - time::Duration::minutes(10);
    chain
}

struct Seq(u64);
impl Seq {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

fn dispatch(lead: &str, sign_due: &str, handle_due: &str) -> Value {
    json!({"lead": lead, "assisting": [], "sign_due": sign_due, "handle_due": handle_due,
           "rule": "rules.toml#noise"})
}

fn reply(d: &str) -> Value {
    json!({"department": d, "result": "resolved", "text": "已处理"})
}

fn callback(satisfaction: &str, resolved: bool) -> Value {
    json!({"satisfaction": satisfaction, "resolved": resolved,
           "closed": satisfaction != "unsatisfied"})
}

/// The November cases P, Q, R, S, T and the October cases U, V (see each).
fn assessed() -> Vec<StoredEvent> {
    let mut s = Seq(0);
    let mut ev = Vec::new();
    let noise = |grid: &str| case_data("噪音", grid, "noise");

    // P: dept.urban signs in 30 working minutes, replies on time after 8 working
    // hours; the citizen is unsatisfied; urban's appeal is accepted.
    let mut p = Chain::new("p");
    ev.push(at(&mut p, datetime!(2026-11-23 01:00 UTC)).event(
        s.next(),
        "CaseFiled",
        noise("NH.HB.BJ.03"),
        operator(),
    ));
    ev.push(at(&mut p, datetime!(2026-11-23 01:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch("dept.urban", "2026-11-23T02:00:00Z", "2026-11-25T09:30:00Z"),
        Actor::routing(),
    ));
    ev.push(at(&mut p, datetime!(2026-11-23 01:30 UTC)).event(
        s.next(),
        "DispatchSigned",
        json!({"department": "dept.urban", "on_time": true}),
        dept("dept.urban"),
    ));
    ev.push(at(&mut p, datetime!(2026-11-24 02:00 UTC)).event(
        s.next(),
        "CaseReplied",
        reply("dept.urban"),
        dept("dept.urban"),
    ));
    ev.push(at(&mut p, datetime!(2026-11-24 03:00 UTC)).event(
        s.next(),
        "CallbackRecorded",
        callback("unsatisfied", false),
        operator(),
    ));
    ev.push(at(&mut p, datetime!(2026-11-24 05:00 UTC)).event(
        s.next(),
        "RatingAppealed",
        json!({"callback_version": 5, "department": "dept.urban", "reason": "诉求超出职权"}),
        dept("dept.urban"),
    ));
    ev.push(at(&mut p, datetime!(2026-11-25 05:00 UTC)).event(
        s.next(),
        "AppealDecided",
        json!({"callback_version": 5, "department": "dept.urban", "accepted": true,
               "reason": "诉求不合理", "decided_by": "sup.li"}),
        Actor::new(ActorKind::Supervisor, "sup.li"),
    ));

    // Q: dept.urban signs late (90 working minutes); an approved extension moves the
    // deadline from 11-24 to 11-27, so the reply on 11-26 (21 working hours) is on time.
    let mut q = Chain::new("q");
    ev.push(at(&mut q, datetime!(2026-11-23 02:00 UTC)).event(
        s.next(),
        "CaseFiled",
        noise("NH.HB.BJ.03"),
        operator(),
    ));
    ev.push(at(&mut q, datetime!(2026-11-23 02:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch("dept.urban", "2026-11-23T03:00:00Z", "2026-11-24T09:30:00Z"),
        Actor::routing(),
    ));
    ev.push(at(&mut q, datetime!(2026-11-23 03:30 UTC)).event(
        s.next(),
        "DispatchSigned",
        json!({"department": "dept.urban", "on_time": false}),
        dept("dept.urban"),
    ));
    ev.push(at(&mut q, datetime!(2026-11-23 05:40 UTC)).event(
        s.next(),
        "ExtensionRequested",
        json!({"department": "dept.urban", "reason": "需检测", "handle_due": "2026-11-27T09:30:00Z",
               "previous_handle_due": "2026-11-24T09:30:00Z"}),
        dept("dept.urban"),
    ));
    ev.push(at(&mut q, datetime!(2026-11-23 06:00 UTC)).event(
        s.next(),
        "ExtensionDecided",
        json!({"department": "dept.urban", "granted": true, "handle_due": "2026-11-27T09:30:00Z"}),
        Actor::new(ActorKind::Supervisor, "sup.li"),
    ));
    ev.push(at(&mut q, datetime!(2026-11-26 02:00 UTC)).event(
        s.next(),
        "CaseReplied",
        reply("dept.urban"),
        dept("dept.urban"),
    ));
    ev.push(at(&mut q, datetime!(2026-11-26 03:00 UTC)).event(
        s.next(),
        "CallbackRecorded",
        callback("satisfied", true),
        operator(),
    ));

    // R (road damage in NH.XS): dept.water signs in 10 minutes; suspended from 11-23
    // 05:30 to 11-25 01:00 (11 working hours), resumed with the 11 hours left, so the
    // reply on 11-26 02:00 is on time (the first deadline, 11-24, was not) after 22 − 11
    // = 11 working hours; unsatisfied, appeal rejected, reopened.
    let mut r = Chain::new("r");
    ev.push(at(&mut r, datetime!(2026-11-23 01:00 UTC)).event(
        s.next(),
        "CaseFiled",
        case_data("路面塌陷", "NH.XS.AA.01", "road_damage"),
        operator(),
    ));
    ev.push(at(&mut r, datetime!(2026-11-23 01:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch("dept.water", "2026-11-23T02:00:00Z", "2026-11-24T09:30:00Z"),
        Actor::routing(),
    ));
    ev.push(at(&mut r, datetime!(2026-11-23 01:10 UTC)).event(
        s.next(),
        "DispatchSigned",
        json!({"department": "dept.water", "on_time": true}),
        dept("dept.water"),
    ));
    ev.push(at(&mut r, datetime!(2026-11-23 05:30 UTC)).event(
        s.next(),
        "CaseSuspended",
        json!({"department": "dept.water", "reason": "等待鉴定", "approved_by": "sup.li",
               "suspended_at": "2026-11-23T05:30:00Z"}),
        Actor::new(ActorKind::Supervisor, "sup.li"),
    ));
    ev.push(at(&mut r, datetime!(2026-11-25 01:00 UTC)).event(
        s.next(),
        "CaseResumed",
        json!({"suspended_at": "2026-11-23T05:30:00Z", "handle_due": "2026-11-26T06:30:00Z"}),
        dept("dept.water"),
    ));
    ev.push(at(&mut r, datetime!(2026-11-26 02:00 UTC)).event(
        s.next(),
        "CaseReplied",
        reply("dept.water"),
        dept("dept.water"),
    ));
    ev.push(at(&mut r, datetime!(2026-11-26 03:00 UTC)).event(
        s.next(),
        "CallbackRecorded",
        callback("unsatisfied", false),
        operator(),
    ));
    ev.push(at(&mut r, datetime!(2026-11-26 05:40 UTC)).event(
        s.next(),
        "RatingAppealed",
        json!({"callback_version": 7, "department": "dept.water", "reason": "已依法答复"}),
        dept("dept.water"),
    ));
    ev.push(at(&mut r, datetime!(2026-11-26 06:00 UTC)).event(
        s.next(),
        "AppealDecided",
        json!({"callback_version": 7, "department": "dept.water", "accepted": false,
               "reason": "答复未解决问题", "decided_by": "sup.li"}),
        Actor::new(ActorKind::Supervisor, "sup.li"),
    ));
    ev.push(at(&mut r, datetime!(2026-11-26 07:00 UTC)).event(
        s.next(),
        "CaseReopened",
        json!({"reason": "群众不满意"}),
        operator(),
    ));

    // S: dept.water signs late (2 working hours), misses the handling deadline and
    // escalates: excused from water's own figures, still counted for NH.HB and noise.
    let mut sc = Chain::new("s");
    ev.push(at(&mut sc, datetime!(2026-11-23 01:00 UTC)).event(
        s.next(),
        "CaseFiled",
        noise("NH.HB.BJ.05"),
        operator(),
    ));
    ev.push(at(&mut sc, datetime!(2026-11-23 01:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch("dept.water", "2026-11-23T02:00:00Z", "2026-11-24T09:30:00Z"),
        Actor::routing(),
    ));
    ev.push(at(&mut sc, datetime!(2026-11-23 03:00 UTC)).event(
        s.next(),
        "DispatchSigned",
        json!({"department": "dept.water", "on_time": false}),
        dept("dept.water"),
    ));
    ev.push(at(&mut sc, datetime!(2026-11-24 09:31 UTC)).event(
        s.next(),
        "DeadlineMissed",
        json!({"deadline": "handle", "department": "dept.water", "due": "2026-11-24T09:30:00Z"}),
        Actor::routing(),
    ));
    ev.push(at(&mut sc, datetime!(2026-11-25 01:00 UTC)).event(
        s.next(),
        "CaseEscalated",
        json!({"level": "street", "by": {"kind": "department", "id": "dept.water"},
               "reason": "需街道协调"}),
        dept("dept.water"),
    ));

    // T: dept.housing returns it unsigned; re-dispatched to dept.urban, which signs in
    // 15 minutes and replies on time after 2 working hours; satisfied.
    let mut t = Chain::new("t");
    ev.push(at(&mut t, datetime!(2026-11-24 01:00 UTC)).event(
        s.next(),
        "CaseFiled",
        noise("NH.HB.BJ.03"),
        operator(),
    ));
    ev.push(at(&mut t, datetime!(2026-11-24 01:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch(
            "dept.housing",
            "2026-11-24T02:00:00Z",
            "2026-11-30T09:30:00Z",
        ),
        Actor::routing(),
    ));
    ev.push(at(&mut t, datetime!(2026-11-24 01:30 UTC)).event(s.next(), "DispatchReturned",
        json!({"department": "dept.housing", "reason": "非本单位职责", "suggested_owner": "dept.urban"}),
        dept("dept.housing")));
    ev.push(at(&mut t, datetime!(2026-11-24 02:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch("dept.urban", "2026-11-24T03:00:00Z", "2026-11-30T09:30:00Z"),
        Actor::routing(),
    ));
    ev.push(at(&mut t, datetime!(2026-11-24 02:15 UTC)).event(
        s.next(),
        "DispatchSigned",
        json!({"department": "dept.urban", "on_time": true}),
        dept("dept.urban"),
    ));
    ev.push(at(&mut t, datetime!(2026-11-24 05:30 UTC)).event(
        s.next(),
        "CaseReplied",
        reply("dept.urban"),
        dept("dept.urban"),
    ));
    ev.push(at(&mut t, datetime!(2026-11-24 06:00 UTC)).event(
        s.next(),
        "CallbackRecorded",
        callback("satisfied", true),
        operator(),
    ));

    // October. U: dept.urban signs late, replies on time, unsatisfied and unresolved.
    let mut u = Chain::new("u");
    ev.push(at(&mut u, datetime!(2026-10-20 01:00 UTC)).event(
        s.next(),
        "CaseFiled",
        noise("NH.HB.BJ.03"),
        operator(),
    ));
    ev.push(at(&mut u, datetime!(2026-10-20 01:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch("dept.urban", "2026-10-20T02:00:00Z", "2026-10-23T09:30:00Z"),
        Actor::routing(),
    ));
    ev.push(at(&mut u, datetime!(2026-10-20 03:00 UTC)).event(
        s.next(),
        "DispatchSigned",
        json!({"department": "dept.urban", "on_time": false}),
        dept("dept.urban"),
    ));
    ev.push(at(&mut u, datetime!(2026-10-21 02:00 UTC)).event(
        s.next(),
        "CaseReplied",
        reply("dept.urban"),
        dept("dept.urban"),
    ));
    ev.push(at(&mut u, datetime!(2026-10-21 03:00 UTC)).event(
        s.next(),
        "CallbackRecorded",
        callback("unsatisfied", false),
        operator(),
    ));
    // V: dept.housing signs on time, replies after its deadline, satisfied.
    let mut v = Chain::new("v");
    ev.push(at(&mut v, datetime!(2026-10-20 01:00 UTC)).event(
        s.next(),
        "CaseFiled",
        noise("NH.HB.BJ.03"),
        operator(),
    ));
    ev.push(at(&mut v, datetime!(2026-10-20 01:00 UTC)).event(
        s.next(),
        "CaseDispatched",
        dispatch(
            "dept.housing",
            "2026-10-20T02:00:00Z",
            "2026-10-21T09:30:00Z",
        ),
        Actor::routing(),
    ));
    ev.push(at(&mut v, datetime!(2026-10-20 01:20 UTC)).event(
        s.next(),
        "DispatchSigned",
        json!({"department": "dept.housing", "on_time": true}),
        dept("dept.housing"),
    ));
    ev.push(at(&mut v, datetime!(2026-10-22 02:00 UTC)).event(
        s.next(),
        "CaseReplied",
        reply("dept.housing"),
        dept("dept.housing"),
    ));
    ev.push(at(&mut v, datetime!(2026-10-22 03:00 UTC)).event(
        s.next(),
        "CallbackRecorded",
        callback("satisfied", true),
        operator(),
    ));
    ev
}

/// The demo district's calendar as the projection counts working time with it.
fn with_calendar(model: ReadModel) -> ReadModel {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
    let calendar = casegrid_config::District::load(&dir).unwrap().calendar;
    model.with_working_time(move |a, b| {
        let t = |ms: i64| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
        };
        calendar.working_between(t(a), t(b)).whole_milliseconds() as i64
    })
}

async fn view(
    model: &ReadModel,
    group_by: GroupBy,
    period: Period,
    month: Option<&str>,
) -> Vec<StatsRow> {
    let bounds = month.map(|m| month_bounds(m, "+08:00").unwrap().1);
    model
        .stats(&StatsQuery {
            group_by,
            period,
            from: bounds.as_ref().map(|b| b[1].clone()),
            to: bounds.as_ref().map(|b| b[2].clone()),
            grid_prefix: None,
        })
        .await
        .unwrap()
        .rows
}

fn find<'a>(rows: &'a [StatsRow], key: &str) -> &'a StatsRow {
    rows.iter()
        .find(|r| r.key.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no row {key}: {rows:#?}"))
}

/// (count, of) of a rate.
fn c(r: Rate) -> (u64, u64) {
    (r.count, r.of)
}

/// [timely sign, on-time reply, returns, reopens] as (count, of), overdue, sign and
/// reply working time as (total minutes, of).
type Assessed = ([(u64, u64); 4], u64, (u64, u64), (u64, u64));

fn assessed_of(r: &StatsRow) -> Assessed {
    let w = |t: WorkingTime| (t.total_minutes, t.of);
    (
        [
            c(r.timely_sign),
            c(r.on_time_reply),
            c(r.returns),
            c(r.reopens),
        ],
        r.overdue,
        w(r.sign_time),
        w(r.reply_time),
    )
}

async fn every_new_rate_matches_the_hand_computed_one(db: Db) {
    let model = with_calendar(db.model().await);
    model.apply(&assessed()).await.unwrap();
    let nov = view(&model, GroupBy::Department, Period::All, Some("2026-11")).await;

    // urban: P, Q, T's second dispatch. Signed on time P, T (Q late): 2/3; every
    // reply on time (Q by its extension): 3/3; 30 + 90 + 15 = 135 working minutes to
    // sign, 480 + 1260 + 120 = 1860 to reply.
    let urban = find(&nov, "dept.urban");
    assert_eq!(
        assessed_of(urban),
        ([(2, 3), (3, 3), (0, 3), (0, 3)], 0, (135, 3), (1860, 3))
    );
    assert_eq!(urban.sign_time.average_minutes, Some(45));
    assert_eq!(urban.reply_time.average_minutes, Some(620));
    assert_eq!(urban.timely_sign.permille, Some(667));
    // P's callback left 解决率 and 满意率 by the accepted appeal: Q and T remain.
    assert_eq!(
        (c(urban.resolution), c(urban.satisfaction), urban.appealed),
        ((2, 2), (2, 2), 1)
    );

    // water: R only (S is excused: water escalated it). On time by the suspension;
    // reopened: 1/1; 10 minutes to sign; 22 − 11 suspended = 11 hours to reply.
    let water = find(&nov, "dept.water");
    assert_eq!(
        assessed_of(water),
        ([(1, 1), (1, 1), (0, 1), (1, 1)], 0, (10, 1), (660, 1))
    );
    // The rejected appeal: R's callback stands.
    assert_eq!(
        (c(water.resolution), c(water.satisfaction), water.appealed),
        ((0, 1), (0, 1), 0)
    );
    assert_eq!(c(water.response), (1, 1));

    // housing: T's first dispatch, returned unsigned.
    let housing = find(&nov, "dept.housing");
    assert_eq!(
        assessed_of(housing),
        ([(0, 1), (0, 0), (1, 1), (0, 0)], 0, (0, 0), (0, 0))
    );
    assert_eq!(housing.returns.permille, Some(1000));

    // By street the escalated S counts: NH.HB holds P, Q, S, T (two dispatches).
    let streets = view(&model, GroupBy::Street, Period::All, Some("2026-11")).await;
    assert_eq!(
        assessed_of(find(&streets, "NH.HB")),
        ([(2, 5), (3, 3), (1, 5), (0, 3)], 1, (255, 4), (1860, 3))
    );
    assert_eq!(find(&streets, "NH.HB").sign_time.average_minutes, Some(64));
    assert_eq!(
        assessed_of(find(&streets, "NH.XS")),
        ([(1, 1), (1, 1), (0, 1), (1, 1)], 0, (10, 1), (660, 1))
    );

    // By category and month, October apart: V replied late is overdue; U signed in 2
    // working hours and replied in 8 (7 + 1), V in 20 minutes and 15 hours (7 + 7 + 1).
    let months = view(&model, GroupBy::Category, Period::Month, None).await;
    let noise: Vec<(&str, Assessed)> = months
        .iter()
        .filter(|r| r.key.as_deref() == Some("noise"))
        .map(|r| (r.period.as_str(), assessed_of(r)))
        .collect();
    assert_eq!(
        noise,
        vec![
            (
                "2026-10",
                ([(1, 2), (1, 2), (0, 2), (0, 2)], 1, (140, 2), (1380, 2))
            ),
            (
                "2026-11",
                ([(2, 5), (3, 3), (1, 5), (0, 3)], 1, (255, 4), (1860, 3))
            ),
        ]
    );
    let days = view(&model, GroupBy::Department, Period::Day, Some("2026-11")).await;
    let urban_days: Vec<(&str, (u64, u64))> = days
        .iter()
        .filter(|r| r.key.as_deref() == Some("dept.urban"))
        .map(|r| (r.period.as_str(), c(r.timely_sign)))
        .collect();
    assert_eq!(
        urban_days,
        // Dispatches count on their day; 11-26 holds only Q's callback.
        vec![
            ("2026-11-23", (1, 2)),
            ("2026-11-24", (1, 1)),
            ("2026-11-26", (0, 0))
        ]
    );
}

async fn the_months_ranks_follow_the_weights(db: Db) {
    let model = with_calendar(db.model().await);
    model.apply(&assessed()).await.unwrap();
    let nov = view(&model, GroupBy::Department, Period::All, Some("2026-11")).await;
    let oct = view(&model, GroupBy::Department, Period::All, Some("2026-10")).await;
    let as_view = |rows| crate::StatsView {
        group_by: GroupBy::Department,
        period: Period::All,
        rows,
    };
    // The demo weights: timely sign 20, on-time reply 30, resolution 10,
    // satisfaction 30, returns 10 (as 1000 − 回退率).
    let config = RankingConfig {
        list_size: 1,
        ..RankingConfig::default()
    };
    let r = rank("2026-11", "2026-10", &as_view(nov), &as_view(oct), &config);
    type Place = (String, u32, u32, Option<u32>, Option<i64>, Option<String>);
    let got: Vec<Place> = r
        .rows
        .into_iter()
        .map(|x| (x.unit, x.score, x.rank, x.previous_rank, x.change, x.list))
        .collect();
    // urban (20·667 + 30·1000 + 10·1000 + 30·1000 + 10·1000) / 100 = 933.4 → 933;
    // water (20·1000 + 30·1000 + 0 + 0 + 10·1000) / 100 = 600;
    // housing: only timely sign (0) and returns (1000 − 1000) measured: 0.
    // October: housing (20·1000 + 0 + 10·1000 + 30·1000 + 10·1000) / 100 = 700, rank 1;
    // urban (0 + 30·1000 + 0 + 0 + 10·1000) / 100 = 400, rank 2.
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        got,
        vec![
            ("dept.urban".into(), 933, 1, Some(2), Some(1), s("red")),
            ("dept.water".into(), 600, 2, None, None, None),
            ("dept.housing".into(), 0, 3, Some(1), Some(-2), s("black")),
        ]
    );
}

async fn folding_event_by_event_equals_one_batch(db: Db) {
    let live = db.model().await;
    let rebuilt = db.model().await;
    let events = assessed();
    for e in &events {
        live.apply(std::slice::from_ref(e)).await.unwrap();
    }
    rebuilt.apply(&events).await.unwrap();
    assert_eq!(live.diff(&rebuilt).await.unwrap(), Vec::<String>::new());
}

on_both!(
    every_new_rate_matches_the_hand_computed_one,
    the_months_ranks_follow_the_weights,
    folding_event_by_event_equals_one_batch,
);
