//! No stored message can stop casegrid: garbage, an event written by a newer version,
//! a duplicate version and a forged chain, published straight into the stream with
//! the admin connection, are quarantined; the services keep running (and restart);
//! filing and acting still work; the quarantine is listed by the API, counted in
//! `/metrics` and named by `casegrid audit verify`; the forged case answers 409.

use crate::kit::{bin, System};
use crate::lifecycle::{noise_complaint, wait_status};
use casegrid_domain::{Actor, ActorKind, CaseId};
use casegrid_eventlog::envelope::{Envelope, GENESIS_HASH};
use serde_json::{json, Value};

const OPERATOR: &str = "demo-operator";
const URBAN: &str = "demo-urban";
const SUPERVISOR: &str = "demo-supervisor";

async fn file(system: &System, key: &str) -> String {
    let filed = system
        .api
        .post(
            "/api/v1/cases",
            OPERATOR,
            &noise_complaint(),
            &[("Idempotency-Key", key)],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    wait_status(&system.api, &id, OPERATOR, "dispatched").await;
    id
}

/// The case's envelopes exactly as stored.
async fn envelopes(system: &System, id: &str) -> Vec<Value> {
    let (code, log) = system
        .api
        .get(&format!("/api/v1/cases/{id}/log"), Some(OPERATOR))
        .await;
    assert_eq!(code, 200, "{log}");
    log["events"].as_array().unwrap().clone()
}

async fn publish(system: &System, subject: String, payload: Vec<u8>) -> u64 {
    let js = async_nats::jetstream::new(system.nats.client().await);
    js.publish(subject, payload.into())
        .await
        .unwrap()
        .await
        .unwrap()
        .sequence
}

fn note(case_id: CaseId, version: u64, prev: &str, schema: u32) -> Vec<u8> {
    Envelope::seal(
        case_id,
        version,
        prev,
        "NoteAdded",
        schema,
        json!({"text": "written elsewhere"}),
        Actor::new(ActorKind::Operator, "op.foreign"),
        format!("foreign-{version}-{schema}"),
        "foreign".into(),
        None,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap()
    .to_payload()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_quarantined_and_nothing_stops() {
    let mut system = System::start().await;
    let dup_case = file(&system, "poison-dup").await;
    let forged_case = file(&system, "poison-forged").await;

    let garbage = publish(
        &system,
        format!("casegrid.events.{}", CaseId::for_filing("x", "garbage")),
        b"\x00not an envelope at all".to_vec(),
    )
    .await;
    let newer_id = CaseId::for_filing("x", "newer");
    let newer = publish(
        &system,
        format!("casegrid.events.{newer_id}"),
        note(newer_id, 1, GENESIS_HASH, 99),
    )
    .await;
    let first = envelopes(&system, &dup_case).await.remove(0);
    let duplicate = publish(
        &system,
        format!("casegrid.events.{dup_case}"),
        serde_json::to_vec(&first).unwrap(),
    )
    .await;
    let forged_versions = envelopes(&system, &forged_case).await.len() as u64;
    let forged_id = CaseId::parse(&forged_case).unwrap();
    let forged = publish(
        &system,
        format!("casegrid.events.{forged_case}"),
        note(forged_id, forged_versions + 1, &"f".repeat(64), 1),
    )
    .await;

    // Acting on a case with a duplicate still works; so does filing a new one.
    let signed = system
        .api
        .post(
            &format!("/api/v1/cases/{dup_case}/actions/sign"),
            URBAN,
            &json!({}),
            &[],
        )
        .await;
    assert_eq!(signed.status, 200, "{}\n{}", signed.body, system.logs());
    file(&system, "poison-after").await;

    // The forged case refuses commands, naming the version where its chain breaks.
    let refused = system
        .api
        .post(
            &format!("/api/v1/cases/{forged_case}/actions/sign"),
            URBAN,
            &json!({}),
            &[],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("breaks at version {}", forged_versions + 1)),
        "{detail}"
    );

    // The server's own check of the case with a duplicate names it.
    let (code, audit) = system
        .api
        .get(&format!("/api/v1/cases/{dup_case}/audit"), Some(SUPERVISOR))
        .await;
    assert_eq!(code, 200, "{audit}");
    assert_eq!(audit["verified"], false, "{audit}");

    // A restart works.
    system.kill("projection");
    system.kill("routing");
    system.spawn("projection-2", "projection", &[]);
    system.spawn("routing-2", "routing", &[]);
    file(&system, "poison-restarted").await;
    system.wait_projection().await;

    let (code, quarantine) = system
        .api
        .get("/api/v1/audit/quarantine", Some(SUPERVISOR))
        .await;
    assert_eq!(code, 200, "{quarantine}");
    let listed: Vec<(u64, &str)> = quarantine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["seq"].as_u64().unwrap(), q["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (garbage, "unreadable"),
            (newer, "newer_version"),
            (duplicate, "duplicate_version"),
            (forged, "chain_break"),
        ],
        "{quarantine:#}"
    );
    let (code, _) = system
        .api
        .get("/api/v1/audit/quarantine", Some(URBAN))
        .await;
    assert_eq!(code, 403, "departments do not read the quarantine");

    let (_, metrics) = system.api.get("/metrics", Some(SUPERVISOR)).await;
    let metrics = metrics.as_str().unwrap();
    for reason in [
        "unreadable",
        "newer_version",
        "duplicate_version",
        "chain_break",
    ] {
        let line = format!("casegrid_quarantined_events{{reason=\"{reason}\"}} 1");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }

    let out = std::process::Command::new(bin("casegrid"))
        .args(["audit", "verify", "--nats", &system.nats.url()])
        .arg("--credentials")
        .arg(system.admin_seed())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    for (seq, reason) in &listed {
        assert!(
            text.contains(&format!("sequence {seq} {reason}")),
            "sequence {seq} {reason} in\n{text}"
        );
    }

    // A rebuild classifies the same way and equals the live read models.
    system.rebuild_and_compare("rebuilt").await;
}
