//! A night-time construction-noise complaint from the 12345 hotline, filed,
//! dispatched by rule, signed, replied, called back satisfied and closed.

use crate::jcs::check_chain;
use crate::kit::{stream_messages, Api, Dev, System};
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::time::Duration;

const OPERATOR: &str = "demo-operator";
const URBAN: &str = "demo-urban";

pub(crate) fn noise_complaint() -> Value {
    json!({
        "channel": "hotline", "kind": "complaint", "category": "noise", "urgency": "normal",
        "title": "夜间施工噪音扰民",
        "description": "滨江路12号工地每晚十一点后仍在打桩，影响休息。",
        "location": { "address": "湖滨街道滨江路12号", "grid": "NH.HB.BJ.03" },
        "reporter": { "name": "王女士", "phone": "13800001234" },
        "source": { "call_id": "call-20261123-0001" }
    })
}

/// Waits until the projection shows the case in `status`, as `token` sees it.
pub(crate) async fn wait_status(api: &Api, id: &str, token: &str, status: &str) -> Value {
    let path = format!("/api/v1/cases/{id}");
    eventually(
        Duration::from_secs(20),
        &format!("case {id} to be {status}"),
        || {
            let api = api.clone();
            let path = path.clone();
            async move {
                let (code, body) = api.get(&path, Some(token)).await;
                (code == 200 && body["status"] == status).then_some(body)
            }
        },
    )
    .await
}

/// The whole hotline flow through the HTTP API; returns the case id.
pub(crate) async fn hotline_case_to_closed(api: &Api, nats_url: &str, key: &str) -> String {
    let key_header = [("Idempotency-Key", key)];
    let filed = api
        .post("/api/v1/cases", OPERATOR, &noise_complaint(), &key_header)
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        filed.headers["location"].to_str().unwrap(),
        format!("/api/v1/cases/{id}")
    );
    let number = filed.body["number"].as_str().unwrap();
    assert!(
        number.len() == 18
            && number.starts_with("NH-")
            && number[3..11].chars().all(|c| c.is_ascii_digit()),
        "{number}"
    );
    assert_eq!(filed.body["version"], 1);
    assert_eq!(filed.body["status"], "received");

    // The same Idempotency-Key again: 200, the same answer, nothing appended.
    let before = stream_messages(nats_url).await;
    let again = api
        .post("/api/v1/cases", OPERATOR, &noise_complaint(), &key_header)
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], filed.body["id"]);
    assert_eq!(again.body["number"], filed.body["number"]);

    // Routing dispatches by rules.toml#noise to 城管执法 (lead) and 生态环境 (assisting).
    let case = wait_status(api, &id, OPERATOR, "dispatched").await;
    assert_eq!(case["lead"], "dept.urban");
    assert_eq!(case["assisting"], json!(["dept.ecology"]));
    let rule = case["rule"].as_str().unwrap();
    assert!(
        rule.starts_with("rules.toml#noise (config "),
        "rule and configuration version: {rule}"
    );
    assert!(case["sign_due"].is_string() && case["handle_due"].is_string());
    assert_eq!(
        case["reporter_phone"], "138****1234",
        "masked for everyone in the read model"
    );
    assert!(stream_messages(nats_url).await >= before);

    let inbox = eventually(
        Duration::from_secs(10),
        "the case in dept.urban's inbox",
        || {
            let api = api.clone();
            let id = id.clone();
            async move {
                let (code, body) = api.get("/api/v1/inbox", Some(URBAN)).await;
                let found = code == 200
                    && body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|i| i["id"] == id.as_str());
                found.then_some(body)
            }
        },
    )
    .await;
    assert_eq!(inbox["department"], "dept.urban");

    let path = |action: &str| format!("/api/v1/cases/{id}/actions/{action}");
    let signed = api.post(&path("sign"), URBAN, &json!({}), &[]).await;
    assert_eq!(
        (signed.status, &signed.body["status"]),
        (200, &json!("in_progress")),
        "{}",
        signed.body
    );
    let replied = api
        .post(
            &path("reply"),
            URBAN,
            &json!({"result": "resolved", "text": "已责令施工单位夜间22时后停止作业，并现场复查。"}),
            &[],
        )
        .await;
    assert_eq!(
        (replied.status, &replied.body["status"]),
        (200, &json!("replied")),
        "{}",
        replied.body
    );
    let called = api
        .post(
            &path("callback"),
            OPERATOR,
            &json!({"satisfaction": "satisfied", "resolved": true}),
            &[],
        )
        .await;
    assert_eq!(
        (called.status, &called.body["status"]),
        (200, &json!("closed")),
        "{}",
        called.body
    );

    let closed = wait_status(api, &id, OPERATOR, "closed").await;
    assert_eq!(closed["satisfaction"], "satisfied");
    let (code, timeline) = api
        .get(&format!("/api/v1/cases/{id}/timeline"), Some(OPERATOR))
        .await;
    assert_eq!(code, 200);
    let events = timeline["events"].as_array().unwrap();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "CaseFiled",
            "CaseDispatched",
            "DispatchSigned",
            "CaseReplied",
            "CallbackRecorded"
        ]
    );
    for e in events {
        assert!(
            !e["summary"].as_str().unwrap().is_empty(),
            "every event reads as a line: {e}"
        );
        assert!(e["actor"]["id"].is_string() && e["occurred_at"].is_string());
    }

    // The envelopes as stored chain by DESIGN.md's rule, re-checked by our own JCS.
    let (code, log) = api
        .get(&format!("/api/v1/cases/{id}/log"), Some(OPERATOR))
        .await;
    assert_eq!(code, 200, "{log}");
    let envelopes = log["events"].as_array().unwrap();
    assert_eq!(envelopes.len(), 5);
    check_chain(envelopes);
    let (code, _) = api
        .get(&format!("/api/v1/cases/{id}/log"), Some(URBAN))
        .await;
    assert_eq!(code, 403, "departments do not read raw envelopes");
    let (code, audit) = api
        .get(&format!("/api/v1/cases/{id}/audit"), Some(URBAN))
        .await;
    assert_eq!(code, 200, "{audit}");
    assert_eq!(
        (audit["verified"].clone(), audit["events"].clone()),
        (json!(true), json!(5))
    );
    assert_eq!(audit["last_hash"], envelopes[4]["hash"]);
    id
}

/// Every message of the stream, as bytes: no reporter's name or phone in clear.
pub(crate) async fn assert_no_personal_data_in_stream(nats_url: &str, clear: &[&str]) {
    use futures_util::StreamExt;
    let client = crate::kit::admin_client(nats_url).await;
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("CASEGRID_EVENTS").await.unwrap();
    let last = stream_messages(nats_url).await;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap().take(last as usize);
    let mut seen = 0;
    while let Some(m) = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .unwrap()
    {
        let m = m.unwrap();
        let text = String::from_utf8_lossy(&m.payload);
        for value in clear {
            assert!(
                !text.contains(value),
                "{value} in clear in the stream: {text}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, last);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotline_case_flows_through_four_separate_services() {
    let system = System::start().await;
    let id = tokio::time::timeout(
        Duration::from_secs(120),
        hotline_case_to_closed(&system.api, &system.nats.url(), "call-20261123-0001"),
    )
    .await
    .unwrap_or_else(|_| panic!("flow timed out; logs:\n{}", system.logs()));
    assert!(!id.is_empty());
    assert_no_personal_data_in_stream(&system.nats.url(), &["13800001234", "王女士"]).await;

    // /metrics: the gateway's own figures and the system's, read when scraped (each
    // service replica's own work is on its own /metrics: observability.rs).
    system.wait_projection().await;
    let (code, metrics) = system.api.get("/metrics", Some("demo-supervisor")).await;
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap().to_owned();
    for line in [
        "casegrid_events_total 5",
        "casegrid_consumer_lag{consumer=\"projection\"} 0",
        "casegrid_cases{status=\"closed\"} 1",
        "casegrid_gateway_requests_total{method=\"POST\",route=\"/api/v1/cases\",status=\"201\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_flow_runs_under_casegrid_dev() {
    let data = tempfile::tempdir().unwrap();
    let mut dev = Dev::start(data.path());
    assert!(
        dev.printed.contains("demo-urban"),
        "demo tokens are printed:\n{}",
        dev.printed
    );
    eventually(Duration::from_secs(60), "casegrid dev to be ready", || {
        let api = dev.api.clone();
        async move { (api.get("/readyz", None).await.0 == 200).then_some(()) }
    })
    .await;
    // Authorization is on: no anonymous client, and this run's keys were printed.
    let anonymous = async_nats::ConnectOptions::new()
        .connect(dev.nats_url.as_str())
        .await;
    assert!(
        anonymous.is_err(),
        "casegrid dev refuses anonymous NATS clients"
    );
    for user in ["admin", "gateway", "intake", "routing", "projection"] {
        assert!(
            dev.credentials.join(format!("{user}.nk")).is_file(),
            "{user}.nk"
        );
    }
    hotline_case_to_closed(&dev.api, &dev.nats_url, "dev-call-1").await;
    assert!(
        data.path().join("casegrid.db").is_file(),
        "SQLite read models under the data dir"
    );
    assert!(
        data.path().join("nats").is_dir(),
        "JetStream store under the data dir"
    );

    // Ctrl-C stops everything cleanly, the nats-server child included.
    std::process::Command::new("kill")
        .args(["-INT", &dev.child.id().to_string()])
        .status()
        .unwrap();
    let status = eventually(Duration::from_secs(30), "casegrid dev to exit", || {
        let status = dev.child.try_wait().unwrap();
        async move { status }
    })
    .await;
    assert!(status.success(), "casegrid dev exited with {status}");
    assert!(
        std::net::TcpStream::connect(dev.nats_url.trim_start_matches("nats://")).is_err(),
        "the nats-server child is gone"
    );
}
