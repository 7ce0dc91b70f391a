//! `GET /api/v1/events`: scoped, ordered, resumable server-sent events read from a
//! test stream named and shaped like the event log, written with real sealed events.

use crate::helpers::*;
use casegrid_domain::command::{Annotate, Dispatch, FileCase, Return};
use casegrid_domain::event::{CaseKind, Channel, Location, Urgency};
use casegrid_domain::personal::{Reporter, Sealed};
use casegrid_domain::{Actor, ActorKind, CaseId, Category, Command, DepartmentId, GridCode};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, CommandMeta, EventLog, LogConfig};
use serde_json::{json, Value};
use std::time::Duration;
use time::OffsetDateTime;

/// Real sealed events, decided by the domain and appended by the case store.
struct Writer {
    store: CaseStore,
    n: usize,
}

impl Writer {
    async fn new(nats: &async_nats::Client) -> Self {
        let log = EventLog::create(nats.clone(), LogConfig::default())
            .await
            .expect("event log");
        Self {
            store: CaseStore::new(log, Numbering::default(), 100),
            n: 0,
        }
    }

    /// Appends the event of `command` on `case` and returns its stream sequence.
    async fn act(&mut self, case: CaseId, actor: Actor, command: Command) -> u64 {
        self.n += 1;
        let meta = CommandMeta {
            command_id: format!("sse-{}", self.n),
            correlation_id: "sse".into(),
            causation_id: None,
            request: None,
        };
        self.store
            .execute(case, &actor, &command, &meta, OffsetDateTime::now_utc())
            .await
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        self.store.snapshot(case).await.unwrap().last_seq
    }
}

fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op.wang")
}

fn dept(id: &str) -> Actor {
    Actor::new(ActorKind::Department, id)
}

fn file() -> Command {
    Command::FileCase(FileCase {
        channel: Channel::Hotline,
        kind: CaseKind::Complaint,
        category: Category::parse("noise").unwrap(),
        urgency: Urgency::Normal,
        title: "噪音".into(),
        description: "夜间施工".into(),
        location: Location {
            address: None,
            grid: Some(GridCode::parse("NH.HB.BJ.03").unwrap()),
            ..Default::default()
        },
        reporter: Some(Reporter {
            phone: Some(Sealed {
                masked: "138****1234".into(),
                sealed: CIPHERTEXT.into(),
            }),
            ..Reporter::default()
        }),
        source: serde_json::Map::new(),
        grid_found: None,
        personal: Vec::new(),
    })
}

fn dispatch(lead: &str) -> Command {
    let now = OffsetDateTime::now_utc();
    Command::Dispatch(Dispatch {
        lead: DepartmentId::parse(lead).unwrap(),
        assisting: vec![],
        sign_due: now + time::Duration::hours(2),
        handle_due: now + time::Duration::days(5),
        rule: "rules.toml#noise".into(),
        return_due: None,
    })
}

fn note(text: &str) -> Command {
    Command::Annotate(Annotate {
        text: text.into(),
        personal: Vec::new(),
    })
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
    let mut w = Writer::new(&app.nats).await;
    let (a, b, c) = (
        CaseId::for_filing("op.wang", "a"),
        CaseId::for_filing("op.wang", "b"),
        CaseId::for_filing("op.wang", "c"),
    );
    let a1 = w.act(a, operator(), file()).await;
    let b1 = w.act(b, operator(), file()).await;
    let a2 = w.act(a, Actor::routing(), dispatch("dept.urban")).await;
    let b2 = w.act(b, Actor::routing(), dispatch("dept.housing")).await;
    let a3 = w.act(a, dept("dept.urban"), Command::Sign).await;
    // Garbage and a duplicate of a2 in the stream reach nobody.
    let dup = w.store.log().load_case(a, 0).await.unwrap()[1].raw.clone();
    for payload in [b"garbage".to_vec(), serde_json::to_vec(&dup).unwrap()] {
        js.publish(format!("casegrid.events.{a}"), payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    // dept.urban sees case A from its dispatch on, and nothing of case B.
    let mut urban = SseReader::open(&app, DEPT_IN, Some(0)).await;
    let seen = urban.take(2).await;
    assert_eq!(ids(&seen), [a2, a3]);
    assert_eq!(seen[0].event, "CaseDispatched");
    assert_eq!(seen[0].data["case_id"], a.to_string());
    assert_eq!(seen[0].data["version"], 2);
    assert_eq!(seen[0].data["data"]["lead"], "dept.urban");
    assert_eq!(seen[1].event, "DispatchSigned");
    let a4 = w.act(a, operator(), note("在路上")).await;
    let live = urban.take(1).await;
    assert_eq!(ids(&live), [a4]);
    drop(urban);

    // While disconnected: dept.housing returns B, which is re-dispatched to dept.urban.
    let b3 = w
        .act(
            b,
            dept("dept.housing"),
            Command::Return(Return {
                reason: "噪音属城管执法职责".into(),
                suggested_owner: DepartmentId::parse("dept.urban").unwrap(),
            }),
        )
        .await;
    let b4 = w.act(b, Actor::routing(), dispatch("dept.urban")).await;
    let b5 = w.act(b, operator(), note("改派")).await;
    let a5 = w.act(a, operator(), note("已处理")).await;
    let c1 = w.act(c, operator(), file()).await;
    let c2 = w.act(c, Actor::routing(), dispatch("dept.housing")).await;

    let mut urban = SseReader::open(&app, DEPT_IN, Some(a4)).await;
    let resumed = urban.take(3).await;
    assert_eq!(ids(&resumed), [b4, b5, a5], "no gap, no repeat");

    // dept.housing: case B until its return (the last it sees), then case C.
    let mut housing = SseReader::open(&app, DEPT_OUT, Some(0)).await;
    assert_eq!(ids(&housing.take(3).await), [b2, b3, c2]);

    // An operator sees every valid event, in stream order, without ciphertexts.
    let mut operator_feed = SseReader::open(&app, OPERATOR, Some(0)).await;
    let all = operator_feed.take(12).await;
    assert_eq!(ids(&all), [a1, b1, a2, b2, a3, a4, b3, b4, b5, a5, c1, c2]);
    assert_eq!(
        all[0].data["data"]["reporter"]["phone"],
        json!({"masked": "138****1234"})
    );
    assert!(all.iter().all(|e| !e.data.to_string().contains("sealed")));

    // Without Last-Event-ID the stream starts with the next new event.
    let mut fresh = SseReader::open(&app, OPERATOR, None).await;
    // The consumer is created before the answer's head is sent, so this is "new".
    let a6 = w.act(a, operator(), note("结束")).await;
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
