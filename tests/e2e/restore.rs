//! The restore procedure of docs/OPERATIONS.md: backups of `CASEGRID_KEYS` and
//! `CASEGRID_ATTACHMENTS` taken before an erasure bring the erased person's key and
//! personal files back when restored; `casegrid privacy reconcile` erases them again
//! from the log's `PersonalDataErased` (and the case's `AttachmentAdded`), leaving the
//! case's other files alone.

use crate::attachments::{assert_problem, download, png, upload};
use crate::kit::{bin, System};
use crate::lifecycle::wait_status;
use casegrid_domain::personal::Sealed;
use casegrid_domain::CaseId;
use casegrid_eventlog::attachments::sha256_hex;
use casegrid_testkit::eventually;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;
use tokio::io::AsyncReadExt;

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
async fn restored_key_and_attachment_backups_are_erased_again_by_reconcile() {
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

    // Two photos: the caller's ID card (personal) and the building site (not); the
    // attachment bucket backed up, object by object.
    let (portrait, site) = (png("来电人身份证照片"), png("施工现场照片"));
    for (bytes, personal) in [(&portrait, true), (&site, false)] {
        let added = upload(&system, &id, "demo-operator", bytes, personal).await;
        assert_eq!(
            added.status,
            201,
            "{}",
            String::from_utf8_lossy(&added.bytes)
        );
    }
    let (portrait_sha, site_sha) = (sha256_hex(&portrait), sha256_hex(&site));
    let objects = async_nats::jetstream::new(system.nats.client().await)
        .get_object_store("CASEGRID_ATTACHMENTS")
        .await
        .unwrap();
    let mut files = Vec::new();
    let mut listed = objects.list().await.unwrap();
    while let Some(info) = listed.next().await {
        let name = info.unwrap().name;
        let mut bytes = Vec::new();
        let mut object = objects.get(&name).await.unwrap();
        object.read_to_end(&mut bytes).await.unwrap();
        files.push((name, bytes));
    }
    assert_eq!(files.len(), 2, "both files in the backup");

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
    assert_problem(
        &download(&system, &id, &portrait_sha, "demo-operator").await,
        410,
        "erased",
    );

    // The backups restored: the erased person is back (the key opens the phone, the
    // ID card downloads again).
    for (key, value) in &backup {
        kv.put(key, value.clone()).await.unwrap();
    }
    let back = vault
        .key(case_id)
        .await
        .expect("the restore brought the key back");
    assert_eq!(back.open("reporter.phone", &sealed_phone).unwrap(), PHONE);
    for (name, bytes) in &files {
        objects
            .put(name.as_str(), &mut bytes.as_slice())
            .await
            .unwrap();
    }
    let leaked = download(&system, &id, &portrait_sha, "demo-operator").await;
    assert_eq!(
        (leaked.status, &leaked.bytes),
        (200, &portrait),
        "the restore brought the file back"
    );

    // Reconcile re-applies the erasure from the log, once.
    let out = reconcile(&system);
    assert!(
        out.contains("1 erasure(s) in the log")
            && out.contains("1 key(s) erased again")
            && out.contains("1 of 1 personal attachment(s) deleted again")
            && out.contains(&format!("{id}/{portrait_sha}")),
        "{out}"
    );
    assert_problem(
        &download(&system, &id, &portrait_sha, "demo-operator").await,
        410,
        "erased",
    );
    let kept = download(&system, &id, &site_sha, "demo-operator").await;
    assert_eq!(
        (kept.status, &kept.bytes),
        (200, &site),
        "the other file stays"
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
        again.contains("0 key(s) erased again")
            && again.contains("0 of 1 personal attachment(s) deleted again"),
        "idempotent: {again}"
    );
    println!("{out}{again}");
}
