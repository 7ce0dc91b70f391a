//! The gateway's own mapping of tokens, bodies, paths, services and shutdown.

use crate::helpers::*;
use casegrid_contracts::subjects::{INTAKE_FILE, INTAKE_LOG, PROJECTION_CASE, ROUTING_ACT};
use casegrid_contracts::{Answer, CaseQuery, CommandReply, FileRequest, Problem};
use casegrid_domain::{CaseId, Status};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn missing_or_unknown_tokens_get_401() {
    let app = spawn_app(Duration::from_secs(5)).await;

    let r = app.http.get(app.url("/api/v1/inbox")).send().await.unwrap();
    assert_eq!(
        r.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let body = problem(r, StatusCode::UNAUTHORIZED).await;
    assert!(detail(&body).contains("Authorization"), "{body}");

    let r = app
        .get("/api/v1/inbox", "not-a-token")
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::UNAUTHORIZED).await;
    assert!(detail(&body).contains("unknown"), "{body}");

    let r = app
        .get("/api/v1/inbox", "demo-operator")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .get(&format!("/api/v1/cases/{CASE}/log"), "demo-urban")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    app.stop().await;
}

#[tokio::test]
async fn bad_bodies_paths_and_headers_are_problems() {
    let app = spawn_app(Duration::from_secs(5)).await;

    let r = app
        .post("/api/v1/cases", "demo-operator")
        .body("{\"kind\": ")
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::BAD_REQUEST).await;
    assert!(
        detail(&body).contains("EOF"),
        "names the serde error: {body}"
    );

    let r = app
        .post("/api/v1/cases", "demo-operator")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::BAD_REQUEST).await;
    assert!(detail(&body).contains("JSON object"), "{body}");

    let big = json!({ "description": "x".repeat(BODY_LIMIT * 2) });
    let r = app
        .post("/api/v1/cases", "demo-operator")
        .json(&big)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;

    let r = app
        .post(&format!("/api/v1/cases/{CASE}/actions/fly"), "demo-urban")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::NOT_FOUND).await;
    assert!(detail(&body).contains("unknown action"), "{body}");

    let r = app
        .post(&format!("/api/v1/cases/{CASE}/actions/sign"), "demo-urban")
        .header("If-Match", "latest")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::BAD_REQUEST).await;
    assert!(detail(&body).contains("If-Match"), "{body}");

    let r = app
        .get("/api/v1/cases/not-a-uuid", "demo-operator")
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::NOT_FOUND).await;
    assert!(detail(&body).contains("UUID"), "{body}");

    let r = app
        .get("/api/v1/nowhere", "demo-operator")
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::NOT_FOUND).await;
    assert!(detail(&body).contains("/api/v1/nowhere"), "{body}");

    let r = app
        .http
        .delete(app.url("/api/v1/cases"))
        .bearer_auth("demo-operator")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
    app.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app(Duration::from_secs(5)).await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ok");
    // Not ready while the services behind it are not answering their pings.
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    let body = problem(r, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("casegrid-intake does not answer"),
        "{body}"
    );
    let mut registered = Vec::new();
    for name in ["casegrid-intake", "casegrid-routing", "casegrid-projection"] {
        registered.push(
            casegrid_runtime::service::register(&app.nats, name, "0.1.0", "stand-in")
                .await
                .unwrap(),
        );
    }
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn missing_and_silent_services_get_503_and_504() {
    let app = spawn_app(Duration::from_millis(300)).await;

    let r = app
        .post("/api/v1/cases", "demo-operator")
        .json(&json!({"kind": "complaint"}))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(detail(&body).contains("intake is not running"), "{body}");

    // Routing listens but never answers.
    // (A supervisor: a department's action would first ask projection about scope.)
    let _silent = app.nats.subscribe(ROUTING_ACT).await.unwrap();
    app.nats.flush().await.unwrap();
    let r = app
        .post(
            &format!("/api/v1/cases/{CASE}/actions/sign"),
            "demo-supervisor",
        )
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::GATEWAY_TIMEOUT).await;
    assert!(detail(&body).contains("routing"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn filing_answers_201_with_location_and_problems_are_forwarded() {
    let app = spawn_app(Duration::from_secs(5)).await;
    respond(&app.nats, INTAKE_FILE, |payload| {
        let request: FileRequest = serde_json::from_slice(payload).expect("a FileRequest");
        if request.body.get("category").is_none() {
            let p = Problem::unprocessable("missing field `category`");
            return serde_json::to_value(Answer::<CommandReply>::Problem(p)).unwrap();
        }
        let reply = CommandReply {
            id: CaseId::for_filing(&request.actor.id, &request.idempotency_key),
            number: Some("NH-20261123-000001".into()),
            version: 1,
            status: Status::Received,
            created: request.idempotency_key == "call-20261123-0001",
            revealed: None,
        };
        serde_json::to_value(Answer::Ok(reply)).unwrap()
    })
    .await;

    let filing = json!({"kind": "complaint", "category": "noise", "title": "噪音"});
    let r = app
        .post("/api/v1/cases", "demo-operator")
        .header("Idempotency-Key", "call-20261123-0001")
        .json(&filing)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = CaseId::for_filing("op.zhang", "call-20261123-0001");
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/cases/{id}").as_str())
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": id, "number": "NH-20261123-000001", "version": 1, "status": "received"})
    );

    // Not created by this request (a repeated key, here made up): 200, same shape.
    let r = app
        .post("/api/v1/cases", "demo-operator")
        .json(&filing)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("location").is_none());

    let r = app
        .post("/api/v1/cases", "demo-operator")
        .json(&json!({"kind": "complaint"}))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(detail(&body), "missing field `category`");
    app.stop().await;
}

#[tokio::test]
async fn departments_see_only_cases_dispatched_to_them() {
    let app = spawn_app(Duration::from_secs(5)).await;
    respond(&app.nats, PROJECTION_CASE, |payload| {
        let query: CaseQuery = serde_json::from_slice(payload).expect("a CaseQuery");
        if query.case_id.to_string() == CASE {
            json!({ "ok": case_view("dept.urban") })
        } else {
            let p = Problem::case_not_found(query.case_id);
            serde_json::to_value(Answer::<Value>::Problem(p)).unwrap()
        }
    })
    .await;
    let path = format!("/api/v1/cases/{CASE}");

    let r = app.get(&path, "demo-urban").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["lead"], "dept.urban");

    let r = app.get(&path, "demo-supervisor").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = app.get(&path, "demo-housing").send().await.unwrap();
    problem(r, StatusCode::NOT_FOUND).await;
    let r = app
        .get(&format!("{path}/timeline"), "demo-housing")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::NOT_FOUND).await;

    let other = uuid::Uuid::new_v4();
    let r = app
        .get(&format!("/api/v1/cases/{other}"), "demo-urban")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::NOT_FOUND).await;
    app.stop().await;
}

#[tokio::test]
async fn the_log_is_forwarded_as_stored() {
    let app = spawn_app(Duration::from_secs(5)).await;
    let log = json!({"case_id": CASE, "events": [{"seq": 1, "hash": "ab12", "data": {"x": 1}}]});
    let answer = json!({ "ok": log.clone() });
    respond(&app.nats, INTAKE_LOG, move |_| answer.clone()).await;
    let r = app
        .get(&format!("/api/v1/cases/{CASE}/log"), "demo-supervisor")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), log);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let app = spawn_app(Duration::from_secs(5)).await;
    let mut sub = app.nats.subscribe(PROJECTION_CASE).await.unwrap();
    app.nats.flush().await.unwrap();
    let request = app
        .get(&format!("/api/v1/cases/{CASE}"), "demo-urban")
        .send();
    let request = tokio::spawn(request);
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("the gateway asks projection")
        .expect("subscription open");
    // The request is in flight: stop the server, then answer.
    app.stop.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = json!({ "ok": case_view("dept.urban") });
    app.nats
        .publish(msg.reply.expect("a request"), answer.to_string().into())
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), request)
        .await
        .expect("answered within 5 s")
        .unwrap()
        .expect("the request completes");
    assert_eq!(r.status(), StatusCode::OK);
    app.stop().await;
}
