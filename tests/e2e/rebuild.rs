//! `casegrid rebuild` replays the stream into a fresh SQLite file that equals the
//! live read models; `casegrid audit verify` passes on the same log.

use crate::kit::{bin, System};
use crate::lifecycle::hotline_case_to_closed;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_reproduces_the_live_read_models() {
    let system = System::start().await;
    hotline_case_to_closed(&system.api, &system.nats.url(), "rebuild-1").await;
    // A second case left half-way, so open inbox rows exist too.
    let filed = system
        .api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "complaint", "category": "wage_arrears",
                    "title": "装修公司拖欠三名工人工资", "location": {"grid": "NH.CD.YL.02"},
                    "reporter": {"phone": "13900002222"}}),
            &[],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let wage = filed.body["id"].as_str().unwrap();
    crate::lifecycle::wait_status(&system.api, wage, "demo-operator", "dispatched").await;
    let last = system.stream_messages().await;
    system.wait_projection().await;

    let (into, stdout) = system.rebuild_and_compare("rebuilt").await;
    assert!(stdout.contains(&format!("{last} events")), "{stdout}");

    // Rebuilding into a database that is not fresh is refused.
    let again = std::process::Command::new(bin("casegrid"))
        .args(["rebuild", "--nats", &system.nats.url(), "--into", &into])
        .arg("--credentials")
        .arg(system.admin_seed())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let text = system.audit_verify();
    assert!(
        text.contains("2 cases") && text.contains("all chains verify"),
        "{text}"
    );
}
