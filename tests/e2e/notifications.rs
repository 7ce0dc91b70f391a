//! Notifications (issue 14): a passed sign deadline calls each configured recipient's
//! webhook exactly once across a kill -9 of the notifier and two replicas; a failing
//! webhook is retried with backoff (by the injected clock) and dead-lettered, visible
//! on `GET /api/v1/notifications`; the citizen's reply text reaches the SMS file
//! adapter with the clear phone, which appears nowhere else (stream, KV, logs).

use crate::kit::{
    act, admin_client, config_dir, file, file_illegal_construction, sign_and_whistle, System,
};
use crate::lifecycle::wait_status;
use casegrid_testkit::eventually;
use futures_util::StreamExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PHONE: &str = "13912345678";
const SECRET: &str = "test-webhook-secret";

/// One webhook call as the receiver saw it.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    id: String,
    signature: String,
    body: Vec<u8>,
}

/// A small HTTP receiver: answers 500 on paths starting with `/fail`, 200 otherwise.
async fn receiver() -> (u16, Arc<Mutex<Vec<Call>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..at]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (at + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default()
                };
                let call = Call {
                    id: header("x-casegrid-notification"),
                    signature: header("x-casegrid-signature"),
                    body: buf[head_end..].to_vec(),
                    path: path.clone(),
                };
                seen.lock().unwrap().push(call);
                let status = if path.starts_with("/fail") {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = socket
                    .write_all(
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (port, calls)
}

/// HMAC-SHA256 (RFC 2104) written out here, so the test does not check the notifier's
/// signature with the notifier's own code.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    format!(
        "sha256={}",
        outer.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// A copy of the demo district's configuration in `dir/config`.
fn copy_config(dir: &Path) -> PathBuf {
    let out = dir.join("config");
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, out.join(path.file_name().unwrap())).unwrap();
    }
    out
}

/// The demo configuration with this test's notifications: the territorial office and
/// the district leaders answer, the supervision desk's webhook fails.
fn config(dir: &Path, port: u16) -> PathBuf {
    let out = copy_config(dir);
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(
        out.join("notifications.toml"),
        format!(
            r#"
[delivery]
max_attempts = 3
backoff = "30s"

[[rule]]
id = "sign_missed"
on = "deadline_missed"
deadline = "sign"
notify = ["territorial_office", "district_leader"]
channel = "webhook"
text = "{{number}} {{department}} missed {{deadline}} due {{due}}"

[[rule]]
id = "sign_missed_desk"
on = "deadline_missed"
deadline = "sign"
notify = ["supervisor"]
channel = "webhook"
text = "{{number}} missed"

[[rule]]
id = "reply_text"
on = "case_replied"
notify = ["reporter"]
channel = "sms"
text = "您反映的问题（{{number}}）已办结"

[[recipient]]
target = "street.chengdong"
webhook = "{base}/ok/street"

[[recipient]]
target = "district_leader"
webhook = "{base}/ok/leaders"

[[recipient]]
target = "supervisor"
webhook = "{base}/fail/desk"
"#
        ),
    )
    .unwrap();
    out
}

fn leak(n: usize) -> Value {
    json!({
        "channel": "hotline", "kind": "report", "category": "water_leak",
        "title": format!("楼道水管漏水 #{n}"),
        "location": {"grid": "NH.CD.YL.02"},
        "reporter": {"phone": PHONE}
    })
}

fn calls_to(calls: &Arc<Mutex<Vec<Call>>>, prefix: &str) -> Vec<Call> {
    calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.path.starts_with(prefix))
        .cloned()
        .collect()
}

async fn wait_calls(
    system: &System,
    calls: &Arc<Mutex<Vec<Call>>>,
    prefix: &str,
    at_least: usize,
) -> Vec<Call> {
    let what = format!("{at_least} calls to {prefix}");
    // A replica killed while it held a send lease leaves that notification to the other
    // replica once the lease (60 s of wall time) runs out: wait past it.
    let waiting = eventually(Duration::from_secs(120), &what, || async {
        let got = calls_to(calls, prefix);
        (got.len() >= at_least).then_some(got)
    });
    match tokio::time::timeout(Duration::from_secs(125), waiting).await {
        Ok(got) => got,
        Err(_) => panic!(
            "{what}: got {:?}; logs:\n{}",
            calls_to(calls, prefix).len(),
            system.logs()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_and_replies_notify_each_recipient_once_and_the_phone_only_the_sms() {
    let (port, calls) = receiver().await;
    let scratch = tempfile::tempdir().unwrap();
    let dir = config(scratch.path(), port);
    let sms_file = scratch.path().join("sms.jsonl");
    let env = [
        ("CASEGRID__DISTRICT__CONFIG_DIR", dir.display().to_string()),
        ("CASEGRID__NOTIFY__WEBHOOK_SECRET", SECRET.to_owned()),
        ("CASEGRID__NOTIFY__SMS_FILE", sms_file.display().to_string()),
    ];
    // Tuesday 10:00: water leaks must be signed within one working hour.
    let mut system = System::start_with_env(Some(datetime!(2026-11-24 10:00 +08:00)), &env).await;
    let second_db = format!(
        "sqlite://{}/routing-2.db?mode=rwc",
        system.nats.dir().display()
    );
    let mut second = env.to_vec();
    second.push(("CASEGRID__ROUTING__REPLICA", "2".to_owned()));
    second.push(("CASEGRID__ROUTING__DATABASE_URL", second_db));
    system.spawn("routing-2", "routing", &second);

    let mut cases = Vec::new();
    for i in 0..4 {
        let r = system
            .api
            .post("/api/v1/cases", "demo-operator", &leak(i), &[])
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        cases.push(r.body["id"].as_str().unwrap().to_owned());
    }
    eventually(Duration::from_secs(30), "every case dispatched", || async {
        let events = system.events().await;
        let n = events
            .iter()
            .filter(|e| e["type"] == "CaseDispatched")
            .count();
        (n >= cases.len()).then_some(())
    })
    .await;

    // 14:00: every sign deadline has passed; replica 1 is killed as the notices go out
    // and comes back.
    system.set_clock(datetime!(2026-11-24 14:00 +08:00));
    wait_calls(&system, &calls, "/ok/", 1).await;
    system.kill("routing");
    system.spawn("routing", "routing", &env);
    let ok = wait_calls(&system, &calls, "/ok/", 2 * cases.len()).await;
    // A few more ticks of both replicas: nothing is sent again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ok = if calls_to(&calls, "/ok/").len() == ok.len() {
        ok
    } else {
        calls_to(&calls, "/ok/")
    };
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for c in &ok {
        *per_id.entry(c.id.as_str()).or_default() += 1;
        assert_eq!(
            c.signature,
            hmac_sha256(SECRET.as_bytes(), &c.body),
            "signed body"
        );
    }
    assert_eq!(
        ok.len(),
        2 * cases.len(),
        "one call per case and recipient: {per_id:?}"
    );
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
    for path in ["/ok/street", "/ok/leaders"] {
        let bodies: Vec<Value> = ok
            .iter()
            .filter(|c| c.path == path)
            .map(|c| serde_json::from_slice(&c.body).unwrap())
            .collect();
        assert_eq!(bodies.len(), cases.len(), "{path}");
        for case in &cases {
            assert!(
                bodies.iter().any(|b| b["case_id"] == case.as_str()),
                "{path}"
            );
        }
        assert!(bodies[0]["text"]
            .as_str()
            .unwrap()
            .contains("dept.water missed sign"));
    }

    // The desk's webhook fails: tried at 14:00, 30 s and 60 s later, then dead-lettered.
    wait_calls(&system, &calls, "/fail/", cases.len()).await;
    system.set_clock(datetime!(2026-11-24 14:00:31 +08:00));
    wait_calls(&system, &calls, "/fail/", 2 * cases.len()).await;
    system.set_clock(datetime!(2026-11-24 14:01:32 +08:00));
    wait_calls(&system, &calls, "/fail/", 3 * cases.len()).await;
    let list = eventually(Duration::from_secs(20), "dead letters listed", || async {
        let (status, body) = system
            .api
            .get("/api/v1/notifications?state=dead", Some("demo-supervisor"))
            .await;
        assert_eq!(status, 200, "{body}");
        (body["items"].as_array().unwrap().len() == cases.len()).then_some(body)
    })
    .await;
    for item in list["items"].as_array().unwrap() {
        assert_eq!(item["rule"], "sign_missed_desk");
        assert_eq!(item["attempts"], 3);
        assert!(
            item["last_error"].as_str().unwrap().contains("500"),
            "{item}"
        );
    }
    system.set_clock(datetime!(2026-11-24 14:10 +08:00));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        calls_to(&calls, "/fail/").len(),
        3 * cases.len(),
        "no fourth attempt"
    );
    let (status, body) = system
        .api
        .get(
            &format!("/api/v1/notifications?case_id={}", cases[0]),
            Some("demo-supervisor"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 3, "{body}");
    // Only supervisors; bad filters are named.
    let (status, body) = system
        .api
        .get("/api/v1/notifications", Some("demo-operator"))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = system
        .api
        .get("/api/v1/notifications?state=lost", Some("demo-supervisor"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("state"), "{body}");

    // The water bureau signs and replies: the citizen gets a text.
    let case = &cases[0];
    let r = system
        .api
        .post(
            &format!("/api/v1/cases/{case}/actions/sign"),
            "demo-water",
            &json!({}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = system
        .api
        .post(
            &format!("/api/v1/cases/{case}/actions/reply"),
            "demo-water",
            &json!({"result": "resolved", "text": "已更换水管"}),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let lines = eventually(
        Duration::from_secs(30),
        "the text in the SMS file",
        || async {
            let text = std::fs::read_to_string(&sms_file).ok()?;
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            (!lines.is_empty()).then_some(lines)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let text = std::fs::read_to_string(&sms_file).unwrap();
    assert_eq!(text.lines().count(), 1, "one text: {text}");
    assert_eq!(lines[0]["to"], PHONE);
    assert!(lines[0]["text"].as_str().unwrap().contains("已办结"));

    // The clear phone is nowhere else: not in the stream, not in any bucket, not in logs.
    for event in system.events().await {
        assert!(!event.to_string().contains(PHONE), "in the stream: {event}");
    }
    let admin = admin_client(&system.nats.url()).await;
    let js = async_nats::jetstream::new(admin);
    let kv = js.get_key_value("CASEGRID_NOTIFICATIONS").await.unwrap();
    let mut keys = kv.keys().await.unwrap();
    let mut records = 0;
    while let Some(key) = keys.next().await {
        let value = kv.get(key.unwrap()).await.unwrap().unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&value).contains(PHONE),
            "in the bucket"
        );
        records += 1;
    }
    assert_eq!(records, 3 * cases.len() + 1, "one record per notification");
    let logs = system.logs();
    assert!(!logs.contains(PHONE), "the phone in a log");
    for entry in std::fs::read_dir(system.nats.dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(!text.contains(PHONE), "in {}", path.display());
        }
    }
}

/// The shipped rules of `deploy/config/notifications.toml` as they are, every webhook
/// pointed at this test's receiver (`/hooks/<target>`), the calls signed.
struct Shipped {
    system: System,
    calls: Arc<Mutex<Vec<Call>>>,
    env: Vec<(&'static str, String)>,
    _scratch: tempfile::TempDir,
}

impl Shipped {
    async fn start(at: time::OffsetDateTime) -> Self {
        let (port, calls) = receiver().await;
        let scratch = tempfile::tempdir().unwrap();
        let dir = copy_config(scratch.path());
        let shipped = std::fs::read_to_string(dir.join("notifications.toml")).unwrap();
        let placeholder = "http://127.0.0.1:9/hooks/";
        assert!(shipped.contains(placeholder), "the shipped webhooks moved");
        std::fs::write(
            dir.join("notifications.toml"),
            shipped.replace(placeholder, &format!("http://127.0.0.1:{port}/hooks/")),
        )
        .unwrap();
        let env = vec![
            ("CASEGRID__DISTRICT__CONFIG_DIR", dir.display().to_string()),
            ("CASEGRID__NOTIFY__WEBHOOK_SECRET", SECRET.to_owned()),
        ];
        let system = System::start_with_env(Some(at), &env).await;
        Self {
            system,
            calls,
            env,
            _scratch: scratch,
        }
    }

    /// The calls of `rule` about `case` so far, as (path, body); each checked signed.
    fn of(&self, rule: &str, case: &str) -> Vec<(String, Value)> {
        calls_to(&self.calls, "/hooks/")
            .into_iter()
            .map(|c| {
                assert_eq!(
                    c.signature,
                    hmac_sha256(SECRET.as_bytes(), &c.body),
                    "signed body"
                );
                let body: Value = serde_json::from_slice(&c.body).unwrap();
                assert_eq!(body["id"], c.id.as_str(), "the header names the body's id");
                (c.path, body)
            })
            .filter(|(_, b)| b["rule"] == rule && b["case_id"] == case)
            .collect()
    }

    /// Waits for `n` calls of `rule` about `case`, then a few more ticks, and asserts
    /// no further one came; answers them sorted by path.
    async fn settled(&self, rule: &str, case: &str, n: usize) -> Vec<(String, Value)> {
        let what = format!("{n} {rule} calls about {case}");
        // The timeout fires first, so a failure shows what came and the logs.
        let waiting = eventually(Duration::from_secs(60), &what, || async {
            (self.of(rule, case).len() >= n).then_some(())
        });
        if tokio::time::timeout(Duration::from_secs(30), waiting)
            .await
            .is_err()
        {
            panic!(
                "{what}: got {:?}; logs:\n{}",
                self.of(rule, case),
                self.system.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut got = self.of(rule, case);
        assert_eq!(got.len(), n, "{what}, no more: {got:?}");
        got.sort_by(|a, b| a.0.cmp(&b.0));
        got
    }

    /// The case's number, once routing dispatched it.
    async fn dispatched(&self, id: &str) -> String {
        let case = wait_status(&self.system.api, id, "demo-supervisor", "dispatched").await;
        case["number"].as_str().unwrap().to_owned()
    }

    /// `data` of the case's first event of type `kind`.
    async fn data_of(&self, id: &str, kind: &str) -> Value {
        self.system
            .events()
            .await
            .into_iter()
            .find(|e| e["case_id"] == id && e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {id}"))["data"]
            .clone()
    }
}

fn paths(calls: &[(String, Value)]) -> Vec<&str> {
    calls.iter().map(|(p, _)| p.as_str()).collect()
}

fn texts(calls: &[(String, Value)]) -> Vec<&str> {
    calls
        .iter()
        .map(|(_, b)| b["text"].as_str().unwrap())
        .collect()
}

fn construction(title: &str) -> Value {
    json!({
        "channel": "hotline", "kind": "complaint", "category": "illegal_construction",
        "title": title,
        "location": {"address": "湖滨街道滨江路8号", "grid": "NH.HB.BJ.03"},
        "reporter": {"phone": PHONE}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_reminder_goes_once_to_each_unit_yet_to_sign_before_the_deadline() {
    // Tuesday 09:00: illegal construction is led by 城管 and assisted by 住建, signed
    // within two working hours.
    let mut n = Shipped::start(datetime!(2026-11-24 09:00 +08:00)).await;
    let api = &n.system.api;
    let titles = [
        "楼顶违法加盖阳光房",
        "一楼住户私拆承重墙",
        "小区绿地上搭建板房",
    ];
    let mut ids = Vec::new();
    for title in titles {
        ids.push(file(api, "demo-operator", construction(title)).await);
    }
    let (reminded, signed, half) = (&ids[0], &ids[1], &ids[2]);
    let number = n.dispatched(reminded).await;
    for id in &ids[1..] {
        n.dispatched(id).await;
    }
    let dispatch = n.data_of(reminded, "CaseDispatched").await;
    assert_eq!(
        (dispatch["lead"].as_str(), dispatch["assisting"].clone()),
        (Some("dept.urban"), json!(["dept.housing"]))
    );
    let due_text = dispatch["sign_due"].as_str().unwrap().to_owned();
    let due = time::OffsetDateTime::parse(&due_text, &Rfc3339).unwrap();
    for id in &ids[1..] {
        assert_eq!(n.data_of(id, "CaseDispatched").await["sign_due"], due_text);
    }
    // Before the window: one case signed by both units, one by its lead alone.
    act(api, signed, "sign", "demo-urban", json!({})).await;
    act(api, signed, "sign", "demo-housing", json!({})).await;
    act(api, half, "sign", "demo-urban", json!({})).await;
    n.system.wait_routing().await;
    n.system.set_clock(due - time::Duration::minutes(31));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(n.of("sign_reminder", reminded).is_empty(), "not yet");

    // 20 minutes before the deadline, inside the rule's 30.
    n.system.set_clock(due - time::Duration::minutes(20));
    let calls = n.settled("sign_reminder", reminded, 2).await;
    assert_eq!(paths(&calls), ["/hooks/dept.housing", "/hooks/dept.urban"]);
    let text = format!("请于 {due_text} 前签收工单 {number}「{}」", titles[0]);
    assert_eq!(texts(&calls), [text.as_str(), text.as_str()]);
    for (path, body) in &calls {
        assert_eq!(body["trigger"], "deadline_ahead");
        assert_eq!(
            format!("/hooks/{}", body["recipient"].as_str().unwrap()),
            *path
        );
    }
    let half_calls = n.settled("sign_reminder", half, 1).await;
    assert_eq!(
        paths(&half_calls),
        ["/hooks/dept.housing"],
        "only the unit yet to sign"
    );
    assert!(
        n.of("sign_reminder", signed).is_empty(),
        "signed before the window"
    );

    // Later in the window, and after a restart of routing: never again.
    n.system.set_clock(due - time::Duration::minutes(5));
    n.system.kill("routing");
    n.system.spawn("routing", "routing", &n.env);
    n.system.wait_ready().await;
    n.settled("sign_reminder", reminded, 2).await;
    n.settled("sign_reminder", half, 1).await;
    assert!(n.of("sign_reminder", signed).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whistle_summons_each_summoned_department_once_with_its_report_in_due() {
    let n = Shipped::start(datetime!(2026-11-24 09:30 +08:00)).await;
    let api = &n.system.api;
    let title = "桃溪村农田内违法搭建厂房";
    let id = file_illegal_construction(api).await;
    let number = n.dispatched(&id).await;
    // 生态环境 has no webhook in the shipped recipients: it is skipped.
    sign_and_whistle(api, &id, &["dept.housing", "dept.water", "dept.ecology"]).await;
    let whistle = n.data_of(&id, "WhistleBlown").await;
    let report_due = whistle["report_due"].as_str().unwrap();
    let calls = n.settled("summons", &id, 2).await;
    assert_eq!(paths(&calls), ["/hooks/dept.housing", "/hooks/dept.water"]);
    let text = format!("吹哨报到：请于 {report_due} 前就工单 {number}「{title}」报到");
    assert_eq!(texts(&calls), [text.as_str(), text.as_str()]);
    for (_, body) in &calls {
        assert_eq!(body["trigger"], "WhistleBlown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_tells_the_notify_list_of_the_level_it_reached() {
    // Tuesday 10:00: water leaks are signed within one working hour.
    let n = Shipped::start(datetime!(2026-11-24 10:00 +08:00)).await;
    let api = &n.system.api;
    let (missed, raised) = (
        file(api, "demo-operator", leak(0)).await,
        file(api, "demo-operator", leak(1)).await,
    );
    let missed_number = n.dispatched(&missed).await;
    let raised_number = n.dispatched(&raised).await;

    // A supervisor escalates a signed case by hand to the department level (部门助战):
    // its lead, the territorial office and the supervision desk are told.
    act(api, &raised, "sign", "demo-water", json!({})).await;
    act(
        api,
        &raised,
        "escalate",
        "demo-supervisor",
        json!({"level": "department", "reason": "主管线破裂，需跨部门协调抢修"}),
    )
    .await;
    let calls = n.settled("escalated", &raised, 3).await;
    assert_eq!(
        paths(&calls),
        [
            "/hooks/dept.water",
            "/hooks/street.chengdong",
            "/hooks/supervision"
        ]
    );
    let text = format!("工单 {raised_number}「楼道水管漏水 #1」升级至 department");
    assert!(texts(&calls).iter().all(|t| *t == text), "{calls:?}");

    // 14:00: the other case missed its sign deadline; routing escalates it one level up
    // (镇街会战): the territorial office, the community and the desk are told.
    n.system.wait_routing().await;
    n.system.set_clock(datetime!(2026-11-24 14:00 +08:00));
    let calls = n.settled("escalated", &missed, 3).await;
    assert_eq!(
        paths(&calls),
        [
            "/hooks/community",
            "/hooks/street.chengdong",
            "/hooks/supervision"
        ]
    );
    let text = format!("工单 {missed_number}「楼道水管漏水 #0」升级至 street");
    assert!(texts(&calls).iter().all(|t| *t == text), "{calls:?}");
    assert_eq!(
        n.data_of(&missed, "CaseEscalated").await["level_id"],
        "street"
    );
    assert_eq!(
        n.of("escalated", &raised).len(),
        3,
        "nothing more for the other"
    );
}
