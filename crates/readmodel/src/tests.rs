//! Read-model tests on in-memory SQLite, with events sealed as the log stores them.

use crate::ReadModel;
use casegrid_domain::{Actor, ActorKind, CaseId, Status};
use casegrid_eventlog::envelope::GENESIS_HASH;
use casegrid_eventlog::{Envelope, StoredEvent};
use serde_json::{json, Value};
use std::collections::HashMap;
use time::macros::datetime;
use time::OffsetDateTime;

const SEALED_NAME: &str = "U0VDUkVULU5BTUUtQ0lQSEVSVEVYVA==";
const SEALED_PHONE: &str = "U0VDUkVULVBIT05FLUNJUEhFUlRFWFQ=";
const CLEAR_PHONE: &str = "13800001234";

/// Seals events for one case as a stream would hold them, from stream sequence `seq`.
struct Chain {
    case_id: CaseId,
    version: u64,
    prev: String,
    at: OffsetDateTime,
}

impl Chain {
    fn new(key: &str) -> Self {
        Self {
            case_id: CaseId::for_filing("op.wang", key),
            version: 0,
            prev: GENESIS_HASH.to_owned(),
            at: datetime!(2026-11-23 01:30 UTC),
        }
    }

    fn event(&mut self, seq: u64, event_type: &str, data: Value, actor: Actor) -> StoredEvent {
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

fn operator() -> Actor {
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
fn lifecycle(chain: &mut Chain) -> Vec<StoredEvent> {
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

async fn memory() -> ReadModel {
    ReadModel::connect("sqlite::memory:").await.unwrap()
}

#[tokio::test]
async fn a_full_lifecycle_folds_into_case_timeline_and_inbox() {
    let names = HashMap::from([("dept.urban".to_owned(), "区城管执法局".to_owned())]);
    let model = memory().await.with_names(names);
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

#[tokio::test]
async fn reapplying_a_batch_changes_nothing() {
    let model = memory().await;
    let mut chain = Chain::new("k2");
    let events = lifecycle(&mut chain);
    model.apply(&events[..4]).await.unwrap();
    let snapshot = memory().await;
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

#[tokio::test]
async fn only_masked_personal_data_is_stored() {
    let model = memory().await;
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
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(model.pool())
            .await
            .unwrap();
    let mut out = String::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(&table)
            .fetch_all(model.pool())
            .await
            .unwrap();
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT json_array({}) FROM {table}",
            columns.join(", ")
        ))
        .fetch_all(model.pool())
        .await
        .unwrap();
        out.push_str(&rows.join("\n"));
    }
    out
}

#[tokio::test]
async fn diff_names_the_differences() {
    let a = memory().await;
    let b = memory().await;
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

#[tokio::test]
async fn unknown_events_get_a_timeline_row_and_never_fail() {
    let model = memory().await;
    let mut chain = Chain::new("k5");
    let filed = chain.event(1, "CaseFiled", filed(), operator());
    let future = chain.event(
        2,
        "WhistleBlown",
        json!({"departments": ["dept.urban"], "secret": {"masked": "x", "sealed": "y"}}),
        Actor::new(ActorKind::Street, "street.hubin"),
    );
    assert_eq!(model.apply(&[filed, future]).await.unwrap(), 2);
    let timeline = model.timeline(chain.case_id).await.unwrap().unwrap();
    assert_eq!(timeline.events.len(), 2);
    assert!(
        timeline.events[1].summary.starts_with("WhistleBlown"),
        "{}",
        timeline.events[1].summary
    );
    assert_eq!(timeline.events[1].data["secret"], json!({"masked": "x"}));
    let case = model.case(chain.case_id).await.unwrap().unwrap();
    assert_eq!((case.version, case.status), (2, Status::Received));
}
