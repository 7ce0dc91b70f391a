//! The edge layers over HTTP: request ids kept when well-formed, replaced otherwise,
//! echoed and carried to the service in the `X-Request-Id` NATS header; compression;
//! (the masking of `Authorization` and `Cookie` is tested beside the layers, in
//! `edge.rs`: a log capture cannot see the server's events while other tests run).

use crate::helpers::*;
use casegrid_contracts::subjects::INTAKE_FILE;
use futures_util::StreamExt;
use serde_json::{json, Value};

/// A stand-in intake that answers filings and sends back what each carried: the NATS
/// header `X-Request-Id` and the body's `correlation_id`.
async fn recording_intake(app: &App) -> tokio::sync::mpsc::UnboundedReceiver<(String, String)> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sub = app.nats.subscribe(INTAKE_FILE).await.expect("subscribe");
    app.nats.flush().await.expect("flush");
    let nats = app.nats.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let header = msg
                .headers
                .as_ref()
                .and_then(|h| h.get("X-Request-Id"))
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&msg.payload).unwrap();
            let _ = tx.send((header, body["correlation_id"].as_str().unwrap().to_owned()));
            let reply = json!({"ok": {"id": CASE, "number": "NH-20261123-000001",
                "version": 1, "status": "received", "created": true}});
            nats.publish(msg.reply.unwrap(), reply.to_string().into())
                .await
                .unwrap();
        }
    });
    rx
}

async fn file_with_request_id(app: &App, id: Option<&str>) -> String {
    let mut request = app
        .post("/api/v1/cases", OPERATOR)
        .header("content-type", "application/json")
        .body("{}");
    if let Some(id) = id {
        request = request.header("x-request-id", id);
    }
    let answer = request.send().await.unwrap();
    assert_eq!(answer.status(), 201);
    answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn request_ids_are_kept_or_replaced_echoed_and_sent_to_the_service() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let mut intake = recording_intake(&app).await;

    let echoed = file_with_request_id(&app, Some("abc-123.x:y_z")).await;
    assert_eq!(echoed, "abc-123.x:y_z");
    assert_eq!(
        intake.recv().await.unwrap(),
        ("abc-123.x:y_z".to_owned(), "abc-123.x:y_z".to_owned())
    );

    let too_long = "a".repeat(65);
    for hostile in [too_long.as_str(), "abc\tdef", "abc def", "<script>"] {
        let echoed = file_with_request_id(&app, Some(hostile)).await;
        assert_ne!(echoed, hostile);
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "a new id: {echoed}");
        assert_eq!(intake.recv().await.unwrap(), (echoed.clone(), echoed));
    }
    let made_up = file_with_request_id(&app, None).await;
    assert!(uuid::Uuid::parse_str(&made_up).is_ok(), "{made_up}");
    assert_eq!(intake.recv().await.unwrap().0, made_up);

    // Every answer carries one, refusals too.
    let refused = app.http.get(app.url("/api/v1/cases")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().contains_key("x-request-id"));
    app.stop().await;
}

#[tokio::test]
async fn answers_are_compressed_when_asked() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let url = app.url("/openapi.json");
    let gzip = app
        .http
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.status(), 200);
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    let plain = app.http.get(&url).send().await.unwrap();
    assert!(!plain.headers().contains_key("content-encoding"));
    app.stop().await;
}
