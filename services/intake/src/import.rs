//! `casegrid import`: a city's history from its old 12345 system, filed as if casegrid
//! had recorded it. The format is in `docs/IMPORT.md`:
//!
//! - a CSV of cases, one row a case (`case_ref`, `filed_at`, channel, kind, category,
//!   title, place, reporter, `filed_by`), filed through the same [`filing_of`] as a live
//!   filing (the category and grid checked against the district, the reporter sealed
//!   with the case's own data key);
//! - JSON lines of the cases' later events (`case_ref`, `type`, `occurred_at`, `actor`,
//!   `data`), in the event schemas of DESIGN.md. Each is turned back into the command
//!   that records it ([`casegrid_domain::history::command_for`]) and decided again by the
//!   domain at its original instant: a history casegrid's rules would not have recorded
//!   is refused, naming the line and the rule. Phones, ID and card numbers in their free
//!   texts (replies, answers at intake, progress reports, notes) are masked and sealed
//!   with the case's key by the live actions' sealing ([`DataKey::seal_free_texts`]).
//!
//! Old category and department codes are mapped through a mapping file. Each case is
//! imported whole or not at all: its chain is built from version 1 and appended with
//! other cases in one JetStream atomic batch, whose first event per case requires an
//! empty subject. Event ids and command ids are derived from the case's reference, so a
//! second run finds every case already there and appends nothing. A refused case goes
//! to the report with its reason, and nothing of it is written.

use crate::{filing_of, masked_only, FileBody};
use casegrid_config::District;
use casegrid_domain::event::schema_of;
use casegrid_domain::history::command_for;
use casegrid_domain::{Actor, ActorKind, Case, CaseId, Command, Event};
use casegrid_eventlog::batch::SERVER_MAX_BATCH;
use casegrid_eventlog::{Envelope, EventLog, LogError, StoredEvent};
use casegrid_privacy::{DataKey, KeyVault};
use futures_util::{stream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// Old codes → casegrid's: `[categories]` and `[departments]` tables of strings.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    #[serde(default)]
    pub departments: BTreeMap<String, String>,
}

impl Mapping {
    /// Reads a mapping file; errors name the file and the field.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    fn department<'a>(&'a self, code: &'a str) -> &'a str {
        self.departments.get(code).map_or(code, String::as_str)
    }
}

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The old system's name: part of every imported case's id and command ids.
    pub source: String,
    /// Events in one atomic batch (at most the server's 1,000).
    pub batch_events: usize,
    /// Batches in flight at once.
    pub in_flight: usize,
    /// Old codes → casegrid's.
    pub mapping: Mapping,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            source: "legacy".into(),
            batch_events: SERVER_MAX_BATCH,
            in_flight: 8,
            mapping: Mapping::default(),
        }
    }
}

/// A case left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub case_ref: String,
    /// `cases.csv:N` or `events.jsonl:N`, where the problem is.
    pub at: String,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Cases appended by this run, and their events.
    pub cases: u64,
    pub events: u64,
    /// Cases found already imported (by an earlier run).
    pub already: u64,
    pub refused: Vec<Refused>,
    pub elapsed: Duration,
}

impl ImportReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How far an import is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub rows_done: u64,
    pub rows_total: u64,
    pub events: u64,
    pub elapsed: Duration,
}

/// One case ready to append: its events, sealed and chained.
struct Built {
    case_ref: String,
    case_id: CaseId,
    envelopes: Vec<Envelope>,
}

/// One line of the events file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventLine {
    #[serde(rename = "case_ref")]
    _case_ref: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(with = "time::serde::rfc3339")]
    occurred_at: OffsetDateTime,
    actor: Actor,
    #[serde(default)]
    data: Value,
}

/// Columns of the cases file.
const COLUMNS: &[&str] = &[
    "case_ref",
    "filed_at",
    "channel",
    "kind",
    "category",
    "urgency",
    "title",
    "description",
    "address",
    "grid",
    "reporter_name",
    "reporter_phone",
    "reporter_id_number",
    "reporter_address",
    "filed_by",
];

/// Fields of event data that name a department (mapped through `[departments]`).
const DEPARTMENT_FIELDS: &[&str] = &[
    "lead",
    "assisting",
    "department",
    "departments",
    "suggested_owner",
    "street",
];

/// The id of an imported case: stable across runs for one source and reference.
pub fn case_id_of(source: &str, case_ref: &str) -> CaseId {
    CaseId::for_filing(&format!("import:{source}"), case_ref)
}

fn command_id(source: &str, case_ref: &str, version: u64) -> String {
    format!("import:{source}:{case_ref}:{version}")
}

/// Cases decided and sealed a chunk at a time: the next chunk is built while the
/// previous one is appended.
const CHUNK_CASES: usize = 4_096;

/// One accepted row waiting to be built.
struct Job {
    line: usize,
    case_ref: String,
    row: Row,
    history: Vec<(usize, String)>,
}

/// What the building tasks share.
struct Shared {
    district: District,
    mapping: Mapping,
    source: String,
}

/// Imports `cases` (CSV) and `events` (JSON lines) into the log. Fails only when the
/// files cannot be read or the log is unavailable; every problem with a case is in
/// the report.
///
/// The cases already in the log are learnt once, from the stream's subjects, and
/// skipped without being built. The others go a chunk at a time: decided on every
/// core, their data keys created in atomic batches, sealed and chained on every core,
/// then appended in atomic batches (`in_flight` at once) while the next chunk is built.
pub async fn import(
    log: &EventLog,
    keys: &KeyVault,
    district: &District,
    cases: &Path,
    events: &Path,
    options: &ImportOptions,
    progress: impl Fn(Progress),
) -> anyhow::Result<ImportReport> {
    let started = Instant::now();
    let mut report = ImportReport::default();
    let (mut lines, mut refused_refs) = read_events(events)?;
    let rows = read_cases(cases)?;
    let rows_total = rows.len() as u64;
    let present = log.cases_present().await?;
    let mut seen = HashMap::new();
    let mut jobs = Vec::new();
    for (line, row) in rows {
        let case_ref = match &row {
            Ok(r) => r.get("case_ref").cloned().unwrap_or_default(),
            Err((case_ref, _)) => case_ref.clone(),
        };
        let at = format!("cases.csv:{line}");
        if let Some(first) = seen.insert(case_ref.clone(), line) {
            report.refused.push(Refused {
                case_ref,
                at,
                reason: format!("case_ref: the same reference as line {first}"),
            });
            continue;
        }
        if let Some(r) = refused_refs.remove(&case_ref) {
            report.refused.push(r);
            continue;
        }
        let row = match row {
            Ok(row) => row,
            Err((case_ref, reason)) => {
                report.refused.push(Refused {
                    case_ref,
                    at,
                    reason,
                });
                continue;
            }
        };
        let history = lines.remove(&case_ref).unwrap_or_default();
        if present.contains(&case_id_of(&options.source, &case_ref)) {
            report.already += 1;
            continue;
        }
        jobs.push(Job {
            line,
            case_ref,
            row,
            history,
        });
    }
    let mut rows_done = rows_total - jobs.len() as u64;
    let shared = Arc::new(Shared {
        district: district.clone(),
        mapping: options.mapping.clone(),
        source: options.source.clone(),
    });
    let batch_events = options.batch_events.clamp(1, SERVER_MAX_BATCH);
    let mut appending: Option<tokio::task::JoinHandle<anyhow::Result<ImportReport>>> = None;
    let mut jobs = jobs.into_iter().peekable();
    while jobs.peek().is_some() {
        let chunk: Vec<Job> = jobs.by_ref().take(CHUNK_CASES).collect();
        rows_done += chunk.len() as u64;
        let t0 = Instant::now();
        let decided = on_every_core(&shared, chunk, decide).await?;
        let t_decide = t0.elapsed();
        let mut ready = Vec::new();
        for d in decided {
            match d {
                Ok(d) => ready.push(d),
                Err(r) => report.refused.push(r),
            }
        }
        let needing: Vec<CaseId> = ready
            .iter()
            .filter(|d| d.needs_key)
            .map(|d| d.case_id)
            .collect();
        let mut new_keys: HashMap<CaseId, DataKey> = needing
            .iter()
            .copied()
            .zip(
                keys.keys_for_filings(log.client(), &needing)
                    .await
                    .map_err(|e| anyhow::anyhow!("the key store: {e}"))?,
            )
            .collect();
        let t_keys = t0.elapsed();
        let ready: Vec<(Decided, Option<DataKey>)> = ready
            .into_iter()
            .map(|d| {
                let key = new_keys.remove(&d.case_id);
                (d, key)
            })
            .collect();
        let built = on_every_core(&shared, ready, |shared, (d, key)| {
            seal_and_chain(shared, d, key.as_ref())
        })
        .await?;
        let mut batches: Vec<Vec<Built>> = Vec::new();
        let mut pending: Vec<Built> = Vec::new();
        let mut pending_events = 0usize;
        for b in built {
            let b = match b {
                Ok(b) => b,
                Err(r) => {
                    report.refused.push(r);
                    continue;
                }
            };
            if b.envelopes.len() > batch_events {
                batches.push(vec![b]);
                continue;
            }
            if pending_events + b.envelopes.len() > batch_events {
                batches.push(std::mem::take(&mut pending));
                pending_events = 0;
            }
            pending_events += b.envelopes.len();
            pending.push(b);
        }
        if !pending.is_empty() {
            batches.push(pending);
        }
        let t_built = t0.elapsed();
        if let Some(previous) = appending.take() {
            merge(&mut report, previous.await??);
        }
        tracing::debug!(
            cases = rows_done,
            ?t_decide,
            ?t_keys,
            ?t_built,
            appended = ?t0.elapsed(),
            "import chunk"
        );
        let (log, source, in_flight) = (log.clone(), options.source.clone(), options.in_flight);
        appending = Some(tokio::spawn(async move {
            append_batches(&log, &source, in_flight, batches).await
        }));
        progress(Progress {
            rows_done,
            rows_total,
            events: report.events,
            elapsed: started.elapsed(),
        });
    }
    if let Some(previous) = appending.take() {
        merge(&mut report, previous.await??);
    }
    // Events of cases that have no row.
    for (case_ref, history) in &lines {
        if !seen.contains_key(case_ref) {
            let (line, _) = &history[0];
            report.refused.push(Refused {
                case_ref: case_ref.clone(),
                at: format!("events.jsonl:{line}"),
                reason: "case_ref: no row in the cases file".into(),
            });
        }
    }
    report.refused.extend(refused_refs.into_values());
    report.elapsed = started.elapsed();
    progress(Progress {
        rows_done,
        rows_total,
        events: report.events,
        elapsed: report.elapsed,
    });
    Ok(report)
}

/// `f` over `items` on every core (blocking tasks), answers in the items' order.
async fn on_every_core<T, R>(
    shared: &Arc<Shared>,
    items: Vec<T>,
    f: fn(&Shared, T) -> R,
) -> anyhow::Result<Vec<R>>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_task = items.len().div_ceil(cores).max(1);
    let mut items = items.into_iter().peekable();
    let mut tasks = Vec::new();
    while items.peek().is_some() {
        let part: Vec<T> = items.by_ref().take(per_task).collect();
        let shared = shared.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            part.into_iter().map(|t| f(&shared, t)).collect::<Vec<R>>()
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.extend(task.await?);
    }
    Ok(out)
}

fn merge(report: &mut ImportReport, part: ImportReport) {
    report.cases += part.cases;
    report.events += part.events;
    report.already += part.already;
    report.refused.extend(part.refused);
}

type Row = BTreeMap<String, String>;

/// The rows of the cases file by line number; a row that cannot be read is an error
/// naming its reference (or its line) and the column.
#[allow(clippy::type_complexity)]
fn read_cases(path: &Path) -> anyhow::Result<Vec<(usize, Result<Row, (String, String)>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| anyhow::anyhow!("{}: the header row: {e}", path.display()))?
        .clone();
    for h in &headers {
        if !COLUMNS.contains(&h) {
            anyhow::bail!(
                "{}: unknown column {h:?}; the columns are {}",
                path.display(),
                COLUMNS.join(", ")
            );
        }
    }
    for required in [
        "case_ref", "filed_at", "channel", "kind", "category", "title",
    ] {
        if !headers.iter().any(|h| h == required) {
            anyhow::bail!("{}: the column {required:?} is missing", path.display());
        }
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let row = match record {
            Err(e) => Err((format!("line {line}"), format!("unreadable row: {e}"))),
            Ok(r) if r.len() != headers.len() => Err((
                r.get(0).unwrap_or_default().to_owned(),
                format!("{} fields, the header has {}", r.len(), headers.len()),
            )),
            Ok(r) => {
                let row: Row = headers
                    .iter()
                    .zip(r.iter())
                    .filter(|(_, v)| !v.trim().is_empty())
                    .map(|(h, v)| (h.to_owned(), v.to_owned()))
                    .collect();
                match row.get("case_ref") {
                    None => Err((format!("line {line}"), "case_ref: empty".into())),
                    Some(_) => Ok(row),
                }
            }
        };
        rows.push((line, row));
    }
    Ok(rows)
}

/// The events file's lines grouped by case (in file order), and the cases with a
/// line that cannot be read.
#[allow(clippy::type_complexity)]
fn read_events(
    path: &Path,
) -> anyhow::Result<(
    HashMap<String, Vec<(usize, String)>>,
    HashMap<String, Refused>,
)> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut lines: HashMap<String, Vec<(usize, String)>> = HashMap::new();
    let mut refused = HashMap::new();
    #[derive(Deserialize)]
    struct Ref {
        case_ref: String,
    }
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Ref>(line) {
            Ok(r) => lines
                .entry(r.case_ref)
                .or_default()
                .push((n, line.to_owned())),
            Err(e) => {
                // A line whose case cannot even be named refuses nothing but itself;
                // name it by line.
                let case_ref = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v.get("case_ref")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("events.jsonl:{n}"));
                refused.entry(case_ref.clone()).or_insert(Refused {
                    case_ref,
                    at: format!("events.jsonl:{n}"),
                    reason: format!("unreadable line: {e}"),
                });
            }
        }
    }
    Ok((lines, refused))
}

fn refuse(case_ref: &str, at: Option<String>, line: usize, reason: impl Into<String>) -> Refused {
    Refused {
        case_ref: case_ref.to_owned(),
        at: at.unwrap_or_else(|| format!("cases.csv:{line}")),
        reason: reason.into(),
    }
}

/// The filing actor of a row: by its channel, named by `filed_by`.
fn filer(row: &Row, channel: &str) -> Result<Actor, String> {
    let kind = match channel {
        "hotline" => ActorKind::Operator,
        "grid_patrol" => ActorKind::GridWorker,
        "suggestion_box" => ActorKind::Public,
        other => return Err(format!("channel: unknown channel {other:?}")),
    };
    let id = match (row.get("filed_by"), kind) {
        (Some(id), _) => id.clone(),
        (None, ActorKind::Public) => "public".to_owned(),
        (None, _) => return Err("filed_by: who filed the case is required".into()),
    };
    Ok(Actor::new(kind, id))
}

/// The filing body of a row, as `POST /cases` would take it.
fn body_of(row: &Row, mapping: &Mapping, source: &str) -> Result<FileBody, String> {
    let get = |k: &str| row.get(k).map(|v| Value::String(v.clone()));
    let category = row.get("category").cloned().unwrap_or_default();
    let category = mapping
        .categories
        .get(&category)
        .cloned()
        .unwrap_or(category);
    let mut reporter = Map::new();
    for (column, field) in [
        ("reporter_name", "name"),
        ("reporter_phone", "phone"),
        ("reporter_id_number", "id_number"),
        ("reporter_address", "address"),
    ] {
        if let Some(v) = get(column) {
            reporter.insert(field.into(), v);
        }
    }
    let mut body = json!({
        "channel": get("channel"),
        "kind": get("kind"),
        "category": category,
        "title": get("title"),
        "location": {"address": get("address"), "grid": get("grid")},
        "source": {"imported_from": source, "case_ref": row.get("case_ref")},
    });
    if let Some(u) = get("urgency") {
        body["urgency"] = u;
    }
    if let Some(d) = get("description") {
        body["description"] = d;
    }
    if !reporter.is_empty() {
        body["reporter"] = Value::Object(reporter);
    }
    serde_json::from_value(body).map_err(|e| e.to_string())
}

/// Maps old department codes in an event's data and actor.
fn map_departments(value: &mut Value, mapping: &Mapping, in_field: bool) {
    match value {
        Value::String(s) if in_field => {
            let mapped = mapping.department(s);
            if mapped != s {
                *s = mapped.to_owned();
            }
        }
        Value::Array(items) => {
            for item in items {
                map_departments(item, mapping, in_field);
            }
        }
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                map_departments(member, mapping, DEPARTMENT_FIELDS.contains(&name.as_str()));
            }
        }
        _ => {}
    }
}

/// A case decided at every instant of its history, its personal data not yet sealed.
struct Decided {
    case_ref: String,
    line: usize,
    case_id: CaseId,
    actor: Actor,
    filed_at: OffsetDateTime,
    body: FileBody,
    /// Whether the filing or a later free text holds personal data (the case needs
    /// its data key).
    needs_key: bool,
    /// Whether a later free text (a reply, a progress report, a note…) holds a phone,
    /// ID or card number: its events are decided again once sealed.
    texts_to_seal: bool,
    steps: Vec<Step>,
}

/// One decided step of a case's history: who did what, what it recorded, when.
struct Step {
    actor: Actor,
    /// As the line gave it, its free texts in clear (the filing's step: unused).
    command: Command,
    event: Event,
    at: OffsetDateTime,
}

/// Decides a case's filing and every later event at its instant.
fn decide(shared: &Shared, job: Job) -> Result<Decided, Refused> {
    let Job {
        line,
        case_ref,
        row,
        history,
    } = job;
    let (district, mapping, source) = (&shared.district, &shared.mapping, shared.source.as_str());
    let refused = |at: Option<String>, reason: String| refuse(&case_ref, at, line, reason);
    let case_id = case_id_of(source, &case_ref);
    let filed_at = row.get("filed_at").map(String::as_str).unwrap_or_default();
    let filed_at = OffsetDateTime::parse(filed_at, &Rfc3339)
        .map_err(|e| refused(None, format!("filed_at: {filed_at:?} is not RFC 3339: {e}")))?;
    let channel = row.get("channel").map(String::as_str).unwrap_or_default();
    let actor = filer(&row, channel).map_err(|e| refused(None, e))?;
    let body = body_of(&row, mapping, source).map_err(|e| refused(None, e))?;
    let filing = filing_of(district, &body, masked_only).map_err(|p| refused(None, p.detail))?;
    let mut needs_key = filing.reporter.is_some() || !filing.personal.is_empty();
    let mut texts_to_seal = false;
    let mut case = Case::new(case_id);
    let mut steps: Vec<Step> = Vec::with_capacity(history.len() + 1);
    let filing = Command::FileCase(filing);
    let filed = case
        .decide(&actor, &filing, filed_at)
        .map_err(|r| refused(None, r.detail))?;
    case.apply(&filed);
    steps.push(Step {
        actor: actor.clone(),
        command: filing,
        event: filed,
        at: filed_at,
    });
    let mut last = filed_at;
    for (n, line) in &history {
        let at = Some(format!("events.jsonl:{n}"));
        let mut line: EventLine = serde_json::from_str(line)
            .map_err(|e| refused(at.clone(), format!("unreadable line: {e}")))?;
        if line.occurred_at < last {
            return Err(refused(
                at,
                "occurred_at: before the case's previous event (a case's lines are in the order they happened)".into(),
            ));
        }
        last = line.occurred_at;
        line.actor.id = mapping.department(&line.actor.id).to_owned();
        map_departments(&mut line.data, mapping, false);
        if line.event_type == "CaseMerged" {
            if let Some(into) = line.data.get("into").and_then(Value::as_str) {
                if CaseId::parse(into).is_err() {
                    line.data["into"] = Value::String(case_id_of(source, into).to_string());
                }
            }
        }
        let event = Event::from_parts(&line.event_type, schema_of(&line.event_type), &line.data)
            .map_err(|e| refused(at.clone(), e.to_string()))?;
        let mut command =
            command_for(&event, line.occurred_at).map_err(|e| refused(at.clone(), e))?;
        let (brings_sealed, to_seal) = free_texts(&mut command);
        if brings_sealed {
            return Err(refused(
                at,
                "personal: sealed values are not imported (another system's keys do not \
                 open them here); give the texts in clear and the import seals them"
                    .into(),
            ));
        }
        if to_seal {
            needs_key = true;
            texts_to_seal = true;
        }
        let decided = case
            .decide(&line.actor, &command, line.occurred_at)
            .map_err(|r| refused(at.clone(), r.detail))?;
        case.apply(&decided);
        steps.push(Step {
            actor: line.actor,
            command,
            event: decided,
            at: line.occurred_at,
        });
    }
    Ok(Decided {
        case_ref,
        line,
        case_id,
        actor,
        filed_at,
        body,
        needs_key,
        texts_to_seal,
        steps,
    })
}

/// What the free texts of an imported command hold: sealed values of their own (a
/// `personal` member in the line's data), and phones, ID or card numbers to seal.
fn free_texts(command: &mut Command) -> (bool, bool) {
    use casegrid_domain::personal::{find_personal, free_texts_of};
    free_texts_of(command).map_or((false, false), |(texts, personal)| {
        let to_seal = texts.iter().any(|(_, t)| !find_personal(t).is_empty());
        (!personal.is_empty(), to_seal)
    })
}

/// Seals the case's personal data with its key (accepted whole, so now) and chains the
/// envelopes: the filing's fields as a live filing's, and the phones, ID and card
/// numbers of later free texts as a live action's ([`DataKey::seal_free_texts`], named
/// with the event's version), those events decided again with their texts masked.
fn seal_and_chain(shared: &Shared, d: Decided, key: Option<&DataKey>) -> Result<Built, Refused> {
    let Decided {
        case_ref,
        line,
        case_id,
        actor,
        filed_at,
        body,
        texts_to_seal,
        mut steps,
        ..
    } = d;
    let source = shared.source.as_str();
    let refused = |reason: String| refuse(&case_ref, None, line, reason);
    if let Some(key) = key {
        let sealed = filing_of(&shared.district, &body, |field, clear, masked| {
            key.seal(field, clear, masked)
        })
        .map_err(|p| refused(p.detail))?;
        let mut case = Case::new(case_id);
        steps[0].event = case
            .decide(&actor, &Command::FileCase(sealed), filed_at)
            .map_err(|r| refused(r.detail))?;
        if texts_to_seal {
            case.apply(&steps[0].event);
            for (i, step) in steps.iter_mut().enumerate().skip(1) {
                key.seal_free_texts(i as u64 + 1, &mut step.command);
                step.event = case
                    .decide(&step.actor, &step.command, step.at)
                    .map_err(|r| refused(r.detail))?;
                case.apply(&step.event);
            }
        }
    }
    let correlation = format!("import:{source}:{case_ref}");
    let mut envelopes: Vec<Envelope> = Vec::with_capacity(steps.len());
    for (
        i,
        Step {
            actor, event, at, ..
        },
    ) in steps.into_iter().enumerate()
    {
        let version = i as u64 + 1;
        let prev = envelopes
            .last()
            .map_or(casegrid_eventlog::envelope::GENESIS_HASH, |e| {
                e.hash.as_str()
            })
            .to_owned();
        let envelope = Envelope::seal(
            case_id,
            version,
            &prev,
            event.event_type(),
            event.schema(),
            event.data(),
            actor,
            command_id(source, &case_ref, version),
            correlation.clone(),
            None,
            at,
        )
        .and_then(|e| {
            e.with_event_id(Uuid::new_v5(
                &case_id.as_uuid(),
                format!("v{version}").as_bytes(),
            ))
        })
        .map_err(|e| refused(format!("sealing an envelope: {e}")))?;
        envelopes.push(envelope);
    }
    Ok(Built {
        case_ref,
        case_id,
        envelopes,
    })
}

/// Appends batches, `in_flight` at once; a refused batch is appended case by case.
async fn append_batches(
    log: &EventLog,
    source: &str,
    in_flight: usize,
    batches: Vec<Vec<Built>>,
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    let results: Vec<(Vec<Built>, Result<u64, LogError>, bool)> = stream::iter(batches)
        .map(|batch| async move {
            let chains: Vec<Vec<Envelope>> = batch.iter().map(|b| b.envelopes.clone()).collect();
            let (result, retried) = append_retrying(log, &chains).await;
            (batch, result, retried)
        })
        .buffer_unordered(in_flight.max(1))
        .collect()
        .await;
    for (batch, result, retried) in results {
        match result {
            Ok(_) => count(&mut report, &batch),
            Err(LogError::Conflict { .. } | LogError::Duplicate { .. }) if batch.len() > 1 => {
                for built in batch {
                    let (result, again) =
                        append_retrying(log, std::slice::from_ref(&built.envelopes)).await;
                    settle(log, source, &mut report, built, result, retried || again).await?;
                }
            }
            Err(LogError::Conflict { .. } | LogError::Duplicate { .. }) => {
                let built = batch.into_iter().next().expect("one case");
                settle(log, source, &mut report, built, result, retried).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(report)
}

fn count(report: &mut ImportReport, batch: &[Built]) {
    report.cases += batch.len() as u64;
    report.events += batch.iter().map(|b| b.envelopes.len() as u64).sum::<u64>();
}

/// A lost answer may hide a stored batch: retrying is safe (the expectations refuse a
/// second copy), and a refusal then means "look at what is there".
/// Answers whether it retried: a refusal after a retry most likely means this run's
/// first attempt was stored.
async fn append_retrying(
    log: &EventLog,
    chains: &[Vec<Envelope>],
) -> (Result<u64, LogError>, bool) {
    let mut attempt = 0;
    loop {
        match log.append_new_cases(chains).await {
            Err(LogError::Unavailable(e)) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "import batch: outcome unknown, retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            other => return (other, attempt > 0),
        }
    }
}

/// One case's append answered: stored, already there from an earlier run, or there
/// with another history. `retried`: the answer came after a retry of an append whose
/// outcome was unknown, so a case found with this import's history was stored by this
/// run (the cases of earlier runs were left out before building).
async fn settle(
    log: &EventLog,
    source: &str,
    report: &mut ImportReport,
    built: Built,
    result: Result<u64, LogError>,
    retried: bool,
) -> anyhow::Result<()> {
    match result {
        Ok(_) => count(report, std::slice::from_ref(&built)),
        Err(LogError::Conflict { .. } | LogError::Duplicate { .. }) => {
            let stored = log.load_case(built.case_id, 0).await?;
            let first = command_id(source, &built.case_ref, 1);
            if stored
                .first()
                .is_some_and(|e: &StoredEvent| e.envelope.command_id == first)
            {
                if retried {
                    count(report, std::slice::from_ref(&built));
                } else {
                    report.already += 1;
                }
            } else {
                report.refused.push(Refused {
                    case_ref: built.case_ref,
                    at: "stream".into(),
                    reason: format!(
                        "case {} already exists in the log with another history",
                        built.case_id
                    ),
                });
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Writes a plausible history of `cases` cases in the import format into `dir`
/// (`cases.csv`, `events.jsonl`), over the district's categories, leaf grids and
/// departments, starting at `start`: most cases dispatched, signed, replied and called
/// back; some returned and dispatched again, some asked an extension, some missed a
/// deadline and escalated, some noted. Deterministic for a given `cases` and `start`.
pub fn write_sample(
    dir: &Path,
    district: &District,
    cases: usize,
    start: OffsetDateTime,
) -> anyhow::Result<u64> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let categories: Vec<&str> = district.rules.keys().map(|c| c.as_str()).collect();
    let grids: Vec<&str> = district
        .grids
        .keys()
        .map(|g| g.as_str())
        .filter(|g| {
            !district
                .grids
                .keys()
                .any(|o| o.as_str().starts_with(&format!("{g}.")))
        })
        .collect();
    let departments: Vec<&str> = district.departments.keys().map(|d| d.as_str()).collect();
    anyhow::ensure!(
        !categories.is_empty() && !grids.is_empty() && departments.len() >= 2,
        "the district needs categories, grids and two departments for a sample"
    );
    let mut csv = csv::Writer::from_path(dir.join("cases.csv"))?;
    csv.write_record(COLUMNS)?;
    let mut jsonl = std::io::BufWriter::new(std::fs::File::create(dir.join("events.jsonl"))?);
    let rfc = |t: OffsetDateTime| t.format(&Rfc3339).expect("formats");
    let hours = |h: i64| time::Duration::hours(h);
    let mut events = 0u64;
    for i in 0..cases {
        let case_ref = format!("OLD-{i:07}");
        let filed = start + time::Duration::minutes((i as i64 * 7) % (60 * 24 * 300));
        let category = categories[i % categories.len()];
        let grid = grids[(i / 3) % grids.len()];
        let lead = departments[i % departments.len()];
        let other = departments[(i + 1) % departments.len()];
        csv.write_record([
            case_ref.as_str(),
            &rfc(filed),
            "hotline",
            "complaint",
            category,
            "normal",
            &format!("来电反映第{i}号问题"),
            "市民来电反映，请尽快处理",
            "南湖区滨江路12号",
            grid,
            "王小明",
            &format!("1380013{:04}", i % 10_000),
            "",
            "",
            "op.zhang",
        ])?;
        let mut line = |event_type: &str, at: OffsetDateTime, kind: &str, id: &str, data: Value| {
            events += 1;
            let line = json!({
                "case_ref": case_ref, "type": event_type, "occurred_at": rfc(at),
                "actor": {"kind": kind, "id": id}, "data": data,
            });
            writeln!(jsonl, "{line}")
        };
        let dispatch = |lead: &str, at: OffsetDateTime| {
            json!({"lead": lead, "assisting": [], "sign_due": rfc(at + hours(2)),
                   "handle_due": rfc(at + hours(120)), "rule": "sample", "return_due": rfc(at + hours(24))})
        };
        let mut t = filed + time::Duration::seconds(5);
        if i % 11 == 7 {
            line("CaseDispatched", t, "system", "routing", dispatch(other, t))?;
            t += hours(1);
            line(
                "DispatchReturned",
                t,
                "department",
                other,
                json!({"department": other, "reason": "不属于本单位职责", "suggested_owner": lead}),
            )?;
            t += time::Duration::seconds(5);
        }
        line("CaseDispatched", t, "system", "routing", dispatch(lead, t))?;
        let dispatched = t;
        if i % 13 == 5 {
            // Not signed in time: the deadline is missed and the case escalates.
            t = dispatched + hours(3);
            line(
                "DeadlineMissed",
                t,
                "system",
                "routing",
                json!({"deadline": "sign", "department": lead, "due": rfc(dispatched + hours(2))}),
            )?;
            line(
                "CaseEscalated",
                t + time::Duration::seconds(1),
                "system",
                "routing",
                json!({"level": "street", "by": {"kind": "system", "id": "routing"}, "reason": "签收超期"}),
            )?;
            t += time::Duration::seconds(2);
        } else {
            t = dispatched + hours(1);
        }
        line(
            "DispatchSigned",
            t,
            "department",
            lead,
            json!({"department": lead, "on_time": true, "whistle": false}),
        )?;
        if i % 17 == 3 {
            t += hours(2);
            line(
                "ExtensionRequested",
                t,
                "department",
                lead,
                json!({"department": lead, "reason": "需协调多部门", "handle_due": rfc(dispatched + hours(200)),
                       "previous_handle_due": rfc(dispatched + hours(120))}),
            )?;
            t += hours(1);
            line(
                "ExtensionDecided",
                t,
                "supervisor",
                "sup.li",
                json!({"department": lead, "granted": true, "handle_due": rfc(dispatched + hours(200))}),
            )?;
        }
        if i % 5 == 0 {
            t += hours(1);
            line(
                "NoteAdded",
                t,
                "department",
                lead,
                json!({"text": "已联系来电人"}),
            )?;
        }
        if i % 19 == 9 {
            // Still open.
            continue;
        }
        t += hours(20);
        line(
            "CaseReplied",
            t,
            "department",
            lead,
            json!({"department": lead, "result": "resolved", "text": "已处理完毕", "summary_for_citizen": "已处理"}),
        )?;
        t += hours(24);
        let satisfied = i % 7 != 0;
        line(
            "CallbackRecorded",
            t,
            "operator",
            "op.zhang",
            json!({"satisfaction": if satisfied {"satisfied"} else {"unsatisfied"},
                   "resolved": satisfied, "closed": satisfied}),
        )?;
    }
    csv.flush()?;
    jsonl.flush()?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        toml::from_str(
            "[categories]\n\"0301\" = \"noise\"\n[departments]\nD07 = \"dept.urban\"\nS01 = \"street.hubin\"\n",
        )
        .unwrap()
    }

    #[test]
    fn old_codes_are_mapped_in_rows_actors_and_department_fields_only() {
        let m = mapping();
        let row: Row = [
            ("case_ref", "A-1"),
            ("channel", "hotline"),
            ("kind", "complaint"),
            ("category", "0301"),
            ("title", "噪音"),
            ("grid", "NH.HB.BJ.03"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let body = body_of(&row, &m, "old").unwrap();
        assert_eq!(body.category, "noise");
        assert_eq!(body.source["case_ref"], "A-1");
        let mut data = json!({"lead": "D07", "assisting": ["S01", "D99"], "rule": "D07",
                              "ratings": [{"department": "S01", "comment": "D07"}]});
        map_departments(&mut data, &m, false);
        assert_eq!(
            data,
            json!({"lead": "dept.urban", "assisting": ["street.hubin", "D99"], "rule": "D07",
                   "ratings": [{"department": "street.hubin", "comment": "D07"}]})
        );
    }

    #[test]
    fn a_row_names_who_filed_it_by_its_channel() {
        let row = |by: Option<&str>| -> Row {
            by.map(|b| ("filed_by".to_owned(), b.to_owned()))
                .into_iter()
                .collect()
        };
        assert_eq!(
            filer(&row(Some("op.li")), "hotline").unwrap(),
            Actor::new(ActorKind::Operator, "op.li")
        );
        assert_eq!(filer(&row(None), "suggestion_box").unwrap().id, "public");
        assert!(filer(&row(None), "hotline")
            .unwrap_err()
            .contains("filed_by"));
        assert!(filer(&row(None), "fax").unwrap_err().contains("channel"));
    }
}
