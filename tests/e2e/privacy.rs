//! Personal data the append-only log can forget: sealed fields, masking on every
//! read path, audited reveals, and crypto-shredding that survives a rebuild.

use crate::kit::{bin, System};
use crate::lifecycle::wait_status;
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::time::Duration;

const PHONE: &str = "13812345678";
const NAME: &str = "赵建国";
const ID_NUMBER: &str = "110101199003071234";
const HOME: &str = "滨江路12号3单元502室";

fn complaint() -> Value {
    json!({
        "channel": "hotline", "kind": "complaint", "category": "property_management",
        "title": "小区电梯长期故障物业不维修",
        "description": "3号楼电梯停运两周，老人上下楼困难。",
        "location": { "address": "湖滨街道滨江社区3号楼", "grid": "NH.HB.BJ.01" },
        "reporter": { "name": NAME, "phone": PHONE, "id_number": ID_NUMBER, "address": HOME }
    })
}

async fn timeline(system: &System, id: &str) -> Vec<Value> {
    let (code, body) = system
        .api
        .get(
            &format!("/api/v1/cases/{id}/timeline"),
            Some("demo-supervisor"),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    body["events"].as_array().unwrap().clone()
}

fn assert_no_clear_value(what: &str, text: &str) {
    for clear in [PHONE, NAME, ID_NUMBER, HOME] {
        assert!(
            !text.contains(clear),
            "{what} holds {clear} in clear: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_sealed_masked_revealed_on_record_and_erased_for_good() {
    let system = System::start().await;
    let api = &system.api;
    let filed = api
        .post("/api/v1/cases", "demo-operator", &complaint(), &[])
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    let case = wait_status(api, &id, "demo-operator", "dispatched").await;
    assert_eq!(case["lead"], "dept.housing");

    // Masked on every read path, for every principal that may read the case.
    for token in ["demo-operator", "demo-supervisor", "demo-housing"] {
        let (code, case) = api.get(&format!("/api/v1/cases/{id}"), Some(token)).await;
        assert_eq!(code, 200);
        assert_eq!(case["reporter_phone"], "138****5678", "{token}");
        assert_eq!(case["reporter_name"], "赵**", "{token}");
        assert_no_clear_value(token, &case.to_string());
        let (code, tl) = api
            .get(&format!("/api/v1/cases/{id}/timeline"), Some(token))
            .await;
        assert_eq!(code, 200);
        assert_no_clear_value("timeline", &tl.to_string());
        assert!(
            !tl.to_string().contains("sealed"),
            "no ciphertext on the timeline"
        );
    }
    for token in ["demo-operator", "demo-housing"] {
        let (code, list) = api.get("/api/v1/cases?q=电梯", Some(token)).await;
        assert_eq!(code, 200, "{list}");
        assert!(
            list.to_string().contains(&id),
            "{token} lists the case: {list}"
        );
        assert!(
            list.to_string().contains("138****5678"),
            "masked in lists: {list}"
        );
        assert_no_clear_value("list", &list.to_string());
    }
    let (_, inbox) = api.get("/api/v1/inbox", Some("demo-housing")).await;
    assert!(inbox.to_string().contains(&id));
    assert_no_clear_value("inbox", &inbox.to_string());

    // Reveal: operators and supervisors, with a reason, on the record.
    let reveal = format!("/api/v1/cases/{id}/actions/reveal");
    let refused = api
        .post(&reveal, "demo-housing", &json!({"reason": "想核实"}), &[])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let no_reason = api
        .post(&reveal, "demo-operator", &json!({"reason": " "}), &[])
        .await;
    assert_eq!(no_reason.status, 422, "{}", no_reason.body);
    let shown = api
        .post(
            &reveal,
            "demo-operator",
            &json!({"reason": "回访需要联系来电人"}),
            &[],
        )
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(
        shown.body["personal_data"],
        json!({"reporter.name": NAME, "reporter.phone": PHONE,
               "reporter.id_number": ID_NUMBER, "reporter.address": HOME})
    );
    let by_supervisor = api
        .post(
            &reveal,
            "demo-supervisor",
            &json!({"reason": "督办核实"}),
            &[],
        )
        .await;
    assert_eq!(by_supervisor.status, 200, "{}", by_supervisor.body);
    let reveals = eventually(
        Duration::from_secs(10),
        "both reveals on the timeline",
        || async {
            let events = timeline(&system, &id).await;
            let reveals: Vec<Value> = events
                .into_iter()
                .filter(|e| e["type"] == "PersonalDataRevealed")
                .collect();
            (reveals.len() == 2).then_some(reveals)
        },
    )
    .await;
    assert_eq!(reveals[0]["actor"]["id"], "op.zhang");
    assert!(reveals[0]["summary"]
        .as_str()
        .unwrap()
        .contains("回访需要联系来电人"));
    assert_eq!(reveals[1]["actor"]["id"], "sup.li");

    // Erase: recorded, the key deleted, every read path shows the fields as erased.
    let erase = format!("/api/v1/cases/{id}/actions/erase");
    let refused = api
        .post(&erase, "demo-housing", &json!({"reason": "x"}), &[])
        .await;
    assert_eq!(refused.status, 403);
    // An operator alone cannot erase: it asks, a supervisor erases.
    let alone = api
        .post(&erase, "demo-operator", &json!({"reason": "x"}), &[])
        .await;
    assert_eq!(alone.status, 403, "{}", alone.body);
    let asked = api
        .post(
            &format!("/api/v1/cases/{id}/actions/request_erasure"),
            "demo-operator",
            &json!({"reason": "来电人依法申请删除个人信息"}),
            &[],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let erased = api
        .post(
            &erase,
            "demo-supervisor",
            &json!({"reason": "来电人依法申请删除个人信息"}),
            &[],
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    let case = eventually(
        Duration::from_secs(10),
        "the erase in the read model",
        || async {
            let (_, case) = api
                .get(&format!("/api/v1/cases/{id}"), Some("demo-operator"))
                .await;
            (case["reporter_phone"] == "[erased]").then_some(case)
        },
    )
    .await;
    assert_eq!(case["reporter_name"], "[erased]");
    assert_eq!(
        case["title"], "小区电梯长期故障物业不维修",
        "nothing else changes"
    );
    let filed_data = &timeline(&system, &id).await[0]["data"]["reporter"];
    assert_eq!(filed_data["phone"]["masked"], "[erased]");
    let again = api
        .post(&reveal, "demo-supervisor", &json!({"reason": "再看"}), &[])
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body["detail"].as_str().unwrap().contains("erased"));
    let client = system.nats.client().await;
    let kv = async_nats::jetstream::new(client)
        .get_key_value("CASEGRID_KEYS")
        .await
        .unwrap();
    assert!(
        kv.get(format!("case.{id}")).await.unwrap().is_none(),
        "the key is gone"
    );

    // A second case erased with the command line.
    let other = api
        .post("/api/v1/cases", "demo-operator", &complaint(), &[])
        .await;
    let other_id = other.body["id"].as_str().unwrap().to_owned();
    wait_status(api, &other_id, "demo-operator", "dispatched").await;
    let out = std::process::Command::new(bin("casegrid"))
        .args([
            "privacy",
            "erase",
            &other_id,
            "--reason",
            "依申请删除",
            "--operator",
            "op.zhang",
        ])
        .args(["--nats", &system.nats.url(), "--config"])
        .arg(crate::kit::config_dir())
        .arg("--credentials")
        .arg(system.admin_seed())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(
        Duration::from_secs(10),
        "the CLI erase in the read model",
        || async {
            let (_, case) = api
                .get(&format!("/api/v1/cases/{other_id}"), Some("demo-operator"))
                .await;
            (case["reporter_phone"] == "[erased]").then_some(())
        },
    )
    .await;

    // The raw log never held any of it in clear; the chains still verify; a rebuild
    // from the log reproduces the erased read models.
    crate::lifecycle::assert_no_personal_data_in_stream(
        &system.nats.url(),
        &[PHONE, NAME, ID_NUMBER, HOME],
    )
    .await;
    system.wait_projection().await;
    system.rebuild_and_compare("after-erase").await;
    system.audit_verify();
}
