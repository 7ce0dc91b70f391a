//! Routing as a city runs it: deadlines in working time, durable timers that survive a
//! kill -9, two replicas that dispatch and time out each case exactly once.

use crate::kit::System;
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use time::macros::datetime;

fn leak(n: usize) -> Value {
    json!({
        "channel": "hotline", "kind": "report", "category": "water_leak",
        "title": format!("楼道水管漏水 #{n}"),
        "location": {"grid": "NH.CD.YL.02"},
        "reporter": {"phone": "13900001111"}
    })
}

/// Events of each type per case.
fn counts(events: &[Value], kind: &str) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for e in events.iter().filter(|e| e["type"] == kind) {
        *out.entry(e["case_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    out
}

async fn file_cases(system: &System, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = system
            .api
            .post("/api/v1/cases", "demo-operator", &leak(i), &[])
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn wait_for(system: &System, kind: &str, cases: &[String], each: usize) -> Vec<Value> {
    let what = format!("{each} {kind} for each case");
    let waiting = eventually(Duration::from_secs(60), &what, || async {
        let events = system.events().await;
        let c = counts(&events, kind);
        cases
            .iter()
            .all(|id| c.get(id).copied().unwrap_or(0) >= each)
            .then_some(events)
    });
    match tokio::time::timeout(Duration::from_secs(50), waiting).await {
        Ok(events) => events,
        Err(_) => panic!("no {kind}; logs:\n{}", system.logs()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_deadlines_survive_kill_9_and_fire_exactly_once() {
    // Tuesday 10:00 in the city: water leaks must be signed within one working hour.
    let filed_at = datetime!(2026-11-24 10:00 +08:00);
    let mut system = System::start_with_clock(Some(filed_at)).await;
    let cases = file_cases(&system, 100).await;
    let events = wait_for(&system, "CaseDispatched", &cases, 1).await;
    let dispatch = events
        .iter()
        .find(|e| e["type"] == "CaseDispatched")
        .unwrap();
    assert_eq!(dispatch["data"]["lead"], "dept.water");
    assert_eq!(
        dispatch["data"]["sign_due"], "2026-11-24T03:00:00Z",
        "10:00 + 1 working hour"
    );
    assert_eq!(
        dispatch["data"]["handle_due"], "2026-11-26T02:00:00Z",
        "+2 working days"
    );

    // Routing dies; the sign deadlines pass while it is down.
    system.kill("routing");
    system.set_clock(datetime!(2026-11-24 14:00 +08:00));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        counts(&system.events().await, "DeadlineMissed").is_empty(),
        "nobody watches yet"
    );

    system.spawn("routing", "routing", &[]);
    let events = wait_for(&system, "CaseEscalated", &cases, 1).await;
    // A few more ticks: nothing fires twice, and no handling deadline fires early.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events = if events.len() == system.stream_messages().await as usize {
        events
    } else {
        system.events().await
    };
    let missed = counts(&events, "DeadlineMissed");
    assert_eq!(missed.len(), 100, "{}", system.logs());
    assert!(
        missed.values().all(|n| *n == 1),
        "exactly one DeadlineMissed per case"
    );
    for e in events.iter().filter(|e| e["type"] == "DeadlineMissed") {
        assert_eq!(e["data"]["deadline"], "sign");
        assert_eq!(e["actor"]["kind"], "system");
    }
    let escalated = counts(&events, "CaseEscalated");
    assert!(escalated.values().all(|n| *n == 1));
    let first = events
        .iter()
        .find(|e| e["type"] == "CaseEscalated")
        .unwrap();
    assert_eq!(
        first["data"]["level"], "street",
        "one level up from the community"
    );

    // Thursday 10:01: the handling deadlines pass too, each once.
    system.set_clock(datetime!(2026-11-26 10:01 +08:00));
    let events = wait_for(&system, "DeadlineMissed", &cases, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = if events.len() == system.stream_messages().await as usize {
        events
    } else {
        system.events().await
    };
    assert!(counts(&events, "DeadlineMissed").values().all(|n| *n == 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routing_replicas_dispatch_and_time_out_each_case_once() {
    let filed_at = datetime!(2026-11-24 10:00 +08:00);
    let mut system = System::start_with_clock(Some(filed_at)).await;
    let second_db = format!(
        "sqlite://{}/routing-2.db?mode=rwc",
        system.nats.dir().display()
    );
    system.spawn(
        "routing-2",
        "routing",
        &[
            ("CASEGRID__ROUTING__REPLICA", "2".to_owned()),
            ("CASEGRID__ROUTING__DATABASE_URL", second_db),
        ],
    );
    let cases = file_cases(&system, 30).await;
    wait_for(&system, "CaseDispatched", &cases, 1).await;
    system.set_clock(datetime!(2026-11-24 14:00 +08:00));
    wait_for(&system, "CaseEscalated", &cases, 1).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let events = system.events().await;
    for kind in ["CaseDispatched", "DeadlineMissed", "CaseEscalated"] {
        let c = counts(&events, kind);
        assert_eq!(c.len(), 30, "{kind}");
        assert!(
            c.values().all(|n| *n == 1),
            "{kind} exactly once per case: {c:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_case_goes_to_the_next_unit_and_then_to_a_dispatcher() {
    let system = System::start_with_clock(Some(datetime!(2026-11-24 10:00 +08:00))).await;
    let api = system.api.clone();
    // Noise in 湖滨街道: 城管执法 leads; after its return, the street office.
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "complaint", "category": "noise",
                    "title": "广场舞音响声音过大", "location": {"grid": "NH.HB.BJ.03"},
                    "reporter": {"phone": "13700007777"}}),
            &[],
        )
        .await;
    let id = filed.body["id"].as_str().unwrap().to_owned();
    let case = crate::lifecycle::wait_status(&api, &id, "demo-operator", "dispatched").await;
    assert_eq!(case["lead"], "dept.urban");
    assert!(
        case["rule"]
            .as_str()
            .unwrap()
            .starts_with("rules.toml#noise"),
        "{case}"
    );
    assert!(
        case["rule"].as_str().unwrap().contains("config "),
        "the configuration version"
    );
    let returned = api
        .post(
            &format!("/api/v1/cases/{id}/actions/return"),
            "demo-urban",
            &json!({"reason": "广场舞噪音属街道文化站协调", "suggested_owner": "street.hubin"}),
            &[],
        )
        .await;
    assert_eq!(returned.status, 200, "{}", returned.body);
    let case = eventually(
        Duration::from_secs(20),
        "re-dispatch to the street",
        || async {
            let (_, c) = api
                .get(&format!("/api/v1/cases/{id}"), Some("demo-operator"))
                .await;
            (c["status"] == "dispatched" && c["lead"] == "street.hubin").then_some(c)
        },
    )
    .await;
    assert_eq!(case["assisting"], json!(["dept.ecology"]));
    let returned = api
        .post(
            &format!("/api/v1/cases/{id}/actions/return"),
            "demo-hubin",
            &json!({"reason": "非本街道辖区", "suggested_owner": "dept.ecology"}),
            &[],
        )
        .await;
    assert_eq!(returned.status, 200, "{}", returned.body);
    // No rule is left: the case waits for a human dispatcher, who dispatches it by hand.
    let client = system.nats.client().await;
    eventually(Duration::from_secs(20), "the dispatcher queue", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            let reply = client
                .request("casegrid.routing.queue", "{}".into())
                .await
                .ok()?;
            let answer: Value = serde_json::from_slice(&reply.payload).ok()?;
            answer["ok"]
                .as_array()?
                .iter()
                .any(|q| q["case_id"] == id.as_str())
                .then_some(())
        }
    })
    .await;
    let manual = api
        .post(
            &format!("/api/v1/cases/{id}/actions/dispatch"),
            "demo-supervisor",
            &json!({"lead": "dept.ecology"}),
            &[],
        )
        .await;
    assert_eq!(manual.status, 200, "{}", manual.body);
    let case = crate::lifecycle::wait_status(&api, &id, "demo-supervisor", "dispatched").await;
    assert_eq!(case["lead"], "dept.ecology");
    assert_eq!(case["rule"], "manual");
}
