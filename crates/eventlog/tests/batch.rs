//! Group commit against a real nats-server 2.15.1: appends gathered into JetStream
//! atomic batches, each keeping its own expectation and message id.

use casegrid_domain::command::Annotate;
use casegrid_domain::{Actor, ActorKind, CaseId, Command};
use casegrid_eventlog::audit::verify_log;
use casegrid_eventlog::envelope::GENESIS_HASH;
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{
    BatchConfig, CaseStore, CommandMeta, Envelope, EventLog, LogConfig, LogError,
};
use casegrid_testkit::TestNats;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op.zhang")
}

fn meta(id: &str) -> CommandMeta {
    CommandMeta {
        command_id: id.to_owned(),
        correlation_id: id.to_owned(),
        causation_id: None,
        request: None,
    }
}

/// A wide window, so concurrent appends surely share batches (no timing is asserted).
fn wide() -> LogConfig {
    LogConfig {
        batch: BatchConfig {
            window: Duration::from_millis(20),
            max: 1_000,
            in_flight: 4,
        },
        ..LogConfig::default()
    }
}

fn envelope(case: CaseId, version: u64, prev: &str, command: &str) -> Envelope {
    Envelope::seal(
        case,
        version,
        prev,
        "NoteAdded",
        1,
        serde_json::json!({"text": command}),
        operator(),
        command.to_owned(),
        command.to_owned(),
        None,
        OffsetDateTime::now_utc(),
    )
    .expect("seal")
}

fn counter(log: &EventLog, name: &str) -> u64 {
    log.batch_counters()[name].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_fails_only_the_offender_and_keeps_every_sequence() {
    let nats = TestNats::start();
    let log = EventLog::create(nats.client().await, wide()).await.unwrap();
    let cases: Vec<CaseId> = (0..64)
        .map(|i| CaseId::for_filing("batch", &i.to_string()))
        .collect();

    // 64 new cases (expected 0, equal-length subjects) in atomic batches.
    let firsts: Vec<Envelope> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| envelope(*c, 1, GENESIS_HASH, &format!("a{i}")))
        .collect();
    let appends = firsts.iter().map(|e| log.append(e, 0));
    let seqs: Vec<u64> = futures_util::future::join_all(appends)
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every first append is stored");
    assert!(counter(&log, "batches") >= 1, "{}", log.batch_counters());
    assert_eq!(counter(&log, "refused"), 0, "{}", log.batch_counters());
    let distinct: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(distinct.len(), 64);
    for (case, (seq, e)) in cases.iter().zip(seqs.iter().zip(&firsts)) {
        let stored = log.load_case(*case, 0).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].seq, *seq, "each append learns its own sequence");
        assert_eq!(stored[0].envelope.hash, e.hash);
    }

    // Second round: one stale expectation, one retry of a stored command; the rest good.
    let seconds: Vec<(Envelope, u64)> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| match i {
            7 => (envelope(*c, 2, &firsts[i].hash, "b7"), seqs[i] - 1),
            9 => (firsts[i].clone(), seqs[i]),
            _ => (envelope(*c, 2, &firsts[i].hash, &format!("b{i}")), seqs[i]),
        })
        .collect();
    let before_single = counter(&log, "single");
    let answers =
        futures_util::future::join_all(seconds.iter().map(|(e, exp)| log.append(e, *exp))).await;
    for (i, answer) in answers.iter().enumerate() {
        match (i, answer) {
            (7, Err(LogError::Conflict { expected, .. })) => assert_eq!(*expected, seqs[7] - 1),
            (9, Err(LogError::Duplicate { seq, .. })) => assert_eq!(*seq, seqs[9]),
            (7 | 9, other) => panic!("case {i}: {other:?}"),
            (_, Ok(seq)) => {
                let stored = log.load_case(cases[i], 0).await.unwrap();
                assert_eq!(stored.len(), 2);
                assert_eq!(stored[1].seq, *seq);
                assert_eq!(stored[1].envelope.version, 2);
            }
            (_, Err(e)) => panic!("case {i} should be stored: {e}"),
        }
    }
    assert!(counter(&log, "refused") >= 1, "{}", log.batch_counters());
    assert!(counter(&log, "single") > before_single);
    assert_eq!(log.message_count().await.unwrap(), 64 + 62);
    assert_eq!(log.load_case(cases[7], 0).await.unwrap().len(), 1);
    assert_eq!(log.load_case(cases[9], 0).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_on_one_case_and_on_distinct_cases_lose_and_double_nothing() {
    let nats = TestNats::start();
    let log = EventLog::create(nats.client().await, wide()).await.unwrap();
    let store = CaseStore::new(log.clone(), Numbering::default(), 1_000);
    let hot = CaseId::for_filing("op.zhang", "hot");
    let distinct: Vec<CaseId> = (0..32)
        .map(|i| CaseId::for_filing("op.zhang", &format!("d{i}")))
        .collect();
    let note = |text: String| {
        Command::Annotate(Annotate {
            text,
            personal: Vec::new(),
        })
    };
    // Every case exists first (notes need a case): file them through the store.
    let file = |id: CaseId, key: String| {
        let store = store.clone();
        async move {
            store
                .execute(
                    id,
                    &operator(),
                    &Command::FileCase(casegrid_domain::command::FileCase {
                        channel: casegrid_domain::event::Channel::Hotline,
                        kind: casegrid_domain::event::CaseKind::Complaint,
                        category: casegrid_domain::Category::parse("noise").unwrap(),
                        urgency: casegrid_domain::event::Urgency::Normal,
                        title: "噪音".into(),
                        description: String::new(),
                        location: casegrid_domain::event::Location {
                            address: None,
                            grid: Some(casegrid_domain::GridCode::parse("NH.HB.BJ.03").unwrap()),
                            ..Default::default()
                        },
                        reporter: Some(casegrid_domain::personal::Reporter {
                            name: Some(casegrid_domain::personal::Sealed {
                                masked: "王**".into(),
                                sealed: "opaque".into(),
                            }),
                            ..Default::default()
                        }),
                        source: Default::default(),
                        grid_found: None,
                        personal: Vec::new(),
                    }),
                    &meta(&key),
                    OffsetDateTime::now_utc(),
                )
                .await
                .expect("file")
        }
    };
    let mut filings = vec![tokio::spawn(file(hot, "hot".into()))];
    for (i, id) in distinct.iter().enumerate() {
        filings.push(tokio::spawn(file(*id, format!("d{i}"))));
    }
    for f in filings {
        f.await.unwrap();
    }

    // 32 writers on the hot case and one on each distinct case, at once; each hot
    // writer also retries its command once (idempotent: nothing doubled).
    let mut tasks = Vec::new();
    for (i, d) in distinct.iter().enumerate() {
        for (case, key) in [(hot, format!("hot-{i}")), (*d, format!("d{i}-n"))] {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut versions = Vec::new();
                for _ in 0..2 {
                    let out = store
                        .execute(
                            case,
                            &operator(),
                            &note(key.clone()),
                            &meta(&key),
                            OffsetDateTime::now_utc(),
                        )
                        .await
                        .expect("every writer gets through");
                    versions.push((out.version, out.already_done));
                }
                assert_eq!(versions[0].0, versions[1].0);
                assert!(versions[1].1, "the retry answers what was done");
                (case, versions[0].0)
            }));
        }
    }
    let mut hot_versions = HashSet::new();
    for t in tasks {
        let (case, version) = t.await.unwrap();
        if case == hot {
            assert!(hot_versions.insert(version), "two writers got one version");
        } else {
            assert_eq!(version, 2);
        }
    }
    assert_eq!(hot_versions.len(), 32);
    let hot_events = log.load_case(hot, 0).await.unwrap();
    assert_eq!(hot_events.len(), 33, "filing and 32 notes, none doubled");
    let report = verify_log(&log).await.unwrap();
    assert_eq!(report.first_break, None);
    assert_eq!(report.events, 33 + 32 * 2);
    assert!(counter(&log, "batches") >= 1, "{}", log.batch_counters());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_allow_atomic_every_append_is_its_own_request() {
    let nats = TestNats::start();
    let client = nats.client().await;
    let js = async_nats::jetstream::new(client.clone());
    let config = async_nats::jetstream::stream::Config {
        name: "CASEGRID_EVENTS".into(),
        subjects: vec!["casegrid.events.>".into()],
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        ..Default::default()
    };
    js.create_stream(config.clone()).await.unwrap();
    let log = EventLog::open(client.clone(), wide()).await.unwrap();
    let cases: Vec<CaseId> = (0..8)
        .map(|i| CaseId::for_filing("old", &i.to_string()))
        .collect();
    let envs: Vec<Envelope> = cases
        .iter()
        .map(|c| envelope(*c, 1, GENESIS_HASH, &c.to_string()))
        .collect();
    for r in futures_util::future::join_all(envs.iter().map(|e| log.append(e, 0))).await {
        r.expect("stored");
    }
    assert_eq!(counter(&log, "batches"), 0);
    assert_eq!(counter(&log, "batched"), 0);

    // `casegrid init` (EventLog::create as the admin) allows atomic batches on it.
    let log = EventLog::create(client, wide()).await.unwrap();
    let info = log.stream().cached_info().config.clone();
    assert!(info.allow_atomic_publish, "create turns allow_atomic on");
}

// ---- killed in the middle of batches ----

const CHILD_ENV: &str = "CASEGRID_BATCH_CHILD";

/// Run only as the child of the test below: appends as fast as it can, writing
/// `sent <command>` before and `ack <command> <seq>` after each acknowledged append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of killed_in_the_middle_of_batches"]
async fn child_appends_until_killed() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, file) = spec.split_once(' ').expect("url and file");
    let client = async_nats::connect(url).await.unwrap();
    let log = EventLog::open(client, LogConfig::default()).await.unwrap();
    let out = Arc::new(std::sync::Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .unwrap(),
    ));
    let mut tasks = Vec::new();
    for w in 0..64 {
        let log = log.clone();
        let out = out.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0.. {
                let command = format!("w{w}-{n}");
                let case = CaseId::for_filing("kill", &command);
                let e = envelope(case, 1, GENESIS_HASH, &command);
                writeln!(out.lock().unwrap(), "sent {command}").unwrap();
                let seq = log.append(&e, 0).await.expect("append");
                let batches = log.batch_counters()["batches"].as_u64().unwrap();
                writeln!(
                    out.lock().unwrap(),
                    "ack {command} {seq}\nbatches {batches}"
                )
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_in_the_middle_of_batches_every_acknowledged_event_is_stored_once() {
    let nats = TestNats::start();
    let log = EventLog::create(nats.client().await, LogConfig::default())
        .await
        .unwrap();
    let dir = tempfile_dir();
    let file = dir.join("acks.txt");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_appends_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, format!("{} {}", nats.url(), file.display()))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (on the log, not the clock) until many batches went through, then SIGKILL.
    let acked = |text: &str| text.lines().filter(|l| l.starts_with("ack ")).count();
    loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if acked(&text) >= 2_000 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the child ended early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let text = std::fs::read_to_string(&file).unwrap();
    let mut sent = HashSet::new();
    let mut acks: HashMap<String, u64> = HashMap::new();
    let mut batches = 0u64;
    for line in text.lines() {
        let mut parts = line.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("sent"), Some(c), None) => {
                sent.insert(c.to_owned());
            }
            (Some("ack"), Some(c), Some(seq)) => {
                acks.insert(c.to_owned(), seq.parse().unwrap());
            }
            (Some("batches"), Some(n), None) => {
                batches = batches.max(n.parse().unwrap_or(0));
            }
            // The kill may cut the last line short.
            _ => {}
        }
    }
    // Everything stored, read back in order.
    let last = log.last_sequence().await.unwrap();
    let mut stored: HashMap<String, u64> = HashMap::new();
    let mut messages = std::pin::pin!(log.read_from(1).await.unwrap());
    use futures_util::StreamExt;
    while let Some(m) = messages.next().await {
        let m = m.unwrap();
        let again = stored.insert(m.envelope.command_id.clone(), m.seq);
        assert!(again.is_none(), "{} stored twice", m.envelope.command_id);
        if m.seq == last {
            break;
        }
    }
    for (command, seq) in &acks {
        assert_eq!(
            stored.get(command),
            Some(seq),
            "acknowledged {command} is stored at its sequence"
        );
    }
    for command in stored.keys() {
        assert!(sent.contains(command), "{command} was never sent");
    }
    assert!(acks.len() >= 2_000);
    assert!(batches > 0, "the child appended in atomic batches");
    assert_eq!(verify_log(&log).await.unwrap().first_break, None);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("casegrid-batch-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- the data keys of filings, gathered the same way ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_of_concurrent_filings_share_atomic_batches_and_a_retry_finds_the_first_key() {
    use casegrid_privacy::KeyVault;
    let nats = TestNats::start();
    let client = nats.client().await;
    let vault = KeyVault::create(client.clone(), 1)
        .await
        .unwrap()
        .with_group_commit(client.clone(), wide().batch);
    let cases: Vec<CaseId> = (0..200)
        .map(|i| CaseId::for_filing("keys", &format!("c{i}")))
        .collect();
    let first =
        futures_util::future::join_all(cases.iter().map(|c| vault.key_for_filing(*c))).await;
    let sealed: Vec<_> = first
        .into_iter()
        .map(|k| {
            k.unwrap()
                .seal("phone", "13800000000", "138****0000".into())
        })
        .collect();
    let (batches, batched) = vault.batch_counters();
    assert!(batches > 0, "new keys went in atomic batches");
    assert!(batched > batches, "a batch holds several keys");
    // Retried filings (mixed with new ones, so batches hold existing keys and are
    // refused) answer the key they got the first time; the new ones get theirs.
    let fresh: Vec<CaseId> = (0..50)
        .map(|i| CaseId::for_filing("keys", &format!("new{i}")))
        .collect();
    let again = futures_util::future::join_all(
        cases.iter().chain(&fresh).map(|c| vault.key_for_filing(*c)),
    )
    .await;
    for (i, key) in again.into_iter().enumerate() {
        let key = key.unwrap();
        if let Some(sealed) = sealed.get(i) {
            assert_eq!(
                key.open("phone", sealed).unwrap(),
                "13800000000",
                "case {i}"
            );
        }
    }
    // What the vault stores is what each filing was answered.
    for (case, sealed) in cases.iter().zip(&sealed) {
        let stored = vault.key(*case).await.unwrap();
        assert_eq!(stored.open("phone", sealed).unwrap(), "13800000000");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_many_new_cases_go_in_atomic_batches_and_an_existing_key_is_kept() {
    use casegrid_privacy::KeyVault;
    let nats = TestNats::start();
    let client = nats.client().await;
    let vault = KeyVault::create(client.clone(), 1).await.unwrap();
    // Some keys exist already (an interrupted import created them): their batch is
    // refused and done key by key, which answers the stored key.
    let old: Vec<CaseId> = (0..5)
        .map(|i| CaseId::for_filing("bulk", &format!("old{i}")))
        .collect();
    let mut sealed = Vec::new();
    for c in &old {
        let key = vault.key_for_filing(*c).await.unwrap();
        sealed.push(key.seal("phone", "13800000000", "138****0000".into()));
    }
    let ids: Vec<CaseId> = (0..2_500)
        .map(|i| CaseId::for_filing("bulk", &format!("c{i}")))
        .chain(old.iter().copied())
        .collect();
    let keys = vault.keys_for_filings(&client, &ids).await.unwrap();
    assert_eq!(keys.len(), ids.len());
    for (i, (id, key)) in ids.iter().zip(&keys).enumerate() {
        // Answered in order, each the key the vault stores.
        let probe = key.seal("phone", "13800000001", "138****0001".into());
        let stored = vault.key(*id).await.unwrap();
        assert_eq!(stored.open("phone", &probe).unwrap(), "13800000001", "{i}");
    }
    for (key, s) in keys[2_500..].iter().zip(&sealed) {
        assert_eq!(key.open("phone", s).unwrap(), "13800000000");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cases_present_are_the_subjects_of_the_stream() {
    let nats = TestNats::start();
    let log = EventLog::create(nats.client().await, LogConfig::default())
        .await
        .unwrap();
    assert!(log.cases_present().await.unwrap().is_empty());
    let ids: Vec<CaseId> = (0..3)
        .map(|i| CaseId::for_filing("op.zhang", &format!("p{i}")))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let first = envelope(*id, 1, GENESIS_HASH, &format!("p{i}"));
        let second = envelope(*id, 2, &first.hash, &format!("q{i}"));
        log.append_new_cases(&[vec![first, second]]).await.unwrap();
    }
    let present = log.cases_present().await.unwrap();
    assert_eq!(present, ids.iter().copied().collect::<HashSet<_>>());
}
