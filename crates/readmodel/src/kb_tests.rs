//! The knowledge base's read model on both backends: created, edited (both versions
//! in its history), cited by an answer at intake, found in Chinese, flagged once
//! expired, and a malformed message on a KB subject quarantined without stopping.

use crate::tests::{operator, Chain, Db};
use casegrid_contracts::kb::{KbExpiredQuery, KbSearchQuery};
use casegrid_domain::kb::KbEntryId;
use casegrid_domain::{Actor, ActorKind, CaseId};
use casegrid_eventlog::envelope::GENESIS_HASH;
use casegrid_eventlog::{Envelope, RawMessage};
use serde_json::{json, Value};
use time::macros::datetime;

const PREFIX: &str = "casegrid.events";

fn supervisor() -> Actor {
    Actor::new(ActorKind::Supervisor, "sup.li")
}

fn written(question: &str, answer: &str, until: &str) -> Value {
    json!({"question": question, "answer": answer, "category": "social_insurance",
        "valid_from": "2026-01-01T00:00:00Z", "valid_until": until, "owner": "dept.hrss"})
}

/// Seals an entry's events as the log stores them.
struct Entry {
    id: KbEntryId,
    version: u64,
    prev: String,
}

impl Entry {
    fn new(key: &str) -> Self {
        Self {
            id: KbEntryId::for_creation("sup.li", key),
            version: 0,
            prev: GENESIS_HASH.to_owned(),
        }
    }

    fn event(&mut self, seq: u64, event_type: &str, data: Value) -> RawMessage {
        self.version += 1;
        let e = Envelope::seal(
            CaseId::from_uuid(self.id.as_uuid()),
            self.version,
            &self.prev,
            event_type,
            1,
            data,
            supervisor(),
            format!("kb-{}", self.version),
            "corr".into(),
            None,
            datetime!(2026-11-20 02:00 UTC) + time::Duration::hours(self.version as i64),
        )
        .unwrap();
        self.prev = e.hash.clone();
        RawMessage {
            seq,
            subject: format!("{PREFIX}.kb.{}", self.id),
            payload: e.to_payload().into(),
        }
    }
}

fn raw(e: &casegrid_eventlog::StoredEvent) -> RawMessage {
    RawMessage::of(PREFIX, e)
}

async fn an_entry_is_created_edited_cited_found_and_flagged_when_expired(db: Db) {
    let model = db.model().await;
    let mut entry = Entry::new("transfer");
    let mut other = Entry::new("card");
    let mut case = Chain::new("call-1");
    let filed = json!({"channel": "hotline", "kind": "inquiry", "category": "social_insurance",
        "urgency": "normal", "title": "咨询社保转移", "description": "",
        "location": {"grid": "NH.HB.BJ.03"}});
    let messages = vec![
        entry.event(
            1,
            "KbEntryCreated",
            written(
                "社保关系如何转移？",
                "携带身份证到社保窗口办理。",
                "2026-12-31T16:00:00Z",
            ),
        ),
        other.event(
            2,
            "KbEntryCreated",
            written(
                "社保卡丢了怎么办？",
                "拨打12333挂失后补办。",
                "2027-12-31T16:00:00Z",
            ),
        ),
        // Malformed on a KB subject: quarantined, and the batch goes on.
        RawMessage {
            seq: 3,
            subject: format!("{PREFIX}.kb.{}", entry.id),
            payload: b"not json".to_vec().into(),
        },
        RawMessage {
            seq: 4,
            subject: format!("{PREFIX}.kb.not-an-id"),
            payload: b"{}".to_vec().into(),
        },
        entry.event(
            5,
            "KbEntryEdited",
            written(
                "社保关系如何转移？",
                "可在“浙里办”网上申请转移，无需跑窗口。",
                "2026-12-31T16:00:00Z",
            ),
        ),
        raw(&case.event(6, "CaseFiled", filed, operator())),
        raw(&case.event(
            7,
            "RepliedAtIntake",
            json!({"text": "可在“浙里办”网上申请转移", "kb_entry": entry.id.to_string()}),
            operator(),
        )),
    ];
    assert_eq!(model.apply_raw(&messages).await.unwrap(), 7);
    // Applying again changes nothing (the checkpoint).
    assert_eq!(model.apply_raw(&messages).await.unwrap(), 7);

    let view = model.kb_entry(entry.id).await.unwrap().expect("the entry");
    assert_eq!(view.version, 2);
    assert_eq!(view.answer, "可在“浙里办”网上申请转移，无需跑窗口。");
    assert_eq!(view.created_at, "2026-11-20T03:00:00Z");
    assert_eq!(view.answers_at_intake, 1, "cited by the answer at intake");

    let history = model.kb_history(entry.id).await.unwrap().expect("history");
    let types: Vec<&str> = history
        .versions
        .iter()
        .map(|v| v.event_type.as_str())
        .collect();
    assert_eq!(types, ["KbEntryCreated", "KbEntryEdited"]);
    assert_eq!(
        history.versions[0].data["answer"],
        "携带身份证到社保窗口办理。"
    );
    assert_eq!(history.versions[1].prev_hash, history.versions[0].hash);

    let search = |q: &str| {
        let model = &model;
        let q = KbSearchQuery {
            q: Some(q.into()),
            ..KbSearchQuery::default()
        };
        async move { model.kb_search(&q).await.unwrap() }
    };
    let found = search("社保转移").await;
    assert_eq!(
        found.items.first().map(|h| h.entry.id),
        Some(entry.id),
        "{found:?}"
    );
    assert!(
        found.items.iter().all(|h| h.entry.id != other.id)
            || found.items[0].score > found.items[1].score
    );
    let found = search("社保卡挂失").await;
    assert_eq!(
        found.items.first().map(|h| h.entry.id),
        Some(other.id),
        "{found:?}"
    );
    assert!(search("夜间施工噪音").await.items.is_empty());
    let none = model
        .kb_search(&KbSearchQuery {
            category: Some("noise".into()),
            ..KbSearchQuery::default()
        })
        .await
        .unwrap();
    assert!(none.items.is_empty());
    let valid = model
        .kb_search(&KbSearchQuery {
            q: Some("社保".into()),
            valid_at: Some("2027-03-01T00:00:00Z".into()),
            ..KbSearchQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<KbEntryId> = valid.items.iter().map(|h| h.entry.id).collect();
    assert_eq!(
        ids,
        [other.id],
        "the transfer entry is no longer valid then"
    );

    let expired = |now: &str, owner: Option<&str>| {
        let model = &model;
        let q = KbExpiredQuery {
            owner: owner.map(Into::into),
            now: now.into(),
        };
        async move {
            model
                .kb_expired(&q)
                .await
                .unwrap()
                .items
                .iter()
                .map(|h| h.entry.id)
                .collect::<Vec<_>>()
        }
    };
    assert!(expired("2026-12-31T15:59:59Z", None).await.is_empty());
    assert_eq!(
        expired("2026-12-31T16:00:00Z", Some("dept.hrss")).await,
        [entry.id]
    );
    assert!(expired("2026-12-31T16:00:00Z", Some("dept.civil"))
        .await
        .is_empty());
    assert_eq!(
        expired("2028-01-01T00:00:00Z", None).await,
        [entry.id, other.id]
    );
    let bad = model
        .kb_expired(&KbExpiredQuery {
            owner: None,
            now: "soon".into(),
        })
        .await;
    assert!(bad.unwrap_err().to_string().contains("now"));

    let quarantine = model.quarantine(10).await.unwrap();
    let seqs: Vec<u64> = quarantine.items.iter().map(|q| q.seq).collect();
    assert_eq!(seqs, [3, 4], "{quarantine:?}");
    // A rebuild-style comparison: the entry tables are part of the diff.
    let again = db.model().await;
    again.apply_raw(&messages).await.unwrap();
    assert_eq!(model.diff(&again).await.unwrap(), Vec::<String>::new());
}

mod sqlite {
    #[tokio::test]
    async fn an_entry_is_created_edited_cited_found_and_flagged_when_expired() {
        super::an_entry_is_created_edited_cited_found_and_flagged_when_expired(super::Db::Sqlite)
            .await
    }
}

mod postgres {
    #[tokio::test]
    async fn an_entry_is_created_edited_cited_found_and_flagged_when_expired() {
        super::an_entry_is_created_edited_cited_found_and_flagged_when_expired(super::Db::Postgres)
            .await
    }
}
