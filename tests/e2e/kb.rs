//! The knowledge base (知识库) through the separate processes: an entry created by a
//! supervisor (an operator may not), edited (both versions on its history), found by a
//! text search in Chinese, cited by an answer at intake (counted by entry), flagged to
//! its owner once expired (the services' clock moved, no sleeping), an expired or
//! unknown entry refused as a citation; the log still verifies and rebuilds equal.

use crate::kit::System;
use serde_json::{json, Value};
use time::macros::datetime;

fn entry(answer: &str) -> Value {
    json!({"question": "社保关系如何转移？", "answer": answer, "category": "wage_arrears",
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-12-31T16:00:00Z",
        "owner": "dept.hrss"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_is_created_edited_found_cited_and_flagged_when_expired() {
    let system = System::start_with_clock(Some(datetime!(2026-11-24 10:00 +08:00))).await;
    let api = &system.api;
    let before = system.stream_messages().await;
    let refused = api
        .post(
            "/api/v1/kb",
            "demo-operator",
            &entry("x"),
            &[("Idempotency-Key", "kb-1")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let bad = api
        .post(
            "/api/v1/kb",
            "demo-supervisor",
            &json!({"question": "q", "category": "wage_arrears",
                    "valid_from": "2026-01-01T00:00:00Z", "owner": "dept.hrss"}),
            &[],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body["detail"].as_str().unwrap().contains("answer"),
        "{}",
        bad.body
    );
    assert_eq!(
        system.stream_messages().await,
        before,
        "refusals append nothing"
    );

    let key = [("Idempotency-Key", "kb-transfer")];
    let created = api
        .post(
            "/api/v1/kb",
            "demo-supervisor",
            &entry("携带身份证到社保窗口办理。"),
            &key,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // The 201's Location reads back at once (the write waits for the read model).
    let location = format!("/api/v1/kb/{id}/history");
    let (status, history) = api.get(&location, Some("demo-supervisor")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(
        history["versions"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    let again = api
        .post(
            "/api/v1/kb",
            "demo-supervisor",
            &entry("携带身份证到社保窗口办理。"),
            &key,
        )
        .await;
    assert_eq!(
        (again.status, again.body["id"].as_str()),
        (200, Some(id.as_str()))
    );
    let edited = api
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/kb/{id}"),
            Some("demo-supervisor"),
            Some(entry("可在“浙里办”网上申请转移，无需跑窗口。").to_string()),
            &[],
        )
        .await;
    assert_eq!(
        (edited.status, edited.body["version"].as_u64()),
        (200, Some(2)),
        "{}",
        edited.body
    );
    let (_, read) = api
        .get(&format!("/api/v1/kb/{id}"), Some("demo-supervisor"))
        .await;
    assert_eq!(read["version"], 2, "an edit reads back at once: {read}");

    // An inquiry answered at intake from the entry.
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "inquiry", "category": "wage_arrears",
                    "title": "咨询社保转移", "location": {"grid": "NH.CD.YL.02"},
                    "reporter": {"phone": "13900001111"}}),
            &[],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let case = filed.body["id"].as_str().unwrap().to_owned();
    let reply = format!("/api/v1/cases/{case}/actions/reply_at_intake");
    let unknown = api
        .post(
            &reply,
            "demo-operator",
            &json!({"text": "t", "kb_entry": "0192f0c4-3c1a-7d2e-8b4f-2a9c1e5d7f39"}),
            &[],
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(unknown.body["detail"]
        .as_str()
        .unwrap()
        .contains("kb_entry"));
    let answered = api
        .post(
            &reply,
            "demo-operator",
            &json!({"text": "可在“浙里办”网上申请转移", "kb_entry": id}),
            &[],
        )
        .await;
    assert_eq!(answered.status, 200, "{}", answered.body);

    system.wait_projection().await;
    let (status, history) = api
        .get(&format!("/api/v1/kb/{id}/history"), Some("demo-operator"))
        .await;
    assert_eq!(status, 200, "{history}");
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{history}");
    assert_eq!(versions[0]["data"]["answer"], "携带身份证到社保窗口办理。");
    assert_eq!(
        versions[1]["data"]["answer"],
        "可在“浙里办”网上申请转移，无需跑窗口。"
    );
    let (status, found) = api
        .get(
            "/api/v1/kb?q=%E7%A4%BE%E4%BF%9D%E8%BD%AC%E7%A7%BB",
            Some("demo-operator"),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        found["items"][0]["entry"]["id"],
        id.as_str(),
        "社保转移 finds it: {found}"
    );
    assert_eq!(
        found["items"][0]["entry"]["answers_at_intake"], 1,
        "{found}"
    );
    let (_, none) = api
        .get("/api/v1/kb?q=%E5%99%AA%E9%9F%B3", Some("demo-operator"))
        .await;
    assert_eq!(none["items"], json!([]), "噪音 finds nothing: {none}");

    // Not yet expired; then the clock passes valid_until.
    let (_, expired) = api.get("/api/v1/kb/expired", Some("demo-hrss")).await;
    assert_eq!(expired["items"], json!([]), "{expired}");
    system.set_clock(datetime!(2027-01-02 10:00 +08:00));
    let (status, expired) = api.get("/api/v1/kb/expired", Some("demo-hrss")).await;
    assert_eq!(status, 200, "{expired}");
    assert_eq!(expired["items"][0]["entry"]["id"], id.as_str(), "{expired}");
    let (_, others) = api
        .get("/api/v1/kb/expired?owner=dept.hrss", Some("demo-urban"))
        .await;
    assert_eq!(
        others["items"],
        json!([]),
        "a department sees only its own: {others}"
    );
    let (_, all) = api.get("/api/v1/kb/expired", Some("demo-supervisor")).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all}");
    let second = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "inquiry", "category": "wage_arrears",
                    "title": "再问社保转移", "location": {"grid": "NH.CD.YL.02"},
                    "reporter": {"phone": "13900001111"}}),
            &[],
        )
        .await;
    let stale = api
        .post(
            &format!(
                "/api/v1/cases/{}/actions/reply_at_intake",
                second.body["id"].as_str().unwrap()
            ),
            "demo-operator",
            &json!({"text": "t", "kb_entry": id}),
            &[],
        )
        .await;
    assert_eq!(stale.status, 422, "{}", stale.body);
    assert!(
        stale.body["detail"].as_str().unwrap().contains("renew"),
        "{}",
        stale.body
    );

    system.wait_projection().await;
    let (status, quarantine) = api
        .get("/api/v1/audit/quarantine", Some("demo-supervisor"))
        .await;
    assert_eq!(status, 200, "{quarantine}");
    assert_eq!(
        quarantine["items"],
        json!([]),
        "nothing quarantined: {quarantine}"
    );
    system.audit_verify();
    system.rebuild_and_compare("kb").await;
}
