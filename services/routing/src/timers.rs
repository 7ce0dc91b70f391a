//! Durable timers: every tick, each open deadline that has passed (by the injected
//! clock) becomes exactly one `DeadlineMissed`. The command id names the case, the
//! deadline, the unit and the due instant, so a restart, a redelivery or a second
//! replica firing the same deadline appends nothing more.

use crate::state::DueDeadline;
use crate::Routing;
use casegrid_domain::command::MarkDeadlineMissed;
use casegrid_domain::{Actor, Command};
use casegrid_eventlog::{CommandMeta, ExecuteError, LogError};
use futures_util::StreamExt;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Deadlines handled per tick at most.
const PER_TICK: u32 = 500;
/// Deadlines marked at once (of different cases mostly; one case's conflict retries).
const PARALLEL: usize = 8;

/// What came of one due row.
enum Fired {
    Appended,
    Nothing,
}

impl Routing {
    /// Fires every deadline due by now; returns how many events were appended. Each
    /// row handled leaves the case's rows rewritten from its state after the attempt,
    /// so a fired, refused or obsolete row never stays behind.
    pub async fn fire_due_deadlines(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let due = self.state.due(now, PER_TICK).await?;
        let results: Vec<anyhow::Result<Fired>> = futures_util::stream::iter(due)
            .map(|due| self.fire(due, now))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let mut appended = 0;
        let mut failed = None;
        for r in results {
            match r {
                Ok(Fired::Appended) => appended += 1,
                Ok(Fired::Nothing) => {}
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            // The log or the state failed: the rows stay and are tried next tick.
            Some(e) if appended == 0 => Err(e),
            Some(e) => {
                tracing::warn!(error = %e, "some deadlines not marked; retrying next tick");
                Ok(appended)
            }
            None => Ok(appended),
        }
    }

    async fn fire(&self, due: DueDeadline, now: time::OffsetDateTime) -> anyhow::Result<Fired> {
        let command = Command::MarkDeadlineMissed(MarkDeadlineMissed {
            deadline: due.deadline,
            department: due.department.clone(),
        });
        let meta = CommandMeta {
            command_id: format!(
                "missed:{}:{:?}:{}:{}",
                due.case_id,
                due.deadline,
                due.department,
                due.due.unix_timestamp()
            )
            .to_lowercase(),
            correlation_id: format!("timer:{}", due.case_id),
            causation_id: None,
            request: None,
        };
        match self
            .store
            .execute(due.case_id, &Actor::routing(), &command, &meta, now)
            .await
        {
            Ok(o) => {
                self.state.rewrite(&o.case).await?;
                Ok(if o.already_done {
                    Fired::Nothing
                } else {
                    Fired::Appended
                })
            }
            // The case moved on (signed, replied, suspended…) before this row saw it:
            // the store refreshed the case before refusing, so its state is current.
            Err(ExecuteError::Rejected(r)) => {
                tracing::debug!(case = %due.case_id, reason = %r, "deadline not marked; row rewritten");
                let snapshot = self.store.snapshot(due.case_id).await?;
                self.state.rewrite(&snapshot.case).await?;
                Ok(Fired::Nothing)
            }
            // A case the store cannot fold has no deadline anyone could mark.
            Err(ExecuteError::Log(e @ LogError::Corrupt { .. })) => {
                tracing::warn!(case = %due.case_id, error = %e, "deadline of an unreadable case dropped");
                self.state.forget(due.case_id).await?;
                Ok(Fired::Nothing)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Checks deadlines every `tick` until `shutdown`.
pub async fn run(
    routing: Routing,
    tick: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = interval.tick() => {
                if let Err(e) = routing.fire_due_deadlines().await {
                    tracing::warn!(error = %e, "deadline check failed; retrying next tick");
                }
            }
        }
    }
}
