//! Appeals (申诉 / 甄别) and the assessment figures over HTTP, through the separate
//! processes and the injected clock: the lead appeals an unsatisfied callback within
//! the configured working days, a supervisor rules; an accepted appeal takes the
//! callback out of 解决率 and 满意率 onto its own line, a rejected one stands; another
//! unit's appeal, a second appeal and an appeal after the window are refused.

use crate::kit::System;
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::time::Duration;
use time::macros::datetime;

async fn count(system: &System, case: &str, kind: &str) -> usize {
    system
        .events()
        .await
        .iter()
        .filter(|e| e["case_id"] == case && e["type"] == kind)
        .count()
}

/// Filed, auto-dispatched to dept.urban (noise), signed, replied, called back
/// unsatisfied: the case id.
async fn rated_unsatisfied(system: &System, key: &str) -> String {
    let api = &system.api;
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "complaint", "category": "noise",
                    "title": "夜间施工噪音扰民", "location": {"grid": "NH.HB.BJ.03"},
                    "reporter": {"phone": "13800001234"}}),
            &[("Idempotency-Key", key)],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let case = filed.body["id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(30), "dispatched", || async {
        (count(system, &case, "CaseDispatched").await > 0).then_some(())
    })
    .await;
    let act = |token: &'static str, action: &'static str, body: Value| {
        let case = case.clone();
        async move {
            let r = api
                .post(
                    &format!("/api/v1/cases/{case}/actions/{action}"),
                    token,
                    &body,
                    &[],
                )
                .await;
            assert_eq!(r.status, 200, "{action}: {}", r.body);
        }
    };
    act("demo-urban", "sign", json!({})).await;
    act(
        "demo-urban",
        "reply",
        json!({"result": "explained", "text": "已依法解释"}),
    )
    .await;
    act(
        "demo-operator",
        "callback",
        json!({"satisfaction": "unsatisfied", "resolved": false}),
    )
    .await;
    case
}

async fn appeal(system: &System, case: &str, token: &str) -> (u16, Value) {
    let r = system
        .api
        .post(
            &format!("/api/v1/cases/{case}/actions/appeal_rating"),
            token,
            &json!({"reason": "诉求超出本单位法定职权"}),
            &[],
        )
        .await;
    (r.status, r.body)
}

async fn decide(system: &System, case: &str, accepted: bool) {
    let r = system
        .api
        .post(
            &format!("/api/v1/cases/{case}/actions/decide_appeal"),
            "demo-supervisor",
            &json!({"accepted": accepted, "reason": "经甄别"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appeals_are_ruled_and_the_figures_honour_them() {
    // Monday 10:00 in the city; the demo window is 3 working days.
    let system = System::start_with_clock(Some(datetime!(2026-11-23 10:00 +08:00))).await;
    let accepted = rated_unsatisfied(&system, "appeal-a").await;
    let rejected = rated_unsatisfied(&system, "appeal-b").await;
    let late = rated_unsatisfied(&system, "appeal-c").await;

    // Another unit cannot appeal urban's callback; nothing is appended.
    let (status, body) = appeal(&system, &accepted, "demo-housing").await;
    assert!(matches!(status, 403 | 404), "{status}: {body}");
    assert_eq!(count(&system, &accepted, "RatingAppealed").await, 0);

    let (status, body) = appeal(&system, &accepted, "demo-urban").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = appeal(&system, &accepted, "demo-urban").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("already appealed"),
        "{body}"
    );
    decide(&system, &accepted, true).await;
    let (status, body) = appeal(&system, &rejected, "demo-urban").await;
    assert_eq!(status, 200, "{body}");
    decide(&system, &rejected, false).await;

    // Thursday 10:01: three working days after the callbacks have passed.
    system.set_clock(datetime!(2026-11-26 10:01 +08:00));
    let (status, body) = appeal(&system, &late, "demo-urban").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("the appeal window ended at 2026-11-26T02:00:00Z"),
        "{body}"
    );
    assert_eq!(count(&system, &late, "RatingAppealed").await, 0);

    // Both rulings are on the timeline, for people.
    system.wait_projection().await;
    let (status, timeline) = system
        .api
        .get(
            &format!("/api/v1/cases/{accepted}/timeline"),
            Some("demo-supervisor"),
        )
        .await;
    assert_eq!(status, 200, "{timeline}");
    let types: Vec<&str> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.ends_with(&["CallbackRecorded", "RatingAppealed", "AppealDecided"]),
        "{types:?}"
    );

    // urban's figures: the accepted appeal's callback on its own line; the rejected
    // and the late one stand (unsatisfied, unresolved).
    let (status, stats) = system
        .api
        .get("/api/v1/stats?group_by=department", Some("demo-urban"))
        .await;
    assert_eq!(status, 200, "{stats}");
    let urban = &stats["rows"][0];
    assert_eq!(urban["key"], "dept.urban", "{stats}");
    assert_eq!(urban["appealed"], 1, "{urban}");
    assert_eq!(urban["satisfaction"]["of"], 2, "{urban}");
    assert_eq!(urban["resolution"]["of"], 2, "{urban}");
    assert_eq!(urban["on_time_reply"]["count"], 3, "{urban}");
    assert_eq!(urban["timely_sign"]["of"], 3, "{urban}");

    let (status, ranking) = system
        .api
        .get("/api/v1/stats/ranking?month=2026-11", Some("demo-urban"))
        .await;
    assert_eq!(status, 200, "{ranking}");
    assert_eq!(ranking["previous_month"], "2026-10");
    let rows = ranking["rows"].as_array().unwrap();
    let row = rows.iter().find(|r| r["unit"] == "dept.urban").unwrap();
    assert_eq!(row["previous_rank"], Value::Null, "{row}");
    assert!(row["rank"].as_u64().unwrap() >= 1, "{row}");
    let (status, problem) = system
        .api
        .get("/api/v1/stats/ranking?month=2026-13", Some("demo-urban"))
        .await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("month"),
        "{problem}"
    );
}
