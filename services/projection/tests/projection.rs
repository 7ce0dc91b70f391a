//! Projection against a real nats-server: the service consumes the log into its read
//! model, answers over NATS (cases, timelines, inboxes, lists, figures), resumes after
//! a restart, and a rebuild equals the live model.
//!
//! One test binary; each scenario runs on SQLite and on PostgreSQL (the test kit's
//! throw-away server):
//! - `projection_answers_resumes_and_rebuilds_equal_*`: queries, a graceful restart,
//!   two replicas on one database (PostgreSQL), rebuild equals live;
//! - `projection_killed_while_events_flow_*`: the `casegrid-projection` binary as a
//!   child process, killed with SIGKILL while 2,000 events are appended, restarted:
//!   the read model catches up and equals a fresh rebuild;
//! - `a_message_that_is_not_an_envelope_does_not_stop_the_projection*`: garbage in the
//!   stream is quarantined, the projection goes on, a rebuild quarantines the same.

use casegrid_contracts::views::{CaseView, InboxView, TimelineView};
use casegrid_contracts::{subjects, Answer};
use casegrid_domain::command::{Annotate, Dispatch, FileCase, RecordCallback, Reply};
use casegrid_domain::event::{CaseKind, Channel, Location, ReplyResult, Satisfaction, Urgency};
use casegrid_domain::personal::{Reporter, Sealed};
use casegrid_domain::{
    Actor, ActorKind, CaseId, Category, Command, DepartmentId, GridCode, Status,
};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, CommandMeta, EventLog, LogConfig};
use casegrid_readmodel::{CasePage, ReadModel, StatsView};
use casegrid_testkit::{eventually, TestNats, TestPostgres};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

const WITHIN: Duration = Duration::from_secs(20);

fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op.wang")
}

fn urban() -> Actor {
    Actor::new(ActorKind::Department, "dept.urban")
}

fn meta(id: &str) -> CommandMeta {
    CommandMeta {
        command_id: id.to_owned(),
        correlation_id: format!("corr-{id}"),
        causation_id: None,
        request: None,
    }
}

fn file(title: &str) -> Command {
    Command::FileCase(FileCase {
        channel: Channel::Hotline,
        kind: CaseKind::Complaint,
        category: Category::parse("noise").unwrap(),
        urgency: Urgency::Normal,
        title: title.to_owned(),
        description: "每晚十一点后仍在施工".to_owned(),
        location: Location {
            address: Some("湖滨街道滨江路12号".to_owned()),
            grid: Some(GridCode::parse("NH.HB.BJ.03").unwrap()),
            ..Default::default()
        },
        reporter: Some(Reporter {
            name: Some(Sealed {
                masked: "王**".into(),
                sealed: "c2VhbGVkLW5hbWU=".into(),
            }),
            phone: Some(Sealed {
                masked: "138****1234".into(),
                sealed: "c2VhbGVkLXBob25l".into(),
            }),
            ..Reporter::default()
        }),
        source: serde_json::Map::new(),
        grid_found: None,
        personal: Vec::new(),
    })
}

fn dispatch(now: OffsetDateTime) -> Command {
    Command::Dispatch(Dispatch {
        lead: DepartmentId::parse("dept.urban").unwrap(),
        assisting: vec![DepartmentId::parse("dept.ecology").unwrap()],
        sign_due: now + time::Duration::hours(2),
        handle_due: now + time::Duration::days(5),
        rule: "rules.toml#noise".to_owned(),
        return_due: None,
    })
}

/// Files, dispatches, signs, replies and calls back (satisfied: closes); 5 events.
async fn lifecycle(store: &CaseStore, key: &str) -> CaseId {
    let id = CaseId::for_filing("op.wang", key);
    let now = OffsetDateTime::now_utc();
    let steps = [
        (operator(), file("夜间施工噪音扰民")),
        (Actor::routing(), dispatch(now)),
        (urban(), Command::Sign),
        (
            urban(),
            Command::Reply(Reply {
                result: ReplyResult::Resolved,
                text: "已责令施工方夜间停工".into(),
                summary_for_citizen: Some("已责令施工方夜间停工".into()),
                personal: Vec::new(),
            }),
        ),
        (
            operator(),
            Command::RecordCallback(RecordCallback {
                satisfaction: Satisfaction::Satisfied,
                resolved: true,
                comment: None,
            }),
        ),
    ];
    for (i, (actor, command)) in steps.iter().enumerate() {
        store
            .execute(id, actor, command, &meta(&format!("{key}-{i}")), now)
            .await
            .unwrap_or_else(|e| panic!("step {i} of {key}: {e}"));
    }
    id
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Asks the projection; `None` while nobody answers.
async fn ask<T: DeserializeOwned>(
    client: &async_nats::Client,
    subject: &str,
    body: &Value,
) -> Option<Answer<T>> {
    let reply = tokio::time::timeout(
        Duration::from_secs(2),
        client.request(subject.to_owned(), body.to_string().into()),
    )
    .await
    .ok()?
    .ok()?;
    Some(serde_json::from_slice(&reply.payload).unwrap_or_else(|e| {
        panic!(
            "answer on {subject} is not an Answer: {e}: {}",
            String::from_utf8_lossy(&reply.payload)
        )
    }))
}

struct Projection {
    token: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Projection {
    async fn start(client: &async_nats::Client, log: &EventLog, url: &str) -> Self {
        let model = ReadModel::connect(url).await.expect("read model");
        let names = HashMap::from([("dept.urban".to_owned(), "区城管执法局".to_owned())]);
        let token = CancellationToken::new();
        let task = tokio::spawn(casegrid_projection::run(
            client.clone(),
            log.clone(),
            model,
            names,
            token.clone(),
        ));
        Self { token, task }
    }

    async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(WITHIN, self.task)
            .await
            .expect("projection stops when cancelled")
            .expect("projection task")
            .expect("projection ends cleanly");
    }
}

async fn checkpoint_reaches(client: &async_nats::Client, seq: u64) {
    eventually(WITHIN, &format!("checkpoint {seq}"), || async {
        match ask::<u64>(client, subjects::PROJECTION_CHECKPOINT, &json!({})).await? {
            Answer::Ok(c) if c >= seq => Some(()),
            _ => None,
        }
    })
    .await;
}

#[tokio::test]
async fn projection_answers_resumes_and_rebuilds_equal_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(
        &sqlite_url(&dir.path().join("live.db")),
        &sqlite_url(&dir.path().join("rebuilt.db")),
        false,
    )
    .await;
}

#[tokio::test]
async fn projection_answers_resumes_and_rebuilds_equal_on_postgres() {
    let pg = TestPostgres::start();
    let (live, rebuilt) = (pg.database().await, pg.database().await);
    scenario(&live, &rebuilt, true).await;
}

/// Runs the projection into `live_url` (with a second replica on the same database when
/// `two_replicas`), then rebuilds into the empty `rebuilt_url` and compares.
async fn scenario(live_url: &str, rebuilt_url: &str, two_replicas: bool) {
    let live_url = live_url.to_owned();
    let nats = TestNats::start();
    let client = nats.client().await;
    let log = EventLog::create(client.clone(), LogConfig::default())
        .await
        .expect("event log");
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    let closed = lifecycle(&store, "call-1").await;
    // A second case stays in the inboxes: filed and dispatched only.
    let open = CaseId::for_filing("op.wang", "call-2");
    let now = OffsetDateTime::now_utc();
    store
        .execute(open, &operator(), &file("占道经营"), &meta("call-2-0"), now)
        .await
        .unwrap();
    store
        .execute(
            open,
            &Actor::routing(),
            &dispatch(now),
            &meta("call-2-1"),
            now,
        )
        .await
        .unwrap();

    let projection = Projection::start(&client, &log, &live_url).await;
    let replica = if two_replicas {
        Some(Projection::start(&client, &log, &live_url).await)
    } else {
        None
    };

    let case: CaseView = eventually(WITHIN, "the case to show closed", || async {
        match ask::<CaseView>(
            &client,
            subjects::PROJECTION_CASE,
            &json!({"case_id": closed}),
        )
        .await?
        {
            Answer::Ok(c) if c.status == Status::Closed => Some(c),
            _ => None,
        }
    })
    .await;
    assert_eq!(case.version, 5);
    assert!(case.number.starts_with("NH-"), "{}", case.number);
    assert!(case.number.ends_with("-000001"), "{}", case.number);
    assert_eq!(case.reporter_phone.as_deref(), Some("138****1234"));
    assert_eq!(case.signed, vec!["dept.urban"]);

    let timeline = ask::<TimelineView>(
        &client,
        subjects::PROJECTION_TIMELINE,
        &json!({"case_id": closed}),
    )
    .await
    .expect("timeline answered")
    .into_result()
    .expect("timeline");
    assert_eq!(timeline.events.len(), 5);
    assert_eq!(timeline.events[2].actor_name, "区城管执法局");
    assert!(timeline.events[1].summary.starts_with(
        "派单 dispatched to dept.urban (lead), dept.ecology (assisting) by rules.toml#noise"
    ));
    assert!(!timeline.events[0].data.to_string().contains("sealed"));

    checkpoint_reaches(&client, 7).await;
    for (department, role) in [("dept.urban", "lead"), ("dept.ecology", "assisting")] {
        let inbox = ask::<InboxView>(
            &client,
            subjects::PROJECTION_INBOX,
            &json!({"department": department}),
        )
        .await
        .expect("inbox answered")
        .into_result()
        .expect("inbox");
        let ids: Vec<CaseId> = inbox.items.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![open], "{department}: only the open case");
        assert_eq!(inbox.items[0].role, role);
        assert!(!inbox.items[0].signed);
    }

    // Refusals travel as problems.
    let missing = CaseId::for_filing("nobody", "nothing");
    let problem = ask::<CaseView>(
        &client,
        subjects::PROJECTION_CASE,
        &json!({"case_id": missing}),
    )
    .await
    .expect("answered")
    .into_result()
    .unwrap_err();
    assert_eq!(problem.status, 404);
    assert_eq!(problem.detail, format!("case {missing} not found"));
    let reply = client
        .request(subjects::PROJECTION_INBOX, "not json".into())
        .await
        .unwrap();
    let problem = serde_json::from_slice::<Answer<InboxView>>(&reply.payload)
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(problem.status, 400, "{problem:?}");

    // Lists, overdue cases and figures.
    let page = ask::<CasePage>(&client, subjects::PROJECTION_LIST, &json!({"limit": 1}))
        .await
        .expect("list answered")
        .into_result()
        .expect("list");
    assert_eq!(
        page.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![open]
    );
    let cursor = page.next_cursor.expect("a second page");
    let page = ask::<CasePage>(
        &client,
        subjects::PROJECTION_LIST,
        &json!({"limit": 1, "cursor": cursor, "department": "dept.urban"}),
    )
    .await
    .expect("list answered")
    .into_result()
    .expect("list");
    assert_eq!(
        page.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![closed]
    );
    assert_eq!(page.next_cursor, None);
    let problem = ask::<CasePage>(
        &client,
        subjects::PROJECTION_LIST,
        &json!({"cursor": "nope"}),
    )
    .await
    .expect("list answered")
    .into_result()
    .unwrap_err();
    assert_eq!(problem.status, 400, "{problem:?}");
    let overdue = ask::<CasePage>(&client, subjects::PROJECTION_OVERDUE, &json!({}))
        .await
        .expect("overdue answered")
        .into_result()
        .expect("overdue");
    assert!(overdue.items.is_empty(), "nothing is due yet");
    let stats = ask::<StatsView>(
        &client,
        subjects::PROJECTION_STATS,
        &json!({"group_by": "department", "period": "all"}),
    )
    .await
    .expect("stats answered")
    .into_result()
    .expect("stats");
    let urban = stats
        .rows
        .iter()
        .find(|r| r.key.as_deref() == Some("dept.urban"))
        .expect("dept.urban figures");
    assert_eq!((urban.response.count, urban.response.of), (1, 2));
    assert_eq!((urban.satisfaction.count, urban.satisfaction.of), (1, 1));
    assert_eq!((urban.completion.count, urban.completion.of), (1, 2));
    assert_eq!(urban.completion.permille, Some(500));
    if let Some(replica) = replica {
        replica.stop().await;
    }

    // Stopped, the log moves on; restarted, the projection resumes after its checkpoint.
    projection.stop().await;
    store
        .execute(
            closed,
            &operator(),
            &Command::Annotate(Annotate {
                text: "回访录音已归档".into(),
                personal: Vec::new(),
            }),
            &meta("call-1-note"),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let projection = Projection::start(&client, &log, &live_url).await;
    checkpoint_reaches(&client, 8).await;
    let timeline = ask::<TimelineView>(
        &client,
        subjects::PROJECTION_TIMELINE,
        &json!({"case_id": closed}),
    )
    .await
    .expect("timeline answered")
    .into_result()
    .expect("timeline");
    assert_eq!(timeline.events.len(), 6);
    projection.stop().await;

    // A rebuild from sequence 1 into a fresh database equals the live one.
    let live = ReadModel::connect(&live_url).await.unwrap();
    let fresh = ReadModel::connect(rebuilt_url).await.unwrap();
    assert_eq!(casegrid_readmodel::rebuild(&log, &fresh).await.unwrap(), 8);
    assert_eq!(live.diff(&fresh).await.unwrap(), Vec::<String>::new());
}

/// The projection binary as a child process on `nats_url` and `db_url`, its log in `log`.
fn spawn_child(nats_url: &str, db_url: &str, log: &Path) -> tokio::process::Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("child log file");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_casegrid-projection"))
        .env("CASEGRID__NATS__URL", nats_url)
        .env("CASEGRID__DATABASE__URL", db_url)
        .env(
            "CASEGRID__DISTRICT__CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/config"),
        )
        .env("RUST_LOG", "casegrid_projection=info")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("starting casegrid-projection")
}

#[tokio::test]
async fn projection_killed_while_events_flow_catches_up_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    killed(
        &sqlite_url(&dir.path().join("live.db")),
        &sqlite_url(&dir.path().join("rebuilt.db")),
        dir.path(),
    )
    .await;
}

#[tokio::test]
async fn projection_killed_while_events_flow_catches_up_on_postgres() {
    let pg = TestPostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let (live, rebuilt) = (pg.database().await, pg.database().await);
    killed(&live, &rebuilt, dir.path()).await;
}

/// 400 five-event lifecycles (2,000 events) appended by 16 writers; the projection
/// process is killed (SIGKILL) mid-way, restarted, and must end equal to a rebuild.
async fn killed(live_url: &str, rebuilt_url: &str, dir: &Path) {
    const CASES: usize = 400;
    const WRITERS: usize = 16;
    let nats = TestNats::start();
    let client = nats.client().await;
    let log = EventLog::create(client.clone(), LogConfig::default())
        .await
        .expect("event log");
    let store = std::sync::Arc::new(CaseStore::new(log.clone(), Numbering::default(), 1000));
    let child_log = dir.join("projection.log");
    let mut child = spawn_child(&nats.url(), live_url, &child_log);

    checkpoint_reaches(&client, 0).await;
    // Each writer does half its cases, then waits until the kill has happened (so it
    // surely comes while events flow), then does the rest.
    let (killed_tx, killed_rx) = tokio::sync::watch::channel(false);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            let mut killed_rx = killed_rx.clone();
            tokio::spawn(async move {
                for (n, i) in (w..CASES).step_by(WRITERS).enumerate() {
                    if n == CASES / WRITERS / 2 {
                        killed_rx.wait_for(|k| *k).await.expect("kill signal");
                    }
                    lifecycle(&store, &format!("kill-{i}")).await;
                }
            })
        })
        .collect();
    checkpoint_reaches(&client, 300).await;
    child.kill().await.expect("SIGKILL to the projection");
    let killed_at = log.last_sequence().await.unwrap();
    killed_tx.send(true).expect("writers wait");
    for w in writers {
        w.await.expect("writer");
    }
    let last = log.last_sequence().await.unwrap();
    assert_eq!(last, (CASES * 5) as u64);
    assert!(killed_at < last, "the kill came while events were flowing");

    let restarted = std::time::Instant::now();
    let mut child = spawn_child(&nats.url(), live_url, &child_log);
    checkpoint_reaches(&client, last).await;
    eprintln!(
        "killed at log sequence {killed_at}; restarted projection caught up with {last} in {:?}",
        restarted.elapsed()
    );
    let child_said = std::fs::read_to_string(&child_log).unwrap_or_default();
    for line in child_said.lines().filter(|l| l.contains("consumer")) {
        eprintln!("projection: {line}");
    }
    child.kill().await.expect("stopping the projection");

    let live = ReadModel::connect(live_url).await.unwrap();
    assert_eq!(live.checkpoint().await.unwrap(), last);
    let fresh = ReadModel::connect(rebuilt_url).await.unwrap();
    assert_eq!(
        casegrid_readmodel::rebuild(&log, &fresh).await.unwrap(),
        last
    );
    let diff = live.diff(&fresh).await.unwrap();
    assert!(
        diff.is_empty(),
        "{} differences, first: {:?}\nprojection log:\n{}",
        diff.len(),
        diff.first(),
        std::fs::read_to_string(&child_log).unwrap_or_default()
    );
}

/// Publishes `payload` straight into the stream on `subject`, as a foreign tool with
/// the admin credential could; returns its stream sequence.
async fn publish_raw(client: &async_nats::Client, subject: String, payload: Vec<u8>) -> u64 {
    let js = async_nats::jetstream::new(client.clone());
    js.publish(subject, payload.into())
        .await
        .expect("raw publish")
        .await
        .expect("raw publish acknowledged")
        .sequence
}

#[tokio::test]
async fn a_message_that_is_not_an_envelope_does_not_stop_the_projection() {
    let dir = tempfile::tempdir().unwrap();
    poison(
        &sqlite_url(&dir.path().join("live.db")),
        &sqlite_url(&dir.path().join("rebuilt.db")),
    )
    .await;
}

#[tokio::test]
async fn a_message_that_is_not_an_envelope_does_not_stop_the_projection_on_postgres() {
    let pg = TestPostgres::start();
    let (live, rebuilt) = (pg.database().await, pg.database().await);
    poison(&live, &rebuilt).await;
}

/// Garbage (with a NUL byte, which PostgreSQL text cannot hold) between two cases:
/// the projection applies the second, lists the garbage in its quarantine, and a
/// rebuild quarantines the same and equals the live model.
async fn poison(live_url: &str, rebuilt_url: &str) {
    let nats = TestNats::start();
    let client = nats.client().await;
    let log = EventLog::create(client.clone(), LogConfig::default())
        .await
        .expect("event log");
    let store = CaseStore::new(log.clone(), Numbering::default(), 100);
    lifecycle(&store, "before").await;
    let projection = Projection::start(&client, &log, live_url).await;
    checkpoint_reaches(&client, 5).await;

    let garbage = publish_raw(
        &client,
        log.subject(CaseId::for_filing("x", "garbage")),
        b"\x00this is not an envelope".to_vec(),
    )
    .await;
    assert_eq!(garbage, 6);
    lifecycle(&store, "after").await;
    checkpoint_reaches(&client, 11).await;
    assert!(
        !projection.task.is_finished(),
        "the projection keeps running"
    );
    let quarantine = ask::<casegrid_contracts::views::QuarantineView>(
        &client,
        subjects::PROJECTION_QUARANTINE,
        &json!({}),
    )
    .await
    .expect("quarantine answered")
    .into_result()
    .expect("quarantine");
    assert_eq!(quarantine.items.len(), 1);
    assert_eq!(
        (quarantine.items[0].seq, quarantine.items[0].reason.as_str()),
        (6, "unreadable")
    );
    assert!(quarantine.items[0]
        .head
        .ends_with("this is not an envelope"));
    projection.stop().await;

    let live = ReadModel::connect(live_url).await.unwrap();
    let fresh = ReadModel::connect(rebuilt_url).await.unwrap();
    assert_eq!(casegrid_readmodel::rebuild(&log, &fresh).await.unwrap(), 11);
    assert_eq!(live.diff(&fresh).await.unwrap(), Vec::<String>::new());
}
