//! The event log against a real nats-server started by the test kit.

#[path = "eventlog/lagging_replica.rs"]
mod lagging_replica;

use casegrid_domain::command::{Annotate, FileCase};
use casegrid_domain::event::{CaseKind, Channel, Location, Urgency};
use casegrid_domain::personal::{Reporter, Sealed};
use casegrid_domain::{Actor, ActorKind, CaseId, Category, Command, GridCode};
use casegrid_eventlog::audit::verify_log;
use casegrid_eventlog::envelope::verify_chain;
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, CommandMeta, EventLog, LogConfig, LogError};
use casegrid_testkit::TestNats;
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

fn file_case() -> Command {
    Command::FileCase(FileCase {
        channel: Channel::Hotline,
        kind: CaseKind::Complaint,
        category: Category::parse("noise").unwrap(),
        urgency: Urgency::Normal,
        title: "夜间施工噪音扰民".into(),
        description: "…".into(),
        location: Location {
            address: None,
            grid: Some(GridCode::parse("NH.HB.BJ.03").unwrap()),
            ..Default::default()
        },
        reporter: Some(Reporter {
            name: Some(Sealed {
                masked: "王**".into(),
                sealed: "opaque".into(),
            }),
            phone: None,
            ..Default::default()
        }),
        source: Default::default(),
        grid_found: None,
        personal: Vec::new(),
    })
}

fn note(text: String) -> Command {
    Command::Annotate(Annotate {
        text,
        personal: Vec::new(),
    })
}

async fn open(nats: &TestNats) -> EventLog {
    EventLog::create(nats.client().await, LogConfig::default())
        .await
        .expect("open log")
}

async fn filed(store: &CaseStore, key: &str) -> CaseId {
    let id = CaseId::for_filing("op.zhang", key);
    store
        .execute(
            id,
            &operator(),
            &file_case(),
            &meta(key),
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("file");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_on_one_case_lose_no_update() {
    let nats = TestNats::start();
    let log = open(&nats).await;
    let id = filed(
        &CaseStore::new(log.clone(), Numbering::default(), 100),
        "call-1",
    )
    .await;
    let mut tasks = Vec::new();
    for writer in 0..16 {
        // Each writer is its own replica with its own cache.
        let store = CaseStore::new(log.clone(), Numbering::default(), 100);
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let key = format!("w{writer}-n{i}");
                store
                    .execute(
                        id,
                        &operator(),
                        &note(key.clone()),
                        &meta(&key),
                        OffsetDateTime::now_utc(),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("writer {writer} note {i}: {e}"));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = log.load_case(id, 0).await.unwrap();
    assert_eq!(events.len(), 801, "filing + 16 × 50 notes");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.envelope.version, i as u64 + 1);
    }
    let mut texts: Vec<String> = events[1..]
        .iter()
        .map(|e| e.envelope.data["text"].as_str().unwrap().to_owned())
        .collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 800, "every note exactly once");
    verify_chain(id, &events).unwrap();
    let report = verify_log(&log).await.unwrap();
    assert_eq!(
        (report.events, report.cases, report.first_break),
        (801, 1, None)
    );
}

#[tokio::test]
async fn a_retried_command_appends_nothing() {
    let nats = TestNats::start();
    let log = open(&nats).await;
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    let id = filed(&store, "call-2").await;
    let first = store
        .execute(
            id,
            &operator(),
            &note("a".into()),
            &meta("note-1"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(!first.already_done);
    let count = log.message_count().await.unwrap();

    // The same process retries: its cache knows the command.
    let again = store
        .execute(
            id,
            &operator(),
            &note("a".into()),
            &meta("note-1"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(again.already_done);
    assert_eq!(again.version, first.version);

    // Another replica (cold cache) retries, as after a lost ack.
    let other = CaseStore::new(log.clone(), Numbering::default(), 100);
    let other_try = other
        .execute(
            id,
            &operator(),
            &note("a".into()),
            &meta("note-1"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(other_try.already_done);
    assert_eq!(other_try.version, 2);

    // A stale replica retries: its append meets the duplicate window or a conflict.
    let stale = CaseStore::new(log.clone(), Numbering::default(), 100);
    stale.snapshot(id).await.unwrap();
    store
        .execute(
            id,
            &operator(),
            &note("b".into()),
            &meta("note-2"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let stale_try = stale
        .execute(
            id,
            &operator(),
            &note("b".into()),
            &meta("note-2"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(stale_try.already_done);
    assert_eq!(log.message_count().await.unwrap(), count + 1);

    // Filing again with the same key answers the same case.
    let refile = other
        .execute(
            id,
            &operator(),
            &file_case(),
            &meta("call-2"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert!(refile.already_done);
    assert_eq!(refile.version, 1);
    assert_eq!(log.message_count().await.unwrap(), count + 1);
}

#[tokio::test]
async fn the_raw_log_reports_duplicates_and_conflicts() {
    let nats = TestNats::start();
    let log = open(&nats).await;
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    let id = filed(&store, "call-3").await;
    let events = log.load_case(id, 0).await.unwrap();
    let first = &events[0];
    let count = log.message_count().await.unwrap();
    // Republishing the same envelope (same msg id, within the window): nothing lands.
    let dup = log.append(&first.envelope, 0).await.unwrap_err();
    assert!(
        matches!(dup, LogError::Duplicate { .. } | LogError::Conflict { .. }),
        "{dup:?}"
    );
    // Even with the right expected sequence, the message id is recognised.
    let dup = log.append(&first.envelope, first.seq).await.unwrap_err();
    assert!(
        matches!(dup, LogError::Duplicate { seq, .. } if seq == first.seq),
        "{dup:?}"
    );
    // A different command expecting an empty subject: conflict.
    let mut other = first.envelope.clone();
    other.command_id = "another".into();
    let conflict = log.append(&other, 0).await.unwrap_err();
    assert!(
        matches!(conflict, LogError::Conflict { .. }),
        "{conflict:?}"
    );
    assert_eq!(log.message_count().await.unwrap(), count);
}

#[tokio::test]
async fn an_edited_event_is_caught_by_verify() {
    let nats = TestNats::start();
    let log = open(&nats).await;
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    let id = filed(&store, "call-4").await;
    for i in 0..3 {
        let key = format!("n{i}");
        store
            .execute(
                id,
                &operator(),
                &note(key.clone()),
                &meta(&key),
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
    }
    let original = log.load_case(id, 0).await.unwrap();
    // A copy of the stream, with version 3's text edited in its stored bytes.
    let copy = EventLog::create(
        nats.client().await,
        LogConfig {
            stream: "TAMPERED".into(),
            subject_prefix: "tampered.events".into(),
            ..LogConfig::default()
        },
    )
    .await
    .unwrap();
    let js = async_nats::jetstream::new(nats.client().await);
    for event in &original {
        let mut raw = event.raw.clone();
        if event.envelope.version == 3 {
            raw["data"]["text"] = serde_json::json!("nothing happened");
        }
        js.publish(copy.subject(id), serde_json::to_vec(&raw).unwrap().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let copied = copy.load_case(id, 0).await.unwrap();
    let brk = verify_chain(id, &copied).unwrap_err();
    assert_eq!((brk.case_id, brk.version), (id, 3));
    let report = verify_log(&copy).await.unwrap();
    let first = report.first_break.expect("verify names the break");
    assert_eq!((first.case_id, first.version), (id, 3));
    assert!(verify_log(&log).await.unwrap().first_break.is_none());
}

#[tokio::test]
async fn a_stream_that_allows_deletes_is_refused() {
    let nats = TestNats::start();
    let js = async_nats::jetstream::new(nats.client().await);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "CASEGRID_EVENTS".into(),
        subjects: vec!["casegrid.events.>".into()],
        allow_direct: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let err = EventLog::open(nats.client().await, LogConfig::default())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("deny_delete"), "{err}");
}

#[tokio::test]
async fn the_log_reads_from_any_sequence_and_numbers_cases_by_filing() {
    let nats = TestNats::start();
    let log = open(&nats).await;
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    let a = filed(&store, "a").await;
    let b = filed(&store, "b").await;
    let snap = store.snapshot(b).await.unwrap();
    let number = snap.case.number.clone().unwrap();
    assert!(
        number.starts_with("NH-") && number.ends_with("-000002"),
        "{number}"
    );
    use futures_util::StreamExt;
    let from2: Vec<_> = log
        .read_from(2)
        .await
        .unwrap()
        .take(1)
        .collect::<Vec<_>>()
        .await;
    let e = from2[0].as_ref().unwrap();
    assert_eq!((e.seq, e.envelope.case_id), (2, b));
    // A cold store derives the same number.
    let cold = CaseStore::new(log, Numbering::default(), 10);
    assert_eq!(cold.snapshot(b).await.unwrap().case.number, Some(number));
    assert_ne!(a, b);
}

#[tokio::test]
async fn a_missing_stream_is_never_created_by_opening_it() {
    let nats = TestNats::start();
    let err = EventLog::open(nats.client().await, LogConfig::default())
        .await
        .err()
        .expect("a missing stream is refused");
    assert!(
        matches!(err, casegrid_eventlog::LogError::Missing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("casegrid init"), "{err}");
    let js = async_nats::jetstream::new(nats.client().await);
    assert!(
        js.get_stream("CASEGRID_EVENTS").await.is_err(),
        "nothing created"
    );
    // Creating is explicit, and creating again opens the same stream.
    let log = open(&nats).await;
    let (first, _) = log.identity().await.unwrap();
    let (again, _) = open(&nats).await.identity().await.unwrap();
    assert_eq!(first, again);
}

#[tokio::test]
async fn a_state_past_zero_refuses_an_empty_or_different_stream() {
    let nats = TestNats::start();
    let log = open(&nats).await;
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    filed(&store, "a").await;
    filed(&store, "b").await;
    let recorded = log.check_identity(None, 0).await.unwrap();
    assert_eq!(recorded.first_seq, 1);
    assert_eq!(
        log.check_identity(Some(&recorded), 2).await.unwrap(),
        recorded
    );

    let js = async_nats::jetstream::new(nats.client().await);
    js.delete_stream("CASEGRID_EVENTS").await.unwrap();
    let watched = tokio::time::timeout(Duration::from_secs(10), log.watch_identity(&recorded))
        .await
        .expect("the watch notices the deleted stream");
    assert!(
        matches!(watched, casegrid_eventlog::LogError::Missing { .. }),
        "{watched}"
    );

    let fresh = open(&nats).await;
    // At checkpoint 0 any stream will do; past it, an empty one is refused by name.
    fresh.check_identity(Some(&recorded), 0).await.unwrap();
    let err = fresh
        .check_identity(Some(&recorded), 2)
        .await
        .expect_err("an empty stream is refused");
    let text = err.to_string();
    assert!(
        text.contains(&recorded.created),
        "names the recorded stream: {text}"
    );
    assert!(text.contains("the stream is empty"), "{text}");
    // Re-filled to the checkpoint, it is still another stream.
    let store = CaseStore::new(fresh.clone(), Numbering::default(), 100);
    filed(&store, "a").await;
    filed(&store, "b").await;
    let err = fresh.check_identity(Some(&recorded), 2).await.unwrap_err();
    assert!(err.to_string().contains("another stream"), "{err}");
    let (current, _) = fresh.identity().await.unwrap();
    assert!(
        err.to_string().contains(&current.created),
        "names both: {err}"
    );
}

#[tokio::test]
async fn the_store_refuses_to_extend_a_broken_chain_and_passes_over_duplicates() {
    use casegrid_eventlog::{envelope::Envelope, ExecuteError};
    let nats = TestNats::start();
    let log = open(&nats).await;
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    let id = filed(&store, "a").await;
    let js = async_nats::jetstream::new(nats.client().await);
    // A duplicate of version 1 and garbage: the case still takes commands.
    let v1 = log.load_case(id, 0).await.unwrap().remove(0);
    for payload in [serde_json::to_vec(&v1.raw).unwrap(), b"garbage".to_vec()] {
        js.publish(log.subject(id), payload.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let now = OffsetDateTime::now_utc();
    let cold = CaseStore::new(log.clone(), Numbering::default(), 100);
    let done = cold
        .execute(id, &operator(), &note("after".into()), &meta("n1"), now)
        .await
        .unwrap();
    assert_eq!(done.version, 2);
    // A version 3 whose prev_hash is forged: nothing more is appended to the case.
    let forged = Envelope::seal(
        id,
        3,
        &"f".repeat(64),
        "NoteAdded",
        1,
        serde_json::json!({"text": "forged"}),
        operator(),
        "forged".into(),
        "forged".into(),
        None,
        now,
    )
    .unwrap();
    js.publish(log.subject(id), forged.to_payload().into())
        .await
        .unwrap()
        .await
        .unwrap();
    for store in [
        &cold,
        &CaseStore::new(log.clone(), Numbering::default(), 100),
    ] {
        let err = store
            .execute(id, &operator(), &note("more".into()), &meta("n2"), now)
            .await
            .unwrap_err();
        let ExecuteError::Log(LogError::ChainBroken(brk)) = err else {
            panic!("a broken chain is refused, not {err}");
        };
        assert_eq!((brk.case_id, brk.version), (id, 3), "{brk}");
    }
}

#[tokio::test]
async fn a_service_for_three_replicas_refuses_a_stream_at_one() {
    let nats = TestNats::start();
    open(&nats).await;
    let settings = |replicas: &str| {
        casegrid_runtime::Settings::load_from(
            None,
            &[
                ("CASEGRID__NATS__URL".to_owned(), nats.url()),
                ("CASEGRID__NATS__REPLICAS".to_owned(), replicas.to_owned()),
            ],
        )
        .unwrap()
    };
    let err = EventLog::connect(&settings("3"), "casegrid-test")
        .await
        .err()
        .expect("refused");
    let err = format!("{err:#}");
    assert!(
        err.contains("runs at 1 replica(s) but nats.replicas is 3"),
        "{err}"
    );
    // Creating (`casegrid init --replicas 3`) over the R1 stream refuses the same way.
    let err = EventLog::create(
        nats.client().await,
        LogConfig {
            replicas: 3,
            ..LogConfig::default()
        },
    )
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("nats.replicas is 3"), "{err}");
    // Configured as it runs, the service opens it.
    EventLog::connect(&settings("1"), "casegrid-test")
        .await
        .expect("opens at R1");
}

#[tokio::test]
async fn a_service_given_a_cluster_list_connects_past_a_dead_node() {
    let nats = TestNats::start();
    open(&nats).await;
    let dead = casegrid_runtime::natsserver::free_port().unwrap();
    let settings = casegrid_runtime::Settings::load_from(
        None,
        &[(
            "CASEGRID__NATS__URL".to_owned(),
            format!("nats://127.0.0.1:{dead}, {}", nats.url()),
        )],
    )
    .unwrap();
    let (client, log) = EventLog::connect(&settings, "casegrid-test")
        .await
        .expect("connects to the node that is up");
    assert!(log.last_sequence().await.is_ok());
    let live: u16 = nats.url().rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(client.server_info().port, live);
}

/// What each message of `messages` is judged: `None` for a valid event, else the reason.
fn judgements(
    classified: &[casegrid_eventlog::Classified],
) -> Vec<Option<casegrid_eventlog::classify::Reason>> {
    use casegrid_eventlog::Classified;
    classified
        .iter()
        .map(|c| match c {
            Classified::Valid(_) | Classified::Kb(_) => None,
            Classified::Quarantined(q) => Some(q.reason),
        })
        .collect()
}

#[tokio::test]
async fn heads_judge_a_batch_as_they_judge_its_messages_one_by_one() {
    use casegrid_eventlog::classify::Reason;
    use casegrid_eventlog::Heads;
    use futures_util::{StreamExt as _, TryStreamExt as _};
    let nats = TestNats::start();
    let log = open(&nats).await;
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    let js = async_nats::jetstream::new(nats.client().await);
    let publish = |subject: String, payload: Vec<u8>| {
        let js = js.clone();
        async move {
            js.publish(subject, payload.into())
                .await
                .unwrap()
                .await
                .unwrap()
        }
    };
    // History before the consumer starts: case a at version 2.
    let a = filed(&store, "a").await;
    let now = OffsetDateTime::now_utc();
    store
        .execute(a, &operator(), &note("a2".into()), &meta("a2"), now)
        .await
        .unwrap();
    let from = log.last_sequence().await.unwrap() + 1;
    // The batch: a's version 3, a new case b with a copy of its filing, garbage on a
    // case never filed, then b's version 2 and a's filing again.
    store
        .execute(a, &operator(), &note("a3".into()), &meta("a3"), now)
        .await
        .unwrap();
    let b = filed(&store, "b").await;
    let b1 = log.load_case(b, 0).await.unwrap().remove(0);
    publish(log.subject(b), serde_json::to_vec(&b1.raw).unwrap()).await;
    publish(
        log.subject(CaseId::for_filing("op.zhang", "none")),
        b"{".to_vec(),
    )
    .await;
    store
        .execute(b, &operator(), &note("b2".into()), &meta("b2"), now)
        .await
        .unwrap();
    let a1 = log.load_case(a, 0).await.unwrap().remove(0);
    publish(log.subject(a), serde_json::to_vec(&a1.raw).unwrap()).await;
    let last = log.last_sequence().await.unwrap();
    let messages: Vec<_> = log
        .read_raw_from(from)
        .await
        .unwrap()
        .take((last + 1 - from) as usize)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(messages.len(), 6);
    let expected = vec![
        None,
        None,
        Some(Reason::DuplicateVersion),
        Some(Reason::Unreadable),
        None,
        Some(Reason::DuplicateVersion),
    ];
    let mut batched = Heads::new(from);
    let at_once = batched.classify_all(&log, &messages).await.unwrap();
    assert_eq!(judgements(&at_once), expected);
    let mut single = Heads::new(from);
    let mut one_by_one = Vec::new();
    for m in &messages {
        one_by_one.push(single.classify(&log, m).await.unwrap());
    }
    assert_eq!(judgements(&one_by_one), expected);
    // The heads move on as they would have: a's next version is judged valid by both.
    store
        .execute(a, &operator(), &note("a4".into()), &meta("a4"), now)
        .await
        .unwrap();
    let a4 = log.load_case_raw(a, last).await.unwrap();
    assert_eq!(a4.len(), 1);
    for heads in [&mut batched, &mut single] {
        assert_eq!(
            judgements(&[heads.classify(&log, &a4[0]).await.unwrap()]),
            vec![None]
        );
    }
}

#[tokio::test]
async fn a_store_that_observed_a_filing_acts_on_the_case_without_loading_it() {
    let nats = TestNats::start();
    let log = open(&nats).await;
    let intake = CaseStore::new(log.clone(), Numbering::default(), 100);
    let id = filed(&intake, "a").await;
    let filing = log.load_case(id, 0).await.unwrap().remove(0);
    // Routing's store meets the case on its consumer.
    let routing = CaseStore::new(log.clone(), Numbering::default(), 100);
    routing.observe(&filing);
    let snapshot = routing.snapshot(id).await.unwrap();
    let snapshot = routing.refresh_to(snapshot, filing.seq).await.unwrap();
    assert_eq!((snapshot.case.version, snapshot.last_seq), (1, filing.seq));
    assert!(snapshot.case.number.is_some(), "numbered from the filing");
    let done = routing
        .execute(
            id,
            &operator(),
            &note("n".into()),
            &meta("n"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    assert_eq!(done.version, 2);
    assert_eq!(routing.counters()["reloads"], 0, "nothing was read back");
    // A later event of a case it never held is not guessed at: that one is loaded.
    let other = filed(&intake, "b").await;
    intake
        .execute(
            other,
            &operator(),
            &note("b2".into()),
            &meta("b2"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let b2 = log.load_case(other, 0).await.unwrap().remove(1);
    routing.observe(&b2);
    let snapshot = routing.snapshot(other).await.unwrap();
    assert_eq!(snapshot.case.version, 2);
    assert_eq!(routing.counters()["reloads"], 1);
}

/// What a service's process does with an error: a missing stream or bucket ends it, a
/// server that did not answer makes it start the service again.
#[tokio::test]
async fn a_missing_stream_or_bucket_ends_a_service_and_a_silent_server_restarts_it() {
    use casegrid_eventlog::attachments::{AttachmentError, AttachmentStore};
    use casegrid_eventlog::error::transient_when_unavailable;
    use casegrid_privacy::{KeyVault, PrivacyError};
    use casegrid_runtime::restart::is_transient;
    let nats = TestNats::start();
    let client = async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_millis(500)))
        .connect(nats.url())
        .await
        .unwrap();
    let as_service = |e: anyhow::Error| is_transient(&transient_when_unavailable(e));

    let log = EventLog::open(client.clone(), LogConfig::default()).await;
    let log = log.err().expect("no stream");
    assert!(matches!(log, LogError::Missing { .. }), "{log}");
    let keys = KeyVault::attach(client.clone())
        .await
        .err()
        .expect("no bucket");
    assert!(matches!(keys, PrivacyError::Missing(_)), "{keys}");
    assert!(
        keys.to_string().contains("the NATS admin creates it"),
        "{keys}"
    );
    let files = AttachmentStore::attach(client.clone())
        .await
        .err()
        .expect("no bucket");
    assert!(matches!(files, AttachmentError::Missing), "{files}");
    assert!(!as_service(
        anyhow::Error::new(log).context("opening the event log")
    ));
    assert!(!as_service(
        anyhow::Error::new(keys).context("opening the key vault")
    ));
    assert!(!as_service(anyhow::Error::new(files)));

    drop(nats);
    let log = EventLog::open(client.clone(), LogConfig::default()).await;
    let log = log.err().expect("no server");
    assert!(matches!(log, LogError::Unavailable(_)), "{log}");
    let keys = KeyVault::attach(client.clone())
        .await
        .err()
        .expect("no server");
    assert!(matches!(keys, PrivacyError::Unavailable(_)), "{keys}");
    let files = AttachmentStore::attach(client.clone())
        .await
        .err()
        .expect("no server");
    assert!(matches!(files, AttachmentError::Unavailable(_)), "{files}");
    assert!(as_service(
        anyhow::Error::new(log).context("opening the event log")
    ));
    assert!(as_service(
        anyhow::Error::new(keys).context("opening the key vault")
    ));
    assert!(as_service(anyhow::Error::new(files)));
    assert!(!as_service(anyhow::anyhow!(
        "loading the district configuration"
    )));
}
