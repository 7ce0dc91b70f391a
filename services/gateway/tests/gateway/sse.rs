//! `GET /api/v1/events`: scoped, ordered, resumable server-sent events read from a
//! test stream named and shaped like the event log.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;

const A: &str = "0192f0c4-3c1a-7d2e-8b4f-00000000000a";
const B: &str = "0192f0c4-3c1a-7d2e-8b4f-00000000000b";

/// Appends an envelope for `case` and returns its stream sequence.
async fn append(
    js: &async_nats::jetstream::Context,
    case: &str,
    version: u64,
    event_type: &str,
    data: Value,
) -> u64 {
    let envelope = json!({
        "event_id": uuid::Uuid::now_v7(), "case_id": case, "version": version,
        "type": event_type, "schema": 1, "occurred_at": "2026-11-23T22:10:00Z",
        "actor": {"kind": "system", "id": "routing"}, "command_id": format!("c-{case}-{version}"),
        "correlation_id": "x", "causation_id": null, "data": data,
        "prev_hash": "0".repeat(64), "hash": "ab".repeat(32),
    });
    js.publish(
        format!("casegrid.events.{case}"),
        envelope.to_string().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("ack")
    .sequence
}

fn filed() -> Value {
    json!({"channel": "hotline", "title": "噪音", "location": {"grid": "NH.HB.BJ.03"},
        "reporter": {"phone": {"masked": "138****1234", "sealed": CIPHERTEXT}}})
}

fn dispatched(lead: &str) -> Value {
    json!({"lead": lead, "assisting": [], "sign_due": "2026-11-24T10:00:00Z",
        "handle_due": "2026-11-30T18:00:00Z", "rule": "rules.toml#noise"})
}

#[derive(Debug)]
struct SseEvent {
    id: u64,
    event: String,
    data: Value,
}

/// Reads SSE events off a response, each bounded by a timeout.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    async fn open(app: &App, token: &str, last_event_id: Option<u64>) -> Self {
        let mut request = app.get("/api/v1/events", token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("connect");
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event; `None` when the server ended the stream.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().expect("a numeric id"));
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data).expect("data is JSON");
                return Some(SseEvent {
                    id: id.expect("every event has an id"),
                    event,
                    data,
                });
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s");
            match chunk {
                Ok(Some(bytes)) => self
                    .buffer
                    .push_str(std::str::from_utf8(&bytes).expect("UTF-8")),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    async fn take(&mut self, n: usize) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while events.len() < n {
            events.push(self.next().await.expect("the stream goes on"));
        }
        events
    }
}

fn ids(events: &[SseEvent]) -> Vec<u64> {
    events.iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn a_department_follows_its_cases_and_resumes_without_gaps() {
    let app = spawn_app(Duration::from_secs(5)).await;
    let js = create_event_stream(&app.nats).await;
    let a1 = append(&js, A, 1, "CaseFiled", filed()).await;
    let b1 = append(&js, B, 1, "CaseFiled", filed()).await;
    let a2 = append(&js, A, 2, "CaseDispatched", dispatched("dept.urban")).await;
    let b2 = append(&js, B, 2, "CaseDispatched", dispatched("dept.housing")).await;
    let a3 = append(
        &js,
        A,
        3,
        "DispatchSigned",
        json!({"department": "dept.urban", "on_time": true}),
    )
    .await;

    // dept.urban sees case A from its dispatch on, and nothing of case B.
    let mut urban = SseReader::open(&app, DEPT_IN, Some(0)).await;
    let seen = urban.take(2).await;
    assert_eq!(ids(&seen), [a2, a3]);
    assert_eq!(seen[0].event, "CaseDispatched");
    assert_eq!(seen[0].data["case_id"], A);
    assert_eq!(seen[0].data["version"], 2);
    assert_eq!(seen[0].data["data"]["lead"], "dept.urban");
    assert_eq!(seen[1].event, "DispatchSigned");
    let a4 = append(&js, A, 4, "NoteAdded", json!({"text": "在路上"})).await;
    let live = urban.take(1).await;
    assert_eq!(ids(&live), [a4]);
    drop(urban);

    // While disconnected: B is whistled to dept.urban, then goes on.
    let b3 = append(
        &js,
        B,
        3,
        "WhistleBlown",
        json!({"departments": ["dept.urban", "dept.water"],
        "report_due": "2026-11-24T12:00:00Z"}),
    )
    .await;
    let b4 = append(&js, B, 4, "NoteAdded", json!({"text": "报到"})).await;
    let a5 = append(
        &js,
        A,
        5,
        "CaseReplied",
        json!({"result": "resolved", "text": "已处理"}),
    )
    .await;

    let mut urban = SseReader::open(&app, DEPT_IN, Some(a4)).await;
    let resumed = urban.take(3).await;
    assert_eq!(ids(&resumed), [b3, b4, a5], "no gap, no repeat");

    // dept.housing: case B only, including before the whistle.
    let mut housing = SseReader::open(&app, DEPT_OUT, Some(0)).await;
    assert_eq!(ids(&housing.take(3).await), [b2, b3, b4]);

    // An operator sees everything, in stream order, without ciphertexts.
    let mut operator = SseReader::open(&app, OPERATOR, Some(0)).await;
    let all = operator.take(8).await;
    assert_eq!(ids(&all), [a1, b1, a2, b2, a3, a4, b3, b4]);
    assert_eq!(
        all[0].data["data"]["reporter"]["phone"],
        json!({"masked": "138****1234"})
    );
    assert!(all.iter().all(|e| !e.data.to_string().contains("sealed")));

    // Without Last-Event-ID the stream starts with the next new event.
    let mut fresh = SseReader::open(&app, OPERATOR, None).await;
    // The consumer is created before the answer's head is sent, so this is "new".
    let a6 = append(&js, A, 6, "CaseClosed", json!({})).await;
    assert_eq!(ids(&fresh.take(1).await), [a6]);

    let r = app
        .get("/api/v1/events", OPERATOR)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);

    // Shutdown ends open streams (the stop helper asserts the server stops in time).
    app.stop().await;
    let mut rest = Vec::new();
    while let Some(e) = urban.next().await {
        rest.push(e);
    }
    assert_eq!(ids(&rest), [a6], "what was sent before the stream ended");
}
