//! Escalation climbs the configured ladder (`escalation.toml`), one level per missed
//! deadline, and `CaseEscalated` names the configured level; a reloaded ladder is the
//! one the next escalation climbs.

use crate::harness::{demo_config, Harness};
use casegrid_domain::event::EscalationLevel;
use casegrid_domain::{CaseId, Event};
use casegrid_testkit::eventually;
use std::time::Duration;
use time::macros::datetime;

const LADDER: &str = r#"
[[level]]
id = "grid"
name = "网格吹哨"
notify = ["grid_worker"]
respond = "1d"

[[level]]
id = "hub"
name = "区指挥中心"
notify = ["supervisor"]
respond = "1d"

[[level]]
id = "mayor"
name = "区长督办"
notify = ["district_leader"]
"#;

async fn levels(h: &Harness, case: CaseId) -> Vec<(Option<String>, Option<u32>, EscalationLevel)> {
    h.events(case)
        .await
        .into_iter()
        .filter_map(|e| match e {
            Event::CaseEscalated(x) => Some((x.level_id, x.rank, x.level)),
            _ => None,
        })
        .collect()
}

async fn wait_levels(
    h: &Harness,
    case: CaseId,
    n: usize,
) -> Vec<(Option<String>, Option<u32>, EscalationLevel)> {
    eventually(Duration::from_secs(20), "escalations", || async {
        let l = levels(h, case).await;
        (l.len() >= n).then_some(l)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_follows_the_configured_ladder_and_a_reloaded_one() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(demo_config()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let h = Harness::start(datetime!(2026-11-24 10:00 +08:00), dir.path().to_owned()).await;
    let first = h.file_leak("first").await;
    h.caught_up().await;
    h.clock.set(datetime!(2026-11-24 11:30 +08:00));
    // A case starts at the demo ladder's first level, 村居主战: a miss moves it to the
    // second, 镇街会战 ("street").
    assert_eq!(
        wait_levels(&h, first, 1).await,
        [(Some("street".into()), Some(2), EscalationLevel::Street)]
    );

    std::fs::write(dir.path().join("escalation.toml"), LADDER).unwrap();
    let reply = h
        .client
        .request("casegrid.routing.reload", "{}".into())
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(answer["ok"].is_string(), "{answer}");

    let second = h.file_leak("second").await;
    h.caught_up().await;
    // Thursday 10:30: the first case's handling deadline (Thursday 10:00) and the
    // second's sign deadline have passed.
    h.clock.set(datetime!(2026-11-26 10:30 +08:00));
    assert_eq!(
        wait_levels(&h, second, 1).await,
        [(Some("hub".into()), Some(2), EscalationLevel::Street)]
    );
    assert_eq!(
        wait_levels(&h, first, 2).await,
        [
            (Some("street".into()), Some(2), EscalationLevel::Street),
            (Some("mayor".into()), Some(3), EscalationLevel::Department),
        ]
    );
    let case = h.case(first).await;
    assert_eq!(
        (case.level_id.as_deref(), case.level_rank),
        (Some("mayor"), 3)
    );
}
