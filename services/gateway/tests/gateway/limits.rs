//! Limits and what they look like from outside: per-principal rate limits, request
//! timeouts, body size (see `basics`), and the counters on `/metrics`.

use crate::helpers::*;
use casegrid_gateway::RateLimit;
use std::time::Duration;

#[tokio::test]
async fn a_flood_from_one_token_is_limited_while_another_is_served() {
    let app = spawn_app_with(|s| {
        s.with_rate_limit(Some(RateLimit {
            per_second: 0.5,
            burst: 3,
        }))
    })
    .await;
    stand_in_services(&app).await;
    let doc = openapi(&app).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..10 {
        let answer = answered(app.get("/api/v1/inbox", DEPT_IN).send().await.unwrap()).await;
        statuses.push(answer.status);
        if answer.status == 429 {
            assert_documented(&doc, "GET", "/api/v1/inbox", &answer);
            limited = Some(answer);
        }
    }
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    let limited = limited.expect("a 429");
    assert_eq!(limited.content_type, "application/problem+json");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");

    // Another principal is served meanwhile.
    let r = app.get("/api/v1/inbox", DEPT_OUT).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // A service nobody runs: counted as a NATS failure.
    let other = uuid::Uuid::new_v4();
    let r = app
        .post(&format!("/api/v1/cases/{other}/actions/close"), OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "stand-in intake answers");

    let metrics = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(SUPERVISOR)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"casegrid_gateway_requests_total{method="GET",route="/api/v1/inbox",status="200"} 4"#,
        r#"casegrid_gateway_requests_total{method="GET",route="/api/v1/inbox",status="429"} 7"#,
        r#"casegrid_gateway_request_duration_seconds_count{method="GET",route="/api/v1/inbox"} 11"#,
        "casegrid_gateway_sse_clients 0",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    assert!(metrics.contains("# TYPE casegrid_gateway_request_duration_seconds histogram"));
    app.stop().await;
}

#[tokio::test]
async fn slow_requests_time_out_and_failures_are_counted() {
    let app = spawn_app_with(|s| s.with_http_timeout(Duration::from_millis(300))).await;
    // Projection listens but never answers; the NATS timeout (5 s) is longer than the
    // request's, so the request deadline answers.
    let _silent = app
        .nats
        .subscribe(casegrid_contracts::subjects::PROJECTION_CASE)
        .await
        .unwrap();
    app.nats.flush().await.unwrap();
    let started = std::time::Instant::now();
    let r = app
        .get(&format!("/api/v1/cases/{CASE}"), OPERATOR)
        .send()
        .await
        .unwrap();
    let body = problem(r, reqwest::StatusCode::GATEWAY_TIMEOUT).await;
    assert!(detail(&body).contains("limit"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Nobody answers the timeline: a NATS failure by service and kind.
    let r = app
        .get(&format!("/api/v1/cases/{CASE}/timeline"), OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth(SUPERVISOR)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = r#"casegrid_gateway_nats_request_failures_total{service="projection",kind="no_responders"} 1"#;
    assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    assert!(
        metrics.contains(r#"route="/api/v1/cases/{id}",status="504""#),
        "{metrics}"
    );
    app.stop().await;
}
