//! casegrid-projection: keeps the read models ([`casegrid_readmodel::ReadModel`]) up
//! to date from the event log and answers queries about them over NATS.
//!
//! - [`run`]: the service — the durable consumer and the query endpoints, until shut down.
//! - [`serve`]: builds everything from [`Settings`] (the binary and `casegrid serve`).
//! - [`consumer`]: the durable pull consumer `projection`: batches applied in one
//!   transaction with the checkpoint, then acknowledged; resumes after the checkpoint.
//! - [`queries`]: the NATS service endpoints (`casegrid.projection.*`), answering
//!   [`casegrid_contracts::Answer`]s with the contract views.

pub mod consumer;
pub mod queries;

use anyhow::Context;
use casegrid_eventlog::store::Numbering;
use casegrid_eventlog::EventLog;
use casegrid_readmodel::names_from;
use casegrid_readmodel::ReadModel;
use casegrid_runtime::Settings;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

/// Runs the projection until `shutdown` is cancelled or the consumer fails: consumes
/// the log into `model` and answers queries, naming actors with `names` (id → name).
/// Refuses to start, or stops, when the stream is not the one the read model was
/// built from (empty, deleted, re-created, another server).
pub async fn run(
    client: async_nats::Client,
    log: EventLog,
    model: ReadModel,
    names: HashMap<String, String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let model = model.with_names(names);
    // Never continue against an empty or different stream than the read model's.
    let identity = model
        .check_stream(&log)
        .await
        .context("checking the event stream against the read model")?;
    // Endpoints stop with the service, and also when the consumer fails.
    let stop = shutdown.child_token();
    let service = queries::start(&client, model.clone(), stop.clone())
        .await
        .context("registering the projection service")?;
    let consumed = tokio::select! {
        consumed = consumer::consume(&log, &model, &stop) => consumed,
        e = log.watch_identity(&identity) => Err(anyhow::Error::new(e)),
    };
    // A consumer that failed because its stream went away says so.
    let consumed = match consumed {
        Err(e) if e.downcast_ref::<casegrid_eventlog::LogError>().is_none() => {
            let checkpoint = model.checkpoint().await.unwrap_or(0);
            match log.check_identity(Some(&identity), checkpoint).await {
                Err(changed @ casegrid_eventlog::LogError::StreamMismatch { .. }) => {
                    Err(anyhow::Error::new(changed))
                }
                _ => Err(e),
            }
        }
        other => other,
    };
    if let Err(e) = &consumed {
        tracing::error!(error = %e, "the projection stops");
    }
    stop.cancel();
    service.stop().await;
    consumed
}

/// Connects, opens the log and the read models from `settings`, and runs until `shutdown`.
pub async fn serve(settings: &Settings, token: CancellationToken) -> anyhow::Result<()> {
    serve_once(settings, token)
        .await
        .map_err(casegrid_eventlog::error::transient_when_unavailable)
}

async fn serve_once(settings: &Settings, token: CancellationToken) -> anyhow::Result<()> {
    let (client, log) = EventLog::connect(settings, "casegrid-projection").await?;
    let model = ReadModel::connect(settings.database.url.expose())
        .await
        .context("opening the read-model database")?
        .with_numbering(Numbering {
            prefix: settings.district.case_prefix.clone(),
            ..Numbering::default()
        });
    let district =
        casegrid_config::District::load(&settings.district.config_dir).with_context(|| {
            format!(
                "loading the district from {}",
                settings.district.config_dir.display()
            )
        })?;
    let calendar = district.calendar.clone();
    let model = model.with_working_time(move |from, to| {
        let at = |ms: i64| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        };
        (calendar
            .working_between(at(from), at(to))
            .whole_milliseconds() as i64)
            .max(0)
    });
    let names = names_from(
        district
            .departments
            .values()
            .map(|d| (d.id.as_str(), d.name.as_str())),
        district
            .principals
            .values()
            .map(|p| (p.id.as_str(), p.name.as_str())),
    );

    tracing::info!("casegrid-projection running");
    let result = run(client.clone(), log, model.clone(), names, token).await;
    model.close().await;
    if let Err(e) = client.drain().await {
        tracing::warn!(error = %e, "draining the NATS connection");
    }
    result
}
