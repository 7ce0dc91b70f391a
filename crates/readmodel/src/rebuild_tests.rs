//! A rebuild from a real stream on both backends, in small batches (each prepared on
//! every core while the previous one is folded, case states kept between batches):
//! it equals applying the same messages in one batch, quarantines what it must without
//! stopping, and leaves every index of the schema in place. A fresh rebuild writes a
//! case's rows once it is final or at the end, reads back a case it dropped, and starts
//! again from nothing after stopping half-way.

use crate::rebuild::rebuild_in_batches;
use crate::schema::secondary_indexes;
use crate::tests::{fixture, lifecycle, operator, winding, Chain, Db};
use crate::{Backend, ReadModel};
use casegrid_eventlog::{EventLog, LogConfig, RawMessage};
use casegrid_testkit::TestNats;

/// Publishes `payload` on `subject` as is; answers the message as stored.
async fn publish(
    js: &async_nats::jetstream::Context,
    subject: String,
    payload: Vec<u8>,
) -> RawMessage {
    let seq = js
        .publish(subject.clone(), payload.clone().into())
        .await
        .expect("raw publish")
        .await
        .expect("raw publish acknowledged")
        .sequence;
    RawMessage {
        seq,
        subject,
        payload: payload.into(),
    }
}

/// The index names of the model's database.
async fn indexes(model: &ReadModel) -> Vec<String> {
    let sql = match model.backend() {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index'",
        Backend::Postgres => {
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(model.pool())
        .await
        .unwrap()
}

/// A fresh server with an empty event log: its log, a JetStream context to publish
/// with, and the subject prefix.
async fn empty_log() -> (TestNats, EventLog, async_nats::jetstream::Context, String) {
    let nats = TestNats::start();
    let client = nats.client().await;
    let log = EventLog::create(client.clone(), LogConfig::default())
        .await
        .expect("event log");
    let js = async_nats::jetstream::new(client);
    let prefix = log.config().subject_prefix.clone();
    (nats, log, js, prefix)
}

async fn a_rebuild_in_prepared_batches_equals_one_batch_and_keeps_every_index(db: Db) {
    let (_nats, log, js, prefix) = empty_log().await;
    let mut stored = Vec::new();
    for (i, event) in fixture().events.iter().enumerate() {
        let m = RawMessage::of(&prefix, event);
        stored.push(publish(&js, m.subject.clone(), m.payload.to_vec()).await);
        // Bad messages among the good ones: garbage on a case's subject, a version the
        // case already has, garbage on a knowledge-base subject.
        match i {
            2 => stored.push(publish(&js, m.subject, b"not json".to_vec()).await),
            5 => stored.push(publish(&js, m.subject, m.payload.to_vec()).await),
            8 => stored.push(publish(&js, format!("{prefix}.kb.not-an-id"), b"{}".to_vec()).await),
            _ => {}
        }
    }
    let last = stored.last().expect("messages").seq;

    let one_batch = db.model().await;
    assert_eq!(one_batch.apply_raw(&stored).await.unwrap(), last);
    let rebuilt = db.model().await;
    // Batches of 3: cases span batches, so their states come from the rebuild's cache.
    assert_eq!(
        rebuild_in_batches(&log, &rebuilt, 3, &|_, _| {})
            .await
            .unwrap(),
        last
    );
    assert_eq!(
        rebuilt.diff(&one_batch).await.unwrap(),
        Vec::<String>::new()
    );
    let quarantine = rebuilt.quarantine(10).await.unwrap();
    let reasons: Vec<(u64, &str)> = quarantine
        .items
        .iter()
        .map(|q| (q.seq, q.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (4, "unreadable"),
            (8, "duplicate_version"),
            (12, "unreadable")
        ]
    );
    let cases: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
        .fetch_one(rebuilt.pool())
        .await
        .unwrap();
    assert_eq!(cases, 5, "every case of the fixture");

    // The secondary indexes, dropped for the fresh rebuild, are all back.
    let present = indexes(&rebuilt).await;
    let expected: Vec<&str> = secondary_indexes()
        .map(|(name, _)| name)
        .chain(["inbox_case"])
        .collect();
    assert!(expected.len() > 10, "{expected:?}");
    for name in expected {
        assert!(present.iter().any(|p| p == name), "{name} in {present:?}");
    }
}

/// A winding case (return, re-dispatch, whistle, suspension, escalation by its lead,
/// reopen, mediation) beside a case noted after it was closed, rebuilt fresh in batches
/// of 2 (rows kept until final; the closed case dropped, then read back), then again
/// over what a rebuild that stopped half-way leaves (rows, checkpoint 0).
async fn a_fresh_rebuild_equals_one_batch_and_starts_again_after_stopping(db: Db) {
    let (_nats, log, js, prefix) = empty_log().await;
    let winding = winding(&mut Chain::new("winding"));
    let mut closed = Chain::new("closed");
    let mut noted = lifecycle(&mut closed);
    noted.push(closed.event(
        7,
        "NoteAdded",
        serde_json::json!({"text": "结案后补记"}),
        operator(),
    ));
    let mut stored = Vec::new();
    for i in 0..winding.len().max(noted.len()) {
        for event in [winding.get(i), noted.get(i)].into_iter().flatten() {
            let m = RawMessage::of(&prefix, event);
            stored.push(publish(&js, m.subject, m.payload.to_vec()).await);
        }
    }
    let last = stored.last().expect("messages").seq;
    let one_batch = db.model().await;
    assert_eq!(one_batch.apply_raw(&stored).await.unwrap(), last);

    let rebuilt = db.model().await;
    let quiet = |_: u64, _: u64| {};
    let rebuild = || rebuild_in_batches(&log, &rebuilt, 2, &quiet);
    assert_eq!(rebuild().await.unwrap(), last);
    assert_eq!(
        rebuilt.diff(&one_batch).await.unwrap(),
        Vec::<String>::new()
    );

    // Stopped half-way: some rows written, the checkpoint still 0.
    for sql in [
        "UPDATE checkpoint SET seq = 0 WHERE id = 1",
        "DELETE FROM timeline WHERE version > 3",
        "UPDATE cases SET status = 'received'",
    ] {
        sqlx::query(sql).execute(rebuilt.pool()).await.unwrap();
    }
    assert_eq!(rebuild().await.unwrap(), last);
    assert_eq!(
        rebuilt.diff(&one_batch).await.unwrap(),
        Vec::<String>::new()
    );
}

mod sqlite {
    #[tokio::test]
    async fn a_fresh_rebuild_equals_one_batch_and_starts_again_after_stopping() {
        super::a_fresh_rebuild_equals_one_batch_and_starts_again_after_stopping(
            crate::tests::Db::Sqlite,
        )
        .await
    }

    #[tokio::test]
    async fn a_rebuild_in_prepared_batches_equals_one_batch_and_keeps_every_index() {
        super::a_rebuild_in_prepared_batches_equals_one_batch_and_keeps_every_index(
            crate::tests::Db::Sqlite,
        )
        .await
    }
}

mod postgres {
    #[tokio::test]
    async fn a_fresh_rebuild_equals_one_batch_and_starts_again_after_stopping() {
        super::a_fresh_rebuild_equals_one_batch_and_starts_again_after_stopping(
            crate::tests::Db::Postgres,
        )
        .await
    }

    #[tokio::test]
    async fn a_rebuild_in_prepared_batches_equals_one_batch_and_keeps_every_index() {
        super::a_rebuild_in_prepared_batches_equals_one_batch_and_keeps_every_index(
            crate::tests::Db::Postgres,
        )
        .await
    }
}
