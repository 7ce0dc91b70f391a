//! Action requests answered through the command bus against a real nats-server: a key
//! replayed with another action or body is refused for routing's actions as for
//! intake's (`services/intake/tests` covers intake's side effects).

use casegrid_commandbus::act;
use casegrid_contracts::actions::Owner;
use casegrid_contracts::ActRequest;
use casegrid_domain::command::{Dispatch, FileCase};
use casegrid_domain::event::{CaseKind, Channel, Location, Urgency};
use casegrid_domain::{Actor, ActorKind, CaseId, Category, Command, DepartmentId};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, CommandMeta, EventLog, LogConfig};
use casegrid_runtime::clock::SystemClock;
use casegrid_testkit::TestNats;
use serde_json::{json, Value};
use time::OffsetDateTime;

fn meta(id: &str) -> CommandMeta {
    CommandMeta {
        command_id: id.to_owned(),
        correlation_id: id.to_owned(),
        causation_id: None,
        request: None,
    }
}

/// A case filed and dispatched to dept.housing, as intake and routing would.
async fn dispatched(store: &CaseStore, key: &str) -> CaseId {
    let id = CaseId::for_filing("op.zhang", key);
    let now = OffsetDateTime::now_utc();
    let file = Command::FileCase(FileCase {
        channel: Channel::Hotline,
        kind: CaseKind::Complaint,
        category: Category::parse("noise").unwrap(),
        urgency: Urgency::Normal,
        title: "夜间施工噪音扰民".into(),
        description: String::new(),
        location: Location::default(),
        reporter: Some(casegrid_domain::personal::Reporter {
            phone: Some(casegrid_domain::personal::Sealed {
                masked: "138****1234".into(),
                sealed: "c2VhbGVk".into(),
            }),
            ..Default::default()
        }),
        source: Default::default(),
        grid_found: None,
        personal: Vec::new(),
    });
    let operator = Actor::new(ActorKind::Operator, "op.zhang");
    store
        .execute(id, &operator, &file, &meta(key), now)
        .await
        .expect("filed");
    let dispatch = Command::Dispatch(Dispatch {
        lead: DepartmentId::parse("dept.housing").unwrap(),
        assisting: vec![],
        sign_due: now + time::Duration::days(1),
        handle_due: now + time::Duration::days(5),
        rule: "test".into(),
        return_due: None,
    });
    store
        .execute(
            id,
            &Actor::routing(),
            &dispatch,
            &meta(&format!("dispatch:{key}")),
            now,
        )
        .await
        .expect("dispatched");
    id
}

async fn send(
    store: &CaseStore,
    case_id: CaseId,
    actor: &Actor,
    action: &str,
    body: &Value,
) -> Result<casegrid_contracts::CommandReply, casegrid_contracts::Problem> {
    let request = ActRequest {
        case_id,
        action: action.to_owned(),
        actor: actor.clone(),
        command_id: "k1".into(),
        correlation_id: "corr".into(),
        if_match: None,
        body: body.clone(),
    };
    act(
        store,
        &SystemClock,
        Owner::Routing,
        &serde_json::to_vec(&request).unwrap(),
    )
    .await
}

type Step = (fn() -> Actor, &'static str, Value, Value);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pair_of_routing_actions_under_one_key_is_refused_and_appends_nothing() {
    let nats = TestNats::start();
    let log = EventLog::create(nats.client().await, LogConfig::default())
        .await
        .expect("log");
    let store = CaseStore::new(log.clone(), Numbering::default(), 1000);
    let housing = || Actor::new(ActorKind::Department, "dept.housing");
    let supervisor = || Actor::new(ActorKind::Supervisor, "sup.li");
    // (who, action, body, another body): each accepted on a freshly dispatched case.
    let steps: Vec<Step> = vec![
        (housing, "sign", json!({}), json!({})),
        (
            housing,
            "return",
            json!({"reason": "非本单位职责", "suggested_owner": "dept.water"}),
            json!({"reason": "非本单位职责", "suggested_owner": "dept.urban"}),
        ),
        (
            housing,
            "record_progress",
            json!({"text": "a"}),
            json!({"text": "b"}),
        ),
        (
            housing,
            "escalate",
            json!({"level": "street", "reason": "a"}),
            json!({"level": "street", "reason": "b"}),
        ),
        (
            supervisor,
            "supervise",
            json!({"text": "a"}),
            json!({"text": "b"}),
        ),
        (
            supervisor,
            "escalate",
            json!({"level": "street", "reason": "a"}),
            json!({"level": "department", "reason": "a"}),
        ),
    ];
    let mut pairs = 0;
    for (i, (who, first, body, _)) in steps.iter().enumerate() {
        for (j, (who2, second, body2, other)) in steps.iter().enumerate() {
            // `sign` has one body only: its replay is the same request (below).
            if who() != who2() || (i == j && *first == "sign") {
                continue;
            }
            let what = format!(
                "{first} then {second}{}",
                if i == j { " (other body)" } else { "" }
            );
            let case = dispatched(&store, &format!("pair-{i}-{j}")).await;
            send(&store, case, &who(), first, body)
                .await
                .unwrap_or_else(|p| panic!("{what}: first: {}", p.detail));
            let before = log.load_case(case, 0).await.unwrap().len();
            let replay = if i == j { other } else { body2 };
            let p = send(&store, case, &who(), second, replay)
                .await
                .unwrap_err();
            assert_eq!(
                (p.status, p.slug.as_str()),
                (422, "idempotency-key-reused"),
                "{what}: {}",
                p.detail
            );
            assert!(p.detail.contains(first), "{what}: {}", p.detail);
            assert_eq!(
                log.load_case(case, 0).await.unwrap().len(),
                before,
                "{what}: nothing appended"
            );
            // The same request again answers the first result.
            let again = send(&store, case, &who(), first, body)
                .await
                .expect("replay");
            assert_eq!(again.version, before as u64, "{what}");
            pairs += 1;
        }
    }
    assert_eq!(pairs, 4 * 4 - 1 + 2 * 2);
}
