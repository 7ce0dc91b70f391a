//! Read-model tests, with events sealed as the log stores them. Every test runs on
//! both backends: in-memory SQLite and a fresh database on the test kit's PostgreSQL
//! (`on_both!` at the end makes a `sqlite::…` and a `postgres::…` test of each).

use crate::{GroupBy, ListQuery, OverdueQuery, Period, Rate, ReadModel, StatsQuery};
use casegrid_domain::{Actor, ActorKind, CaseId, Status};
use casegrid_eventlog::envelope::GENESIS_HASH;
use casegrid_eventlog::{Envelope, StoredEvent};
use casegrid_testkit::TestPostgres;
use serde_json::{json, Value};
use std::collections::HashMap;
use time::macros::datetime;
use time::OffsetDateTime;

const SEALED_NAME: &str = "U0VDUkVULU5BTUUtQ0lQSEVSVEVYVA==";
const SEALED_PHONE: &str = "U0VDUkVULVBIT05FLUNJUEhFUlRFWFQ=";
const CLEAR_PHONE: &str = "13800001234";

/// Seals events for one case as a stream would hold them, from stream sequence `seq`.
pub(crate) struct Chain {
    pub(crate) case_id: CaseId,
    version: u64,
    prev: String,
    at: OffsetDateTime,
}

impl Chain {
    pub(crate) fn new(key: &str) -> Self {
        Self {
            case_id: CaseId::for_filing("op.wang", key),
            version: 0,
            prev: GENESIS_HASH.to_owned(),
            at: datetime!(2026-11-23 01:30 UTC),
        }
    }

    pub(crate) fn event(
        &mut self,
        seq: u64,
        event_type: &str,
        data: Value,
        actor: Actor,
    ) -> StoredEvent {
        self.version += 1;
        self.at += time::Duration::minutes(10);
        let envelope = Envelope::seal(
            self.case_id,
            self.version,
            &self.prev,
            event_type,
            1,
            data,
            actor,
            format!("cmd-{}", self.version),
            "corr".into(),
            None,
            self.at,
        )
        .unwrap();
        self.prev = envelope.hash.clone();
        StoredEvent::parse(seq, &envelope.to_payload()).unwrap()
    }
}

pub(crate) fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op.wang")
}

fn dept(id: &str) -> Actor {
    Actor::new(ActorKind::Department, id)
}

fn filed() -> Value {
    json!({
        "channel": "hotline", "kind": "complaint", "category": "noise", "urgency": "normal",
        "title": "夜间施工噪音扰民", "description": "每晚十一点后仍在施工",
        "location": {"address": "湖滨街道滨江路12号", "grid": "NH.HB.BJ.03"},
        "reporter": {
            "name": {"masked": "王**", "sealed": SEALED_NAME},
            "phone": {"masked": "138****1234", "sealed": SEALED_PHONE}
        },
        "source": {"call_id": "call-20261123-0001"}
    })
}

/// File → dispatch → sign (lead, assisting) → reply → callback (closes), seq 1..=6.
pub(crate) fn lifecycle(chain: &mut Chain) -> Vec<StoredEvent> {
    vec![
        chain.event(1, "CaseFiled", filed(), operator()),
        chain.event(
            2,
            "CaseDispatched",
            json!({"lead": "dept.urban", "assisting": ["dept.ecology"],
                   "sign_due": "2026-11-23T05:30:00Z", "handle_due": "2026-11-30T09:30:00Z",
                   "rule": "rules.toml#noise"}),
            Actor::routing(),
        ),
        chain.event(
            3,
            "DispatchSigned",
            json!({"department": "dept.urban", "on_time": true}),
            dept("dept.urban"),
        ),
        chain.event(
            4,
            "DispatchSigned",
            json!({"department": "dept.ecology", "on_time": false}),
            dept("dept.ecology"),
        ),
        chain.event(
            5,
            "CaseReplied",
            json!({"department": "dept.urban", "result": "resolved", "text": "已责令停工"}),
            dept("dept.urban"),
        ),
        chain.event(
            6,
            "CallbackRecorded",
            json!({"satisfaction": "satisfied", "resolved": true, "closed": true}),
            operator(),
        ),
    ]
}

/// The backend a test runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    /// A fresh, empty read model.
    pub(crate) async fn model(self) -> ReadModel {
        let url = match self {
            Db::Sqlite => "sqlite::memory:".to_owned(),
            Db::Postgres => TestPostgres::shared().await.database().await,
        };
        ReadModel::connect(&url).await.unwrap()
    }

    /// Two read models (two pools, as two replicas have) on one fresh database.
    async fn pair(self) -> (ReadModel, ReadModel, Option<tempfile::TempDir>) {
        let (url, dir) = match self {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("rm.db").display());
                (url, Some(dir))
            }
            Db::Postgres => (TestPostgres::shared().await.database().await, None),
        };
        let a = ReadModel::connect(&url).await.unwrap();
        let b = ReadModel::connect(&url).await.unwrap();
        (a, b, dir)
    }
}

async fn a_full_lifecycle_folds_into_case_timeline_and_inbox(db: Db) {
    let names = HashMap::from([("dept.urban".to_owned(), "区城管执法局".to_owned())]);
    let model = db.model().await.with_names(names);
    let mut chain = Chain::new("k1");
    let events = lifecycle(&mut chain);

    // Up to the lead's signature the case sits in both inboxes.
    assert_eq!(model.apply(&events[..3]).await.unwrap(), 3);
    let inbox = model.inbox("dept.urban", None).await.unwrap();
    assert_eq!(inbox.items.len(), 1);
    let item = &inbox.items[0];
    assert_eq!((item.role.as_str(), item.signed), ("lead", true));
    assert_eq!(item.status, Status::InProgress);
    let assisting = model.inbox("dept.ecology", None).await.unwrap();
    assert_eq!(
        (assisting.items[0].role.as_str(), assisting.items[0].signed),
        ("assisting", false)
    );

    assert_eq!(model.apply(&events[3..]).await.unwrap(), 6);
    let case = model.case(chain.case_id).await.unwrap().expect("case");
    assert_eq!(case.number, "NH-20261123-000001");
    assert_eq!(case.status, Status::Closed);
    assert_eq!(case.version, 6);
    assert_eq!(case.channel, "hotline");
    assert_eq!(case.grid.as_deref(), Some("NH.HB.BJ.03"));
    assert_eq!(case.reporter_name.as_deref(), Some("王**"));
    assert_eq!(case.reporter_phone.as_deref(), Some("138****1234"));
    assert_eq!(case.lead.as_deref(), Some("dept.urban"));
    assert_eq!(case.assisting, vec!["dept.ecology"]);
    assert_eq!(case.signed, vec!["dept.urban", "dept.ecology"]);
    assert_eq!(case.sign_due.as_deref(), Some("2026-11-23T05:30:00Z"));
    assert_eq!(case.rule.as_deref(), Some("rules.toml#noise"));
    assert_eq!(case.reply_result.as_deref(), Some("resolved"));
    assert_eq!(case.satisfaction.as_deref(), Some("satisfied"));
    assert_eq!(case.filed_at, "2026-11-23T01:40:00Z");
    assert_eq!(case.updated_at, "2026-11-23T02:30:00Z");

    let timeline = model
        .timeline(chain.case_id)
        .await
        .unwrap()
        .expect("timeline");
    assert_eq!(timeline.number, case.number);
    assert_eq!(timeline.events.len(), 6);
    let dispatch = &timeline.events[1];
    assert_eq!(
        dispatch.summary,
        "派单 dispatched to dept.urban (lead), dept.ecology (assisting) by rules.toml#noise; \
         sign by 2026-11-23T05:30:00Z, handle by 2026-11-30T09:30:00Z"
    );
    assert_eq!(timeline.events[2].actor_name, "区城管执法局");
    assert_eq!(timeline.events[3].actor_name, "dept.ecology");
    assert_eq!(
        timeline.events[3].summary,
        "签收 signed by dept.ecology (late)"
    );
    assert!(timeline.events[5].summary.contains("case closed"));
    for (i, e) in timeline.events.iter().enumerate() {
        assert_eq!(e.version, i as u64 + 1);
        assert_eq!(e.hash, events[i].envelope.hash);
        assert_eq!(e.prev_hash, events[i].envelope.prev_hash);
    }

    // Replied and closed: out of every inbox.
    assert!(model
        .inbox("dept.urban", None)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(model
        .inbox("dept.ecology", None)
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(model.checkpoint().await.unwrap(), 6);
    assert!(model
        .case(CaseId::for_filing("x", "y"))
        .await
        .unwrap()
        .is_none());
    assert!(model
        .timeline(CaseId::for_filing("x", "y"))
        .await
        .unwrap()
        .is_none());
}

async fn reapplying_a_batch_changes_nothing(db: Db) {
    let model = db.model().await;
    let mut chain = Chain::new("k2");
    let events = lifecycle(&mut chain);
    model.apply(&events[..4]).await.unwrap();
    let snapshot = db.model().await;
    snapshot.apply(&events[..4]).await.unwrap();

    // The same batch again, and an overlapping one: only the new events count.
    assert_eq!(model.apply(&events[..4]).await.unwrap(), 4);
    assert_eq!(model.diff(&snapshot).await.unwrap(), Vec::<String>::new());
    assert_eq!(model.apply(&events[2..]).await.unwrap(), 6);
    assert_eq!(model.apply(&events).await.unwrap(), 6);
    snapshot.apply(&events[4..]).await.unwrap();
    assert_eq!(model.diff(&snapshot).await.unwrap(), Vec::<String>::new());
    let timeline = model.timeline(chain.case_id).await.unwrap().unwrap();
    assert_eq!(timeline.events.len(), 6);
}

async fn only_masked_personal_data_is_stored(db: Db) {
    let model = db.model().await;
    let mut chain = Chain::new("k3");
    model.apply(&lifecycle(&mut chain)).await.unwrap();
    // Every column of every table, as text.
    let dump = dump(&model).await;
    assert!(dump.contains("138****1234"), "the masked phone is kept");
    for secret in [SEALED_NAME, SEALED_PHONE, CLEAR_PHONE, "\"sealed\""] {
        assert!(!dump.contains(secret), "{secret} found in the read model");
    }
    let timeline = model.timeline(chain.case_id).await.unwrap().unwrap();
    assert_eq!(
        timeline.events[0].data["reporter"],
        json!({"name": {"masked": "王**"}, "phone": {"masked": "138****1234"}})
    );
}

/// Every value of every table, as one string.
async fn dump(model: &ReadModel) -> String {
    let mut out = String::new();
    for (table, keys) in ReadModel::tables() {
        let (_, rows) = model.table_rows(table, keys).await.unwrap();
        for row in rows.values() {
            out.push_str(&serde_json::to_string(row).unwrap());
            out.push('\n');
        }
    }
    out
}

async fn diff_names_the_differences(db: Db) {
    let a = db.model().await;
    let b = db.model().await;
    let mut chain = Chain::new("k4");
    let events = lifecycle(&mut chain);
    a.apply(&events).await.unwrap();
    b.apply(&events[..5]).await.unwrap();
    let diff = a.diff(&b).await.unwrap();
    assert!(
        diff.iter().any(|d| d.starts_with("cases [\"")
            && d.contains("status is \"closed\" in the first, \"replied\"")),
        "{diff:#?}"
    );
    assert!(
        diff.iter().any(|d| d.contains("checkpoint [1]: seq is 6")),
        "{diff:#?}"
    );
    assert!(
        diff.iter()
            .any(|d| d.starts_with("timeline") && d.ends_with(",6]: only in the first read model")),
        "{diff:#?}"
    );
    b.apply(&events[5..]).await.unwrap();
    assert!(a.diff(&b).await.unwrap().is_empty());
}

async fn unreadable_events_are_quarantined_and_never_fail(db: Db) {
    let model = db.model().await;
    let mut chain = Chain::new("k5");
    let filed = chain.event(1, "CaseFiled", filed(), operator());
    let unreadable = chain.event(
        2,
        "WhistleBlown",
        json!({"departments": ["dept.urban"], "secret": {"masked": "x", "sealed": "y"}}),
        Actor::new(ActorKind::Street, "street.hubin"),
    );
    assert_eq!(model.apply(&[filed, unreadable]).await.unwrap(), 2);
    let timeline = model.timeline(chain.case_id).await.unwrap().unwrap();
    assert_eq!(timeline.events.len(), 1, "only the valid event is applied");
    let case = model.case(chain.case_id).await.unwrap().unwrap();
    assert_eq!((case.version, case.status), (1, Status::Received));
    let quarantine = model.quarantine(10).await.unwrap();
    assert_eq!(quarantine.items.len(), 1);
    let q = &quarantine.items[0];
    assert_eq!(
        (q.seq, q.reason.as_str(), q.version),
        (2, "unreadable", Some(2))
    );
    assert_eq!(quarantine.counts["unreadable"], 1);
    assert_eq!(quarantine.counts["chain_break"], 0);
    // Applied again (a redelivery): nothing changes.
    assert_eq!(model.apply(&[]).await.unwrap(), 2);
}

/// Five cases with known outcomes, filed on 2026-11-23 (local) except C (2026-12-01):
/// - A (NH.HB.BJ.03, noise): urban (lead) signs on time, ecology (assisting) late;
///   replied; callback satisfied, resolved, closed.
/// - B (NH.HB.XW.01, noise): urban signs late; replied; callback basically satisfied,
///   not resolved (stays replied).
/// - C (NH.XS.AA.01, road_damage): traffic signs on time; replied; callback
///   unsatisfied, not resolved.
/// - D (NH.XS.AA.02, noise): filed only.
/// - E (NH.HB.BJ.05, noise): dispatched to urban (handle by 2026-11-30), never signed.
pub(crate) struct Fixture {
    pub(crate) events: Vec<StoredEvent>,
    ids: HashMap<char, CaseId>,
}

fn case_data(title: &str, grid: &str, category: &str) -> Value {
    let mut data = filed();
    data["title"] = json!(title);
    data["category"] = json!(category);
    data["location"]["grid"] = json!(grid);
    data
}

fn dispatch_to(lead: &str, assisting: &[&str]) -> Value {
    json!({"lead": lead, "assisting": assisting,
           "sign_due": "2026-11-23T05:30:00Z", "handle_due": "2026-11-30T09:30:00Z",
           "rule": "rules.toml#noise"})
}

pub(crate) fn fixture() -> Fixture {
    let mut events = Vec::new();
    let mut ids = HashMap::new();
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        seq
    };
    let sign = |d: &str, on_time: bool| json!({"department": d, "on_time": on_time});
    let reply = |d: &str| json!({"department": d, "result": "resolved", "text": "已处理"});
    let callback = |s: &str, resolved: bool, closed: bool| json!({"satisfaction": s, "resolved": resolved, "closed": closed});

    let mut a = Chain::new("fa");
    events.push(a.event(
        next(),
        "CaseFiled",
        case_data("夜间施工噪音", "NH.HB.BJ.03", "noise"),
        operator(),
    ));
    events.push(a.event(
        next(),
        "CaseDispatched",
        dispatch_to("dept.urban", &["dept.ecology"]),
        Actor::routing(),
    ));
    events.push(a.event(
        next(),
        "DispatchSigned",
        sign("dept.urban", true),
        dept("dept.urban"),
    ));
    events.push(a.event(
        next(),
        "DispatchSigned",
        sign("dept.ecology", false),
        dept("dept.ecology"),
    ));
    events.push(a.event(
        next(),
        "CaseReplied",
        reply("dept.urban"),
        dept("dept.urban"),
    ));
    events.push(a.event(
        next(),
        "CallbackRecorded",
        callback("satisfied", true, true),
        operator(),
    ));
    ids.insert('A', a.case_id);

    let mut b = Chain::new("fb");
    events.push(b.event(
        next(),
        "CaseFiled",
        case_data("广场舞音响扰民", "NH.HB.XW.01", "noise"),
        operator(),
    ));
    events.push(b.event(
        next(),
        "CaseDispatched",
        dispatch_to("dept.urban", &[]),
        Actor::routing(),
    ));
    events.push(b.event(
        next(),
        "DispatchSigned",
        sign("dept.urban", false),
        dept("dept.urban"),
    ));
    events.push(b.event(
        next(),
        "CaseReplied",
        reply("dept.urban"),
        dept("dept.urban"),
    ));
    events.push(b.event(
        next(),
        "CallbackRecorded",
        callback("basically_satisfied", false, false),
        operator(),
    ));
    ids.insert('B', b.case_id);

    let mut c = Chain::new("fc");
    c.at = datetime!(2026-12-01 02:00 UTC);
    events.push(c.event(
        next(),
        "CaseFiled",
        case_data("路面塌陷 100%危险", "NH.XS.AA.01", "road_damage"),
        operator(),
    ));
    events.push(c.event(
        next(),
        "CaseDispatched",
        dispatch_to("dept.traffic", &[]),
        Actor::routing(),
    ));
    events.push(c.event(
        next(),
        "DispatchSigned",
        sign("dept.traffic", true),
        dept("dept.traffic"),
    ));
    events.push(c.event(
        next(),
        "CaseReplied",
        reply("dept.traffic"),
        dept("dept.traffic"),
    ));
    events.push(c.event(
        next(),
        "CallbackRecorded",
        callback("unsatisfied", false, false),
        operator(),
    ));
    ids.insert('C', c.case_id);

    let mut d = Chain::new("fd");
    events.push(d.event(
        next(),
        "CaseFiled",
        case_data("楼上噪音", "NH.XS.AA.02", "noise"),
        operator(),
    ));
    ids.insert('D', d.case_id);

    let mut e = Chain::new("fe");
    events.push(e.event(
        next(),
        "CaseFiled",
        case_data("工地噪音", "NH.HB.BJ.05", "noise"),
        operator(),
    ));
    events.push(e.event(
        next(),
        "CaseDispatched",
        dispatch_to("dept.urban", &[]),
        Actor::routing(),
    ));
    ids.insert('E', e.case_id);

    Fixture { events, ids }
}

/// `(key, period)` → `[response, resolution, satisfaction, completion]` as (count, of).
type Figures = Vec<(Option<String>, String, [(u64, u64); 4])>;

async fn figures(
    model: &ReadModel,
    group_by: GroupBy,
    period: Period,
    from: Option<&str>,
) -> Figures {
    let view = model
        .stats(&StatsQuery {
            group_by,
            period,
            from: from.map(str::to_owned),
            to: None,
            grid_prefix: None,
        })
        .await
        .unwrap();
    view.rows
        .into_iter()
        .map(|r| {
            let c = |r: Rate| (r.count, r.of);
            (
                r.key,
                r.period,
                [
                    c(r.response),
                    c(r.resolution),
                    c(r.satisfaction),
                    c(r.completion),
                ],
            )
        })
        .collect()
}

fn row(
    key: Option<&str>,
    period: &str,
    rates: [(u64, u64); 4],
) -> (Option<String>, String, [(u64, u64); 4]) {
    (key.map(str::to_owned), period.to_owned(), rates)
}

async fn figures_match_the_hand_computed_ones(db: Db) {
    let model = db.model().await;
    let f = fixture();
    model.apply(&f.events).await.unwrap();

    assert_eq!(
        figures(&model, GroupBy::Department, Period::All, None).await,
        vec![
            row(None, "all", [(0, 0), (0, 0), (0, 0), (0, 1)]),
            row(
                Some("dept.ecology"),
                "all",
                [(0, 1), (0, 0), (0, 0), (0, 0)]
            ),
            row(
                Some("dept.traffic"),
                "all",
                [(1, 1), (0, 1), (0, 1), (1, 1)]
            ),
            row(Some("dept.urban"), "all", [(1, 3), (1, 2), (2, 2), (2, 3)]),
        ]
    );
    assert_eq!(
        figures(&model, GroupBy::Street, Period::All, None).await,
        vec![
            row(Some("NH.HB"), "all", [(1, 4), (1, 2), (2, 2), (2, 3)]),
            row(Some("NH.XS"), "all", [(1, 1), (0, 1), (0, 1), (1, 2)]),
        ]
    );
    assert_eq!(
        figures(&model, GroupBy::Category, Period::Month, None).await,
        vec![
            row(Some("noise"), "2026-11", [(1, 4), (1, 2), (2, 2), (2, 4)]),
            row(
                Some("road_damage"),
                "2026-12",
                [(1, 1), (0, 1), (0, 1), (1, 1)]
            ),
        ]
    );
    assert_eq!(
        figures(
            &model,
            GroupBy::Category,
            Period::Day,
            Some("2026-12-01T00:00:00+08:00")
        )
        .await,
        vec![row(
            Some("road_damage"),
            "2026-12-01",
            [(1, 1), (0, 1), (0, 1), (1, 1)]
        )]
    );

    // Per-mille, and the split of satisfaction.
    let view = model
        .stats(&StatsQuery {
            group_by: GroupBy::Department,
            ..StatsQuery::default()
        })
        .await
        .unwrap();
    let urban = view
        .rows
        .iter()
        .find(|r| r.key.as_deref() == Some("dept.urban"))
        .unwrap();
    assert_eq!(urban.response.permille, Some(333));
    assert_eq!(urban.resolution.permille, Some(500));
    assert_eq!(urban.satisfaction.permille, Some(1000));
    assert_eq!(urban.completion.permille, Some(667));
    assert_eq!((urban.satisfied, urban.basically_satisfied), (1, 1));
    assert!(model
        .stats(&StatsQuery {
            from: Some("yesterday".into()),
            ..StatsQuery::default()
        })
        .await
        .is_err());
}

fn ids_of(f: &Fixture, page: &crate::CasePage) -> Vec<char> {
    page.items
        .iter()
        .map(|c| *f.ids.iter().find(|(_, id)| **id == c.id).unwrap().0)
        .collect()
}

async fn lists_filter_and_paginate(db: Db) {
    let model = db.model().await;
    let f = fixture();
    model.apply(&f.events).await.unwrap();
    let now = datetime!(2026-12-15 00:00 UTC);
    let list = |q: serde_json::Value| {
        let model = model.clone();
        async move {
            let q: ListQuery = serde_json::from_value(q).unwrap();
            model.list(&q, now).await.unwrap()
        }
    };

    // Newest filing first, two at a time.
    let first = list(json!({"limit": 2})).await;
    assert_eq!(ids_of(&f, &first), vec!['E', 'D']);
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = list(json!({"limit": 2, "cursor": cursor})).await;
    assert_eq!(ids_of(&f, &second), vec!['C', 'B']);
    let third = list(json!({"limit": 2, "cursor": second.next_cursor.unwrap()})).await;
    assert_eq!(ids_of(&f, &third), vec!['A']);
    assert_eq!(third.next_cursor, None);
    assert!(model
        .list(
            &serde_json::from_value(json!({"cursor": "x"})).unwrap(),
            now
        )
        .await
        .is_err());

    for (filter, expected) in [
        (json!({"street": "NH.XS"}), vec!['D', 'C']),
        (json!({"department": "dept.ecology"}), vec!['A']),
        (json!({"department": "dept.urban"}), vec!['E', 'B', 'A']),
        (json!({"grid_prefix": "NH.HB.BJ"}), vec!['E', 'A']),
        (json!({"grid_prefix": "NH.HB.B"}), vec![]),
        (json!({"category": "road_damage"}), vec!['C']),
        (
            json!({"channel": "hotline", "urgency": "normal", "category": "noise"}),
            vec!['E', 'D', 'B', 'A'],
        ),
        (json!({"status": ["received"]}), vec!['D']),
        (
            json!({"status": ["replied", "closed"]}),
            vec!['C', 'B', 'A'],
        ),
        (json!({"overdue": true}), vec!['E']),
        (json!({"overdue": false, "street": "NH.HB"}), vec!['B', 'A']),
        (json!({"filed_from": "2026-12-01T00:00:00Z"}), vec!['C']),
        (
            json!({"filed_to": "2026-12-01T00:00:00Z", "street": "NH.XS"}),
            vec!['D'],
        ),
        (json!({"text": "噪音"}), vec!['E', 'D', 'A']),
        (json!({"text": "100%"}), vec!['C']),
        (
            json!({"text": "十一点 施工"}),
            vec!['E', 'D', 'C', 'B', 'A'],
        ),
        (json!({"text": "十一点 塌陷"}), vec!['C']),
        (json!({"text": "%"}), vec!['C']),
    ] {
        let page = list(filter.clone()).await;
        assert_eq!(ids_of(&f, &page), expected, "{filter}");
    }

    // Overdue: most overdue first; nothing is overdue before the deadline.
    let overdue = model.overdue(&OverdueQuery::default(), now).await.unwrap();
    assert_eq!(ids_of(&f, &overdue), vec!['E']);
    let early = model
        .overdue(&OverdueQuery::default(), datetime!(2026-11-24 00:00 UTC))
        .await
        .unwrap();
    assert!(early.items.is_empty());
}

/// A suspended case and a case in mediation whose old handling deadline passed are not
/// overdue: their clock is stopped (`Case::is_overdue`); a running one is.
async fn stopped_clocks_are_never_overdue(db: Db) {
    let model = db.model().await;
    let mut events = Vec::new();
    let mut seq = 0;
    let mut ids = HashMap::new();
    for (name, key) in [('R', "running"), ('S', "suspended"), ('M', "mediated")] {
        let mut c = Chain::new(key);
        let mut push = |t: &str, data: Value, actor: Actor| {
            seq += 1;
            events.push(c.event(seq, t, data, actor));
        };
        push(
            "CaseFiled",
            case_data("邻里纠纷", "NH.HB.BJ.03", "noise"),
            operator(),
        );
        push(
            "CaseDispatched",
            dispatch_to("dept.urban", &[]),
            Actor::routing(),
        );
        push(
            "DispatchSigned",
            json!({"department": "dept.urban", "on_time": true}),
            dept("dept.urban"),
        );
        match name {
            'S' => push(
                "CaseSuspended",
                json!({"department": "dept.urban", "reason": "等待鉴定",
                       "approved_by": "sup.li", "suspended_at": "2026-11-24T02:00:00Z"}),
                dept("dept.urban"),
            ),
            'M' => push(
                "MediationOpened",
                json!({"mediator": "med.chen", "mediation_due": "2026-12-24T02:00:00Z",
                       "parties": [
                           {"role": "applicant", "name": {"masked": "王**", "sealed": SEALED_NAME}, "consent": true},
                           {"role": "respondent", "name": {"masked": "李**", "sealed": SEALED_NAME}, "consent": true}]}),
                Actor::new(ActorKind::Mediator, "med.chen"),
            ),
            _ => {}
        }
        ids.insert(name, c.case_id);
    }
    model.apply(&events).await.unwrap();
    let f = Fixture { events, ids };
    let now = datetime!(2026-12-15 00:00 UTC);
    let overdue = model.overdue(&OverdueQuery::default(), now).await.unwrap();
    assert_eq!(ids_of(&f, &overdue), vec!['R']);
    let q: ListQuery = serde_json::from_value(json!({"overdue": false})).unwrap();
    let not = model.list(&q, now).await.unwrap();
    assert_eq!(ids_of(&f, &not), vec!['M', 'S']);
    let statuses: Vec<Status> = not.items.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Status::InMediation, Status::Suspended]);

    // `GET /cases/{id}` and the inbox's countdown read the same running deadlines.
    let running = model.case(f.ids[&'R']).await.unwrap().unwrap();
    let d: Vec<_> = running
        .deadlines
        .iter()
        .map(|d| (d.kind.as_str(), d.unit.as_str(), d.due.as_str(), d.missed))
        .collect();
    assert_eq!(d, [("handle", "dept.urban", "2026-11-30T09:30:00Z", false)]);
    for stopped in ['S', 'M'] {
        let view = model.case(f.ids[&stopped]).await.unwrap().unwrap();
        assert!(view.deadlines.is_empty(), "{stopped}: {:?}", view.deadlines);
    }
    let inbox = model.inbox("dept.urban", None).await.unwrap();
    let dues: Vec<(CaseId, Option<String>)> =
        inbox.items.iter().map(|i| (i.id, i.due.clone())).collect();
    assert!(
        dues.contains(&(f.ids[&'R'], Some("2026-11-30T09:30:00Z".into()))),
        "{dues:?}"
    );
    assert!(dues.contains(&(f.ids[&'S'], None)), "{dues:?}");
}

async fn duplicated_batches_count_once(db: Db) {
    let model = db.model().await;
    let once = db.model().await;
    let f = fixture();
    once.apply(&f.events).await.unwrap();
    // Redelivered in overlapping, repeated pieces.
    model.apply(&f.events[..10]).await.unwrap();
    model.apply(&f.events[5..15]).await.unwrap();
    model.apply(&f.events[..10]).await.unwrap();
    model.apply(&f.events).await.unwrap();
    model.apply(&f.events[3..]).await.unwrap();
    assert_eq!(model.diff(&once).await.unwrap(), Vec::<String>::new());
    for group_by in [GroupBy::Department, GroupBy::Street, GroupBy::Category] {
        assert_eq!(
            figures(&model, group_by, Period::Day, None).await,
            figures(&once, group_by, Period::Day, None).await
        );
    }
}

/// Two writers (two pools on one database, as two replicas) apply the same batches at
/// once: the checkpoint lock lets each event count once.
async fn two_writers_apply_each_event_once(db: Db) {
    let (a, b, _dir) = db.pair().await;
    let once = db.model().await;
    let f = fixture();
    once.apply(&f.events).await.unwrap();
    let batches: Vec<&[StoredEvent]> = f.events.chunks(3).collect();
    let run = |model: ReadModel| {
        let batches: Vec<Vec<StoredEvent>> = batches.iter().map(|b| b.to_vec()).collect();
        tokio::spawn(async move {
            for batch in batches {
                model.apply(&batch).await.unwrap();
            }
        })
    };
    let (x, y) = (run(a.clone()), run(b.clone()));
    x.await.unwrap();
    y.await.unwrap();
    assert_eq!(a.checkpoint().await.unwrap(), f.events.len() as u64);
    assert_eq!(a.diff(&once).await.unwrap(), Vec::<String>::new());
}

async fn connecting_again_keeps_the_data(db: Db) {
    let (a, _b, _dir) = db.pair().await;
    let f = fixture();
    a.apply(&f.events).await.unwrap();
    assert_eq!(a.checkpoint().await.unwrap(), f.events.len() as u64);
    assert_eq!(
        a.list(&ListQuery::default(), OffsetDateTime::now_utc())
            .await
            .unwrap()
            .items
            .len(),
        5
    );
}

/// A case through return, re-dispatch, whistle, suspension, escalation, an unsatisfied
/// callback, reopen and mediation: seq 1..=16.
pub(crate) fn winding(chain: &mut Chain) -> Vec<StoredEvent> {
    let housing = dept("dept.housing");
    let street = Actor::new(ActorKind::Street, "street.hubin");
    let supervisor = Actor::new(ActorKind::Supervisor, "sup.li");
    let steps: Vec<(&str, Value, Actor)> = vec![
        ("CaseFiled", filed(), operator()),
        (
            "CaseDispatched",
            json!({"lead": "dept.urban", "assisting": ["dept.ecology"],
                   "sign_due": "2026-11-23T05:30:00Z", "handle_due": "2026-11-30T09:30:00Z",
                   "rule": "rules.toml#noise"}),
            Actor::routing(),
        ),
        (
            "DispatchReturned",
            json!({"department": "dept.urban", "reason": "属于物业管理",
                   "suggested_owner": "dept.housing"}),
            dept("dept.urban"),
        ),
        (
            "CaseDispatched",
            json!({"lead": "dept.housing", "assisting": [],
                   "sign_due": "2026-11-23T08:30:00Z", "handle_due": "2026-12-01T09:30:00Z",
                   "rule": "manual"}),
            supervisor.clone(),
        ),
        (
            "DispatchSigned",
            json!({"department": "dept.housing", "on_time": true}),
            housing.clone(),
        ),
        (
            "WhistleBlown",
            json!({"street": "street.hubin", "departments": ["dept.urban", "dept.police"],
                   "report_due": "2026-11-23T06:00:00Z", "reason": "多部门联合执法"}),
            street.clone(),
        ),
        (
            "DispatchSigned",
            json!({"department": "dept.urban", "on_time": true, "whistle": true}),
            dept("dept.urban"),
        ),
        (
            "ReportedIn",
            json!({"department": "dept.urban", "on_time": true}),
            dept("dept.urban"),
        ),
        (
            "CaseSuspended",
            json!({"department": "dept.housing", "reason": "等待业主委员会答复",
                   "approved_by": "sup.li", "suspended_at": "2026-11-23T04:00:00Z"}),
            housing.clone(),
        ),
        (
            "CaseResumed",
            json!({"suspended_at": "2026-11-23T04:00:00Z",
                   "handle_due": "2026-12-03T09:30:00Z"}),
            housing.clone(),
        ),
        (
            "CaseEscalated",
            json!({"level": "street", "by": {"kind": "department", "id": "dept.housing"},
                   "reason": "需街道统筹"}),
            housing.clone(),
        ),
        (
            "CaseReplied",
            json!({"department": "dept.housing", "result": "explained", "text": "已协调"}),
            housing.clone(),
        ),
        (
            "CallbackRecorded",
            json!({"satisfaction": "unsatisfied", "resolved": false, "closed": false}),
            operator(),
        ),
        (
            "CaseReopened",
            json!({"reason": "市民仍不满意"}),
            operator(),
        ),
        (
            "MediationOpened",
            json!({"mediator": "med.zhao", "mediation_due": "2026-12-20T09:30:00Z",
                   "parties": [{"role": "applicant", "consent": true,
                                "name": {"masked": "王**", "sealed": SEALED_NAME}},
                               {"role": "respondent", "consent": true,
                                "name": {"masked": "李**", "sealed": SEALED_PHONE}}]}),
            Actor::new(ActorKind::Mediator, "med.zhao"),
        ),
        (
            "AgreementReached",
            json!({"terms": "施工方夜间停工并补偿", "court_confirmation": true,
                   "court_confirmation_due": "2027-01-20T09:30:00Z"}),
            Actor::new(ActorKind::Mediator, "med.zhao"),
        ),
    ];
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (t, data, actor))| chain.event(i as u64 + 1, t, data, actor))
        .collect()
}

/// The domain's own fold of `events`, as the read model must show it.
fn aggregate(events: &[StoredEvent]) -> casegrid_domain::Case {
    let mut case = casegrid_domain::Case::new(events[0].envelope.case_id);
    for e in events {
        let env = &e.envelope;
        case.apply(
            &casegrid_domain::Event::from_parts(&env.event_type, env.schema, &env.data).unwrap(),
        );
    }
    case
}

async fn inbox_roles(model: &ReadModel, department: &str) -> Vec<(String, bool)> {
    model
        .inbox(department, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| (i.role, i.signed))
        .collect()
}

async fn every_status_and_column_equals_the_aggregate(db: Db) {
    let model = db.model().await;
    let one_by_one = db.model().await;
    let mut chain = Chain::new("k6");
    let events = winding(&mut chain);
    for (k, e) in events.iter().enumerate() {
        model.apply(std::slice::from_ref(e)).await.unwrap();
        let case = model.case(chain.case_id).await.unwrap().unwrap();
        let expected = aggregate(&events[..=k]);
        assert_eq!(
            case.status, expected.status,
            "after {}",
            e.envelope.event_type
        );
        assert_eq!(case.version, k as u64 + 1);
        assert_eq!(case.lead.as_deref(), expected.lead().map(|d| d.as_str()));
        assert_eq!(
            case.handle_due,
            expected
                .dispatch
                .as_ref()
                .map(|d| crate::summary::rfc3339(d.handle_due))
        );
        match k + 1 {
            3 => {
                // Returned: no dispatch, out of every inbox.
                assert_eq!(case.status, Status::Received);
                assert!(inbox_roles(&model, "dept.urban").await.is_empty());
                assert!(inbox_roles(&model, "dept.ecology").await.is_empty());
            }
            6 => {
                assert_eq!(
                    inbox_roles(&model, "dept.urban").await,
                    vec![("summoned".to_owned(), false)]
                );
                assert_eq!(
                    inbox_roles(&model, "dept.police").await,
                    vec![("summoned".to_owned(), false)]
                );
                assert_eq!(
                    inbox_roles(&model, "street.hubin").await,
                    vec![("whistling".to_owned(), true)]
                );
            }
            7 => assert_eq!(
                inbox_roles(&model, "dept.urban").await,
                vec![("summoned".to_owned(), true)]
            ),
            8 => {
                // Reported in: the summons leaves urban's inbox, police still waits.
                assert!(inbox_roles(&model, "dept.urban").await.is_empty());
                assert_eq!(inbox_roles(&model, "dept.police").await.len(), 1);
                let page = model
                    .list(
                        &ListQuery {
                            filter: crate::CaseFilter {
                                department: Some("dept.police".into()),
                                ..Default::default()
                            },
                            ..Default::default()
                        },
                        OffsetDateTime::now_utc(),
                    )
                    .await
                    .unwrap();
                assert_eq!(page.items.len(), 1, "a summoned department lists the case");
            }
            9 => assert_eq!(case.status, Status::Suspended),
            10 => assert_eq!(case.handle_due.as_deref(), Some("2026-12-03T09:30:00Z")),
            14 => {
                assert_eq!(case.status, Status::Received);
                assert_eq!(case.reply_result, None);
                assert!(inbox_roles(&model, "dept.housing").await.is_empty());
            }
            15 => assert_eq!(case.status, Status::InMediation),
            16 => assert_eq!(case.status, Status::Replied),
            _ => {}
        }
    }
    // The stored state is the aggregate's, personal data masked only.
    let state: String = sqlx::query_scalar("SELECT state FROM cases WHERE id = $1")
        .bind(chain.case_id.to_string())
        .fetch_one(model.pool())
        .await
        .unwrap();
    let state: casegrid_domain::Case = serde_json::from_str(&state).unwrap();
    let expected = aggregate(&events);
    assert_eq!(state.status, expected.status);
    assert_eq!(state.level, expected.level);
    assert_eq!(state.reopened, 1);
    assert_eq!(state.number.as_deref(), Some("NH-20261123-000001"));
    assert_eq!(state.returned_by, expected.returned_by);
    assert_eq!(
        state.mediation.as_ref().unwrap().parties[1].name.masked,
        "李**"
    );
    let dump = dump(&model).await;
    for secret in [SEALED_NAME, SEALED_PHONE] {
        assert!(!dump.contains(secret), "{secret} found in the read model");
    }
    let level: Option<String> = sqlx::query_scalar("SELECT level FROM cases WHERE id = $1")
        .bind(chain.case_id.to_string())
        .fetch_one(model.pool())
        .await
        .unwrap();
    assert_eq!(level.as_deref(), Some("street"));

    // Escalated by dept.housing: the case never counts against its figures, but the
    // work order of dept.urban (which returned, did not escalate) still does.
    let stats = model
        .stats(&StatsQuery {
            group_by: GroupBy::Department,
            period: Period::All,
            ..StatsQuery::default()
        })
        .await
        .unwrap();
    assert!(
        !stats
            .rows
            .iter()
            .any(|r| r.key.as_deref() == Some("dept.housing")),
        "{stats:?}"
    );
    let urban = stats
        .rows
        .iter()
        .find(|r| r.key.as_deref() == Some("dept.urban"))
        .expect("urban's work order counts");
    assert_eq!((urban.response.count, urban.response.of), (0, 1));

    // One batch folds to exactly what sixteen did.
    one_by_one.apply(&events).await.unwrap();
    assert_eq!(model.diff(&one_by_one).await.unwrap(), Vec::<String>::new());
    let timeline = model.timeline(chain.case_id).await.unwrap().unwrap();
    let mediation = &timeline.events[14].summary;
    assert!(
        mediation.contains("王**") && mediation.contains("李**"),
        "{mediation}"
    );
}

/// Makes a `sqlite::name` and a `postgres::name` test of each `async fn name(db: Db)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Db::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Db::Postgres).await
            })*
        }
    };
}

async fn district_figures_count_only_cases_in_the_district(db: Db) {
    let model = db.model().await;
    let f = fixture();
    model.apply(&f.events).await.unwrap();
    let in_district = |group_by| {
        let model = &model;
        async move {
            model
                .stats(&StatsQuery {
                    group_by,
                    grid_prefix: Some("NH.HB".into()),
                    ..StatsQuery::default()
                })
                .await
        }
    };
    let view = in_district(GroupBy::Department).await.unwrap();
    let keys: Vec<Option<&str>> = view.rows.iter().map(|r| r.key.as_deref()).collect();
    // dept.traffic worked only in NH.XS, and the undispatched case D lies there too.
    assert_eq!(keys, [Some("dept.ecology"), Some("dept.urban")]);
    let urban = &view.rows[1];
    assert_eq!(
        (urban.response, urban.completion),
        (Rate::new(1, 3), Rate::new(2, 3))
    );
    let streets = in_district(GroupBy::Street).await.unwrap();
    let keys: Vec<Option<&str>> = streets.rows.iter().map(|r| r.key.as_deref()).collect();
    assert_eq!(keys, [Some("NH.HB")]);
    // A prefix matches whole codes only: NH.H is no part of NH.HB.
    let none = model
        .stats(&StatsQuery {
            grid_prefix: Some("NH.H".into()),
            ..StatsQuery::default()
        })
        .await
        .unwrap();
    assert!(none.rows.is_empty(), "{:?}", none.rows);
}

async fn filer_and_mediator_scope_lists(db: Db) {
    let model = db.model().await;
    let f = fixture();
    model.apply(&f.events).await.unwrap();
    let mut seq = f.events.len() as u64;
    let mut next = || {
        seq += 1;
        seq
    };
    // A grid worker files a case outside its own grid; a mediation goes to med.li.
    let mut g = Chain::new("grid-filed");
    let worker = Actor::new(ActorKind::GridWorker, "grid.x");
    let mut data = case_data("井盖缺失", "NH.XS.AA.09", "road_damage");
    data["channel"] = json!("grid_patrol");
    let mut events = vec![g.event(next(), "CaseFiled", data, worker)];
    let mut m = Chain::new("mediated");
    let mut data = case_data("邻里纠纷", "NH.XS.AA.02", "neighbor_dispute");
    data["kind"] = json!("dispute");
    events.push(m.event(next(), "CaseFiled", data, operator()));
    let party = |role: &str| json!({"role": role, "name": {"masked": "王**", "sealed": SEALED_NAME}, "consent": true});
    events.push(m.event(
        next(),
        "MediationOpened",
        json!({"mediator": "med.li", "parties": [party("applicant"), party("respondent")],
               "mediation_due": "2026-12-23T10:00:00Z"}),
        operator(),
    ));
    model.apply(&events).await.unwrap();

    let list = |filter: crate::CaseFilter| {
        let model = &model;
        async move {
            let q = ListQuery {
                filter,
                ..ListQuery::default()
            };
            let page = model
                .list(&q, datetime!(2026-11-24 00:00 UTC))
                .await
                .unwrap();
            let mut ids: Vec<CaseId> = page.items.iter().map(|v| v.id).collect();
            ids.sort();
            ids
        }
    };
    let mut reach = vec![g.case_id, f.ids[&'A'], f.ids[&'E']];
    reach.sort();
    assert_eq!(
        list(crate::CaseFilter {
            filed_by: Some("grid.x".into()),
            or_grid: Some("NH.HB.BJ".into()),
            ..Default::default()
        })
        .await,
        reach,
        "its own filing and the cases of its grid"
    );
    assert_eq!(
        list(crate::CaseFilter {
            filed_by: Some("grid.x".into()),
            ..Default::default()
        })
        .await,
        [g.case_id]
    );
    assert_eq!(
        list(crate::CaseFilter {
            mediator: Some("med.li".into()),
            ..Default::default()
        })
        .await,
        [m.case_id]
    );
    // The overdue list narrows the same way (E, dispatched in NH.HB.BJ, is overdue).
    let overdue = |q: OverdueQuery| {
        let model = &model;
        async move {
            let page = model
                .overdue(&q, datetime!(2026-12-31 00:00 UTC))
                .await
                .unwrap();
            page.items.iter().map(|v| v.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        overdue(OverdueQuery {
            grid_prefix: Some("NH.HB".into()),
            ..OverdueQuery::default()
        })
        .await,
        [f.ids[&'E']]
    );
    assert!(overdue(OverdueQuery {
        grid_prefix: Some("NH.XS".into()),
        ..OverdueQuery::default()
    })
    .await
    .is_empty());
    assert_eq!(
        overdue(OverdueQuery {
            filed_by: Some("grid.x".into()),
            or_grid: Some("NH.HB.BJ".into()),
            ..OverdueQuery::default()
        })
        .await,
        [f.ids[&'E']]
    );
    assert!(overdue(OverdueQuery {
        mediator: Some("med.li".into()),
        ..OverdueQuery::default()
    })
    .await
    .is_empty());
    let view = model.case(m.case_id).await.unwrap().unwrap();
    assert_eq!(view.mediator.as_deref(), Some("med.li"));
    assert_eq!(view.filed_by.as_deref(), Some("op.wang"));
}

async fn the_public_list_has_public_cases_and_notes_only(db: Db) {
    let model = db.model().await;
    let f = fixture();
    model.apply(&f.events).await.unwrap();
    let mut seq = f.events.len() as u64;
    let mut next = || {
        seq += 1;
        seq
    };
    let mut p = Chain::new("public");
    let mut filing = case_data("施工噪音", "NH.HB.BJ.03", "noise");
    filing["source"] = json!({"open311": {"service_code": "noise", "lat": "30.25",
        "long": "120.16"}, "attachments": ["https://photos.example/1.jpg"]});
    let mut events = vec![
        p.event(next(), "CaseFiled", filing, operator()),
        p.event(
            next(),
            "CaseDispatched",
            dispatch_to("dept.urban", &[]),
            Actor::routing(),
        ),
        p.event(
            next(),
            "NoteAdded",
            json!({"text": "内部备注：举报人情绪激动"}),
            dept("dept.urban"),
        ),
        p.event(
            next(),
            "CaseReplied",
            json!({"department": "dept.urban", "result": "resolved", "text": "已约谈王女士"}),
            dept("dept.urban"),
        ),
        p.event(
            next(),
            "CaseClosed",
            json!({"reason": "回访满意"}),
            operator(),
        ),
    ];
    let mut d = Chain::new("dispute");
    let mut data = case_data("噪音纠纷", "NH.HB.BJ.03", "noise");
    data["kind"] = json!("dispute");
    events.push(d.event(next(), "CaseFiled", data, operator()));
    model.apply(&events).await.unwrap();

    let query = crate::PublicQuery {
        filter: crate::CaseFilter {
            categories: vec!["noise".into()],
            not_kinds: vec!["dispute".into()],
            ..Default::default()
        },
        ids: vec![],
        limit: Some(100),
    };
    let page = model
        .public(&query, datetime!(2026-11-24 00:00 UTC))
        .await
        .unwrap();
    let ids: Vec<CaseId> = page.items.iter().map(|r| r.case.id).collect();
    assert!(
        ids.contains(&p.case_id) && ids.contains(&f.ids[&'A']),
        "{ids:?}"
    );
    assert!(!ids.contains(&d.case_id), "a dispute is never public");
    assert!(!ids.contains(&f.ids[&'C']), "road_damage was not asked for");
    let public = page.items.iter().find(|r| r.case.id == p.case_id).unwrap();
    let types: Vec<&str> = public.notes.iter().map(|n| n.event_type.as_str()).collect();
    assert_eq!(
        types,
        ["CaseFiled", "CaseDispatched", "CaseReplied", "CaseClosed"]
    );
    let versions: Vec<u64> = public.notes.iter().map(|n| n.version).collect();
    assert_eq!(versions, [1, 2, 4, 5], "the note (3) is not public");
    // Where it is and its media, as filed (Open311 answers them).
    assert_eq!(public.lat.as_deref(), Some("30.25"));
    assert_eq!(public.long.as_deref(), Some("120.16"));
    assert_eq!(
        public.media_url.as_deref(),
        Some("https://photos.example/1.jpg")
    );
    let text = serde_json::to_string(&public.notes).unwrap();
    for secret in ["内部备注", "王女士", "回访满意"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("resolved"), "{text}");
    // By id: only those asked, still within the filter.
    let by_id = model
        .public(
            &crate::PublicQuery {
                ids: vec![p.case_id, d.case_id],
                ..query.clone()
            },
            datetime!(2026-11-24 00:00 UTC),
        )
        .await
        .unwrap();
    let ids: Vec<CaseId> = by_id.items.iter().map(|r| r.case.id).collect();
    assert_eq!(ids, [p.case_id]);
}

on_both!(
    district_figures_count_only_cases_in_the_district,
    filer_and_mediator_scope_lists,
    the_public_list_has_public_cases_and_notes_only,
    a_full_lifecycle_folds_into_case_timeline_and_inbox,
    reapplying_a_batch_changes_nothing,
    only_masked_personal_data_is_stored,
    diff_names_the_differences,
    unreadable_events_are_quarantined_and_never_fail,
    figures_match_the_hand_computed_ones,
    lists_filter_and_paginate,
    stopped_clocks_are_never_overdue,
    duplicated_batches_count_once,
    two_writers_apply_each_event_once,
    connecting_again_keeps_the_data,
    every_status_and_column_equals_the_aggregate,
);

/// How fast batches fold into a fresh SQLite file, without NATS:
/// `cargo test --release -p casegrid-readmodel fold_speed -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn fold_speed() {
    let dir = tempfile::tempdir().unwrap();
    let model = ReadModel::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("speed.db").display()
    ))
    .await
    .unwrap();
    // 5,000 lifecycles of 6 events, interleaved a few cases at a time.
    let mut chains: Vec<Chain> = (0..5000).map(|i| Chain::new(&format!("s{i}"))).collect();
    let mut events = Vec::new();
    let mut seq = 0;
    for group in chains.chunks_mut(50) {
        let lives: Vec<Vec<StoredEvent>> = group.iter_mut().map(lifecycle).collect();
        for step in 0..6 {
            for life in &lives {
                seq += 1;
                let mut e = life[step].clone();
                e.seq = seq;
                events.push(e);
            }
        }
    }
    let mut conn = model.pool().acquire().await.unwrap();
    for pragma in [
        "PRAGMA synchronous = OFF",
        "PRAGMA cache_size = -65536",
        "PRAGMA temp_store = MEMORY",
    ] {
        sqlx::query(pragma).execute(&mut *conn).await.unwrap();
    }
    let mut cache = crate::fold::Cache::default();
    let t = std::time::Instant::now();
    let messages: Vec<casegrid_eventlog::RawMessage> = events
        .iter()
        .map(|e| casegrid_eventlog::RawMessage::of("casegrid.events", e))
        .collect();
    for batch in messages.chunks(crate::REBUILD_BATCH) {
        use sqlx::Connection;
        let mut tx = conn.begin().await.unwrap();
        model
            .apply_in(&mut tx, batch, None, Some(&mut cache))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let took = t.elapsed();
    eprintln!(
        "folded {} events in {took:?}: {:.0} events/s",
        events.len(),
        events.len() as f64 / took.as_secs_f64()
    );
}

mod assessment;
