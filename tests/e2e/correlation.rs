//! The request id travels: the `X-Request-Id` of a filing goes from the gateway to
//! intake in the NATS header of the same name and becomes the `correlation_id` of the
//! event it appends (and of routing's reaction to it); a hostile id (too long, control
//! characters) is replaced by one the gateway makes, and never stored.

use crate::kit::System;
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::time::Duration;

fn filing(title: &str) -> Value {
    json!({"channel": "hotline", "kind": "report", "category": "water_leak",
           "title": title, "location": {"grid": "NH.CD.YL.02"},
           "reporter": {"phone": "13900001111"}})
}

/// The case's events once one of type `kind` is among them.
async fn events_until(system: &System, case: &str, kind: &str) -> Vec<Value> {
    eventually(Duration::from_secs(30), kind, || async {
        let events: Vec<Value> = system
            .events()
            .await
            .into_iter()
            .filter(|e| e["case_id"] == case)
            .collect();
        events.iter().any(|e| e["type"] == kind).then_some(events)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_id_becomes_the_events_correlation_id() {
    let system = System::start().await;
    let api = &system.api;
    let id = "abc-2026-12-02.hotline:7f3e";
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &filing("楼道水管漏水"),
            &[("x-request-id", id)],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    assert_eq!(filed.headers["x-request-id"], id);
    let case = filed.body["id"].as_str().unwrap().to_owned();
    let events = events_until(&system, &case, "CaseDispatched").await;
    for kind in ["CaseFiled", "CaseDispatched"] {
        let event = events.iter().find(|e| e["type"] == kind).unwrap();
        assert_eq!(event["correlation_id"], id, "{kind}: {event}");
    }

    let too_long = "a".repeat(200);
    for (n, hostile) in [too_long.as_str(), "evil\tid"].into_iter().enumerate() {
        let key = format!("hostile-{n}");
        let filed = api
            .post(
                "/api/v1/cases",
                "demo-operator",
                &filing(&format!("水管漏水 {n}")),
                &[("x-request-id", hostile), ("idempotency-key", &key)],
            )
            .await;
        assert_eq!(filed.status, 201, "{}", filed.body);
        let replaced = filed.headers["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(replaced, hostile);
        let case = filed.body["id"].as_str().unwrap().to_owned();
        let events = events_until(&system, &case, "CaseFiled").await;
        assert_eq!(events[0]["correlation_id"], replaced.as_str());
    }
    let stored = serde_json::to_string(&system.events().await).unwrap();
    assert!(!stored.contains(&too_long) && !stored.contains("evil"));
}
