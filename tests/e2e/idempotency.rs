//! Idempotency keys over HTTP, through the separate processes: a key is its
//! principal's own, so an HTTP caller sending one of routing's command ids cannot stop
//! a deadline or a dispatch, and a key replayed as another action is 422.

use crate::kit::System;
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::time::Duration;
use time::macros::datetime;

async fn events_of(system: &System, case: &str) -> Vec<Value> {
    system
        .events()
        .await
        .into_iter()
        .filter(|e| e["case_id"] == case)
        .collect()
}

async fn wait_type(system: &System, case: &str, kind: &str) -> Vec<Value> {
    eventually(
        Duration::from_secs(30),
        &format!("{kind} on {case}"),
        || async {
            let events = events_of(system, case).await;
            events.iter().any(|e| e["type"] == kind).then_some(events)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_sending_routing_s_command_ids_cannot_stop_a_deadline() {
    // Tuesday 10:00 in the city: a water leak must be signed within one working hour.
    let system = System::start_with_clock(Some(datetime!(2026-11-24 10:00 +08:00))).await;
    let api = &system.api;
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "report", "category": "water_leak",
                    "title": "楼道水管漏水", "location": {"grid": "NH.CD.YL.02"},
                    "reporter": {"phone": "13900001111"}}),
            &[],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let case = filed.body["id"].as_str().unwrap().to_owned();
    let events = wait_type(&system, &case, "CaseDispatched").await;
    let dispatched = events
        .iter()
        .find(|e| e["type"] == "CaseDispatched")
        .unwrap();
    let lead = dispatched["data"]["lead"].as_str().unwrap();
    let sign_due = time::OffsetDateTime::parse(
        dispatched["data"]["sign_due"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // The ids routing will use (timers.rs, react.rs), taken in advance over HTTP.
    let missed = format!("missed:{case}:sign:{lead}:{}", sign_due.unix_timestamp());
    let dispatch = format!("dispatch:{}", events[0]["event_id"].as_str().unwrap());
    for key in [&missed, &dispatch] {
        let r = api
            .post(
                &format!("/api/v1/cases/{case}/actions/annotate"),
                "demo-operator",
                &json!({"text": "占用系统指令号"}),
                &[("Idempotency-Key", key)],
            )
            .await;
        assert_eq!(r.status, 200, "{key}: {}", r.body);
    }
    let notes: Vec<String> = events_of(&system, &case)
        .await
        .iter()
        .filter(|e| e["type"] == "NoteAdded")
        .map(|e| e["command_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        notes,
        [
            format!("http:operator:op.zhang:{missed}"),
            format!("http:operator:op.zhang:{dispatch}")
        ],
        "the keys live in the caller's namespace"
    );
    // The same key replayed as another action: refused, nothing appended.
    let before = events_of(&system, &case).await.len();
    let r = api
        .post(
            &format!("/api/v1/cases/{case}/actions/reveal"),
            "demo-operator",
            &json!({"reason": "回访"}),
            &[("Idempotency-Key", &missed)],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.body["type"],
        "https://casegrid.example/errors/idempotency-key-reused"
    );
    assert!(
        r.body["detail"].as_str().unwrap().contains("annotate"),
        "{}",
        r.body
    );

    // The sign deadline passes on the injected clock: it fires, exactly once.
    system.set_clock(datetime!(2026-11-24 14:00 +08:00));
    wait_type(&system, &case, "CaseEscalated").await;
    tokio::time::sleep(Duration::from_millis(800)).await; // a few more 100 ms ticks
    let events = events_of(&system, &case).await;
    let fired: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "DeadlineMissed")
        .collect();
    assert_eq!(fired.len(), 1, "exactly one DeadlineMissed: {events:?}");
    assert_eq!(fired[0]["command_id"], missed.as_str());
    assert_eq!(fired[0]["actor"]["kind"], "system");
    assert_eq!(
        events.len(),
        before + 2,
        "DeadlineMissed and CaseEscalated only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_s_annotation_key_replayed_as_an_erase_erases_nothing() {
    let system = System::start().await;
    let api = &system.api;
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "complaint", "category": "noise",
                    "title": "夜间施工噪音扰民", "location": {"grid": "NH.HB.BJ.03"},
                    "reporter": {"phone": "13800001234"}}),
            &[],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let case = filed.body["id"].as_str().unwrap().to_owned();
    wait_type(&system, &case, "CaseDispatched").await;
    let action = |name: &str| format!("/api/v1/cases/{case}/actions/{name}");
    // dept.urban leads the case; it waits until its read model says so.
    eventually(
        Duration::from_secs(20),
        "dept.urban sees the case",
        || async {
            let (code, _) = api
                .get(&format!("/api/v1/cases/{case}"), Some("demo-urban"))
                .await;
            (code == 200).then_some(())
        },
    )
    .await;
    let noted = api
        .post(
            &action("annotate"),
            "demo-urban",
            &json!({"text": "现场已查看"}),
            &[("Idempotency-Key", "k1")],
        )
        .await;
    assert_eq!(noted.status, 200, "{}", noted.body);
    let before = events_of(&system, &case).await.len();
    let replay = api
        .post(
            &action("erase"),
            "demo-urban",
            &json!({"reason": "依法删除"}),
            &[("Idempotency-Key", "k1")],
        )
        .await;
    assert_eq!(replay.status, 422, "{}", replay.body);
    assert_eq!(
        replay.body["type"],
        "https://casegrid.example/errors/idempotency-key-reused"
    );
    assert_eq!(
        events_of(&system, &case).await.len(),
        before,
        "nothing appended"
    );
    let kv = async_nats::jetstream::new(system.nats.client().await)
        .get_key_value("CASEGRID_KEYS")
        .await
        .unwrap();
    assert!(
        kv.get(format!("case.{case}")).await.unwrap().is_some(),
        "the key is still there"
    );
    let revealed = api
        .post(
            &action("reveal"),
            "demo-operator",
            &json!({"reason": "回访"}),
            &[],
        )
        .await;
    assert_eq!(revealed.status, 200, "{}", revealed.body);
    assert_eq!(
        revealed.body["personal_data"]["reporter.phone"],
        "13800001234"
    );
    let events = events_of(&system, &case).await;
    let last = events.last().unwrap();
    assert_eq!(
        last["type"], "PersonalDataRevealed",
        "the reveal is on the timeline"
    );
    assert_eq!(last["actor"]["id"], "op.zhang");
}
