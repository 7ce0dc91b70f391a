//! `casegrid import`: a history from another system, each case whole or not at all,
//! decided again by casegrid's rules; a second run appends nothing; the figures of an
//! imported history equal those of the same history filed through the API; phones and ID
//! numbers in imported replies and progress reports are sealed as in live ones.

use crate::kit::{bin, reveal, System};
use crate::lifecycle::wait_status;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use time::macros::datetime;
use time::Duration;

/// Runs `casegrid import` against `system`; answers (success, stdout).
fn import(system: &System, dir: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(bin("casegrid"))
        .arg("import")
        .arg(dir.join("cases.csv"))
        .arg(dir.join("events.jsonl"))
        .args(["--nats", &system.nats.url(), "--config"])
        .arg(crate::kit::config_dir())
        .arg("--report")
        .arg(dir.join("refused.csv"))
        .arg("--credentials")
        .arg(system.admin_seed())
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("IMPORT "),
        "no summary line:\n{stdout}\n{stderr}"
    );
    (out.status.success(), stdout)
}

/// `key=value` of the `IMPORT` line.
fn summary(stdout: &str, key: &str) -> u64 {
    let line = stdout.lines().find(|l| l.starts_with("IMPORT ")).unwrap();
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {line}"))
        .parse()
        .unwrap()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_history_verifies_and_a_second_run_appends_nothing() {
    let system = System::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sample = Command::new(bin("casegrid"))
        .arg("sample-history")
        .arg(dir.path())
        .args(["--cases", "300", "--config"])
        .arg(crate::kit::config_dir())
        .output()
        .unwrap();
    assert!(sample.status.success(), "{sample:?}");
    let later: u64 = std::fs::read_to_string(dir.path().join("events.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;

    // A case whose history breaks casegrid's rules (a reply before anyone signed), and
    // one whose category is unknown: each refused whole, naming where and why.
    append(
        &dir.path().join("cases.csv"),
        "BAD-1,2026-03-01T08:00:00Z,hotline,complaint,noise,normal,噪音,,,NH.HB.BJ.03,李四,13800009999,,,op.zhang\n\
         BAD-2,2026-03-01T08:00:00Z,hotline,complaint,no_such_thing,normal,别的,,,NH.HB.BJ.03,李四,,,,op.zhang\n",
    );
    let dispatched = json!({"case_ref": "BAD-1", "type": "CaseDispatched",
        "occurred_at": "2026-03-01T08:01:00Z", "actor": {"kind": "system", "id": "routing"},
        "data": {"lead": "dept.urban", "assisting": [], "sign_due": "2026-03-01T10:00:00Z",
                 "handle_due": "2026-03-05T10:00:00Z", "rule": "old", "return_due": null}});
    let replied = json!({"case_ref": "BAD-1", "type": "CaseReplied",
        "occurred_at": "2026-03-01T09:00:00Z", "actor": {"kind": "department", "id": "dept.urban"},
        "data": {"department": "dept.urban", "result": "resolved", "text": "好",
                 "summary_for_citizen": "好"}});
    append(
        &dir.path().join("events.jsonl"),
        &format!("{dispatched}\n{replied}\n"),
    );
    // A row that cannot be read (three fields, the header has fifteen), and a later line
    // of a good case that cannot be read: that case is left out whole, its filing too.
    append(
        &dir.path().join("cases.csv"),
        "BAD-3,2026-03-01T08:00:00Z,hotline\n",
    );
    let broken = "OLD-0000004";
    let broken_lines = std::fs::read_to_string(dir.path().join("events.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("\"{broken}\"")))
        .count() as u64;
    assert!(broken_lines > 0);
    append(
        &dir.path().join("events.jsonl"),
        &format!(
            "{}\n",
            json!({"case_ref": broken, "type": "NoteAdded", "occurred_at": "yesterday",
                   "actor": {"kind": "operator", "id": "op.zhang"}, "data": {"text": "x"}})
        ),
    );

    let (ok, stdout) = import(&system, dir.path(), &[]);
    assert!(!ok, "refused cases make the import exit 1:\n{stdout}");
    assert_eq!(summary(&stdout, "cases"), 299, "{stdout}");
    assert_eq!(
        summary(&stdout, "events"),
        299 + later - broken_lines,
        "{stdout}"
    );
    assert_eq!(summary(&stdout, "refused"), 4, "{stdout}");
    let report = std::fs::read_to_string(dir.path().join("refused.csv")).unwrap();
    let bad1 = report.lines().find(|l| l.starts_with("BAD-1,")).unwrap();
    assert!(
        bad1.contains("events.jsonl:") && bad1.contains("has not signed"),
        "{report}"
    );
    let bad2 = report.lines().find(|l| l.starts_with("BAD-2,")).unwrap();
    assert!(bad2.contains("category"), "{report}");
    let bad3 = report.lines().find(|l| l.starts_with("BAD-3,")).unwrap();
    assert!(
        bad3.contains("cases.csv:") && bad3.contains("fields"),
        "{report}"
    );
    let half = report
        .lines()
        .find(|l| l.starts_with(&format!("{broken},")))
        .unwrap();
    assert!(
        half.contains("events.jsonl:") && half.contains("unreadable line"),
        "{report}"
    );
    // Routing reacts to the imported open cases (their deadlines passed long ago), so
    // count what the import wrote: the events of its command ids.
    let imported = |events: &[Value]| {
        events
            .iter()
            .filter(|e| e["command_id"].as_str().unwrap().starts_with("import:"))
            .count() as u64
    };
    // Nothing of a refused case is in the log.
    let left_out = ["BAD-1", broken].map(|r| casegrid_intake::import::case_id_of("legacy", r));
    let events = system.events().await;
    assert_eq!(imported(&events), 299 + later - broken_lines);
    for bad in left_out {
        let bad = bad.to_string();
        assert!(events.iter().all(|e| e["case_id"] != bad.as_str()), "{bad}");
    }
    // The reporter is sealed like a live filing's: no phone in clear in the log.
    let raw = serde_json::to_string(&events).unwrap();
    assert!(!raw.contains("13800130001"), "a clear phone in the log");
    let audit = system.audit_verify();
    assert!(
        audit.contains("299 cases") && audit.contains("all chains verify"),
        "{audit}"
    );

    // Again: every case is found, nothing is appended.
    let (_, again) = import(&system, dir.path(), &[]);
    assert_eq!(summary(&again, "cases"), 0, "{again}");
    assert_eq!(summary(&again, "events"), 0, "{again}");
    assert_eq!(summary(&again, "already"), 299, "{again}");
    assert_eq!(summary(&again, "refused"), 4, "{again}");
    assert_eq!(imported(&system.events().await), 299 + later - broken_lines);

    // The projection reads imported cases like any other.
    system.wait_projection().await;
    let first = casegrid_intake::import::case_id_of("legacy", "OLD-0000001").to_string();
    let case = wait_status(&system.api, &first, "demo-supervisor", "closed").await;
    assert_eq!(case["reporter_phone"], "138****0001", "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_in_imported_replies_and_progress_reports_are_sealed_masked_and_revealed() {
    const PHONE: &str = "13712345678";
    const ID: &str = "11010119900307125X";
    let system = System::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cases = csv_header();
    cases.push_str(
        "PII-1,2026-03-01T08:00:00Z,hotline,complaint,noise,normal,夜间施工噪音,,,NH.HB.BJ.03,李四,13800007777,,,op.zhang\n",
    );
    std::fs::write(dir.path().join("cases.csv"), cases).unwrap();
    let line = |at: &str, event_type: &str, actor: Value, data: Value| {
        json!({"case_ref": "PII-1", "type": event_type, "occurred_at": at, "actor": actor,
               "data": data})
        .to_string()
    };
    let urban = json!({"kind": "department", "id": "dept.urban"});
    let lines = [
        line(
            "2026-03-01T08:01:00Z",
            "CaseDispatched",
            json!({"kind": "system", "id": "routing"}),
            json!({"lead": "dept.urban", "assisting": [], "sign_due": "2026-03-01T10:00:00Z",
                   "handle_due": "2026-03-05T10:00:00Z", "rule": "old", "return_due": null}),
        ),
        line(
            "2026-03-01T09:00:00Z",
            "DispatchSigned",
            urban.clone(),
            json!({"department": "dept.urban", "on_time": true, "whistle": false}),
        ),
        line(
            "2026-03-02T09:00:00Z",
            "ProgressRecorded",
            urban.clone(),
            json!({"department": "dept.urban", "text": format!("已约谈施工方负责人，身份证{ID}")}),
        ),
        line(
            "2026-03-03T09:00:00Z",
            "CaseReplied",
            urban.clone(),
            json!({"department": "dept.urban", "result": "resolved",
                   "text": format!("已责令停工，施工方联系人电话{PHONE}"),
                   "summary_for_citizen": format!("已处理，可致电{PHONE}")}),
        ),
    ];
    std::fs::write(
        dir.path().join("events.jsonl"),
        format!("{}\n", lines.join("\n")),
    )
    .unwrap();
    let (ok, stdout) = import(&system, dir.path(), &[]);
    let report = std::fs::read_to_string(dir.path().join("refused.csv")).unwrap_or_default();
    assert!(ok, "{stdout}\n{report}");
    assert_eq!(summary(&stdout, "cases"), 1, "{stdout}");
    assert_eq!(summary(&stdout, "events"), 5, "{stdout}");

    // Not in the raw stream in clear; masked where they were typed.
    let raw = serde_json::to_string(&system.events().await).unwrap();
    for clear in [PHONE, ID] {
        assert!(!raw.contains(clear), "{clear} in the stream: {raw}");
    }
    assert!(
        raw.contains("已责令停工，施工方联系人电话137****5678"),
        "{raw}"
    );
    assert!(raw.contains("110***********125X"), "{raw}");
    system.audit_verify();

    // Masked in the case view and the timeline.
    let id = casegrid_intake::import::case_id_of("legacy", "PII-1").to_string();
    let api = &system.api;
    wait_status(api, &id, "demo-supervisor", "replied").await;
    let timeline = format!("/api/v1/cases/{id}/timeline");
    for path in [format!("/api/v1/cases/{id}"), timeline.clone()] {
        let (code, view) = api.get(&path, Some("demo-supervisor")).await;
        assert_eq!(code, 200, "{path}: {view}");
        let view = view.to_string();
        for clear in [PHONE, ID] {
            assert!(!view.contains(clear), "{clear} in {path}: {view}");
        }
        assert!(!view.contains("\"sealed\""), "{path}: {view}");
    }
    let (_, tl) = api.get(&timeline, Some("demo-supervisor")).await;
    let tl = tl.to_string();
    assert!(
        tl.contains("137****5678") && tl.contains("110***********125X"),
        "{tl}"
    );

    // Shown by an audited reveal, under the names a live action gives them.
    let revealed = &reveal(api, &id).await;
    assert_eq!(revealed["progress.v4#0"], ID, "{revealed}");
    assert_eq!(revealed["reply.v5#0"], PHONE, "{revealed}");
    assert_eq!(revealed["summary.v5#0"], PHONE, "{revealed}");
    assert_eq!(revealed["reporter.phone"], "13800007777", "{revealed}");
    let events = system.events().await;
    assert!(
        events
            .iter()
            .any(|e| e["case_id"] == id.as_str() && e["type"] == "PersonalDataRevealed"),
        "the reveal is an event"
    );

    // Sealed values brought from elsewhere are refused, naming the line.
    let mut cases = csv_header();
    cases.push_str(
        "PII-2,2026-03-01T08:00:00Z,hotline,complaint,noise,normal,噪音,,,NH.HB.BJ.03,李四,,,,op.zhang\n",
    );
    std::fs::write(dir.path().join("cases.csv"), cases).unwrap();
    let smuggled = json!({"case_ref": "PII-2", "type": "NoteAdded",
        "occurred_at": "2026-03-01T08:30:00Z", "actor": {"kind": "operator", "id": "op.zhang"},
        "data": {"text": "电话137****5678",
                 "personal": [{"field": "note.v2#0", "masked": "137****5678", "sealed": "AAAA"}]}});
    std::fs::write(dir.path().join("events.jsonl"), format!("{smuggled}\n")).unwrap();
    let (ok, stdout) = import(&system, dir.path(), &[]);
    assert!(!ok, "{stdout}");
    let report = std::fs::read_to_string(dir.path().join("refused.csv")).unwrap();
    let refused = report.lines().find(|l| l.starts_with("PII-2,")).unwrap();
    assert!(
        refused.contains("events.jsonl:1") && refused.contains("personal: sealed values"),
        "{report}"
    );
}

/// One step of the live history: at `at`, `token` does `action` on case `i`.
struct Step {
    at: time::OffsetDateTime,
    case: usize,
    token: &'static str,
    action: &'static str,
    body: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figures_of_an_imported_history_equal_those_of_the_history_filed_live() {
    let start = datetime!(2026-03-02 09:00 +08:00);
    let live = System::start_with_clock(Some(start)).await;
    // Six noise complaints (routing leads them to dept.urban): replied and called back,
    // one unsatisfied and reopened, one still open.
    let mut ids = Vec::new();
    let mut phones = BTreeMap::new();
    for i in 0..6 {
        live.set_clock(start + Duration::minutes(i));
        let phone = format!("1380000{:04}", 1000 + i);
        let mut body = crate::lifecycle::noise_complaint();
        body["reporter"]["phone"] = json!(phone);
        let filed = live
            .api
            .post(
                "/api/v1/cases",
                "demo-operator",
                &body,
                &[("Idempotency-Key", &format!("live-{i}"))],
            )
            .await;
        assert_eq!(filed.status, 201, "{}", filed.body);
        let id = filed.body["id"].as_str().unwrap().to_owned();
        wait_status(&live.api, &id, "demo-operator", "dispatched").await;
        phones.insert(id.clone(), phone);
        ids.push(id);
    }
    let hour = |h: i64| start + Duration::hours(h);
    let mut steps = Vec::new();
    for i in 0..6 {
        steps.push(Step {
            at: hour(1),
            case: i,
            token: "demo-urban",
            action: "sign",
            body: json!({}),
        });
    }
    for i in 0..5 {
        steps.push(Step {
            at: hour(20),
            case: i,
            token: "demo-urban",
            action: "reply",
            body: json!({"result": "resolved", "text": "已责令停工"}),
        });
        let satisfied = i != 2;
        steps.push(Step {
            at: hour(30),
            case: i,
            token: "demo-operator",
            action: "callback",
            body: json!({"satisfaction": if satisfied {"satisfied"} else {"unsatisfied"},
                         "resolved": satisfied}),
        });
    }
    steps.push(Step {
        at: hour(31),
        case: 2,
        token: "demo-operator",
        action: "reopen",
        body: json!({"reason": "市民不满意"}),
    });
    // The clock only moves forward.
    steps.sort_by_key(|s| s.at);
    for step in &steps {
        live.set_clock(step.at);
        let id = &ids[step.case];
        let answer = live
            .api
            .post(
                &format!("/api/v1/cases/{id}/actions/{}", step.action),
                step.token,
                &step.body,
                &[],
            )
            .await;
        assert!(answer.status < 300, "{} {}", step.action, answer.body);
    }
    // The reopened case is dispatched again by routing.
    eventually_events(&live, ids.len() * 2 + steps.len() + 1).await;
    live.wait_projection().await;

    // The live log, written out in the import format.
    let dir = tempfile::tempdir().unwrap();
    let mut cases = csv_header();
    let mut lines = String::new();
    for e in live.events().await {
        let case_ref = e["case_id"].as_str().unwrap();
        if e["type"] == "CaseFiled" {
            let d = &e["data"];
            cases.push_str(&format!(
                "{case_ref},{},{},{},{},{},{},{},{},{},{},{},,,{}\n",
                e["occurred_at"].as_str().unwrap(),
                d["channel"].as_str().unwrap(),
                d["kind"].as_str().unwrap(),
                d["category"].as_str().unwrap(),
                d["urgency"].as_str().unwrap(),
                d["title"].as_str().unwrap(),
                d["description"].as_str().unwrap(),
                d["location"]["address"].as_str().unwrap(),
                d["location"]["grid"].as_str().unwrap(),
                "王女士",
                phones[case_ref],
                e["actor"]["id"].as_str().unwrap(),
            ));
        } else {
            let line = json!({"case_ref": case_ref, "type": e["type"],
                "occurred_at": e["occurred_at"], "actor": e["actor"], "data": e["data"]});
            lines.push_str(&format!("{line}\n"));
        }
    }
    std::fs::write(dir.path().join("cases.csv"), cases).unwrap();
    std::fs::write(dir.path().join("events.jsonl"), lines).unwrap();

    // The importing system's clock at the live one's: figures that count "now" agree.
    let imported = System::start_with_clock(Some(hour(31))).await;
    let (ok, stdout) = import(&imported, dir.path(), &[]);
    let report = std::fs::read_to_string(dir.path().join("refused.csv")).unwrap();
    let sent = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(ok, "{stdout}\n{report}\n{sent}");
    assert_eq!(summary(&stdout, "cases"), 6, "{stdout}");
    imported.wait_projection().await;
    for group_by in ["department", "category", "street"] {
        let path = format!("/api/v1/stats?group_by={group_by}");
        let (code, a) = live.api.get(&path, Some("demo-supervisor")).await;
        assert_eq!(code, 200, "{a}");
        let (code, b) = imported.api.get(&path, Some("demo-supervisor")).await;
        assert_eq!(code, 200, "{b}");
        assert_eq!(a["rows"], b["rows"], "figures by {group_by}");
        assert!(!a["rows"].as_array().unwrap().is_empty(), "{a}");
    }
    imported.audit_verify();
}

fn csv_header() -> String {
    "case_ref,filed_at,channel,kind,category,urgency,title,description,address,grid,\
     reporter_name,reporter_phone,reporter_id_number,reporter_address,filed_by\n"
        .to_owned()
}

async fn eventually_events(system: &System, at_least: usize) {
    casegrid_testkit::eventually(
        std::time::Duration::from_secs(20),
        "the live history in the stream",
        || async move { (system.stream_messages().await as usize >= at_least).then_some(()) },
    )
    .await;
    // Routing's timers may still be marking deadlines that passed at the last step:
    // the history is complete once the stream stays still for two seconds.
    let mut last = system.stream_messages().await;
    let mut still = 0;
    while still < 4 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = system.stream_messages().await;
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
}
