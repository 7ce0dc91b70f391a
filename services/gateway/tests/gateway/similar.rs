//! Duplicate candidates: the gateway fills in `[duplicates]`, keeps only cases in the
//! caller's scope, answers 404 for a case out of scope and 400 naming a bad field.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn candidates_are_scoped_and_configured() {
    let app = spawn_app_with(|mut s| {
        s.duplicates.window_days = 7;
        s
    })
    .await;
    stand_in_services(&app).await;
    let doc = openapi(&app).await;
    let asked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = asked.clone();
    respond(
        &app.nats,
        casegrid_contracts::subjects::PROJECTION_SIMILAR,
        move |p| {
            seen.lock()
                .unwrap()
                .push(serde_json::from_slice(p).unwrap());
            let mut theirs = case_view("dept.housing");
            theirs["id"] = json!(OTHER_CASE);
            theirs["title"] = json!(OTHER_TITLE);
            let mut ours = case_view("dept.urban");
            ours["reporter_phone"] = json!("13800001234");
            json!({"ok": {"items": [
                {"score": 800, "case": theirs},
                {"score": 600, "case": ours},
            ]}})
        },
    )
    .await;
    let path = format!("/api/v1/cases/{CASE}/similar");
    let answer = answered(app.get(&path, DEPT_IN).send().await.unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_documented(&doc, "GET", "/api/v1/cases/{id}/similar", &answer);
    let ids: Vec<&str> = answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [CASE], "dept.urban never sees dept.housing's case");
    assert_eq!(
        answer.body["items"][0]["case"]["reporter_phone"],
        "138****1234"
    );
    let q = asked.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (q["case_id"].as_str(), q["window_days"].as_u64()),
        (Some(CASE), Some(7))
    );

    // A department the case is not dispatched to reads it as missing.
    problem(
        app.get(&path, DEPT_OUT).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;

    let draft =
        "/api/v1/cases/similar?category=water_supply&grid=NH.HB.BJ.03&title=%E6%BC%8F%E6%B0%B4";
    let answer = answered(app.get(draft, OPERATOR).send().await.unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_documented(&doc, "GET", "/api/v1/cases/similar", &answer);
    assert_eq!(answer.body["items"].as_array().unwrap().len(), 2);
    let q = asked.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (q["category"].as_str(), q["title"].as_str()),
        (Some("water_supply"), Some("漏水"))
    );

    for (bad, field) in [
        ("/api/v1/cases/similar?title=x", "category"),
        ("/api/v1/cases/similar?category=noise&lat=30.2", "lat"),
        ("/api/v1/cases/similar?category=noise&lat=300&long=1", "lat"),
        ("/api/v1/cases/similar?category=noise&grid=%20..", "grid"),
        ("/api/v1/cases/similar?category=noise&colour=red", "colour"),
    ] {
        let body = problem(
            app.get(bad, OPERATOR).send().await.unwrap(),
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(detail(&body).contains(field), "{bad}: {body}");
    }
    app.stop().await;
}
