//! The test kit of this binary: an app on a free port, stand-in services, checks.

use casegrid_config::District;
use casegrid_gateway::{run, AppState};
use casegrid_testkit::TestNats;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(crate) const BODY_LIMIT: usize = 4096;
pub(crate) const CASE: &str = "0192f0c4-3c1a-7d2e-8b4f-2a9c1e5d7f30";
/// A case dispatched to dept.housing, which list stand-ins answer too.
pub(crate) const OTHER_CASE: &str = "0192f0c4-3c1a-7d2e-8b4f-2a9c1e5d7f31";
pub(crate) const OTHER_TITLE: &str = "物业不作为";

pub(crate) struct App {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) nats: async_nats::Client,
    pub(crate) stop: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _nats_server: TestNats,
}

impl App {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub(crate) fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(token)
    }

    /// Stops the server and checks it shut down cleanly.
    pub(crate) async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("gateway stops within 10 s")
            .expect("gateway task")
            .expect("gateway run");
    }
}

/// The app with this NATS request timeout and no rate limit.
pub(crate) async fn spawn_app(request_timeout: Duration) -> App {
    spawn_app_with(|s| s.with_request_timeout(request_timeout)).await
}

/// The app with static tokens, no rate limit, then `configure`d.
pub(crate) async fn spawn_app_with(configure: impl FnOnce(AppState) -> AppState) -> App {
    let nats_server = TestNats::start();
    let nats = nats_server.client().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
    let district = District::load(&dir).unwrap_or_else(|e| panic!("demo district: {e}"));
    let state = configure(
        AppState::new(nats.clone(), Arc::new(district), BODY_LIMIT)
            .with_static_tokens(true)
            .with_request_timeout(Duration::from_secs(5))
            .with_rate_limit(None)
            .with_address_rate_limit(None),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = CancellationToken::new();
    let server = tokio::spawn(run(listener, state, stop.clone()));
    App {
        base,
        http: reqwest::Client::new(),
        nats,
        stop,
        server,
        _nats_server: nats_server,
    }
}

/// Answers every request on `subject` with `answer(request)`, until the test ends.
pub(crate) async fn respond<F>(nats: &async_nats::Client, subject: &'static str, answer: F)
where
    F: Fn(&[u8]) -> Value + Send + 'static,
{
    let mut sub = nats.subscribe(subject).await.expect("subscribe");
    nats.flush().await.expect("flush");
    let nats = nats.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let reply = answer(&msg.payload);
            if let Some(to) = msg.reply {
                nats.publish(to, reply.to_string().into())
                    .await
                    .expect("publish reply");
            }
        }
    });
}

/// Asserts a problem+json answer with `status` and returns its body.
pub(crate) async fn problem(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(got, status, "body: {body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "body: {body}"
    );
    assert_eq!(body["status"], status.as_u16(), "body: {body}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://")),
        "body: {body}"
    );
    assert!(body["title"].is_string(), "body: {body}");
    body
}

pub(crate) fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or_default()
}

pub(crate) fn case_view(lead: &str) -> Value {
    json!({
        "id": CASE, "number": "NH-20261123-000001", "status": "dispatched", "version": 2,
        "channel": "hotline", "kind": "complaint", "category": "noise", "urgency": "normal",
        "title": "夜间施工噪音扰民", "description": "…", "lead": lead,
        "filed_at": "2026-11-23T22:10:00Z", "updated_at": "2026-11-23T22:10:01Z",
    })
}

/// The gateway's OpenAPI document, fetched without a token.
pub(crate) async fn openapi(app: &App) -> Value {
    let r = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("the document is JSON")
}

/// A response, read whole, for checking against the document.
pub(crate) struct Answered {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

pub(crate) async fn answered(r: reqwest::Response) -> Answered {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    let text = r.text().await.expect("a body");
    let body = if content_type.ends_with("json") {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status} body is not JSON ({e}): {text}"))
    } else {
        Value::String(text)
    };
    Answered {
        status,
        content_type,
        headers,
        body,
    }
}

/// Asserts that `answer` is documented for `method template` and validates against
/// its schema (the test kit's validator, shared with the end-to-end tests).
pub(crate) fn assert_documented(doc: &Value, method: &str, template: &str, answer: &Answered) {
    casegrid_testkit::openapi::assert_documented(
        doc,
        method,
        template,
        answer.status,
        &answer.content_type,
        &answer.body,
    );
}

pub(crate) use casegrid_testkit::openapi::validate;

#[test]
fn the_validator_catches_mismatches() {
    let doc = json!({"components": {"schemas": {"S": {"type": "string", "enum": ["a"]}}}});
    let schema = json!({"type": "object", "required": ["x"], "properties": {
        "x": {"$ref": "#/components/schemas/S"}, "n": {"type": ["integer", "null"]},
        "l": {"type": "array", "items": {"type": "boolean"}}}});
    assert!(validate(
        &doc,
        &schema,
        &json!({"x": "a", "n": null, "l": [true]}),
        "$"
    )
    .is_ok());
    assert!(validate(&doc, &schema, &json!({"n": 1}), "$").is_err());
    assert!(validate(&doc, &schema, &json!({"x": "b"}), "$").is_err());
    assert!(validate(&doc, &schema, &json!({"x": "a", "n": "1"}), "$").is_err());
    assert!(validate(&doc, &schema, &json!({"x": "a", "l": [1]}), "$").is_err());
    // What the old subset validator let through: members nobody documented, formats.
    let closed = json!({"type": "object", "properties": {"x": {"type": "string"}},
        "additionalProperties": false});
    assert!(validate(&doc, &closed, &json!({"x": "a"}), "$").is_ok());
    assert!(validate(&doc, &closed, &json!({"x": "a", "y": 1}), "$").is_err());
    let when = json!({"type": "string", "format": "date-time"});
    assert!(validate(&doc, &when, &json!("2026-11-23T08:00:00Z"), "$").is_ok());
    assert!(validate(&doc, &when, &json!("tomorrow"), "$").is_err());
    let any = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
    assert!(validate(&doc, &any, &json!(1), "$").is_ok());
    assert!(validate(&doc, &any, &json!(true), "$").is_err());
}

/// Creates the event stream as the event log does (same name, subjects, direct get).
pub(crate) async fn create_event_stream(
    nats: &async_nats::Client,
) -> async_nats::jetstream::Context {
    let js = async_nats::jetstream::new(nats.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "CASEGRID_EVENTS".into(),
        subjects: vec!["casegrid.events.>".into()],
        allow_direct: true,
        deny_delete: true,
        deny_purge: true,
        ..Default::default()
    })
    .await
    .expect("create the event stream");
    js
}

/// The demo principals, one per kind (two departments: one the case is dispatched to).
pub(crate) const OPERATOR: &str = "demo-operator";
pub(crate) const GRID_WORKER: &str = "demo-grid";
pub(crate) const DEPT_IN: &str = "demo-urban";
pub(crate) const DEPT_OUT: &str = "demo-housing";
pub(crate) const STREET_OUT: &str = "demo-hubin";
pub(crate) const MEDIATOR: &str = "demo-mediator";
pub(crate) const SUPERVISOR: &str = "demo-supervisor";
pub(crate) const PRINCIPALS: [&str; 7] = [
    OPERATOR,
    GRID_WORKER,
    DEPT_IN,
    DEPT_OUT,
    STREET_OUT,
    MEDIATOR,
    SUPERVISOR,
];

/// What a stand-in ciphertext looks like; it must never reach a client.
pub(crate) const CIPHERTEXT: &str = "c2VhbGVkLWNpcGhlcnRleHQ";

/// Stand-ins for intake, routing and projection, answering for case [`CASE`]
/// (dispatched to dept.urban, with a reporter phone in clear to test the edge mask).
pub(crate) async fn stand_in_services(app: &App) {
    use casegrid_contracts::subjects::*;
    use casegrid_contracts::{ActRequest, CaseQuery, InboxQuery};
    respond(&app.nats, INTAKE_FILE, |_| {
        json!({"ok": {"id": CASE, "number": "NH-20261123-000001", "version": 1,
            "status": "received", "created": true}})
    })
    .await;
    let case = |payload: &[u8], answer: Value| {
        let q: CaseQuery = serde_json::from_slice(payload).expect("a CaseQuery");
        if q.case_id.to_string() == CASE {
            json!({ "ok": answer })
        } else {
            json!({"problem": {"status": 404, "slug": "not-found", "title": "Not found",
                "detail": format!("case {} not found", q.case_id)}})
        }
    };
    respond(&app.nats, PROJECTION_CASE, move |p| {
        let mut view = case_view("dept.urban");
        view["grid"] = json!("NH.HB.BJ.03");
        view["reporter_name"] = json!("王**");
        view["reporter_phone"] = json!("13800001234");
        // In the demo grid worker's grid; its mediation assigned to the demo mediator.
        view["mediator"] = json!("med.chen");
        case(p, view)
    })
    .await;
    respond(&app.nats, PROJECTION_TIMELINE, move |p| {
        case(
            p,
            json!({"case_id": CASE, "number": "NH-20261123-000001", "events": [{
                "version": 1, "type": "CaseFiled", "occurred_at": "2026-11-23T22:10:00Z",
                "actor": {"kind": "operator", "id": "op.zhang"}, "actor_name": "话务员张敏",
                "summary": "受理 filed by phone",
                "data": {"reporter": {"phone": {"masked": "138****1234", "sealed": CIPHERTEXT}}},
                "prev_hash": "0".repeat(64), "hash": "ab".repeat(32)}]}),
        )
    })
    .await;
    respond(&app.nats, INTAKE_LOG, move |p| {
        case(
            p,
            json!({"case_id": CASE, "events": [{"version": 1, "data": {"sealed": CIPHERTEXT}}]}),
        )
    })
    .await;
    let act = |payload: &[u8]| {
        let r: ActRequest = serde_json::from_slice(payload).expect("an ActRequest");
        let mut reply = json!({"id": r.case_id, "version": 3, "status": "in_progress"});
        if r.action == "reveal" {
            reply["revealed"] = json!({"reporter.phone": "13800001234"});
        }
        json!({ "ok": reply })
    };
    respond(&app.nats, ROUTING_ACT, act).await;
    respond(&app.nats, INTAKE_ACT, act).await;
    // Lists: the case of dept.urban and one of dept.housing, filtered by `department`
    // when one is named, so a department seeing the other's case means the gateway
    // did not force its filter.
    let page = |payload: &[u8], department_key: &str| {
        let q: Value = serde_json::from_slice(payload).expect("a JSON query");
        let mut ours = case_view("dept.urban");
        ours["reporter_phone"] = json!("13800001234");
        let mut theirs = case_view("dept.housing");
        theirs["id"] = json!(OTHER_CASE);
        theirs["title"] = json!(OTHER_TITLE);
        let items = match q[department_key].as_str() {
            // A grid worker's or a mediator's list: the stand-in has none of theirs.
            _ if q["filed_by"].is_string() || q["mediator"].is_string() => vec![],
            Some("dept.urban") => vec![ours],
            Some("dept.housing") => vec![theirs],
            Some(_) => vec![],
            None => vec![ours, theirs],
        };
        json!({"ok": {"items": items, "next_cursor": null}})
    };
    respond(&app.nats, PROJECTION_LIST, move |p| page(p, "department")).await;
    respond(&app.nats, PROJECTION_OVERDUE, move |p| {
        page(p, "department")
    })
    .await;
    respond(&app.nats, PROJECTION_STATS, |p| {
        let q: Value = serde_json::from_slice(p).expect("a StatsQuery");
        let rate = json!({"count": 1, "of": 2, "permille": 500});
        let row = |key: &str| {
            json!({"key": key, "period": "all", "response": rate,
            "resolution": rate, "satisfaction": rate, "satisfied": 1, "basically_satisfied": 0,
            "completion": rate})
        };
        json!({"ok": {"group_by": q["group_by"], "period": q["period"],
            "rows": [row("dept.urban"), row("dept.housing"), row("street.hubin")]}})
    })
    .await;
    respond(&app.nats, INTAKE_AS_OF, |p| {
        let q: Value = serde_json::from_slice(p).expect("an AsOfQuery");
        json!({"ok": {"case_id": q["case_id"], "as_of": q["as_of"], "version": 1,
            "status": "received", "state": {"id": q["case_id"], "status": "received",
            "filed": {"reporter": {"phone": {"masked": "138****1234", "sealed": CIPHERTEXT}}}}}})
    })
    .await;
    respond(&app.nats, PROJECTION_INBOX, |p| {
        let q: InboxQuery = serde_json::from_slice(p).expect("an InboxQuery");
        let items = if q.department == "dept.urban" {
            json!([{"id": CASE, "number": "NH-20261123-000001", "title": "夜间施工噪音扰民",
                "category": "noise", "urgency": "normal", "status": "dispatched", "role": "lead",
                "signed": false, "sign_due": "2026-11-24T10:00:00Z", "handle_due": null, "version": 2}])
        } else {
            json!([])
        };
        json!({"ok": {"department": q.department, "items": items}})
    })
    .await;
}
