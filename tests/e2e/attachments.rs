//! Files added to cases (issue 14): uploaded as multipart into the attachment bucket,
//! recorded with their SHA-256, served only to principals who may see the case, type
//! and size refused with problems (nothing stored, nothing appended), and a personal
//! file deleted with the case's personal data; Open311 filings with a picture in
//! `media`, a citizen's (public api_key) recorded as personal.

use crate::kit::{act, System};
use crate::lifecycle::wait_status;
use casegrid_eventlog::attachments::{object_key, sha256_hex};
use casegrid_eventlog::AttachmentStore;
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::time::Duration;

const BOUNDARY: &str = "casegrid-e2e-boundary";

/// A small PNG (its signature and an IHDR chunk, then filler that makes it unique).
pub(crate) fn png(tag: &str) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes
}

fn multipart(file: &[u8], personal: Option<bool>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(p) = personal {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"personal\"\r\n\r\n{p}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) bytes: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

pub(crate) async fn upload(
    system: &System,
    id: &str,
    token: &str,
    file: &[u8],
    personal: bool,
) -> Answer {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/cases/{id}/attachments",
            system.base_url()
        ))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(file, Some(personal)))
        .send()
        .await
        .unwrap();
    answer(response).await
}

pub(crate) async fn download(system: &System, id: &str, sha256: &str, token: &str) -> Answer {
    let response = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/cases/{id}/attachments/{sha256}",
            system.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    answer(response).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response.bytes().await.unwrap().to_vec();
    Answer {
        status,
        content_type,
        bytes,
    }
}

pub(crate) fn assert_problem(a: &Answer, status: u16, mentions: &str) {
    assert_eq!(a.status, status, "{}", String::from_utf8_lossy(&a.bytes));
    assert_eq!(a.content_type, "application/problem+json");
    let detail = a.json()["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail.contains(mentions), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_round_trip_within_scope_and_erased_when_personal() {
    let system = System::start().await;
    let api = &system.api;
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({
                "channel": "hotline", "kind": "complaint", "category": "property_management",
                "title": "小区电梯长期故障物业不维修",
                "description": "3号楼电梯停运两周。",
                "location": { "address": "湖滨街道滨江社区3号楼", "grid": "NH.HB.BJ.01" },
                "reporter": { "name": "赵建国", "phone": "13812345678" }
            }),
            &[],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    wait_status(api, &id, "demo-operator", "dispatched").await;
    let case_id = casegrid_domain::CaseId::parse(&id).unwrap();

    // Upload: stored under its hash, recorded with hash, type, size and who added it.
    let photo = png("现场照片");
    let sha = sha256_hex(&photo);
    let added = upload(&system, &id, "demo-housing", &photo, false).await;
    assert_eq!(
        added.status,
        201,
        "{}",
        String::from_utf8_lossy(&added.bytes)
    );
    let body = added.json();
    assert_eq!(body["attachment"]["sha256"], sha.as_str());
    assert_eq!(body["attachment"]["media_type"], "image/png");
    assert_eq!(body["attachment"]["size"], photo.len());
    let portrait = png("来电人的证件照");
    let personal_sha = sha256_hex(&portrait);
    let personal = upload(&system, &id, "demo-operator", &portrait, true).await;
    assert_eq!(
        personal.status,
        201,
        "{}",
        String::from_utf8_lossy(&personal.bytes)
    );

    let entry = attachment_on_timeline(&system, &id, &sha).await;
    assert!(entry["summary"].as_str().unwrap().contains(&sha), "{entry}");
    assert_eq!(entry["actor"]["kind"], "department");
    assert_eq!(entry["data"]["size"], photo.len());
    assert_eq!(entry["data"]["media_type"], "image/png");

    // Download: bytes equal for principals who see the case; 404 for one who does not,
    // the same answer as an unknown file.
    for token in ["demo-operator", "demo-housing", "demo-supervisor"] {
        let got = download(&system, &id, &sha, token).await;
        assert_eq!(got.status, 200, "{token}");
        assert_eq!(got.content_type, "image/png");
        assert_eq!(got.bytes, photo, "{token}");
    }
    let outsider = download(&system, &id, &sha, "demo-transport").await;
    assert_problem(&outsider, 404, &id);
    let unknown = download(
        &system,
        &id,
        &sha256_hex(b"never uploaded"),
        "demo-operator",
    )
    .await;
    assert_eq!(unknown.status, 404);
    let outsider_upload = upload(&system, &id, "demo-transport", &png("x"), false).await;
    assert_eq!(outsider_upload.status, 404);

    // Refused: a type outside the list, a file too large; nothing stored, nothing appended.
    system.wait_projection().await;
    let before = system.stream_messages().await;
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let refused = upload(&system, &id, "demo-operator", &html, false).await;
    assert_problem(&refused, 415, "not an accepted type");
    let mut big = png("big");
    big.resize(10 * 1024 * 1024 + 1, 0);
    let too_large = upload(&system, &id, "demo-operator", &big, false).await;
    assert_problem(&too_large, 413, "bytes allowed");
    let admin = crate::kit::admin_client(&system.nats.url()).await;
    let bucket = AttachmentStore::attach(admin).await.unwrap();
    for bytes in [&html, &big] {
        let key = object_key(case_id, &sha256_hex(bytes));
        assert!(bucket.stored(&key).await.unwrap().is_none(), "{key} stored");
    }
    assert_eq!(system.stream_messages().await, before, "nothing appended");

    // Erasure: the personal file is deleted from the bucket, the other stays.
    let personal_key = object_key(case_id, &personal_sha);
    assert!(bucket.stored(&personal_key).await.unwrap().is_some());
    let asked = api
        .post(
            &format!("/api/v1/cases/{id}/actions/request_erasure"),
            "demo-operator",
            &json!({"reason": "来电人依法申请删除个人信息"}),
            &[],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let erase = format!("/api/v1/cases/{id}/actions/erase");
    let key = [("Idempotency-Key", "erase-once")];
    let erased = api
        .post(
            &erase,
            "demo-supervisor",
            &json!({"reason": "依法删除"}),
            &key,
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert!(
        bucket.stored(&personal_key).await.unwrap().is_none(),
        "personal file deleted"
    );
    let gone = download(&system, &id, &personal_sha, "demo-operator").await;
    assert_problem(&gone, 410, "erased");
    let kept = download(&system, &id, &sha, "demo-operator").await;
    assert_eq!(kept.bytes, photo, "a file not marked personal stays");
    // A replayed erase deletes again without error (a crash between the event and the
    // deletion heals).
    let again = api
        .post(
            &erase,
            "demo-supervisor",
            &json!({"reason": "依法删除"}),
            &key,
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(bucket.stored(&personal_key).await.unwrap().is_none());
}

/// An Open311 filing (multipart) by `api_key` with `file` in `media`.
async fn open311_filing(system: &System, api_key: &str, key: &str, file: &[u8]) -> Answer {
    let part = |name: &str, value: &str| {
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .into_bytes()
    };
    let mut body = [
        part("api_key", api_key),
        part("service_code", "noise"),
        part("description", "夜间施工噪音"),
        part("address_string", "湖滨街道滨江社区3号楼"),
        part("attribute[grid]", "NH.HB.BJ.01"),
        part("phone", "13812345678"),
    ]
    .concat();
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.png\"\r\n\
             Content-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let response = reqwest::Client::new()
        .post(format!("{}/open311/v2/requests.json", system.base_url()))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("Idempotency-Key", key)
        .body(body)
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// The `service_request_id` of an Open311 filing answered 201.
fn request_id(filed: &Answer) -> String {
    assert_eq!(
        filed.status,
        201,
        "{}",
        String::from_utf8_lossy(&filed.bytes)
    );
    filed.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The `AttachmentAdded` of case `id` with this hash, once the timeline shows it.
async fn attachment_on_timeline(system: &System, id: &str, sha: &str) -> Value {
    eventually(
        Duration::from_secs(10),
        "the attachment on the timeline",
        || async {
            let (_, tl) = system
                .api
                .get(
                    &format!("/api/v1/cases/{id}/timeline"),
                    Some("demo-supervisor"),
                )
                .await;
            tl["events"]
                .as_array()?
                .iter()
                .find(|e| e["type"] == "AttachmentAdded" && e["data"]["sha256"] == sha)
                .cloned()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open311_filing_with_media_records_the_picture_on_its_case() {
    let system = System::start().await;
    // A staff filing: the picture recorded, not personal.
    let photo = png("open311 media");
    let sha = sha256_hex(&photo);
    let filed = open311_filing(&system, "demo-operator", "open311-media-1", &photo).await;
    let id = request_id(&filed);
    let got = download(&system, &id, &sha, "demo-operator").await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.bytes));
    assert_eq!(got.bytes, photo);
    let entry = attachment_on_timeline(&system, &id, &sha).await;
    assert_eq!(entry["data"]["personal"], false, "{entry}");

    // A citizen's app with the public key: its photo round-trips to staff who see the
    // case, recorded as the citizen's and as personal.
    let citizens = png("市民拍摄的现场照片");
    let citizens_sha = sha256_hex(&citizens);
    let filed = open311_filing(&system, "open311-public", "citizen-photo-1", &citizens).await;
    let public_id = request_id(&filed);
    for token in ["demo-operator", "demo-supervisor"] {
        let got = download(&system, &public_id, &citizens_sha, token).await;
        assert_eq!(
            got.status,
            200,
            "{token}: {}",
            String::from_utf8_lossy(&got.bytes)
        );
        assert_eq!(got.content_type, "image/png");
        assert_eq!(got.bytes, citizens, "{token}");
    }
    let entry = attachment_on_timeline(&system, &public_id, &citizens_sha).await;
    assert_eq!(entry["actor"]["kind"], "public", "{entry}");
    assert_eq!(entry["data"]["personal"], true, "{entry}");
    assert_eq!(entry["data"]["size"], citizens.len(), "{entry}");
    // The same filing again: the same case, the photo recorded once.
    let again = open311_filing(&system, "open311-public", "citizen-photo-1", &citizens).await;
    assert_eq!(
        again.status,
        200,
        "{}",
        String::from_utf8_lossy(&again.bytes)
    );
    assert_eq!(again.json()[0]["service_request_id"], public_id.as_str());
    let log = system.events().await;
    let recorded = log
        .iter()
        .filter(|e| e["case_id"] == public_id.as_str() && e["type"] == "AttachmentAdded")
        .count();
    assert_eq!(recorded, 1);

    // A refused type from the public files nothing and stores nothing.
    for case in [&id, &public_id] {
        wait_status(&system.api, case, "demo-operator", "dispatched").await;
    }
    system.wait_projection().await;
    let before = system.stream_messages().await;
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let refused = open311_filing(&system, "open311-public", "citizen-photo-2", &html).await;
    assert_eq!(
        refused.status,
        415,
        "{}",
        String::from_utf8_lossy(&refused.bytes)
    );
    let said = refused.json()[0]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(said.contains("not an accepted type"), "{said}");
    assert_eq!(system.stream_messages().await, before, "nothing filed");

    // Erased with the case's personal data.
    let case_id = casegrid_domain::CaseId::parse(&public_id).unwrap();
    let admin = crate::kit::admin_client(&system.nats.url()).await;
    let bucket = AttachmentStore::attach(admin).await.unwrap();
    let key = object_key(case_id, &citizens_sha);
    assert!(bucket.stored(&key).await.unwrap().is_some());
    let asked = json!({"reason": "市民申请删除个人信息"});
    act(
        &system.api,
        &public_id,
        "request_erasure",
        "demo-operator",
        asked,
    )
    .await;
    let erase = json!({"reason": "依法删除"});
    act(&system.api, &public_id, "erase", "demo-supervisor", erase).await;
    assert!(bucket.stored(&key).await.unwrap().is_none(), "photo erased");
    let gone = download(&system, &public_id, &citizens_sha, "demo-operator").await;
    assert_problem(&gone, 410, "erased");
}
