//! Intake against a real nats-server (event log and key vault from the test kit):
//!
//! - idempotency: a key belongs to its principal; the same request answers the same
//!   result and runs no side effect twice; another action or body with the same key is
//!   422 `idempotency-key-reused`, appends nothing and runs nothing (every pair of
//!   actions); the erase replay of issue 16; filings retried and reused.
//! - approvals: an operator's erase without a supervisor is refused.
//! - keys: refused filings leave no data key behind.
//! - merge: the target exists, is open and is not merged itself.

use casegrid_config::District;
use casegrid_contracts::{ActRequest, Answer, CommandReply, FileRequest, Problem};
use casegrid_domain::{Actor, ActorKind, CaseId};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, EventLog, LogConfig};
use casegrid_intake::Intake;
use casegrid_privacy::KeyVault;
use casegrid_testkit::TestNats;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

const PHONE: &str = "13800001234";

struct Kit {
    intake: Intake,
    log: EventLog,
    kv: async_nats::jetstream::kv::Store,
    _nats: TestNats,
}

async fn kit() -> Kit {
    let nats = TestNats::start();
    let client = nats.client().await;
    let log = EventLog::create(client.clone(), LogConfig::default())
        .await
        .expect("open log");
    let keys = KeyVault::open(client.clone(), 1).await.expect("key vault");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config");
    let district = District::load(&dir).expect("demo district");
    let store = CaseStore::new(log.clone(), Numbering::default(), 1000);
    let intake = Intake::new(
        store,
        keys,
        Arc::new(district),
        Arc::new(casegrid_runtime::clock::SystemClock),
    );
    let kv = async_nats::jetstream::new(client)
        .get_key_value(casegrid_privacy::BUCKET)
        .await
        .expect("bucket");
    Kit {
        intake,
        log,
        kv,
        _nats: nats,
    }
}

fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op.zhang")
}
fn supervisor() -> Actor {
    Actor::new(ActorKind::Supervisor, "sup.li")
}
fn urban() -> Actor {
    Actor::new(ActorKind::Department, "dept.urban")
}

fn complaint() -> Value {
    json!({"channel": "hotline", "kind": "complaint", "category": "noise",
           "title": "夜间施工噪音扰民", "location": {"grid": "NH.HB.BJ.03"},
           "reporter": {"name": "王女士", "phone": PHONE}})
}

impl Kit {
    async fn file_as(
        &self,
        actor: &Actor,
        key: &str,
        body: Value,
    ) -> Result<CommandReply, Problem> {
        let request = FileRequest {
            actor: actor.clone(),
            idempotency_key: key.to_owned(),
            correlation_id: "corr".into(),
            body,
        };
        self.intake
            .file(&serde_json::to_vec(&request).unwrap())
            .await
    }

    async fn file(&self, key: &str) -> CaseId {
        let reply = self
            .file_as(&operator(), key, complaint())
            .await
            .unwrap_or_else(|p| panic!("filing {key}: {}", p.detail));
        assert!(reply.created);
        reply.id
    }

    async fn act(
        &self,
        case_id: CaseId,
        actor: &Actor,
        action: &str,
        key: &str,
        body: Value,
    ) -> Result<CommandReply, Problem> {
        let request = ActRequest {
            case_id,
            action: action.to_owned(),
            actor: actor.clone(),
            command_id: key.to_owned(),
            correlation_id: "corr".into(),
            if_match: None,
            body,
        };
        // Through the same bytes the NATS handler answers with.
        let reply = self
            .intake
            .act(&serde_json::to_vec(&request).unwrap())
            .await;
        let bytes = casegrid_commandbus::answer(reply);
        serde_json::from_slice::<Answer<CommandReply>>(&bytes)
            .unwrap()
            .into_result()
    }

    /// The case's envelopes as stored.
    async fn events(&self, case_id: CaseId) -> Vec<casegrid_eventlog::StoredEvent> {
        self.log.load_case(case_id, 0).await.expect("load")
    }

    async fn has_key(&self, case_id: CaseId) -> bool {
        self.kv
            .get(format!("case.{case_id}"))
            .await
            .expect("kv get")
            .is_some()
    }

    async fn key_count(&self) -> usize {
        match self.kv.keys().await {
            Ok(keys) => keys.count().await,
            Err(_) => 0,
        }
    }

    /// A fresh reveal by the operator answers the clear phone and is on the timeline.
    async fn assert_reveals(&self, case_id: CaseId, what: &str) {
        let before = self.events(case_id).await.len();
        let reply = self
            .act(
                case_id,
                &operator(),
                "reveal",
                &format!("reveal-after-{what}"),
                json!({"reason": "回访"}),
            )
            .await
            .unwrap_or_else(|p| panic!("{what}: reveal refused: {}", p.detail));
        let revealed = reply.revealed.expect("clear values");
        assert_eq!(revealed["reporter.phone"], PHONE, "{what}");
        let events = self.events(case_id).await;
        assert_eq!(events.len(), before + 1, "{what}: the reveal is recorded");
        let last = &events.last().unwrap().envelope;
        assert_eq!(last.event_type, "PersonalDataRevealed", "{what}");
        assert_eq!(last.actor, operator(), "{what}");
    }
}

fn assert_reused(result: Result<CommandReply, Problem>, first_action: &str, what: &str) {
    let p = result.expect_err(what);
    assert_eq!(
        (p.status, p.slug.as_str()),
        (422, "idempotency-key-reused"),
        "{what}: {}",
        p.detail
    );
    assert!(p.detail.contains(first_action), "{what}: {}", p.detail);
    assert!(p.detail.contains("version"), "{what}: {}", p.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_annotation_key_replayed_as_an_erase_erases_nothing() {
    let kit = kit().await;
    let case = kit.file("call-1").await;
    let noted = kit
        .act(
            case,
            &urban(),
            "annotate",
            "k1",
            json!({"text": "现场已查看"}),
        )
        .await
        .expect("a department may annotate");
    assert_eq!(noted.version, 2);
    let replay = kit
        .act(case, &urban(), "erase", "k1", json!({"reason": "依法删除"}))
        .await;
    assert_reused(replay, "annotate", "erase replaying k1");
    assert_eq!(kit.events(case).await.len(), 2, "nothing appended");
    assert!(kit.has_key(case).await, "the key is still there");
    kit.assert_reveals(case, "erase replay").await;

    // Nor may the department erase with a fresh key: the domain says who may.
    let direct = kit
        .act(case, &urban(), "erase", "k2", json!({"reason": "依法删除"}))
        .await
        .unwrap_err();
    assert_eq!(direct.status, 403, "{}", direct.detail);
    assert!(kit.has_key(case).await);

    // The same key of another principal is another command.
    let op = kit
        .act(
            case,
            &operator(),
            "annotate",
            "k1",
            json!({"text": "来电人再次来电"}),
        )
        .await
        .expect("the operator's k1 is its own");
    assert_eq!(op.version, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_request_again_answers_the_same_and_runs_nothing_twice() {
    let kit = kit().await;
    let case = kit.file("call-1").await;
    let first = kit
        .act(case, &operator(), "reveal", "r1", json!({"reason": "回访"}))
        .await
        .expect("reveal");
    // Members in another order and other whitespace: the same canonical body.
    let again = kit
        .act(
            case,
            &operator(),
            "reveal",
            "r1",
            serde_json::from_str(r#"{ "reason" : "回访" }"#).unwrap(),
        )
        .await
        .expect("replayed reveal");
    assert_eq!(first, again, "the same answer, clear values included");
    assert_eq!(kit.events(case).await.len(), 2, "one PersonalDataRevealed");
    // Another principal replaying the key gets its own command, never the answer.
    let other = kit
        .act(case, &urban(), "reveal", "r1", json!({"reason": "回访"}))
        .await
        .unwrap_err();
    assert_eq!(other.status, 403, "{}", other.detail);

    // An erase asked, approved, replayed: one event each; the key stays gone.
    kit.act(
        case,
        &operator(),
        "request_erasure",
        "e1",
        json!({"reason": "本人申请"}),
    )
    .await
    .expect("asked");
    let erased = kit
        .act(
            case,
            &supervisor(),
            "erase",
            "e2",
            json!({"reason": "本人申请"}),
        )
        .await
        .expect("erased");
    assert!(!kit.has_key(case).await);
    let replay = kit
        .act(
            case,
            &supervisor(),
            "erase",
            "e2",
            json!({"reason": "本人申请"}),
        )
        .await
        .expect("replayed erase");
    assert_eq!(replay.version, erased.version);
    let types: Vec<String> = kit
        .events(case)
        .await
        .into_iter()
        .map(|e| e.envelope.event_type)
        .collect();
    assert_eq!(
        types,
        [
            "CaseFiled",
            "PersonalDataRevealed",
            "ErasureRequested",
            "PersonalDataErased"
        ]
    );
    let stored = kit.events(case).await;
    let erase = &stored[3].envelope;
    assert_eq!(erase.command_id, "http:supervisor:sup.li:e2");
    assert_eq!(erase.request.as_ref().unwrap().action, "erase");
    assert_eq!(stored[3].raw["data"]["requested_by"], "op.zhang");
    casegrid_eventlog::envelope::verify_chain(case, &stored).expect("the chain verifies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_cannot_erase_without_a_supervisor() {
    let kit = kit().await;
    let case = kit.file("call-1").await;
    let p = kit
        .act(
            case,
            &operator(),
            "erase",
            "e1",
            json!({"reason": "本人申请"}),
        )
        .await
        .unwrap_err();
    assert_eq!(p.status, 403, "{}", p.detail);
    assert!(p.detail.contains("request_erasure"), "{}", p.detail);
    kit.act(
        case,
        &operator(),
        "request_erasure",
        "e2",
        json!({"reason": "本人申请"}),
    )
    .await
    .expect("asked");
    let p = kit
        .act(
            case,
            &operator(),
            "erase",
            "e3",
            json!({"reason": "本人申请"}),
        )
        .await
        .unwrap_err();
    assert_eq!(p.status, 403, "asking is not approving: {}", p.detail);
    assert!(kit.has_key(case).await);
    kit.assert_reveals(case, "an erasure only asked").await;
}

/// One action a principal may take on a freshly filed case, with two bodies.
struct Step {
    actor: fn() -> Actor,
    action: &'static str,
    body: Value,
    other_body: Value,
}

fn steps(merge_into: CaseId, other_into: CaseId) -> Vec<Step> {
    let s = |actor: fn() -> Actor, action, body, other_body| Step {
        actor,
        action,
        body,
        other_body,
    };
    vec![
        s(
            operator,
            "annotate",
            json!({"text": "a"}),
            json!({"text": "b"}),
        ),
        s(
            operator,
            "reveal",
            json!({"reason": "回访"}),
            json!({"reason": "核实"}),
        ),
        s(
            operator,
            "request_erasure",
            json!({"reason": "本人申请"}),
            json!({"reason": "依法"}),
        ),
        s(
            operator,
            "withdraw",
            json!({"reason": "撤回"}),
            json!({"reason": "已解决"}),
        ),
        s(
            operator,
            "reply_at_intake",
            json!({"text": "营业时间9点"}),
            json!({"text": "营业时间10点"}),
        ),
        s(
            operator,
            "decline",
            json!({"reason": "out_of_scope"}),
            json!({"reason": "in_litigation"}),
        ),
        s(
            operator,
            "merge",
            json!({"into": merge_into}),
            json!({"into": other_into}),
        ),
        s(
            supervisor,
            "annotate",
            json!({"text": "a"}),
            json!({"text": "b"}),
        ),
        s(
            supervisor,
            "reveal",
            json!({"reason": "督办"}),
            json!({"reason": "核实"}),
        ),
        s(
            supervisor,
            "merge",
            json!({"into": merge_into}),
            json!({"into": other_into}),
        ),
        s(
            supervisor,
            "erase",
            json!({"reason": "依法删除"}),
            json!({"reason": "本人申请"}),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pair_of_actions_under_one_key_is_refused_and_changes_nothing() {
    let kit = kit().await;
    let target = kit.file("merge-target").await;
    let other = kit.file("other-target").await;
    let all = steps(target, other);
    let mut pairs = 0;
    for (i, first) in all.iter().enumerate() {
        for (j, second) in all.iter().enumerate() {
            if (first.actor)() != (second.actor)() {
                continue;
            }
            let body = if i == j {
                &second.other_body
            } else {
                &second.body
            };
            let what = format!(
                "{} {} then {} with the same key{}",
                (first.actor)().id,
                first.action,
                second.action,
                if i == j { " and another body" } else { "" }
            );
            let case = kit.file(&format!("pair-{i}-{j}")).await;
            let actor = (first.actor)();
            kit.act(case, &actor, first.action, "k1", first.body.clone())
                .await
                .unwrap_or_else(|p| panic!("{what}: the first request: {}", p.detail));
            let before = kit.events(case).await.len();
            let had_key = kit.has_key(case).await;
            let replay = kit
                .act(case, &actor, second.action, "k1", body.clone())
                .await;
            assert_reused(replay, first.action, &what);
            assert_eq!(
                kit.events(case).await.len(),
                before,
                "{what}: nothing appended"
            );
            assert_eq!(
                kit.has_key(case).await,
                had_key,
                "{what}: the key is as it was"
            );
            if first.action != "erase" {
                kit.assert_reveals(case, &what).await;
            }
            pairs += 1;
        }
    }
    assert_eq!(pairs, 7 * 7 + 4 * 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_filing_answers_its_case_and_another_body_is_refused() {
    let kit = kit().await;
    let first = kit
        .file_as(&operator(), "call-9", complaint())
        .await
        .unwrap();
    let messages = kit.log.message_count().await.unwrap();
    let again = kit
        .file_as(&operator(), "call-9", complaint())
        .await
        .unwrap();
    assert_eq!(
        (again.id, again.created, again.version),
        (first.id, false, 1)
    );
    assert_eq!(again.number, first.number);
    assert_eq!(
        kit.log.message_count().await.unwrap(),
        messages,
        "no durable write"
    );
    let mut other = complaint();
    other["title"] = json!("另一件事");
    let p = kit.file_as(&operator(), "call-9", other).await.unwrap_err();
    assert_eq!(
        (p.status, p.slug.as_str()),
        (422, "idempotency-key-reused"),
        "{}",
        p.detail
    );
    assert!(p.detail.contains("file"), "{}", p.detail);
    assert_eq!(kit.log.message_count().await.unwrap(), messages);
    let stored = kit.events(first.id).await;
    assert_eq!(
        stored[0].envelope.command_id,
        "http:operator:op.zhang:call-9"
    );
    // Another principal's key of the same spelling files its own case.
    let grid = Actor::new(ActorKind::GridWorker, "grid.wang");
    let mut patrol = complaint();
    patrol["channel"] = json!("grid_patrol");
    let theirs = kit.file_as(&grid, "call-9", patrol).await.unwrap();
    assert!(theirs.created && theirs.id != first.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_filings_leave_no_data_key_behind() {
    let kit = kit().await;
    let mut refused = 0;
    for i in 0..1000 {
        let mut body = complaint();
        // Valid at the edge, refused by the domain: an empty title; or a principal
        // filing through a channel it may not use.
        let actor = if i % 2 == 0 {
            body["title"] = json!("   ");
            operator()
        } else {
            Actor::new(ActorKind::Mediator, "med.chen")
        };
        let p = kit
            .file_as(&actor, &format!("bad-{i}"), body)
            .await
            .unwrap_err();
        assert!(matches!(p.status, 403 | 422), "{}", p.detail);
        refused += 1;
    }
    // Refused at validation, too.
    for i in 0..50 {
        let mut body = complaint();
        body["category"] = json!("no_such_category");
        kit.file_as(&operator(), &format!("invalid-{i}"), body)
            .await
            .unwrap_err();
    }
    assert_eq!(refused, 1000);
    assert_eq!(kit.key_count().await, 0, "no orphan data key");
    assert_eq!(kit.log.message_count().await.unwrap(), 0);
    let case = kit.file("good").await;
    assert!(kit.has_key(case).await);
    assert_eq!(kit.key_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_goes_into_an_open_case_that_is_not_merged_itself() {
    let kit = kit().await;
    let (a, b, c) = (
        kit.file("a").await,
        kit.file("b").await,
        kit.file("c").await,
    );
    let missing = CaseId::for_filing("op.zhang", "never-filed");
    let merge = |into: CaseId| json!({ "into": into });
    let p = kit
        .act(a, &operator(), "merge", "m1", merge(missing))
        .await
        .unwrap_err();
    assert_eq!(p.status, 422, "{}", p.detail);
    assert!(p.detail.contains("into"), "{}", p.detail);
    kit.act(b, &operator(), "merge", "m2", merge(c))
        .await
        .expect("b into c");
    let p = kit
        .act(a, &operator(), "merge", "m3", merge(b))
        .await
        .unwrap_err();
    assert_eq!(p.status, 422, "{}", p.detail);
    assert!(p.detail.contains("itself merged"), "{}", p.detail);
    kit.act(c, &operator(), "withdraw", "w1", json!({"reason": "撤回"}))
        .await
        .expect("withdrawn");
    let p = kit
        .act(a, &operator(), "merge", "m4", merge(c))
        .await
        .unwrap_err();
    assert_eq!(p.status, 422, "{}", p.detail);
    assert!(p.detail.contains("withdrawn"), "{}", p.detail);
    assert_eq!(kit.events(a).await.len(), 1, "nothing appended to a");
}
