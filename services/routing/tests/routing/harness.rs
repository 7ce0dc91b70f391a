//! Routing running in-process over a real nats-server, its clock a [`ManualClock`];
//! the test's own [`CaseStore`] appends as intake and the gateway would.

use casegrid_config::District;
use casegrid_domain::command::FileCase;
use casegrid_domain::event::{CaseKind, Channel, Location, Urgency};
use casegrid_domain::{Actor, ActorKind, Case, CaseId, Category, Command, Event, GridCode};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, CommandMeta, EventLog, ExecuteError, LogConfig, Outcome};
use casegrid_routing::state::RoutingState;
use casegrid_routing::{Config, Routing};
use casegrid_runtime::clock::{Clock, ManualClock};
use casegrid_testkit::{eventually, TestNats};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// The demo district's configuration folder.
pub(crate) fn demo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config")
}

pub(crate) struct Harness {
    pub(crate) clock: ManualClock,
    pub(crate) routing: Routing,
    pub(crate) log: EventLog,
    /// Appends as intake and the gateway would, with its own cache.
    pub(crate) desk: CaseStore,
    pub(crate) client: async_nats::Client,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
    _nats: TestNats,
}

impl Harness {
    pub(crate) async fn start(at: OffsetDateTime, config_dir: PathBuf) -> Self {
        let mut h = Self::without_routing(at, config_dir).await;
        h.start_routing();
        h
    }

    /// Everything but routing's loops, which [`Harness::start_routing`] starts.
    pub(crate) async fn without_routing(at: OffsetDateTime, config_dir: PathBuf) -> Self {
        let nats = TestNats::start();
        let client = nats.client().await;
        let log = EventLog::create(client.clone(), LogConfig::default())
            .await
            .expect("open the event log");
        let dir = tempfile::tempdir().expect("temp dir");
        let state = RoutingState::connect(&format!(
            "sqlite:{}",
            dir.path().join("routing.db").display()
        ))
        .await
        .expect("routing state");
        let district = District::load(&config_dir).expect("district configuration");
        let keys = casegrid_privacy::KeyVault::open(client.clone(), 1)
            .await
            .expect("key vault");
        let clock = ManualClock::new(at);
        let routing = Routing::new(
            CaseStore::new(log.clone(), Numbering::default(), 100_000),
            Config::new(config_dir, district),
            Arc::new(clock.clone()),
            keys,
            state,
        );
        let shutdown = CancellationToken::new();
        Self {
            desk: CaseStore::new(log.clone(), Numbering::default(), 100_000),
            clock,
            routing,
            log,
            client,
            shutdown,
            task: None,
            _dir: dir,
            _nats: nats,
        }
    }

    /// Starts routing's consumer, timers and service.
    pub(crate) fn start_routing(&mut self) {
        self.task = Some(tokio::spawn(casegrid_routing::run(
            self.client.clone(),
            self.log.clone(),
            self.routing.clone(),
            "test",
            Duration::from_millis(20),
            self.shutdown.clone(),
        )));
    }

    /// Routing's state database, for a test that plants rows an older build left.
    pub(crate) fn state_db(&self) -> PathBuf {
        self._dir.path().join("routing.db")
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Decides and appends `command` as `actor` at the clock's time.
    pub(crate) async fn act(
        &self,
        case: CaseId,
        actor: &Actor,
        command: &Command,
        key: &str,
    ) -> Result<Outcome, ExecuteError> {
        let meta = CommandMeta {
            command_id: format!("{}:{key}", actor.id),
            correlation_id: key.to_owned(),
            causation_id: None,
            request: None,
        };
        self.desk
            .execute(case, actor, command, &meta, self.now())
            .await
    }

    /// Files a water-leak report from a grid patrol (dept.water signs within one
    /// working hour and handles within two working days).
    pub(crate) async fn file_leak(&self, key: &str) -> CaseId {
        let worker = Actor::new(ActorKind::GridWorker, "grid.wang");
        let case = CaseId::for_filing(&worker.id, key);
        let command = Command::FileCase(FileCase {
            channel: Channel::GridPatrol,
            kind: CaseKind::Report,
            category: Category::parse("water_leak").unwrap(),
            urgency: Urgency::Normal,
            title: format!("楼道水管漏水 {key}"),
            description: String::new(),
            location: Location {
                address: None,
                grid: Some(GridCode::parse("NH.CD.YL.02").unwrap()),
                ..Default::default()
            },
            reporter: None,
            source: Default::default(),
            grid_found: None,
            personal: Vec::new(),
        });
        self.act(case, &worker, &command, key)
            .await
            .unwrap_or_else(|e| panic!("filing {key}: {e}"));
        case
    }

    /// The case as the log holds it now.
    pub(crate) async fn case(&self, id: CaseId) -> Case {
        let snapshot = self.desk.snapshot(id).await.expect("load case");
        self.desk
            .refresh(snapshot)
            .await
            .expect("load case")
            .case
            .clone()
    }

    /// The case's events, in order.
    pub(crate) async fn events(&self, id: CaseId) -> Vec<Event> {
        self.log
            .load_case(id, 0)
            .await
            .expect("load case events")
            .iter()
            .map(|s| {
                let e = &s.envelope;
                Event::from_parts(&e.event_type, e.schema, &e.data).expect("known event")
            })
            .collect()
    }

    /// Waits until routing has applied every event in the stream: every reaction to
    /// them is appended by then (routing reacts before it moves its checkpoint).
    pub(crate) async fn caught_up(&self) {
        eventually(Duration::from_secs(60), "routing to catch up", || async {
            let last = self.log.last_sequence().await.ok()?;
            let at = self.routing.state().checkpoint().await.ok()?;
            (at >= last).then_some(())
        })
        .await;
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
