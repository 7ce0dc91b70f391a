//! The rebuild group: a generated stream of realistic case lifecycles on a separate
//! nats-server with lazy fsync, drained raw and rebuilt into fresh read models.

use super::{mib, rate, raw, rss_of, sqlite_url, Report};
use anyhow::{bail, Context};
use async_nats::jetstream::{self, message::PublishMessage};
use casegrid_domain::event::schema_of;
use casegrid_domain::{Actor, ActorKind, CaseId, Event};
use casegrid_eventlog::envelope::GENESIS_HASH;
use casegrid_eventlog::{Envelope, EventLog, LogConfig};
use casegrid_readmodel::ReadModel;
use casegrid_runtime::natsserver::{NatsServer, Options};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::IntoFuture;
use std::path::Path;
use std::time::Instant;
use time::OffsetDateTime;

/// Acks in flight while generating.
const IN_FLIGHT: usize = 1024;
/// Simulated days the filings spread over.
const DAYS: i64 = 60;

/// What the rebuild group measured.
pub(super) struct Generated {
    pub(super) drain_rate: f64,
    pub(super) sqlite_rate: f64,
    pub(super) pg_rate: Option<f64>,
    /// nats-server's RSS growth per 100k generated cases (bytes), when readable.
    pub(super) nats_rss_per_100k: Option<f64>,
    /// The generated stream's bytes per case.
    pub(super) bytes_per_case: f64,
}

/// Categories as the demo district routes them: (category, lead, assisting, rule).
const ROUTES: &[(&str, &str, &[&str])] = &[
    ("noise", "dept.urban", &["dept.ecology"]),
    ("property_management", "dept.housing", &[]),
    ("wage_arrears", "dept.hrss", &[]),
    ("road_damage", "dept.transport", &[]),
    (
        "illegal_construction",
        "dept.urban",
        &["dept.housing", "street.hubin"],
    ),
    ("sanitation", "street.hubin", &[]),
    ("neighbor_dispute", "street.hubin", &[]),
];

/// A small deterministic generator (SplitMix64): the same stream every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

#[derive(Clone, Copy)]
enum Step {
    Filed,
    Dispatched,
    Signed(usize),
    Revealed,
    Note(u8),
    Replied,
    Callback { satisfied: bool },
    Closed,
}

struct CaseGen {
    id: CaseId,
    route: usize,
    filed_at: i64,
    steps: Vec<(i64, Step)>,
    prev_hash: String,
}

/// A lifecycle of 5–15 events with times in seconds, strictly increasing.
fn plan(rng: &mut Rng, filed_at: i64, route: usize) -> Vec<(i64, Step)> {
    let departments = 1 + ROUTES[route].2.len();
    let total = rng.range(5, 15) as usize;
    let mut extra = total - 5;
    let signs = departments.min(1 + extra);
    extra -= signs - 1;
    let unsatisfied = extra > 0 && rng.chance(20);
    if unsatisfied {
        extra -= 1;
    }
    let revealed = extra > 0 && rng.chance(10);
    if revealed {
        extra -= 1;
    }
    let mut at = filed_at;
    let mut steps = vec![(at, Step::Filed)];
    let mut after = |rng: &mut Rng, lo: i64, hi: i64| {
        at += rng.range(lo, hi).max(1);
        at
    };
    steps.push((after(rng, 60, 1800), Step::Dispatched));
    for d in 0..signs {
        steps.push((after(rng, 600, 8 * 3600), Step::Signed(d)));
    }
    if revealed {
        steps.push((after(rng, 60, 3600), Step::Revealed));
    }
    for n in 0..extra {
        steps.push((after(rng, 3600, 86_400), Step::Note(n as u8)));
    }
    steps.push((after(rng, 3600, 5 * 86_400), Step::Replied));
    steps.push((
        after(rng, 3600, 3 * 86_400),
        Step::Callback {
            satisfied: !unsatisfied,
        },
    ));
    if unsatisfied {
        steps.push((after(rng, 3600, 86_400), Step::Closed));
    }
    steps
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).expect("simulated times are in range")
}

/// The event of one step (type and data as JSON) and its actor. Built as JSON and read
/// back through [`Event::from_parts`], so the generator keeps compiling as events gain
/// optional fields, and fails with the domain's own message if one becomes required.
fn event(rng: &mut Rng, case: &CaseGen, step: Step, index: usize) -> (&'static str, Value, Actor) {
    let (category, lead, assisting) = ROUTES[case.route];
    let operator = Actor::new(ActorKind::Operator, "op.zhang");
    let lead_actor = Actor::new(ActorKind::Department, lead);
    let rfc3339 = |secs: i64| {
        at(secs)
            .format(&time::format_description::well_known::Rfc3339)
            .expect("simulated times format")
    };
    match step {
        Step::Filed => {
            let mut sealed = |masked: &str| {
                json!({
                    "masked": masked,
                    "sealed": format!("{:016x}{:016x}{:016x}{:08x}", rng.next(), rng.next(), rng.next(), rng.next() as u32),
                })
            };
            let reporter = json!({ "name": sealed("王**"), "phone": sealed("138****1234") });
            let channel = if rng.chance(80) {
                "hotline"
            } else {
                "grid_patrol"
            };
            let kind = if rng.chance(70) {
                "complaint"
            } else {
                "report"
            };
            let urgency = if rng.chance(90) { "normal" } else { "urgent" };
            let data = json!({
                "channel": channel, "kind": kind, "category": category, "urgency": urgency,
                "title": "夜间施工噪音扰民",
                "description": "滨江路12号工地每晚十一点后仍在打桩，影响休息，多次反映未果。",
                "location": { "address": "湖滨街道滨江路12号", "grid": "NH.HB.BJ.03" },
                "reporter": reporter,
                "source": { "call_id": format!("gen-call-{index}") },
            });
            ("CaseFiled", data, operator)
        }
        Step::Dispatched => (
            "CaseDispatched",
            json!({
                "lead": lead, "assisting": assisting,
                "sign_due": rfc3339(case.filed_at + 2 * 3600),
                "handle_due": rfc3339(case.filed_at + 7 * 86_400),
                "rule": format!("rules.toml#{category}"),
            }),
            Actor::new(ActorKind::System, "routing"),
        ),
        Step::Signed(d) => {
            let who = if d == 0 { lead } else { assisting[d - 1] };
            (
                "DispatchSigned",
                json!({ "department": who, "on_time": rng.chance(85) }),
                Actor::new(ActorKind::Department, who),
            )
        }
        Step::Revealed => (
            "PersonalDataRevealed",
            json!({ "fields": ["reporter.phone"], "reason": "回访核实联系方式" }),
            Actor::new(ActorKind::Supervisor, "sup.li"),
        ),
        Step::Note(n) if n % 3 == 2 => (
            "NoteAdded",
            json!({ "text": format!("备注{n}：当事人来电补充情况，已转承办部门。") }),
            operator,
        ),
        Step::Note(n) => (
            "ProgressRecorded",
            json!({ "department": lead, "text": format!("办理进展{n}：已联系施工单位，现场核查并督促整改。") }),
            lead_actor,
        ),
        Step::Replied => (
            "CaseReplied",
            json!({
                "department": lead, "result": "resolved",
                "text": "已责令施工单位夜间22时后停止作业，并现场复查。",
                "summary_for_citizen": "施工单位已停止夜间作业，我局将持续巡查。",
            }),
            lead_actor,
        ),
        Step::Callback { satisfied } => (
            "CallbackRecorded",
            json!({
                "satisfaction": if satisfied { "satisfied" } else { "unsatisfied" },
                "resolved": satisfied, "closed": satisfied,
            }),
            operator,
        ),
        Step::Closed => ("CaseClosed", json!({ "reason": "经复核已办结" }), operator),
    }
}

/// Seals every case's events in simulated-time order and sends (subject, msg id,
/// payload) down `tx`; runs on a blocking thread. Returns the number of events.
fn produce(
    cases: usize,
    subject_prefix: &str,
    tx: tokio::sync::mpsc::Sender<(String, String, bytes::Bytes)>,
) -> anyhow::Result<u64> {
    let mut rng = Rng(0x1234_5678);
    let start = OffsetDateTime::now_utc().unix_timestamp() - (DAYS + 30) * 86_400;
    let gap = (DAYS * 86_400 / cases.max(1) as i64).max(1);
    let mut gens = Vec::with_capacity(cases);
    let mut heap = BinaryHeap::with_capacity(cases);
    for i in 0..cases {
        let filed_at = start + i as i64 * gap + rng.range(0, gap - 1);
        let route = (rng.next() % ROUTES.len() as u64) as usize;
        let steps = plan(&mut rng, filed_at, route);
        heap.push(Reverse((filed_at, i, 0usize)));
        gens.push(CaseGen {
            id: CaseId::for_filing("bench-generator", &format!("gen-{i}")),
            route,
            filed_at,
            steps,
            prev_hash: GENESIS_HASH.to_owned(),
        });
    }
    let mut sent = 0u64;
    while let Some(Reverse((when, i, step))) = heap.pop() {
        let case = &gens[i];
        let (event_type, data, actor) = event(&mut rng, case, case.steps[step].1, i);
        let event = Event::from_parts(event_type, schema_of(event_type), &data)
            .with_context(|| format!("the generator's {event_type} no longer reads as an event"))?;
        let version = step as u64 + 1;
        let envelope = Envelope::seal(
            case.id,
            version,
            &case.prev_hash,
            event_type,
            event.schema(),
            event.data(),
            actor,
            format!("gen-{i}-{version}"),
            format!("gen-{i}"),
            None,
            at(when),
        )?;
        let subject = format!("{subject_prefix}.{}", case.id);
        let msg_id = format!("{}:{}", case.id, envelope.command_id);
        let payload = bytes::Bytes::from(envelope.to_payload());
        let case = &mut gens[i];
        case.prev_hash = envelope.hash;
        if let Some((next_at, _)) = case.steps.get(step + 1) {
            heap.push(Reverse((*next_at, i, step + 1)));
        }
        if tx.blocking_send((subject, msg_id, payload)).is_err() {
            bail!("the publisher stopped");
        }
        sent += 1;
    }
    Ok(sent)
}

/// Generates the stream, drains it, rebuilds it; adds the rows to `report`.
pub(super) async fn run(
    temp: &Path,
    cases: usize,
    pg: Option<&str>,
    report: &mut Report,
) -> anyhow::Result<Generated> {
    let dir = temp.join("generated");
    let mut server = tokio::task::spawn_blocking(move || {
        NatsServer::start(Options {
            store_dir: dir.join("nats"),
            port: 0,
            sync_always: false,
            auth: None,
            tls: None,
        })
    })
    .await?
    .context("starting the generation nats-server")?;
    let result = measure(&server, temp, cases, pg, report).await;
    tokio::task::spawn_blocking(move || server.stop()).await?;
    result
}

async fn measure(
    server: &NatsServer,
    temp: &Path,
    cases: usize,
    pg: Option<&str>,
    report: &mut Report,
) -> anyhow::Result<Generated> {
    let client = casegrid_runtime::nats::connect(&server.url(), "casegrid-bench-generator").await?;
    let config = LogConfig::default();
    let log = EventLog::create(client.clone(), config.clone()).await?;
    let js = jetstream::new(client.clone());

    let pid = server.pid().map(|p| p.to_string());
    let server_rss = || pid.as_deref().and_then(rss_of);
    let rss_empty = server_rss();
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(8192);
    let prefix = config.subject_prefix.clone();
    let producer = tokio::task::spawn_blocking(move || produce(cases, &prefix, tx));
    let mut pending = FuturesUnordered::new();
    let mut published = 0u64;
    // About 10 events a case: the bar's length is an estimate until the end.
    let progress =
        crate::progress::Progress::new("bench: generating the stream", cases as u64 * 10);
    while let Some((subject, msg_id, payload)) = rx.recv().await {
        if published % 1_000 == 0 {
            progress.set(published, (cases as u64 * 10).max(published));
        }
        let publish = PublishMessage::build().payload(payload).message_id(msg_id);
        let ack = js
            .send_publish(subject, publish)
            .await
            .context("publishing an event")?;
        pending.push(ack.into_future());
        if pending.len() >= IN_FLIGHT {
            pending
                .next()
                .await
                .context("no ack pending")?
                .context("generated append")?;
        }
        published += 1;
    }
    while let Some(ack) = pending.next().await {
        ack.context("generated append")?;
    }
    progress.set(published, published);
    progress.finish();
    let produced = producer.await.context("the generator panicked")??;
    let generation = started.elapsed();
    if produced != published {
        bail!("generated {produced} events but published {published}");
    }
    let mut stream = js.get_stream(&config.stream).await?;
    let info = stream.info().await?;
    if info.state.messages != published {
        bail!(
            "the generated stream holds {} events, {published} were published",
            info.state.messages
        );
    }
    report.row(
        "rebuild",
        &format!("generated {cases} cases, {published} events (events/s, lazy fsync)"),
        format!("{:.0}", rate(published, generation)),
    );
    let per_100k = 100_000.0 / cases.max(1) as f64;
    let mut nats_rss_per_100k = None;
    if let (Some(empty), Some(rss)) = (rss_empty, server_rss()) {
        nats_rss_per_100k = Some(rss.saturating_sub(empty) as f64 * per_100k);
        report.row(
            "memory",
            &format!("nats-server RSS empty → with {cases} cases"),
            format!("{} → {}", mib(empty as f64), mib(rss as f64)),
        );
        report.row(
            "memory",
            "  nats-server growth per 100k cases (extrapolated)",
            mib(rss.saturating_sub(empty) as f64 * per_100k),
        );
    }
    let bytes_per_case = info.state.bytes as f64 / cases.max(1) as f64;
    report.row(
        "memory",
        "generated stream bytes per case",
        format!("{bytes_per_case:.0}"),
    );

    let (drained, took) = raw::drain(&client, &config.stream).await?;
    let drain_rate = rate(drained, took);
    report.row(
        "raw",
        &format!("ordered drain of {drained} events (events/s)"),
        format!("{drain_rate:.0}"),
    );

    let first = ReadModel::connect(&sqlite_url(&temp.join("rebuild-1.db"))).await?;
    let t = Instant::now();
    let applied = crate::progress::rebuild("bench: rebuild into SQLite", &log, &first).await?;
    let took = t.elapsed();
    let sqlite_rate = rate(applied, took);
    report.row(
        "rebuild",
        &format!("{applied} events into fresh SQLite (events/s)"),
        format!("{sqlite_rate:.0}"),
    );
    report.row(
        "rebuild",
        "  SQLite rebuild time (s)",
        format!("{:.1}", took.as_secs_f64()),
    );
    if let (Some(rss), Some(own)) = (server_rss(), rss_of("self")) {
        report.row(
            "memory",
            "after the rebuild: nats-server / bench process RSS",
            format!("{} / {}", mib(rss as f64), mib(own as f64)),
        );
    }
    // Folding is deterministic: a second rebuild equals the first, row by row.
    let second = ReadModel::connect(&sqlite_url(&temp.join("rebuild-2.db"))).await?;
    crate::progress::rebuild("bench: second rebuild into SQLite", &log, &second).await?;
    let differences = first.diff(&second).await?;
    if differences.is_empty() {
        report.check(format!(
            "ok: two rebuilds of the generated stream ({applied} events) are equal"
        ));
    } else {
        report.check(format!(
            "FAILED: two rebuilds of the generated stream differ in {} rows; first: {}",
            differences.len(),
            differences[0]
        ));
    }
    let cases_rebuilt: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
        .fetch_one(first.pool())
        .await?;
    if cases_rebuilt as usize == cases {
        report.check(format!(
            "ok: the rebuilt read model holds all {cases} generated cases"
        ));
    } else {
        report.check(format!(
            "FAILED: the rebuilt read model holds {cases_rebuilt} cases, {cases} were generated"
        ));
    }
    second.close().await;

    let pg_rate = match pg {
        None => {
            report.row(
                "rebuild",
                "PostgreSQL",
                "n/a (no CASEGRID_BENCH_PG / --pg database)",
            );
            None
        }
        Some(url) => match ReadModel::connect(url).await {
            Err(e) => {
                report.row("rebuild", "PostgreSQL", format!("n/a ({e})"));
                None
            }
            Ok(model) => {
                let t = Instant::now();
                let applied =
                    crate::progress::rebuild("bench: rebuild into PostgreSQL", &log, &model)
                        .await?;
                let pg_rate = rate(applied, t.elapsed());
                report.row(
                    "rebuild",
                    &format!("{applied} events into fresh PostgreSQL (events/s)"),
                    format!("{pg_rate:.0}"),
                );
                let differences = model.diff(&first).await?;
                if differences.is_empty() {
                    report.check("ok: the PostgreSQL rebuild equals the SQLite rebuild");
                } else {
                    report.check(format!(
                        "FAILED: the PostgreSQL rebuild differs from SQLite in {} rows; first: {}",
                        differences.len(),
                        differences[0]
                    ));
                }
                model.close().await;
                Some(pg_rate)
            }
        },
    };
    first.close().await;
    if let Err(e) = client.drain().await {
        tracing::warn!(error = %e, "draining the generator's connection");
    }
    Ok(Generated {
        drain_rate,
        sqlite_rate,
        pg_rate,
        nats_rss_per_100k,
        bytes_per_case,
    })
}
