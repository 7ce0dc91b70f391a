//! The restore procedure of docs/OPERATIONS.md: a backup of `CASEGRID_KEYS` taken
//! before an erasure brings the erased person's key back when restored;
//! `casegrid privacy reconcile` erases it again from the log's `PersonalDataErased`.

use crate::kit::{bin, System};
use crate::lifecycle::wait_status;
use casegrid_domain::personal::Sealed;
use casegrid_domain::CaseId;
use casegrid_testkit::eventually;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;

const PHONE: &str = "13912340000";

fn reconcile(system: &System) -> String {
    let out = std::process::Command::new(bin("casegrid"))
        .args(["privacy", "reconcile", "--nats", &system.nats.url()])
        .arg("--credentials")
        .arg(system.admin_seed())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_key_backup_is_erased_again_by_reconcile() {
    let system = System::start().await;
    let api = &system.api;
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({
                "channel": "hotline", "kind": "complaint", "category": "noise",
                "title": "夜间施工噪音扰民",
                "location": { "address": "湖滨街道滨江路12号", "grid": "NH.HB.BJ.03" },
                "reporter": { "name": "钱先生", "phone": PHONE }
            }),
            &[],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    let case_id = CaseId::parse(&id).unwrap();
    wait_status(api, &id, "demo-operator", "dispatched").await;
    let sealed_phone: Sealed =
        serde_json::from_value(system.events().await[0]["data"]["reporter"]["phone"].clone())
            .unwrap();

    // The backup: every entry of the key bucket, copied.
    let kv = async_nats::jetstream::new(system.nats.client().await)
        .get_key_value("CASEGRID_KEYS")
        .await
        .unwrap();
    let mut backup = Vec::new();
    let mut keys = kv.keys().await.unwrap();
    while let Some(key) = keys.next().await {
        let key = key.unwrap();
        let value = kv.get(&key).await.unwrap().expect("a key just listed");
        backup.push((key, value));
    }
    assert!(
        backup.iter().any(|(k, _)| *k == format!("case.{id}")),
        "the case's key is in the backup"
    );

    // The person is erased: asked by the operator, done by a supervisor.
    let reason = json!({"reason": "来电人依法申请删除个人信息"});
    let asked = api
        .post(
            &format!("/api/v1/cases/{id}/actions/request_erasure"),
            "demo-operator",
            &reason,
            &[],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let erased = api
        .post(
            &format!("/api/v1/cases/{id}/actions/erase"),
            "demo-supervisor",
            &reason,
            &[],
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    let vault = casegrid_privacy::KeyVault::attach(system.nats.client().await)
        .await
        .unwrap();
    assert!(vault.key(case_id).await.is_err(), "the key is gone");

    // The backup restored: the erased person is back (the key opens the phone).
    for (key, value) in &backup {
        kv.put(key, value.clone()).await.unwrap();
    }
    let back = vault
        .key(case_id)
        .await
        .expect("the restore brought the key back");
    assert_eq!(back.open("reporter.phone", &sealed_phone).unwrap(), PHONE);

    // Reconcile re-applies the erasure from the log, once.
    let out = reconcile(&system);
    assert!(
        out.contains("1 erasure(s) in the log") && out.contains("1 key(s) erased again"),
        "{out}"
    );
    assert!(
        matches!(
            vault.key(case_id).await,
            Err(casegrid_privacy::PrivacyError::Erased(_))
        ),
        "erased again"
    );
    let reveal = api
        .post(
            &format!("/api/v1/cases/{id}/actions/reveal"),
            "demo-supervisor",
            &json!({"reason": "恢复备份后核实"}),
            &[],
        )
        .await;
    assert_eq!(reveal.status, 409, "{}", reveal.body);
    assert!(
        reveal.body["detail"].as_str().unwrap().contains("erased"),
        "{}",
        reveal.body
    );
    eventually(Duration::from_secs(10), "[erased] in the case", || async {
        let (_, case) = api
            .get(&format!("/api/v1/cases/{id}"), Some("demo-operator"))
            .await;
        (case["reporter_phone"] == "[erased]").then_some(())
    })
    .await;
    let again = reconcile(&system);
    assert!(
        again.contains("0 key(s) erased again"),
        "idempotent: {again}"
    );
    println!("{out}{again}");
}
