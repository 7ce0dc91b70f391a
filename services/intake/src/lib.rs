//! intake: files cases (受理), records callbacks (回访) and closes (结案), and
//! answers a case's envelopes exactly as stored (`/log`) and its state as of any past
//! instant, folded from the log (`?as_of=`).
//!
//! - [`Intake`]: the handlers, over a [`CaseStore`] and the [`KeyVault`] that seals
//!   reporters' personal data before it enters the log.
//! - [`run`]: registers the service and serves its subjects until shutdown.
//! - [`serve`]: builds everything from [`Settings`] (used by the binary and `casegrid`).

pub mod import;
mod kb;

pub use kb::editors_of;

use casegrid_commandbus::{answer, parse_request, problem_of};
use casegrid_config::{District, Unlocated};
use casegrid_contracts::actions::Owner;
use casegrid_contracts::query::{AsOfQuery, AsOfView};
use casegrid_contracts::{services, subjects, CaseQuery, CommandReply, FileRequest, Problem};
use casegrid_domain::command::FileCase;
use casegrid_domain::event::Location;
use casegrid_domain::ids::{mask_address, mask_id_number, mask_name, mask_phone};
use casegrid_domain::personal::{mask_text, seal_findings, Reporter, Sealed};
use casegrid_domain::point::{parse_degrees, CoordinateSystem, GridFound, Wgs84};
use casegrid_domain::{CaseId, Category, Command, GridCode, PhoneNumber};
use casegrid_eventlog::attachments::AttachmentError;
use casegrid_eventlog::store::{Numbering, Snapshot};
use casegrid_eventlog::{
    AttachmentStore, CaseStore, CommandMeta, EventLog, ExecuteError, StoredEvent,
};
use casegrid_privacy::{KeyVault, PrivacyError};
use casegrid_runtime::clock::SharedClock;
use casegrid_runtime::Settings;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

pub use casegrid_contracts::filing::{FileBody, LocationBody, ReporterBody};

/// The intake service's handlers.
#[derive(Clone)]
pub struct Intake {
    store: CaseStore,
    keys: KeyVault,
    district: Arc<District>,
    clock: SharedClock,
    /// `[kb] editors`: who creates and edits knowledge-base entries.
    kb_editors: Vec<casegrid_domain::ActorKind>,
    /// The attachment bucket: an attachment is recorded only when its object is there
    /// with that size and hash; personal ones are deleted at erasure. `None`: no bucket
    /// (attachments answer 503).
    attachments: Option<AttachmentStore>,
}

impl Intake {
    pub fn new(
        store: CaseStore,
        keys: KeyVault,
        district: Arc<District>,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            keys,
            district,
            clock,
            kb_editors: vec![casegrid_domain::ActorKind::Supervisor],
            attachments: None,
        }
    }

    /// Records attachments stored in this bucket and deletes the personal ones at erasure.
    pub fn with_attachments(mut self, attachments: AttachmentStore) -> Self {
        self.attachments = Some(attachments);
        self
    }

    /// Who creates and edits knowledge-base entries (supervisors by default).
    pub fn with_kb_editors(mut self, editors: Vec<casegrid_domain::ActorKind>) -> Self {
        self.kb_editors = editors;
        self
    }

    /// 受理: validates the body, lets the domain decide, then seals personal data and
    /// appends `CaseFiled`. A data key is made only for a filing the domain accepts.
    ///
    /// The case id is a UUIDv5 of (principal, `Idempotency-Key`), so a retried filing
    /// finds its case, compares the request's fingerprint with the one recorded in
    /// `CaseFiled` and answers the case (same request) or 422 (another body), at no
    /// durable write.
    pub async fn file(&self, payload: &[u8]) -> Result<CommandReply, Problem> {
        let request: FileRequest = parse_request(payload)?;
        let fingerprint = casegrid_commandbus::fingerprint("file", &request.body)?;
        let case_id = CaseId::for_filing(&request.actor.id, &request.idempotency_key);
        let meta = CommandMeta {
            command_id: casegrid_commandbus::http_command_id(
                &request.actor,
                &request.idempotency_key,
            ),
            correlation_id: casegrid_runtime::correlation::or(request.correlation_id),
            causation_id: None,
            request: Some(fingerprint),
        };
        let snapshot = self
            .store
            .snapshot(case_id)
            .await
            .map_err(|e| problem_of(e.into()))?;
        if snapshot.case.exists() {
            return self.filed_before(&snapshot, &meta);
        }
        let body: FileBody = serde_json::from_value(request.body)
            .map_err(|e| Problem::unprocessable(format!("case: {e}")))?;
        // Masked values only: the domain decides before any key exists.
        let mut filing = filing_of(&self.district, &body, masked_only)?;
        let needs_key = filing.reporter.is_some() || !filing.personal.is_empty();
        let now = self.clock.now();
        if let Err(rejection) =
            snapshot
                .case
                .decide(&request.actor, &Command::FileCase(filing.clone()), now)
        {
            return Err(rejection.into());
        }
        if needs_key {
            let key = self.keys.key_for_filing(case_id).await.map_err(|e| {
                tracing::warn!(error = %e, "key store");
                Problem::unavailable(
                    "the key store is unavailable; retry with the same Idempotency-Key",
                )
            })?;
            filing = filing_of(&self.district, &body, |field, clear, masked| {
                key.seal(field, clear, masked)
            })?;
        }
        let outcome = self
            .store
            .execute(
                case_id,
                &request.actor,
                &Command::FileCase(filing),
                &meta,
                now,
            )
            .await;
        match outcome {
            Ok(outcome) => Ok(casegrid_commandbus::reply_of(&outcome)),
            // Another request with this key won the race: it is the filing.
            Err(ExecuteError::Rejected(_)) => {
                let snapshot = self
                    .store
                    .snapshot(case_id)
                    .await
                    .map_err(|e| problem_of(e.into()))?;
                if snapshot.case.exists() {
                    self.filed_before(&snapshot, &meta)
                } else {
                    Err(Problem::internal(
                        "the filing was refused after the domain accepted it",
                    ))
                }
            }
            Err(e) => Err(problem_of(e)),
        }
    }

    /// The answer to a filing whose case exists: the case, when the request is the
    /// one recorded in `CaseFiled` (or the filing predates fingerprints); 422 otherwise.
    fn filed_before(
        &self,
        snapshot: &Snapshot,
        meta: &CommandMeta,
    ) -> Result<CommandReply, Problem> {
        if let Some(first) = snapshot.applied_at(1) {
            if first.action().is_some() && !first.same_request(meta.request.as_ref()) {
                return Err(casegrid_commandbus::key_reused(
                    &meta.command_id,
                    &snapshot.case.label(),
                    first,
                ));
            }
        }
        Ok(CommandReply {
            id: snapshot.case.id,
            number: snapshot.case.number.clone(),
            version: 1,
            status: snapshot.case.status,
            created: false,
            revealed: None,
        })
    }

    /// The actions intake owns; `reveal` answers the clear fields, `erase` deletes the key
    /// once the erasure is recorded. Side effects follow the event the command id
    /// recorded: a replay of the same request (same principal, key, action and body)
    /// answers the same result and appends nothing; a reveal replayed answers the clear
    /// values again (the one `PersonalDataRevealed` covers them), an erase replayed
    /// deletes the key again (a crash between the event and the deletion heals).
    pub async fn act(&self, payload: &[u8]) -> Result<CommandReply, Problem> {
        let (request, parsed) = casegrid_commandbus::prepare(Owner::Intake, payload)?;
        let mut command = casegrid_commandbus::complete(&request.action, parsed)?;
        self.store
            .seal_free_texts(&self.keys, request.case_id, &mut command)
            .await
            .map_err(casegrid_commandbus::seal_problem)?;
        if let Command::Merge(merge) = &command {
            self.check_merge_target(merge.into).await?;
        }
        if let Command::ReplyAtIntake(casegrid_domain::command::ReplyAtIntake {
            kb_entry: Some(entry),
            ..
        }) = &command
        {
            self.check_citation(*entry).await?;
        }
        if let Command::AddAttachment(a) = &command {
            self.check_stored(request.case_id, a).await?;
        }
        let case_id = request.case_id;
        let outcome =
            casegrid_commandbus::execute(&self.store, self.clock.as_ref(), request, &command)
                .await?;
        let mut reply = casegrid_commandbus::reply_of(&outcome);
        match outcome.event_type {
            "PersonalDataRevealed" => reply.revealed = Some(self.reveal(&outcome.case).await?),
            // Recorded first, then the key goes: a retry finds the event and erases again.
            "PersonalDataErased" => {
                self.keys.erase(case_id).await.map_err(key_problem)?;
                self.erase_attachments(&outcome.case).await?;
            }
            _ => {}
        }
        Ok(reply)
    }

    fn attachment_store(&self) -> Result<&AttachmentStore, Problem> {
        self.attachments.as_ref().ok_or_else(|| {
            Problem::unavailable("intake has no attachment bucket; the NATS admin creates it")
        })
    }

    /// An attachment is recorded only when its object is stored under
    /// `<case id>/<sha256>` with the size and SHA-256 the command names: the event
    /// never vouches for bytes nobody stored.
    async fn check_stored(
        &self,
        case_id: CaseId,
        a: &casegrid_domain::command::AddAttachment,
    ) -> Result<(), Problem> {
        let expected = casegrid_eventlog::attachments::object_key(case_id, &a.sha256);
        if a.name != expected {
            return Err(Problem::unprocessable(format!(
                "name: an attachment of this case is stored as {expected}"
            )));
        }
        let stored = self
            .attachment_store()?
            .stored(&a.name)
            .await
            .map_err(attachment_problem)?;
        match stored {
            Some(o) if o.size == a.size && o.sha256.as_deref() == Some(a.sha256.as_str()) => Ok(()),
            Some(_) => Err(Problem::unprocessable(format!(
                "sha256: the stored object {} has another size or hash",
                a.name
            ))),
            None => Err(Problem::unprocessable(format!(
                "name: no object {} in the attachment bucket; upload the file with \
                 POST /api/v1/cases/{case_id}/attachments",
                a.name
            ))),
        }
    }

    /// After `PersonalDataErased` (again on a replay): the objects of the attachments
    /// marked personal are deleted.
    async fn erase_attachments(&self, case: &casegrid_domain::Case) -> Result<(), Problem> {
        let personal = case.personal_attachments();
        if personal.is_empty() {
            return Ok(());
        }
        let store = self.attachment_store()?;
        for key in personal {
            store.delete(key).await.map_err(attachment_problem)?;
        }
        Ok(())
    }

    /// A merge target must exist, be open and not itself merged.
    async fn check_merge_target(&self, into: CaseId) -> Result<(), Problem> {
        let target = self
            .store
            .snapshot(into)
            .await
            .map_err(|e| problem_of(e.into()))?;
        let target = self
            .store
            .refresh_confirmed(target)
            .await
            .map_err(|e| problem_of(e.into()))?;
        if !target.case.exists() {
            return Err(Problem::unprocessable(format!(
                "into: no case {into} to merge into"
            )));
        }
        if target.case.status == casegrid_domain::Status::Merged {
            return Err(Problem::unprocessable(format!(
                "into: case {} is itself merged into {}; merge into that case",
                target.case.label(),
                target
                    .case
                    .merged_into
                    .map_or_else(|| "another case".to_owned(), |c| c.to_string())
            )));
        }
        if target.case.status.is_final() {
            return Err(Problem::unprocessable(format!(
                "into: case {} is {}; a duplicate merges into an open case",
                target.case.label(),
                target.case.status
            )));
        }
        Ok(())
    }

    /// The clear personal fields of a case; `[erased]` where its key is gone.
    async fn reveal(
        &self,
        case: &casegrid_domain::Case,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Problem> {
        let key = match self.keys.key(case.id).await {
            Ok(k) => Some(k),
            Err(PrivacyError::Erased(_)) => None,
            Err(e) => return Err(key_problem(e)),
        };
        let mut out = serde_json::Map::new();
        for (field, sealed) in case.sealed_fields() {
            let clear = match &key {
                Some(k) => k.open(&field, sealed).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "a sealed field does not open");
                    "[undecryptable]".to_owned()
                }),
                None => casegrid_domain::personal::ERASED.to_owned(),
            };
            out.insert(field, clear.into());
        }
        Ok(out)
    }

    /// All events of a case as stored; 404 when it has none.
    async fn stored_events(&self, case_id: CaseId) -> Result<Vec<StoredEvent>, Problem> {
        let log = self.store.log();
        let events = log
            .load_case(case_id, 0)
            .await
            .map_err(|e| problem_of(e.into()))?;
        if !events.is_empty() {
            return Ok(events);
        }
        // Not found only when the leader says so: a lagging replica may have answered.
        let confirmed = log
            .load_case_confirmed(case_id, 0)
            .await
            .map_err(|e| problem_of(e.into()))?;
        if confirmed.is_empty() {
            return Err(Problem::case_not_found(case_id));
        }
        Ok(confirmed)
    }

    /// The server's own check of a case's chain: versions contiguous from 1, every
    /// `prev_hash` linked, every `hash` recomputed from the stored bytes.
    pub async fn audit(&self, payload: &[u8]) -> Result<serde_json::Value, Problem> {
        let query: CaseQuery = parse_request(payload)?;
        let events = self.stored_events(query.case_id).await?;
        let check = casegrid_eventlog::envelope::verify_chain(query.case_id, &events);
        Ok(serde_json::json!({
            "case_id": query.case_id,
            "events": events.len(),
            "last_hash": events.last().map(|e| e.envelope.hash.clone()),
            "verified": check.is_ok(),
            "first_break": check.err().map(|b| serde_json::json!({
                "version": b.version,
                "reason": b.reason,
            })),
        }))
    }

    /// The case's envelopes exactly as stored, for operators and supervisors.
    pub async fn log(&self, payload: &[u8]) -> Result<serde_json::Value, Problem> {
        let query: CaseQuery = parse_request(payload)?;
        let events = self.stored_events(query.case_id).await?;
        Ok(serde_json::json!({
            "case_id": query.case_id,
            "events": events.into_iter().map(|e| e.raw).collect::<Vec<_>>(),
        }))
    }
}

impl Intake {
    /// The case as it stood at `as_of`: the fold of its events that occurred at or
    /// before that instant, read from the log (not the read model), personal data masked.
    pub async fn as_of(&self, payload: &[u8]) -> Result<AsOfView, Problem> {
        let query: AsOfQuery = parse_request(payload)?;
        let at = OffsetDateTime::parse(&query.as_of, &Rfc3339).map_err(|e| {
            Problem::bad_request(format!(
                "as_of: {:?} is not an RFC 3339 instant: {e}",
                query.as_of
            ))
        })?;
        let events = self.stored_events(query.case_id).await?;
        state_as_of(&events, at, self.store.numbering())
    }
}

/// Folds the events of one case (all of them, in order) that occurred at or before
/// `at`. Every `sealed` member is dropped from the state; once the case's personal
/// data is erased (at any time, even after `at`), masked values read `[erased]` too.
pub fn state_as_of(
    events: &[StoredEvent],
    at: OffsetDateTime,
    numbering: &Numbering,
) -> Result<AsOfView, Problem> {
    let Some(first) = events.first() else {
        return Err(Problem::bad_request("no events to fold"));
    };
    let case_id = first.envelope.case_id;
    let as_of = at
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| Problem::bad_request(format!("as_of: {e}")))?;
    let known = events
        .iter()
        .take_while(|e| e.envelope.occurred_at <= at)
        .count();
    if known == 0 {
        return Err(Problem::not_found(format!(
            "case {case_id} was not filed yet at {as_of}"
        )));
    }
    let mut snapshot = Snapshot::empty(case_id);
    snapshot.extend(&events[..known], numbering).map_err(|e| {
        tracing::error!(error = %e, %case_id, "folding a case as of an instant");
        Problem::internal(format!("case {case_id} cannot be folded from the log"))
    })?;
    let erased = events
        .iter()
        .any(|e| e.envelope.event_type == "PersonalDataErased");
    let mut state = serde_json::to_value(&snapshot.case)
        .map_err(|e| Problem::internal(format!("case state not serializable: {e}")))?;
    casegrid_domain::personal::strip_sealed(&mut state, erased);
    if erased {
        state["personal_erased"] = true.into();
    }
    Ok(AsOfView {
        case_id,
        as_of,
        version: snapshot.case.version,
        status: snapshot.case.status,
        state,
    })
}

/// The name personal data found in a description is sealed under (`description#0`, …).
const DESCRIPTION: &str = "description";
/// … and in the title (`title#0`, …).
const TITLE: &str = "title";

struct Validated {
    category: Category,
    grid: Option<GridCode>,
    grid_found: Option<GridFound>,
    phone: Option<PhoneNumber>,
}

/// The WGS 84 point of a filing's `location`, converted from the system it names.
fn point_of(location: &LocationBody) -> Result<Option<Wgs84>, Problem> {
    let bad =
        |e: casegrid_domain::point::PointError| Problem::unprocessable(format!("location.{e}"));
    match (&location.lat, &location.long) {
        (None, None) => {
            if location.coordinate_system.is_some() {
                return Err(Problem::unprocessable(
                    "location.coordinate_system: given without location.lat and location.long",
                ));
            }
            Ok(None)
        }
        (Some(lat), Some(long)) => {
            let filed = Wgs84 {
                lat: parse_degrees("lat", lat, 90).map_err(bad)?,
                long: parse_degrees("long", long, 180).map_err(bad)?,
            };
            Ok(Some(
                location
                    .coordinate_system
                    .unwrap_or_default()
                    .to_wgs84(filed),
            ))
        }
        _ => Err(Problem::unprocessable(
            "location.lat, location.long: a point needs both (decimal degrees as strings)",
        )),
    }
}

/// A filing's body checked against the district (category, grid, phone) and made the
/// domain's command, each given personal field sealed by `seal(field, clear, masked)`:
/// what intake files, and what `casegrid import` files from a case's row.
pub fn filing_of(
    district: &District,
    body: &FileBody,
    seal: impl Fn(&str, &str, String) -> Sealed,
) -> Result<FileCase, Problem> {
    let checked = validate(district, body)?;
    let reporter = body.reporter.as_ref().filter(|r| !r.is_empty());
    // Numbers a citizen dictated into the description never enter the log in clear.
    let (description, found) = mask_text(&body.description);
    let (title, title_found) = mask_text(&body.title);
    let mut personal = seal_findings(DESCRIPTION, &body.description, &found, &seal);
    personal.extend(seal_findings(TITLE, &body.title, &title_found, &seal));
    Ok(FileCase {
        channel: body.channel,
        kind: body.kind,
        category: checked.category,
        urgency: body.urgency,
        title,
        description,
        location: Location {
            address: body.location.address.clone(),
            grid: checked.grid,
            lat: body.location.lat.as_deref().map(|l| l.trim().to_owned()),
            long: body.location.long.as_deref().map(|l| l.trim().to_owned()),
            coordinate_system: body
                .location
                .coordinate_system
                .filter(|c| *c != CoordinateSystem::Wgs84),
        },
        reporter: reporter.map(|r| reporter_of(r, &checked.phone, &seal)),
        source: body.source.clone(),
        grid_found: checked.grid_found,
        personal,
    })
}

/// A "seal" that keeps the masked value only, for deciding before a key exists.
pub fn masked_only(_field: &str, _clear: &str, masked: String) -> Sealed {
    Sealed {
        masked,
        sealed: String::new(),
    }
}

fn validate(district: &District, body: &FileBody) -> Result<Validated, Problem> {
    let category = Category::parse(&body.category)
        .ok()
        .filter(|c| district.has_category(c.as_str()))
        .ok_or_else(|| {
            let known: Vec<&str> = district.rules.keys().map(|c| c.as_str()).collect();
            Problem::unprocessable(format!(
                "category: unknown category {:?}; known categories: {}",
                body.category,
                known.join(", ")
            ))
        })?;
    let point = point_of(&body.location)?;
    let (grid, grid_found) = match (&body.location.grid, point) {
        (None, None) => (None, None),
        (Some(g), _) => {
            let grid =
                GridCode::parse(g).map_err(|e| Problem::unprocessable(format!("location.{e}")))?;
            if !district.grids.contains_key(&grid) {
                return Err(Problem::unprocessable(format!(
                    "location.grid: unknown grid {g:?} in this district"
                )));
            }
            (Some(grid), Some(GridFound::Given))
        }
        (None, Some(p)) => match district.locate(p) {
            Ok(found) => (Some(found.grid), Some(found.found)),
            // Without boundaries a point is kept as filed, as before they existed.
            Err(Unlocated::NoBoundaries) => (None, None),
            Err(e) => {
                return Err(Problem::unprocessable(format!(
                    "location.lat, location.long: {e}; name location.grid"
                )))
            }
        },
    };
    let phone = match body.reporter.as_ref().and_then(|r| r.phone.as_deref()) {
        None => None,
        Some(p) => Some(PhoneNumber::parse(p).map_err(|e| Problem::unprocessable(e.to_string()))?),
    };
    Ok(Validated {
        category,
        grid,
        grid_found,
        phone,
    })
}

/// The reporter with each given field sealed by `seal(field, clear, masked)`.
fn reporter_of(
    r: &ReporterBody,
    phone: &Option<PhoneNumber>,
    seal: impl Fn(&str, &str, String) -> Sealed,
) -> Reporter {
    let field = |name: &str, clear: Option<&str>, mask: fn(&str) -> String| {
        clear
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| seal(name, c, mask(c)))
    };
    Reporter {
        name: field("reporter.name", r.name.as_deref(), mask_name),
        phone: field(
            "reporter.phone",
            phone.as_ref().map(PhoneNumber::as_str),
            mask_phone,
        ),
        id_number: field("reporter.id_number", r.id_number.as_deref(), mask_id_number),
        address: field("reporter.address", r.address.as_deref(), mask_address),
    }
}

fn attachment_problem(e: AttachmentError) -> Problem {
    tracing::warn!(error = %e, "attachment bucket");
    Problem::unavailable(
        "the attachment bucket is unavailable; retry with the same Idempotency-Key",
    )
}

fn key_problem(e: PrivacyError) -> Problem {
    tracing::warn!(error = %e, "key store");
    Problem::unavailable("the key store is unavailable; retry with the same Idempotency-Key")
}

/// The requests intake answers, one per subject.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    File,
    Act,
    Log,
    Audit,
    AsOf,
    Kb,
}

impl Intake {
    /// The JSON answer to one request.
    async fn answer(&self, endpoint: Endpoint, payload: &[u8]) -> Vec<u8> {
        match endpoint {
            Endpoint::File => answer(self.file(payload).await),
            Endpoint::Act => answer(self.act(payload).await),
            Endpoint::Log => answer(self.log(payload).await),
            Endpoint::Audit => answer(self.audit(payload).await),
            Endpoint::AsOf => answer(self.as_of(payload).await),
            Endpoint::Kb => answer(self.kb(payload).await),
        }
    }
}

/// Registers `casegrid-intake` and serves its subjects until `shutdown`.
pub async fn run(
    client: async_nats::Client,
    intake: Intake,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let service = casegrid_runtime::service::register_with_stats(
        &client,
        services::INTAKE,
        services::VERSION,
        "files cases, records callbacks, closes; serves raw case logs",
        {
            let store = intake.store.clone();
            move || store.counters()
        },
    )
    .await?;
    let serve = |subject: &'static str, endpoint: Endpoint| {
        let intake = intake.clone();
        let handler = move |payload: bytes::Bytes| {
            let intake = intake.clone();
            async move { intake.answer(endpoint, &payload).await }
        };
        casegrid_runtime::service::serve(&service, subject, handler, shutdown.clone())
    };
    tokio::try_join!(
        serve(subjects::INTAKE_FILE, Endpoint::File),
        serve(subjects::INTAKE_ACT, Endpoint::Act),
        serve(subjects::INTAKE_LOG, Endpoint::Log),
        serve(subjects::INTAKE_AUDIT, Endpoint::Audit),
        serve(subjects::INTAKE_AS_OF, Endpoint::AsOf),
        serve(subjects::INTAKE_KB, Endpoint::Kb),
    )?;
    Ok(())
}

/// Connects, opens the log and the key vault from `settings`, and runs until `shutdown`.
pub async fn serve(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    serve_once(settings, shutdown)
        .await
        .map_err(casegrid_eventlog::error::transient_when_unavailable)
}

async fn serve_once(settings: &Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    use anyhow::Context;
    let (client, log) = EventLog::connect(settings, services::INTAKE).await?;
    let keys = KeyVault::attach(client.clone())
        .await
        .context("opening the key vault")?
        .with_group_commit(
            client.clone(),
            casegrid_eventlog::BatchConfig::from(&settings.eventlog),
        );
    let district = Arc::new(
        District::load(&settings.district.config_dir)
            .context("loading the district configuration")?,
    );
    let numbering = Numbering {
        prefix: settings.district.case_prefix.clone(),
        ..Numbering::default()
    };
    let store = CaseStore::new(log, numbering, 100_000);
    let intake = Intake::new(
        store,
        keys,
        district,
        casegrid_runtime::clock::from_settings(&settings.clock),
    )
    .with_kb_editors(editors_of(&settings.kb.editors)?);
    let intake = match AttachmentStore::attach(client.clone()).await {
        Ok(store) => intake.with_attachments(store),
        Err(e @ AttachmentError::Missing) => {
            tracing::warn!(error = %e, "no attachment bucket: attachments answer 503");
            intake
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!("intake serving");
    run(client.clone(), intake, shutdown).await?;
    client.drain().await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use casegrid_domain::command::Reason;
    use casegrid_domain::event::{CaseKind, Channel, Urgency};
    use casegrid_domain::{Actor, ActorKind, Case, Status};
    use casegrid_eventlog::envelope::GENESIS_HASH;
    use casegrid_eventlog::Envelope;
    use time::macros::datetime;

    /// A case filed at 10:00, withdrawn at 11:00, its personal data erased at 12:00,
    /// as the stored events of the log.
    fn stored_case() -> Vec<StoredEvent> {
        let operator = Actor::new(ActorKind::Operator, "op.zhang");
        let case_id = CaseId::for_filing("op.zhang", "call-1");
        let reporter = Reporter {
            phone: Some(Sealed {
                masked: "138****1234".into(),
                sealed: "c2VhbGVk".into(),
            }),
            ..Reporter::default()
        };
        let commands = [
            (
                Command::FileCase(FileCase {
                    channel: Channel::Hotline,
                    kind: CaseKind::Complaint,
                    category: Category::parse("noise").unwrap(),
                    urgency: Urgency::Normal,
                    title: "夜间施工噪音扰民".into(),
                    description: String::new(),
                    location: Location::default(),
                    reporter: Some(reporter),
                    source: Default::default(),
                    grid_found: None,
                    personal: Vec::new(),
                }),
                datetime!(2026-11-23 10:00 UTC),
            ),
            (
                Command::Withdraw(Reason {
                    reason: "the caller solved it".into(),
                }),
                datetime!(2026-11-23 11:00 UTC),
            ),
            (
                Command::ErasePersonalData(Reason {
                    reason: "the caller asked".into(),
                }),
                datetime!(2026-11-23 12:00 UTC),
            ),
        ];
        let mut case = Case::new(case_id);
        let mut prev = GENESIS_HASH.to_owned();
        let mut stored = Vec::new();
        let supervisor = Actor::new(ActorKind::Supervisor, "sup.li");
        for (seq, (command, at)) in commands.into_iter().enumerate() {
            let actor = match command {
                Command::ErasePersonalData(_) => &supervisor,
                _ => &operator,
            };
            let event = case.decide(actor, &command, at).expect("decided");
            case.apply(&event);
            let envelope = Envelope::seal(
                case_id,
                case.version,
                &prev,
                event.event_type(),
                event.schema(),
                event.data(),
                actor.clone(),
                format!("cmd-{seq}"),
                "corr".into(),
                None,
                at,
            )
            .expect("sealed");
            prev = envelope.hash.clone();
            let raw = serde_json::to_value(&envelope).unwrap();
            stored.push(StoredEvent {
                seq: seq as u64 + 7,
                envelope,
                raw,
            });
        }
        stored
    }

    #[test]
    fn a_case_as_of_an_instant_is_the_fold_of_the_events_until_then() {
        let events = stored_case();
        let numbering = Numbering::default();
        let early = state_as_of(&events, datetime!(2026-11-23 09:59 UTC), &numbering);
        assert_eq!(early.unwrap_err().status, 404);

        let filed = state_as_of(&events, datetime!(2026-11-23 18:30 +08:00), &numbering)
            .expect("as of 10:30 UTC");
        assert_eq!(filed.version, 1);
        assert_eq!(filed.status, Status::Received);
        assert_eq!(filed.as_of, "2026-11-23T10:30:00Z");
        assert!(filed.state["number"].is_string(), "{}", filed.state);
        let text = filed.state.to_string();
        assert!(!text.contains("sealed"), "{text}");
        // Erased later: the masked phone reads [erased] in every replay.
        assert_eq!(
            filed.state["filed"]["reporter"]["phone"],
            serde_json::json!({"masked": "[erased]"}),
            "{text}"
        );

        let withdrawn =
            state_as_of(&events, datetime!(2026-11-23 11:00 UTC), &numbering).expect("at 11:00");
        assert_eq!(withdrawn.version, 2);
        assert_eq!(withdrawn.status, Status::Withdrawn);
        assert_eq!(withdrawn.state["personal_erased"], true);
    }
}
