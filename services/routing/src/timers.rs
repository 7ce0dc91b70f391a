//! Durable timers: every tick, each open deadline that has passed (by the injected
//! clock) becomes exactly one `DeadlineMissed`. The command id names the case, the
//! deadline, the unit and the due instant, so a restart, a redelivery or a second
//! replica firing the same deadline appends nothing more.

use crate::Routing;
use casegrid_domain::command::MarkDeadlineMissed;
use casegrid_domain::{Actor, Command};
use casegrid_eventlog::{CommandMeta, ExecuteError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Deadlines handled per tick at most.
const PER_TICK: u32 = 500;

impl Routing {
    /// Fires every deadline due by now; returns how many events were appended.
    pub async fn fire_due_deadlines(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let mut appended = 0;
        for due in self.state.due(now, PER_TICK).await? {
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
                Ok(o) if !o.already_done => appended += 1,
                Ok(_) => {}
                // The case moved on (signed, replied, suspended…) before this state saw it.
                Err(ExecuteError::Rejected(r)) => {
                    tracing::debug!(case = %due.case_id, reason = %r, "deadline not marked")
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(appended)
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
