//! A direct get may be answered by a replica behind the leader (in a cluster, every
//! replica answers `$JS.API.DIRECT.GET.<stream>`): the store must not answer "not found"
//! or refuse a command on the history such a replica gives.
//!
//! The lagging replica is made on one server ([`casegrid_testkit::lagging_mirror`]): a
//! mirror that holds only a decoy case answers about every second direct get.

use super::{file_case, meta, operator};
use casegrid_domain::command::Annotate;
use casegrid_domain::{CaseId, Command};
use casegrid_eventlog::{CaseStore, EventLog, LogConfig};
use casegrid_testkit::{eventually, lagging_mirror, TestNats};
use std::time::Duration;
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_filed_is_found_by_a_fresh_store_though_a_replica_lags() {
    let nats = TestNats::start();
    let admin = nats.client().await;
    let log = EventLog::create(admin.clone(), LogConfig::default())
        .await
        .unwrap();
    let decoy = CaseId::for_filing("op.zhang", "decoy");
    let writer = CaseStore::new(log.clone(), Default::default(), 100);
    writer
        .execute(
            decoy,
            &operator(),
            &file_case(),
            &meta("decoy"),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("decoy filed");
    lagging_mirror(&admin, "CASEGRID_EVENTS", &log.subject(decoy)).await;
    let case_id = CaseId::for_filing("op.zhang", "lagging");
    writer
        .execute(
            case_id,
            &operator(),
            &file_case(),
            &meta("file"),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("filed");
    // The lag is real: some direct gets now answer an empty history.
    eventually(
        Duration::from_secs(10),
        "a direct get served by the mirror",
        || {
            let log = log.clone();
            async move {
                log.load_case_raw(case_id, 0)
                    .await
                    .is_ok_and(|m| m.is_empty())
                    .then_some(())
            }
        },
    )
    .await;

    // Each time a store that just started (an empty cache) acts on the case.
    for n in 0..24 {
        let fresh = CaseStore::new(log.clone(), Default::default(), 100);
        let outcome = fresh
            .execute(
                case_id,
                &operator(),
                &Command::Annotate(Annotate {
                    personal: Vec::new(),
                    text: format!("note {n}"),
                }),
                &meta(&format!("note-{n}")),
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap_or_else(|e| panic!("note {n} on an acknowledged case: {e}"));
        assert_eq!(outcome.version, n + 2);
        assert!(!outcome.already_done);
    }
    // And a leader-confirmed load sees the whole history whoever serves the direct get.
    for _ in 0..24 {
        let messages = log.load_case_raw_confirmed(case_id, 0).await.unwrap();
        assert_eq!(messages.len(), 25);
    }
}
