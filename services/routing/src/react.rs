//! Reactions to events: automatic dispatch, re-dispatch, escalation one level up
//! the configured ladder (`escalation.toml`) after a missed deadline.

use crate::Routing;
use casegrid_domain::command::{Dispatch, Escalate};
use casegrid_domain::event::{EscalationLevel, Urgency};
use casegrid_domain::{Actor, Case, Command, DepartmentId, Event};
use casegrid_eventlog::{CommandMeta, ExecuteError, StoredEvent};

/// What a reaction did, for logs and tests.
#[derive(Debug, PartialEq, Eq)]
pub enum Reaction {
    Dispatched,
    Escalated,
    AlreadyDone,
    /// No rule fits, or every candidate returned the case: it waits for a dispatcher.
    Queued(String),
    Refused(String),
    Ignored,
}

impl Routing {
    /// Reacts to one event. `Err` means "retry later".
    pub async fn react(&self, stored: &StoredEvent) -> Result<Reaction, ExecuteError> {
        self.store.observe(stored);
        let e = &stored.envelope;
        let event = match Event::from_parts(&e.event_type, e.schema, &e.data) {
            Ok(event) => event,
            Err(_) => return Ok(Reaction::Ignored),
        };
        match event {
            Event::CaseFiled(_) | Event::CaseReopened(_) | Event::DispatchReturned(_) => {
                self.dispatch(stored).await
            }
            Event::DeadlineMissed(m) => {
                let snapshot = self.store.snapshot(e.case_id).await?;
                let snapshot = self.store.refresh_to(snapshot, stored.seq).await?;
                let district = self.config.get();
                // A case starts at the ladder's first level (村居主战): a miss moves it up.
                let Some(next) = district.escalation_above(snapshot.case.level_rank.max(1)) else {
                    return Ok(Reaction::Ignored);
                };
                let rank = next.rank as u32;
                let reason = format!(
                    "{:?} deadline of {} missed (due {})",
                    m.deadline, m.department, m.due
                )
                .to_lowercase();
                let command = Command::Escalate(Escalate {
                    level: EscalationLevel::of_rank(rank),
                    reason: format!("{reason}; {} {}", next.id, next.name),
                    level_id: Some(next.id.clone()),
                    rank: Some(rank),
                });
                self.execute(stored, "escalate", command, Reaction::Escalated)
                    .await
            }
            _ => Ok(Reaction::Ignored),
        }
    }

    /// Dispatches by rule after a filing, a reopening or a return, excluding every
    /// department that returned the case; queues it for a human when no rule is left.
    async fn dispatch(&self, stored: &StoredEvent) -> Result<Reaction, ExecuteError> {
        let e = &stored.envelope;
        let snapshot = self.store.snapshot(e.case_id).await?;
        // The exclusions must be current: a stale cache would pick a returning unit,
        // and a replica behind the filing would answer no case at all (left undispatched).
        let snapshot = self.store.refresh_to(snapshot, stored.seq).await?;
        let case: &Case = &snapshot.case;
        let Some(filed) = case.filed.as_ref() else {
            return Ok(Reaction::Ignored);
        };
        let district = self.config.get();
        let exclude: Vec<DepartmentId> = case.returned_by.iter().cloned().collect();
        let route = match district.route_for(
            &filed.category,
            filed.location.grid.as_ref(),
            filed.urgency,
            &exclude,
        ) {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(case = %e.case_id, %why, "the case waits for a human dispatcher");
                self.state
                    .enqueue(e.case_id, &why.to_string(), e.occurred_at)
                    .await
                    .map_err(|err| {
                        ExecuteError::Log(casegrid_eventlog::LogError::Unavailable(err.to_string()))
                    })?;
                return Ok(Reaction::Queued(why.to_string()));
            }
        };
        // Deadlines run in working time from the triggering event, so every replica and
        // every redelivery computes the same command. When routing reacts so late that
        // the sign deadline would already be past (it was down, or far behind), they run
        // from now instead: the domain refuses a past deadline, and the case would stay
        // received for ever. The command id is the event's, so it is appended once.
        let now = self.clock.now();
        let mut from = e.occurred_at;
        let mut due = district.deadlines(&route, urgency_of(case), from);
        if due.sign_due <= now {
            from = now;
            due = district.deadlines(&route, urgency_of(case), from);
        }
        let command = Command::Dispatch(Dispatch {
            lead: route.lead,
            assisting: route.assisting,
            sign_due: due.sign_due,
            handle_due: due.handle_due,
            rule: format!("{} (config {})", route.rule, district.version()),
            return_due: Some(district.return_due(from)),
        });
        self.execute(stored, "dispatch", command, Reaction::Dispatched)
            .await
    }

    async fn execute(
        &self,
        stored: &StoredEvent,
        kind: &str,
        command: Command,
        done: Reaction,
    ) -> Result<Reaction, ExecuteError> {
        let e = &stored.envelope;
        let meta = CommandMeta {
            command_id: format!("{kind}:{}", e.event_id),
            correlation_id: e.correlation_id.clone(),
            causation_id: Some(e.event_id.to_string()),
            request: None,
        };
        match self
            .store
            .execute(
                e.case_id,
                &Actor::routing(),
                &command,
                &meta,
                self.clock.now(),
            )
            .await
        {
            Ok(o) if o.already_done => Ok(Reaction::AlreadyDone),
            Ok(_) => Ok(done),
            Err(ExecuteError::Rejected(r)) => {
                tracing::info!(case = %e.case_id, reason = %r, "{kind} refused");
                Ok(Reaction::Refused(r.detail))
            }
            Err(err) => Err(err),
        }
    }
}

fn urgency_of(case: &Case) -> Urgency {
    case.filed.as_ref().map(|f| f.urgency).unwrap_or_default()
}
