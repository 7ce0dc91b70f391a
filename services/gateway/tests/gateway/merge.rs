//! `merge.into` must be a case the caller may see: outside a scoped supervisor's
//! district it reads as a case that does not exist, and nothing is sent to intake.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_scoped_supervisor_cannot_merge_into_a_case_it_does_not_see() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    stand_in_services(&app).await;
    let merge = format!("/api/v1/cases/{CASE}/actions/merge");
    // OTHER_CASE is outside NH.HB (the stand-in projection answers 404 for it).
    let r = app
        .post(&merge, "demo-supervisor-hubin")
        .json(&json!({ "into": OTHER_CASE }))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(detail(&body).contains("into"), "{body}");
    assert!(detail(&body).contains(OTHER_CASE), "{body}");
    // Into a case it sees, the request goes on to intake.
    let r = app
        .post(&merge, "demo-supervisor-hubin")
        .json(&json!({ "into": CASE }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}
