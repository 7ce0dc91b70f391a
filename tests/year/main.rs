//! A year in a district, as a test: a generator drives routing and the projection
//! (in-process, over the test kit's real nats-server) through a simulated year on the
//! injected clock, day by day across the holidays and make-up days of
//! `deploy/config/calendar.toml`, with the real mix of cases: returns and re-routes,
//! reopen after unsatisfied callbacks, whistles with late report-ins, mediation with
//! sessions, agreement and court confirmation (or failure and referral), suspension
//! and resumption, extensions, merges and withdrawals. The generator appends the
//! people's commands as intake and the gateway would; dispatch, deadlines, missed
//! deadlines and escalation are routing's own.
//!
//! Size: `CASEGRID_YEAR_CASES` (default 2000) cases over `CASEGRID_YEAR_DAYS`
//! (default 365) days; `cargo test -p casegrid-e2e --test year -- --nocapture`.
//!
//! At the end: every deadline that passed while its clock ran was missed exactly once
//! and escalated once per the configured ladder; none was missed while suspended,
//! replied, closed or in mediation; routing's deadline table is exactly the open
//! deadlines of the fold of the log; the overdue list equals the fold; a rebuild
//! equals the live read models. Routing's time per tick is printed (not asserted).

use casegrid_config::District;
use casegrid_domain::command::*;
use casegrid_domain::event::{
    CaseKind, Channel, Location, Party, PartyRole, ReferralTarget, ReplyResult, Satisfaction,
    Urgency,
};
use casegrid_domain::personal::Sealed;
use casegrid_domain::{
    Actor, ActorKind, Case, CaseId, Category, Command, DepartmentId, Event, GridCode, Status,
};
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::{CaseStore, CommandMeta, EventLog, ExecuteError, LogConfig, StoredEvent};
use casegrid_readmodel::ReadModel;
use casegrid_routing::state::RoutingState;
use casegrid_routing::{Config, Routing};
use casegrid_runtime::clock::{Clock, ManualClock};
use casegrid_testkit::{eventually, TestNats};
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::macros::datetime;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*), so a failing year can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Plain,
    Unsatisfied,
    Return,
    Whistle,
    Agreement,
    MediationFails,
    Suspend,
    Extension,
    Merge,
    Withdraw,
    /// Nobody signs for a long time: the sign and handle deadlines pass, escalations climb.
    Neglected,
}

/// What the generator intends for one case, and how far it got.
#[derive(Debug, Clone)]
struct Script {
    plan: Plan,
    filed_day: usize,
    sign_after: usize,
    reply_after: usize,
    into: Option<CaseId>,
    done: BTreeSet<&'static str>,
    /// The day of the last step the generator took.
    last: usize,
    finished: bool,
}

fn unit(id: &str) -> Actor {
    if id.starts_with("street.") || id.starts_with("town.") {
        Actor::new(ActorKind::Street, id)
    } else {
        Actor::new(ActorKind::Department, id)
    }
}

fn dept(id: &str) -> DepartmentId {
    DepartmentId::parse(id).unwrap()
}

fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "op.zhang")
}
fn supervisor() -> Actor {
    Actor::new(ActorKind::Supervisor, "sup.li")
}
fn mediator() -> Actor {
    Actor::new(ActorKind::Mediator, "med.chen")
}

fn party(role: PartyRole) -> Party {
    Party {
        role,
        name: Sealed {
            masked: "王**".into(),
            sealed: "c2VhbGVkLWZvci10ZXN0".into(),
        },
        phone: None,
        consent: true,
    }
}

struct District0 {
    clock: ManualClock,
    desk: CaseStore,
    district: Arc<District>,
    refused: std::sync::Mutex<BTreeMap<String, usize>>,
}

impl District0 {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    async fn act(&self, case: CaseId, actor: &Actor, command: Command, key: &str) -> bool {
        let meta = CommandMeta {
            command_id: format!("{}:{key}", actor.id),
            correlation_id: key.to_owned(),
            causation_id: None,
            request: None,
        };
        match self
            .desk
            .execute(case, actor, &command, &meta, self.now())
            .await
        {
            Ok(_) => true,
            Err(ExecuteError::Rejected(_)) => {
                *self
                    .refused
                    .lock()
                    .unwrap()
                    .entry(command.action().to_owned())
                    .or_default() += 1;
                false
            }
            Err(e) => panic!("{} on {case}: {e}", command.action()),
        }
    }

    async fn state(&self, id: CaseId) -> Case {
        let s = self.desk.snapshot(id).await.unwrap();
        self.desk.refresh(s).await.unwrap().case.clone()
    }

    async fn file(&self, key: &str, category: &str) -> CaseId {
        let worker = Actor::new(ActorKind::GridWorker, "grid.wang");
        let case = CaseId::for_filing(&worker.id, key);
        let command = Command::FileCase(FileCase {
            channel: Channel::GridPatrol,
            kind: if category == "neighbor_dispute" {
                CaseKind::Dispute
            } else {
                CaseKind::Report
            },
            category: Category::parse(category).unwrap(),
            urgency: Urgency::Normal,
            title: format!("{category} {key}"),
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
        assert!(self.act(case, &worker, command, key).await, "filing {key}");
        case
    }

    /// One day's step for one case, chosen from its state and its script.
    async fn step(&self, id: CaseId, s: &mut Script, day: usize) {
        if s.finished {
            return;
        }
        let c = self.state(id).await;
        if c.status.is_final() && c.status != Status::Closed
            || c.status == Status::Closed && c.callback.is_some()
        {
            // Merged, withdrawn, or closed after a callback: nothing more will happen.
            s.finished = true;
            return;
        }
        let now = self.now();
        let key = |what: &str| format!("{what}-{id}-{day}");
        let Some(lead) = c.lead().map(|d| d.to_string()) else {
            return;
        };
        let age = day - s.filed_day;
        let did = |s: &mut Script, what: &'static str| {
            s.done.insert(what);
            s.last = day;
        };
        match c.status {
            Status::Dispatched => {
                if s.plan == Plan::Withdraw && age >= 1 {
                    let r = Reason {
                        reason: "市民撤回".into(),
                    };
                    self.act(id, &operator(), Command::Withdraw(r), &key("withdraw"))
                        .await;
                    did(s, "withdraw");
                } else if s.plan == Plan::Merge && !s.done.contains("merge") {
                    if let Some(into) = s.into {
                        self.act(
                            id,
                            &operator(),
                            Command::Merge(Merge { into }),
                            &key("merge"),
                        )
                        .await;
                    }
                    did(s, "merge");
                } else if s.plan == Plan::Return && !s.done.contains("return") {
                    let command = Command::Return(Return {
                        reason: "不属本单位职责".into(),
                        suggested_owner: dept("street.chengdong"),
                    });
                    self.act(id, &unit(&lead), command, &key("return")).await;
                    did(s, "return");
                } else if matches!(s.plan, Plan::Agreement | Plan::MediationFails)
                    && !s.done.contains("mediate")
                {
                    let command = Command::OpenMediation(OpenMediation {
                        parties: vec![party(PartyRole::Applicant), party(PartyRole::Respondent)],
                        mediation_due: self.district.mediation_due(now),
                        mediator: None,
                    });
                    self.act(id, &mediator(), command, &key("mediate")).await;
                    did(s, "mediate");
                } else if age >= s.sign_after {
                    self.act(id, &unit(&lead), Command::Sign, &key("sign"))
                        .await;
                    did(s, "sign");
                }
            }
            Status::InProgress => {
                let unsigned: Vec<String> = c
                    .departments()
                    .filter(|d| !c.signed.contains(*d))
                    .map(ToString::to_string)
                    .collect();
                for d in unsigned {
                    self.act(id, &unit(&d), Command::Sign, &key(&format!("sign-{d}")))
                        .await;
                }
                let lead_actor = unit(&lead);
                let handle_due = c.dispatch.as_ref().unwrap().handle_due;
                if s.plan == Plan::Whistle
                    && !s.done.contains("whistle")
                    && lead_actor.kind == ActorKind::Street
                {
                    let filed = c.filed.as_ref().unwrap();
                    let route = self
                        .district
                        .route_for(
                            &filed.category,
                            filed.location.grid.as_ref(),
                            filed.urgency,
                            &[],
                        )
                        .unwrap();
                    let report_due = self
                        .district
                        .deadlines(&route, filed.urgency, now)
                        .report_due;
                    let command = Command::BlowWhistle(BlowWhistle {
                        departments: vec![dept("dept.police"), dept("dept.market")],
                        report_due,
                        reason: "联合整治".into(),
                    });
                    self.act(id, &lead_actor, command, &key("whistle")).await;
                    // One reports in at once; the other reports in late, days later.
                    self.act(id, &unit("dept.police"), Command::ReportIn, &key("report"))
                        .await;
                    did(s, "whistle");
                    return;
                }
                if s.done.contains("whistle")
                    && !s.done.contains("late-report")
                    && day >= s.last + 2
                {
                    self.act(
                        id,
                        &unit("dept.market"),
                        Command::ReportIn,
                        &key("late-report"),
                    )
                    .await;
                    did(s, "late-report");
                    return;
                }
                if s.plan == Plan::Suspend && !s.done.contains("suspend") {
                    // The lead asks (the clock keeps running), a supervisor approves
                    // with its own command (the clock stops then).
                    self.act(
                        id,
                        &lead_actor,
                        Command::RequestSuspension(Reason {
                            reason: "等待第三方鉴定".into(),
                        }),
                        &key("suspend-ask"),
                    )
                    .await;
                    self.act(
                        id,
                        &supervisor(),
                        Command::Suspend(Suspend {
                            reason: String::new(),
                        }),
                        &key("suspend"),
                    )
                    .await;
                    did(s, "suspend");
                    return;
                }
                if s.plan == Plan::Extension && !s.done.contains("extension") {
                    let command = Command::RequestExtension(RequestExtension {
                        reason: "需协调产权单位".into(),
                        handle_due: handle_due + time::Duration::days(7),
                        request_by: self.district.extension_request_by(handle_due),
                    });
                    self.act(id, &lead_actor, command, &key("extension")).await;
                    did(s, "extension");
                    return;
                }
                if c.pending_extension.is_some() {
                    let command = Command::DecideExtension(DecideExtension {
                        granted: true,
                        handle_due: None,
                        comment: None,
                    });
                    self.act(id, &supervisor(), command, &key("grant")).await;
                    return;
                }
                if day >= s.last + s.reply_after {
                    let command = Command::Reply(Reply {
                        result: ReplyResult::Resolved,
                        text: "已处理完毕".into(),
                        summary_for_citizen: None,
                        personal: Vec::new(),
                    });
                    self.act(id, &lead_actor, command, &key("reply")).await;
                    did(s, "reply");
                }
            }
            Status::Suspended if day >= s.last + 4 => {
                let (Some(suspension), Some(dispatch)) = (&c.suspension, &c.dispatch) else {
                    return;
                };
                // As routing completes a resume: the working time left then runs from now.
                let cal = &self.district.calendar;
                let left = cal.working_between(suspension.suspended_at, dispatch.handle_due);
                let handle_due = cal.add_working(now, left).max(dispatch.handle_due);
                let command = Command::Resume(Resume { handle_due });
                self.act(id, &unit(&lead), command, &key("resume")).await;
                did(s, "resume");
            }
            Status::InMediation => {
                let m = c.mediation.as_ref().unwrap();
                if m.failure.is_some() {
                    let command = Command::Refer(Refer {
                        to: ReferralTarget::Court,
                        institution: "南湖区人民法院".into(),
                    });
                    self.act(id, &mediator(), command, &key("refer")).await;
                } else if m.sessions < 2 && day >= s.last + 3 {
                    let command = Command::RecordMediationSession(RecordMediationSession {
                        summary: "双方陈述意见".into(),
                    });
                    self.act(id, &mediator(), command, &key("session")).await;
                    did(s, "session");
                } else if m.sessions >= 2 && day >= s.last + 3 {
                    if s.plan == Plan::Agreement {
                        let command = Command::RecordAgreement(RecordAgreement {
                            terms: "双方达成调解协议".into(),
                            court_confirmation: true,
                            court_confirmation_due: self.district.court_confirmation_due(now),
                        });
                        self.act(id, &mediator(), command, &key("agree")).await;
                    } else {
                        let r = Reason {
                            reason: "一方拒绝调解方案".into(),
                        };
                        self.act(
                            id,
                            &mediator(),
                            Command::RecordMediationFailure(r),
                            &key("fail"),
                        )
                        .await;
                    }
                    did(s, "mediation-end");
                }
            }
            Status::Replied => {
                if c.awaits_reopen() {
                    let r = Reason {
                        reason: "市民不满意".into(),
                    };
                    self.act(id, &operator(), Command::Reopen(r), &key("reopen"))
                        .await;
                    did(s, "reopen");
                } else if day > s.last {
                    let unhappy = s.plan == Plan::Unsatisfied && c.reopened == 0;
                    let command = Command::RecordCallback(RecordCallback {
                        satisfaction: if unhappy {
                            Satisfaction::Unsatisfied
                        } else {
                            Satisfaction::Satisfied
                        },
                        resolved: !unhappy,
                        comment: None,
                    });
                    self.act(id, &operator(), command, &key("callback")).await;
                    did(s, "callback");
                }
            }
            Status::Referred => {
                self.act(
                    id,
                    &operator(),
                    Command::Close(Close { reason: None }),
                    &key("close"),
                )
                .await;
            }
            _ => {}
        }
    }
}

/// The log, folded per case: every event in order with its state before and after.
struct Folded {
    events: Vec<StoredEvent>,
    cases: BTreeMap<CaseId, Case>,
}

async fn fold_log(log: &EventLog) -> Folded {
    let last = log.last_sequence().await.unwrap();
    let mut events = Vec::new();
    let mut stream = Box::pin(log.read_from(1).await.unwrap());
    while events.len() < last as usize {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the log to be read")
            .expect("more events");
        let e = next.unwrap();
        let seq = e.seq;
        events.push(e);
        if seq >= last {
            break;
        }
    }
    let mut cases = BTreeMap::new();
    for e in &events {
        let env = &e.envelope;
        let case = cases
            .entry(env.case_id)
            .or_insert_with(|| Case::new(env.case_id));
        case.apply(&Event::from_parts(&env.event_type, env.schema, &env.data).unwrap());
    }
    Folded { events, cases }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_in_a_district() {
    let total = env_or("CASEGRID_YEAR_CASES", 2000);
    let days = env_or("CASEGRID_YEAR_DAYS", 365);
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config");
    let district = Arc::new(District::load(&config_dir).unwrap());

    let nats = TestNats::start();
    let client = nats.client().await;
    let log = EventLog::create(client.clone(), LogConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = RoutingState::connect(&format!(
        "sqlite:{}",
        dir.path().join("routing.db").display()
    ))
    .await
    .unwrap();
    let start = datetime!(2026-01-01 09:00 +08:00);
    let clock = ManualClock::new(start);
    let routing = Routing::new(
        CaseStore::new(log.clone(), Numbering::default(), 1_000_000),
        Config::new(config_dir.clone(), (*district).clone()),
        Arc::new(clock.clone()),
        casegrid_privacy::KeyVault::open(client.clone(), 1)
            .await
            .unwrap(),
        state,
    );
    let live_url = format!("sqlite://{}?mode=rwc", dir.path().join("live.db").display());
    let live = ReadModel::connect(&live_url).await.unwrap();
    let shutdown = CancellationToken::new();
    let routing_task = tokio::spawn(casegrid_routing::run(
        client.clone(),
        log.clone(),
        routing.clone(),
        "year",
        Duration::from_millis(10),
        shutdown.clone(),
    ));
    let projection_task = tokio::spawn(casegrid_projection::run(
        client.clone(),
        log.clone(),
        live.clone(),
        HashMap::new(),
        shutdown.clone(),
    ));

    let world = District0 {
        clock: clock.clone(),
        desk: CaseStore::new(log.clone(), Numbering::default(), 1_000_000),
        district: district.clone(),
        refused: Default::default(),
    };
    // Routing has fired every due deadline and reacted to every event.
    // Polled every 2 ms (the test kit's `eventually` waits 20 ms, a day's worth of
    // waiting three times a day).
    let settle = || async {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let last = log.last_sequence().await.unwrap();
            let at = routing.state().checkpoint().await.unwrap();
            let due = routing.state().due(clock.now(), 1).await.unwrap();
            if at >= last && due.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "routing did not settle in 120 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut scripts: Vec<(CaseId, Script)> = Vec::new();
    let mut tick_times = Vec::new();
    let began = Instant::now();
    for day in 0..days {
        clock.set(start + time::Duration::days(day as i64));
        settle().await;
        // Routing's time for one tick with the district as old as it is today.
        let t = Instant::now();
        routing.fire_due_deadlines().await.unwrap();
        let rows = routing.state().open_deadlines().await.unwrap();
        tick_times.push((day, t.elapsed(), rows));

        let filings = total * (day + 1) / days - total * day / days;
        for i in 0..filings {
            let n = scripts.len();
            let plan = match rng.below(100) {
                0..=29 => Plan::Plain,
                30..=39 => Plan::Unsatisfied,
                40..=47 => Plan::Return,
                48..=57 => Plan::Whistle,
                58..=63 => Plan::Agreement,
                64..=67 => Plan::MediationFails,
                68..=75 => Plan::Suspend,
                76..=83 => Plan::Extension,
                84..=88 => Plan::Merge,
                89..=92 => Plan::Withdraw,
                _ => Plan::Neglected,
            };
            let category = match plan {
                Plan::Whistle => "sanitation",
                Plan::Agreement | Plan::MediationFails => "neighbor_dispute",
                Plan::Suspend | Plan::Extension => "property_management",
                _ if rng.below(2) == 0 => "water_leak",
                _ => "noise",
            };
            let id = world.file(&format!("y{day}-{i}"), category).await;
            let into = (plan == Plan::Merge && n > 0).then(|| scripts[n - 1].0);
            scripts.push((
                id,
                Script {
                    plan,
                    filed_day: day,
                    sign_after: match plan {
                        Plan::Neglected => 12,
                        _ => rng.below(3) as usize,
                    },
                    reply_after: 1 + rng.below(8) as usize,
                    into,
                    done: BTreeSet::new(),
                    last: day,
                    finished: false,
                },
            ));
        }
        settle().await;
        let world = &world;
        futures_util::stream::iter(scripts.iter_mut())
            .map(|(id, s)| async move { world.step(*id, s, day).await })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        // Routing reacts (re-dispatches after returns and reopens) before the day ends.
        settle().await;
    }
    let end = start + time::Duration::days(days as i64);
    clock.set(end);
    settle().await;
    let t = Instant::now();
    routing.fire_due_deadlines().await.unwrap();
    tick_times.push((
        days,
        t.elapsed(),
        routing.state().open_deadlines().await.unwrap(),
    ));
    let simulated = began.elapsed();

    let folded = fold_log(&log).await;
    eventually(
        Duration::from_secs(120),
        "the projection to catch up",
        || async {
            let last = log.last_sequence().await.ok()?;
            (live.checkpoint().await.ok()? >= last).then_some(())
        },
    )
    .await;
    shutdown.cancel();
    let _ = routing_task.await;
    let _ = projection_task.await;

    // Every missed deadline: open in the state before it, its clock running, past due;
    // exactly once; and every deadline that passed while its clock ran was marked
    // before anything else happened to the case.
    let ladder = &district.escalation;
    let mut by_case: BTreeMap<CaseId, Vec<&StoredEvent>> = BTreeMap::new();
    for e in &folded.events {
        by_case.entry(e.envelope.case_id).or_default().push(e);
    }
    let (mut missed, mut escalated, mut passed) = (0usize, 0usize, 0usize);
    for (id, events) in &by_case {
        let mut state = Case::new(*id);
        let mut seen: BTreeSet<(String, String, OffsetDateTime)> = BTreeSet::new();
        let escalations: Vec<(String, Option<String>, Option<u32>)> = events
            .iter()
            .filter(|e| e.envelope.event_type == "CaseEscalated")
            .map(|e| {
                (
                    e.envelope.causation_id.clone().unwrap_or_default(),
                    e.envelope.data["level_id"].as_str().map(str::to_owned),
                    e.envelope.data["rank"].as_u64().map(|r| r as u32),
                )
            })
            .collect();
        for (i, e) in events.iter().enumerate() {
            let env = &e.envelope;
            let event = Event::from_parts(&env.event_type, env.schema, &env.data).unwrap();
            let next_at = events
                .get(i + 1)
                .map(|n| n.envelope.occurred_at)
                .unwrap_or(end);
            if let Event::DeadlineMissed(m) = &event {
                missed += 1;
                assert!(
                    state.status.is_overdue_able(),
                    "case {id}: {:?} missed while {}",
                    m.deadline,
                    state.status
                );
                assert!(
                    state.open_deadline(m.deadline, &m.department).is_some(),
                    "case {id}: a deadline that was not open was missed"
                );
                assert!(
                    seen.insert((format!("{:?}", m.deadline), m.department.to_string(), m.due)),
                    "case {id}: {:?} of {} missed twice",
                    m.deadline,
                    m.department
                );
            }
            state.apply(&event);
            // A deadline past due before the next change must be the next thing marked.
            for open in state.open_deadlines() {
                if open.due < next_at {
                    passed += 1;
                    let next = events.get(i + 1).map(|n| &n.envelope);
                    let marked_next = events[i + 1..]
                        .iter()
                        .take_while(|n| {
                            matches!(
                                n.envelope.event_type.as_str(),
                                "DeadlineMissed" | "CaseEscalated"
                            )
                        })
                        .any(|n| {
                            n.envelope.event_type == "DeadlineMissed"
                                && n.envelope.data["department"] == open.unit.as_str()
                                && n.envelope.data["deadline"]
                                    == serde_json::to_value(open.kind).unwrap()
                        });
                    assert!(
                        marked_next,
                        "case {id} v{}: {:?} of {} due {} passed while its clock ran but was not marked (next: {:?})",
                        state.version,
                        open.kind,
                        open.unit,
                        open.due,
                        next.map(|n| &n.event_type)
                    );
                }
            }
        }
        assert_eq!(&state, &folded.cases[id]);
        // Each miss escalated the case once, one level up the configured ladder, until
        // its top; a case starts at the first level, so the k-th escalation (from 1)
        // reaches rank k + 1 and the ladder's (k + 1)-th id.
        let misses: BTreeSet<String> = events
            .iter()
            .filter(|e| e.envelope.event_type == "DeadlineMissed")
            .map(|e| e.envelope.event_id.to_string())
            .collect();
        assert_eq!(
            escalations.len(),
            misses.len().min(ladder.len() - 1),
            "case {id}: {} misses, escalations {escalations:?}",
            misses.len()
        );
        let causes: BTreeSet<&String> = escalations.iter().map(|(c, _, _)| c).collect();
        assert_eq!(
            causes.len(),
            escalations.len(),
            "case {id}: one miss escalated twice"
        );
        for (k, (cause, level_id, rank)) in escalations.iter().enumerate() {
            assert!(
                misses.contains(cause),
                "case {id}: an escalation not caused by a miss"
            );
            assert_eq!(
                level_id.as_deref(),
                Some(ladder[k + 1].id.as_str()),
                "case {id}"
            );
            assert_eq!(*rank, Some(k as u32 + 2), "case {id}");
        }
        escalated += escalations.len();
    }

    // The deadline table is exactly the open deadlines of the fold.
    let reopened = RoutingState::connect(&format!(
        "sqlite:{}",
        dir.path().join("routing.db").display()
    ))
    .await
    .unwrap();
    let table: Vec<_> = reopened
        .all_deadlines()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.case_id,
                format!("{:?}", r.deadline),
                r.department.to_string(),
                r.due,
            )
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let want: Vec<_> = folded
        .cases
        .values()
        .flat_map(|c| {
            c.open_deadlines().into_iter().map(move |d| {
                (
                    c.id,
                    format!("{:?}", d.kind),
                    d.unit.to_string(),
                    OffsetDateTime::from_unix_timestamp(d.due.unix_timestamp()).unwrap(),
                )
            })
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(table.len(), want.len(), "deadline rows vs open deadlines");
    assert!(
        table == want,
        "the deadline table differs from the fold's open deadlines"
    );

    // The overdue list equals the fold.
    let mut overdue = BTreeSet::new();
    let mut q = casegrid_readmodel::OverdueQuery {
        limit: Some(500),
        ..Default::default()
    };
    loop {
        let page = live.overdue(&q, end).await.unwrap();
        overdue.extend(page.items.iter().map(|c| c.id));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let want_overdue: BTreeSet<CaseId> = folded
        .cases
        .values()
        .filter(|c| c.is_overdue(end))
        .map(|c| c.id)
        .collect();
    assert_eq!(
        overdue, want_overdue,
        "the overdue list differs from the fold"
    );

    // A rebuild equals the live read models.
    let rebuilt_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("rebuilt.db").display()
    );
    let rebuilt = ReadModel::connect(&rebuilt_url).await.unwrap();
    casegrid_readmodel::rebuild(&log, &rebuilt).await.unwrap();
    let diff = live.diff(&rebuilt).await.unwrap();
    assert!(diff.is_empty(), "rebuild differs from live: {diff:?}");

    if std::env::var_os("CASEGRID_YEAR_DEBUG").is_some() {
        for q in routing.state().queue().await.unwrap() {
            println!("queued: {q:?}");
        }
        for (id, s) in &scripts {
            let c = &folded.cases[id];
            if c.status == Status::Received {
                let types: Vec<&str> = by_case[id]
                    .iter()
                    .map(|e| e.envelope.event_type.as_str())
                    .collect();
                println!("received at the end: {:?} {:?}", s.plan, types);
            }
        }
    }
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for c in folded.cases.values() {
        *statuses.entry(c.status.as_str()).or_default() += 1;
    }
    let (first, last) = (
        &tick_times[1.min(tick_times.len() - 1)],
        tick_times.last().unwrap(),
    );
    println!(
        "a year: {} cases, {} events in {:.1?}; {missed} deadlines missed, {escalated} escalations, {passed} passed-while-running checks; overdue at the end: {}; statuses {statuses:?}; refused generator commands {:?}",
        folded.cases.len(),
        folded.events.len(),
        simulated,
        overdue.len(),
        world.refused.lock().unwrap()
    );
    println!(
        "routing tick: {:?} on day {} ({} open rows), {:?} on day {} ({} open rows)",
        first.1, first.0, first.2, last.1, last.0, last.2
    );
    assert!(missed > 0 && escalated > 0);
}
