//! The operator tools: init, rebuild, audit, erase, config check.

use anyhow::{bail, Context};
use casegrid_domain::CaseId;
use casegrid_eventlog::{EventLog, LogConfig};
use casegrid_readmodel::ReadModel;
use casegrid_runtime::natsauth::{self, User};
use casegrid_runtime::settings::NatsSettings;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// How the tools connect: the NATS of the settings (`CASEGRID_SETTINGS`, then
/// `CASEGRID__NATS__…`) at `url`, as the admin. `credentials` (an nkey seed file, or a
/// `.creds` file) wins; without any, the admin key of a `casegrid dev` run in `./data`.
pub(crate) fn admin_nats(url: &str, credentials: Option<&Path>) -> anyhow::Result<NatsSettings> {
    let file = std::env::var_os("CASEGRID_SETTINGS").map(std::path::PathBuf::from);
    let mut nats = casegrid_runtime::Settings::load(file.as_deref())?.nats;
    nats.url = url.to_owned();
    let configured =
        nats.password.is_some() || nats.nkey_seed_file.is_some() || nats.creds_file.is_some();
    let dev_admin =
        natsauth::seed_file(&crate::dev::credentials_dir(Path::new("data")), User::Admin);
    let chosen = match credentials {
        Some(file) => Some(file.to_path_buf()),
        None if !configured && dev_admin.is_file() => Some(dev_admin),
        None => None,
    };
    if let Some(file) = chosen {
        nats.password = None;
        if file.extension().is_some_and(|e| e == "creds") {
            (nats.creds_file, nats.nkey_seed_file) = (Some(file), None);
        } else {
            (nats.creds_file, nats.nkey_seed_file) = (None, Some(file));
        }
        nats.user = User::Admin.name().to_owned();
    }
    Ok(nats)
}

async fn open_log(nats: &NatsSettings) -> anyhow::Result<EventLog> {
    let client = casegrid_runtime::nats::connect_with(nats, "casegrid-cli").await?;
    EventLog::open(
        client,
        LogConfig {
            replicas: nats.replicas,
            ..LogConfig::default()
        },
    )
    .await
    .context("opening the event log")
}

/// `casegrid init`: creates the event stream when absent (the one explicit way, with
/// `casegrid dev` on an empty data folder); says which stream it is.
pub(crate) async fn init(nats: &NatsSettings, replicas: usize) -> anyhow::Result<ExitCode> {
    let client = casegrid_runtime::nats::connect_with(nats, "casegrid-cli").await?;
    let log = EventLog::bootstrap(client, replicas).await?;
    let (identity, last) = log.identity().await?;
    println!("{identity}: {last} events");
    Ok(ExitCode::SUCCESS)
}

/// `casegrid rebuild`: replay into a fresh database, then compare with the live one.
pub(crate) async fn rebuild(
    nats: &NatsSettings,
    into: Option<String>,
    compare: Option<String>,
) -> anyhow::Result<ExitCode> {
    let log = open_log(nats).await?;
    let into = match into {
        Some(url) => url,
        None => {
            std::fs::create_dir_all("data")?;
            let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
            format!("sqlite://data/rebuild-{stamp}.db?mode=rwc")
        }
    };
    let model = ReadModel::connect(&into)
        .await
        .with_context(|| format!("opening {into}"))?;
    if model.checkpoint().await? != 0 {
        bail!("{into} is not empty (checkpoint > 0): rebuild into a fresh database");
    }
    let started = std::time::Instant::now();
    let applied = crate::progress::rebuild("rebuild", &log, &model).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rebuilt {applied} events into {into} in {secs:.2}s ({:.0} events/s)",
        applied as f64 / secs.max(1e-9)
    );
    let Some(live_url) = compare else {
        return Ok(ExitCode::SUCCESS);
    };
    let live = ReadModel::connect(&live_url)
        .await
        .with_context(|| format!("opening the live read models {live_url}"))?;
    let live_checkpoint = live.checkpoint().await?;
    if live_checkpoint != applied {
        println!("note: the live read models are at sequence {live_checkpoint}, the rebuild at {applied}");
    }
    let differences = model.diff(&live).await?;
    if differences.is_empty() {
        println!("identical: the rebuilt read models equal {live_url}");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} difference(s) from {live_url}:", differences.len());
        for d in &differences {
            println!("  {d}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// `casegrid audit verify`: exits 1 naming the first break and listing every
/// message that is not applied (the quarantine), by stream sequence.
pub(crate) async fn audit_verify(nats: &NatsSettings) -> anyhow::Result<ExitCode> {
    let log = open_log(nats).await?;
    let progress = crate::progress::Progress::new("audit verify", 0);
    let report =
        casegrid_eventlog::audit::verify_log_with_progress(&log, &|d, t| progress.set(d, t)).await;
    progress.finish();
    let report = report?;
    match report.first_break {
        None => {
            println!(
                "{} events, {} cases: all chains verify, versions contiguous",
                report.events, report.cases
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(brk) => {
            println!(
                "{} events, {} cases: {} broken event(s); first: {brk}",
                report.events, report.cases, report.broken_events
            );
            println!("quarantined (not applied by any service):");
            for q in &report.quarantined {
                println!(
                    "  sequence {} {} {}{}: {} ({})",
                    q.seq,
                    q.reason,
                    q.subject,
                    q.version
                        .map(|v| format!(" version {v}"))
                        .unwrap_or_default(),
                    q.detail,
                    q.head.escape_debug()
                );
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `casegrid privacy erase <case>`: records `PersonalDataErased`, then deletes the key,
/// exactly as the API's `erase` action does.
pub(crate) async fn erase(
    nats: &NatsSettings,
    config: &Path,
    case: &str,
    operator: &str,
    reason: &str,
) -> anyhow::Result<ExitCode> {
    let case_id = CaseId::parse(case)?;
    let log = open_log(nats).await?;
    let keys = casegrid_privacy::KeyVault::open(log.client().clone(), 1).await?;
    let district = casegrid_config::District::load(config)?;
    let store = casegrid_eventlog::CaseStore::new(log, Default::default(), 16);
    let intake = casegrid_intake::Intake::new(
        store,
        keys,
        std::sync::Arc::new(district),
        std::sync::Arc::new(casegrid_runtime::clock::SystemClock),
    );
    let request = casegrid_contracts::ActRequest {
        case_id,
        action: "erase".into(),
        // The admin tool erases as a supervisor (an operator's erase needs approval).
        actor: casegrid_domain::Actor::new(casegrid_domain::ActorKind::Supervisor, operator),
        command_id: format!("cli-erase:{case_id}"),
        correlation_id: uuid_like(),
        if_match: None,
        body: serde_json::json!({ "reason": reason }),
    };
    match intake.act(&serde_json::to_vec(&request)?).await {
        Ok(reply) => {
            println!(
                "erased the personal data of case {} (version {}): its fields read as erased from now on",
                reply.number.unwrap_or_else(|| case_id.to_string()),
                reply.version
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => bail!("{}", problem.detail),
    }
}

/// `casegrid privacy reconcile`: re-applies every `PersonalDataErased` of the log by
/// deleting those cases' keys from `CASEGRID_KEYS` and the objects of their personal
/// attachments (the `AttachmentAdded` events marked personal) from
/// `CASEGRID_ATTACHMENTS`. A restored backup of either bucket holds what people erased
/// since had; run this after every restore. Reads the log from sequence 1 (valid
/// envelopes only, as every consumer does); deleting a key or an object already gone
/// changes nothing, so a second run re-erases 0.
pub(crate) async fn reconcile(nats: &NatsSettings) -> anyhow::Result<ExitCode> {
    use futures_util::StreamExt;
    let log = open_log(nats).await?;
    let keys = casegrid_privacy::KeyVault::attach(log.client().clone()).await?;
    let last = log.last_sequence().await?;
    let mut erased: Vec<CaseId> = Vec::new();
    if last > 0 {
        let mut heads = casegrid_eventlog::Heads::new(1);
        let mut messages = std::pin::pin!(log.read_raw_from(1).await?);
        while let Some(message) = messages.next().await {
            let message = message?;
            if let casegrid_eventlog::Classified::Valid(e) = heads.classify(&log, &message).await? {
                if e.envelope.event_type == "PersonalDataErased"
                    && !erased.contains(&e.envelope.case_id)
                {
                    erased.push(e.envelope.case_id);
                }
            }
            if message.seq >= last {
                break;
            }
        }
    }
    let mut restored = 0;
    for case_id in &erased {
        match keys.key(*case_id).await {
            Ok(_) => {
                keys.erase(*case_id).await?;
                restored += 1;
                println!("  case {case_id}: its key was back (a restored backup); erased again");
            }
            Err(casegrid_privacy::PrivacyError::Erased(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let (recorded, deleted) = reconcile_attachments(&log, &erased).await?;
    println!(
        "{} erasure(s) in the log up to sequence {last}; {restored} key(s) erased again; \
         {deleted} of {recorded} personal attachment(s) deleted again",
        erased.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Deletes the objects of the personal attachments of the `erased` cases that are back
/// in the attachment bucket; answers how many such attachments the cases record and how
/// many objects were deleted. The cases are folded by the domain, so "personal" means
/// what intake's erasure deletes.
async fn reconcile_attachments(
    log: &EventLog,
    erased: &[CaseId],
) -> anyhow::Result<(usize, usize)> {
    let cases = casegrid_eventlog::CaseStore::new(log.clone(), Default::default(), 16);
    let mut personal: Vec<(CaseId, String)> = Vec::new();
    for case_id in erased {
        let snapshot = cases
            .snapshot(*case_id)
            .await
            .with_context(|| format!("loading case {case_id}"))?;
        for name in snapshot.case.personal_attachments() {
            personal.push((*case_id, name.to_owned()));
        }
    }
    if personal.is_empty() {
        return Ok((0, 0));
    }
    let store = casegrid_eventlog::AttachmentStore::attach(log.client().clone())
        .await
        .context("opening the attachment bucket")?;
    let mut deleted = 0;
    for (case_id, name) in &personal {
        if store.stored(name).await?.is_some() {
            store.delete(name).await?;
            deleted += 1;
            println!(
                "  case {case_id}: its personal attachment {name} was back (a restored backup); deleted again"
            );
        }
    }
    Ok((personal.len(), deleted))
}

fn uuid_like() -> String {
    format!(
        "cli-{}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    )
}

/// `casegrid config check <dir>`.
pub(crate) fn config_check(dir: &Path) -> anyhow::Result<ExitCode> {
    match casegrid_config::District::load(dir) {
        Ok(d) => {
            println!(
                "{}: ok ({} departments, {} grids, {} rules, {} principals, {} notification rules)",
                dir.display(),
                d.departments.len(),
                d.grids.len(),
                d.rule_count(),
                d.principals.len(),
                d.notifications.rules.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `casegrid nats-credentials <dir>`.
pub(crate) fn nats_credentials(dir: &Path) -> anyhow::Result<ExitCode> {
    let credentials = natsauth::Credentials::generate(dir)?;
    println!("wrote fresh NATS keys to {}:", credentials.dir().display());
    for user in User::ALL {
        println!(
            "  {:<11} {}",
            user.name(),
            natsauth::seed_file(dir, user).display()
        );
    }
    println!(
        "the server: environment from {} (e.g. systemd EnvironmentFile=), and include accounts.conf;",
        dir.join("nkeys.env").display()
    );
    println!(
        "each process: CASEGRID__NATS__USER=<user> CASEGRID__NATS__NKEY_SEED_FILE=<its .nk file>"
    );
    Ok(ExitCode::SUCCESS)
}

/// The files of `casegrid import`.
pub(crate) struct ImportFiles {
    pub cases: PathBuf,
    pub events: PathBuf,
    pub mapping: Option<PathBuf>,
    pub report: PathBuf,
    pub config: PathBuf,
}

/// `casegrid import`: shows its progress (rows), then prints `IMPORT cases=… events=… already=…
/// refused=… seconds=… events_per_s=…`; writes refused cases to the report; exits 1
/// when any case was refused.
pub(crate) async fn import(
    nats: &NatsSettings,
    files: &ImportFiles,
    source: String,
) -> anyhow::Result<ExitCode> {
    use casegrid_intake::import::{import, ImportOptions, Mapping};
    let district = casegrid_config::District::load(&files.config)?;
    let mapping = match &files.mapping {
        Some(path) => Mapping::load(path)?,
        None => Mapping::default(),
    };
    let log = open_log(nats).await?;
    let keys = casegrid_privacy::KeyVault::open(log.client().clone(), nats.replicas).await?;
    let options = ImportOptions {
        source,
        mapping,
        ..ImportOptions::default()
    };
    let shown = crate::progress::Progress::counting("import", "rows", 0);
    let report = import(
        &log,
        &keys,
        &district,
        &files.cases,
        &files.events,
        &options,
        |p| shown.set(p.rows_done, p.rows_total),
    )
    .await;
    shown.finish();
    let report = report?;
    let mut out = csv::Writer::from_path(&files.report)?;
    out.write_record(["case_ref", "where", "reason"])?;
    for r in &report.refused {
        out.write_record([&r.case_ref, &r.at, &r.reason])?;
    }
    out.flush()?;
    println!(
        "IMPORT cases={} events={} already={} refused={} seconds={:.1} events_per_s={:.0}",
        report.cases,
        report.events,
        report.already,
        report.refused.len(),
        report.elapsed.as_secs_f64(),
        report.events_per_second()
    );
    if !report.refused.is_empty() {
        println!(
            "{} cases refused: see {}",
            report.refused.len(),
            files.report.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `casegrid sample-history`.
pub(crate) fn sample_history(dir: &Path, cases: usize, config: &Path) -> anyhow::Result<ExitCode> {
    let district = casegrid_config::District::load(config)?;
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(365);
    let events = casegrid_intake::import::write_sample(dir, &district, cases, start)?;
    println!(
        "{cases} cases and {events} later events in {}",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
