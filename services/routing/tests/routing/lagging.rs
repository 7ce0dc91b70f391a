//! A direct get may be answered by a replica behind the leader: routing, which loads a
//! case it has never seen when its filing arrives, must dispatch it all the same (the
//! soak's "routing had not dispatched every filed case").

use crate::harness::{demo_config, Harness};
use casegrid_testkit::lagging_mirror;
use time::macros::datetime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filing_is_dispatched_though_a_replica_lags() {
    let mut h = Harness::without_routing(datetime!(2026-11-24 10:00 +08:00), demo_config()).await;
    let decoy = casegrid_domain::CaseId::for_filing("grid.wang", "decoy");
    h.file_leak("decoy").await;
    lagging_mirror(&h.client, "CASEGRID_EVENTS", &h.log.subject(decoy)).await;
    let mut cases = Vec::new();
    for n in 0..64 {
        cases.push(h.file_leak(&format!("leak-{n}")).await);
    }
    // The lag is real: some direct gets of a filed case now answer an empty history.
    let empty = futures_util::future::join_all((0..40).map(|_| h.log.load_case_raw(cases[0], 0)))
        .await
        .into_iter()
        .filter(|m| m.as_ref().is_ok_and(Vec::is_empty))
        .count();
    assert!(empty > 0, "no direct get was served by the lagging mirror");
    h.start_routing();
    h.caught_up().await;
    for case in cases {
        let dispatched = h
            .log
            .load_case_confirmed(case, 0)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.envelope.event_type == "CaseDispatched")
            .count();
        assert_eq!(dispatched, 1, "case {case} dispatched {dispatched} times");
    }
}
