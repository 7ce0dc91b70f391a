//! The operator tools: rebuild, audit, erase, config check.

use anyhow::{bail, Context};
use casegrid_domain::CaseId;
use casegrid_eventlog::{EventLog, LogConfig};
use casegrid_readmodel::ReadModel;
use std::path::Path;
use std::process::ExitCode;

async fn open_log(nats: &str) -> anyhow::Result<EventLog> {
    let client = casegrid_runtime::nats::connect(nats, "casegrid-cli").await?;
    EventLog::open(client, LogConfig::default())
        .await
        .context("opening the event log")
}

/// `casegrid rebuild`: replay into a fresh database, then compare with the live one.
pub(crate) async fn rebuild(
    nats: &str,
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
    let applied = casegrid_readmodel::rebuild(&log, &model).await?;
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

/// `casegrid audit verify`.
pub(crate) async fn audit_verify(nats: &str) -> anyhow::Result<ExitCode> {
    let log = open_log(nats).await?;
    let report = casegrid_eventlog::audit::verify_log(&log).await?;
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
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `casegrid privacy erase <case>`.
pub(crate) async fn erase(nats: &str, case: &str) -> anyhow::Result<ExitCode> {
    let case_id = CaseId::parse(case)?;
    let client = casegrid_runtime::nats::connect(nats, "casegrid-cli").await?;
    let vault = casegrid_privacy::KeyVault::open(client, 1).await?;
    vault.erase(case_id).await?;
    println!(
        "erased the data key of case {case_id}: its personal data reads as erased from now on"
    );
    Ok(ExitCode::SUCCESS)
}

/// `casegrid config check <dir>`.
pub(crate) fn config_check(dir: &Path) -> anyhow::Result<ExitCode> {
    match casegrid_config::District::load(dir) {
        Ok(d) => {
            println!(
                "{}: ok ({} departments, {} grids, {} rules, {} principals)",
                dir.display(),
                d.departments.len(),
                d.grids.len(),
                d.rules.len(),
                d.principals.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
