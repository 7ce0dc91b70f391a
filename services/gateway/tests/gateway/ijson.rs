//! I-JSON at the edge: a float, an integer beyond ±(2^53 − 1), a duplicate member or a
//! lone surrogate in any JSON body answers 422 naming the member, and nothing reaches
//! a service (issue 17: a float in `source` made intake create a key, then fail).

use crate::helpers::*;
use futures_util::StreamExt;
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_i_json_bodies_get_422_naming_the_member_and_reach_no_service() {
    let app = spawn_app(Duration::from_secs(2)).await;
    // Every request to any service is seen here.
    let mut seen = app.nats.subscribe("casegrid.>").await.unwrap();
    app.nats.flush().await.unwrap();
    let filing = |extra: &str| {
        format!(
            r#"{{"channel": "hotline", "kind": "complaint", "category": "noise",
                "title": "噪音", "location": {{"grid": "NH.HB.BJ.03"}}{extra}}}"#
        )
    };
    let cases = [
        (
            "/api/v1/cases",
            filing(r#", "source": {"lat": 30.25}"#),
            "/source/lat",
        ),
        (
            "/api/v1/cases",
            filing(r#", "source": {"n": 9007199254740993}"#),
            "/source/n",
        ),
        ("/api/v1/cases", filing(r#", "title": "again""#), "/title"),
        (
            "/api/v1/cases",
            filing(r#", "reporter": {"name": "\ud800"}"#),
            "/reporter/name",
        ),
        (
            &format!("/api/v1/cases/{CASE}/actions/reply"),
            r#"{"result": "resolved", "text": "ok", "score": 1e2}"#.to_owned(),
            "/score",
        ),
        (
            &format!("/api/v1/cases/{CASE}/actions/rate_report_in"),
            r#"{"ratings": [{"department": "dept.urban", "score": 4.5}]}"#.to_owned(),
            "/ratings/0/score",
        ),
    ];
    for (path, body, pointer) in cases {
        let r = app
            .post(path, "demo-operator")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            detail(&p).starts_with(&format!("{pointer}: ")),
            "{body} → {p}"
        );
        assert!(p["type"].as_str().unwrap().ends_with("/not-i-json"), "{p}");
    }
    let leaked = tokio::time::timeout(Duration::from_millis(300), seen.next()).await;
    assert!(
        leaked.is_err(),
        "a refused body reached a service: {:?}",
        leaked.ok().flatten().map(|m| m.subject)
    );
    app.stop().await;
}
