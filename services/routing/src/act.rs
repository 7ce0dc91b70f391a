//! The actions routing decides: department actions, supervision, whistles, mediation.
//! Commands that need values from configuration and the working calendar are
//! completed here (see `casegrid_contracts::actions`).

use crate::Routing;
use casegrid_commandbus::{execute, prepare, problem_of, reply_of};
use casegrid_contracts::actions::{DispatchDeadlines, Incomplete, Owner, Parsed};
use casegrid_contracts::{CommandReply, Problem};
use casegrid_domain::ids::{mask_name, mask_phone};
use casegrid_domain::{ActorKind, Case, Command};
use casegrid_privacy::PrivacyError;
use time::OffsetDateTime;

impl Routing {
    /// Answers one action request.
    pub async fn act(&self, payload: &[u8]) -> Result<CommandReply, Problem> {
        let (request, parsed) = prepare(Owner::Routing, payload)?;
        let now = self.clock.now();
        let mut command = match parsed {
            Parsed::Command(command) => command,
            Parsed::Incomplete(incomplete) => {
                let snapshot = self
                    .store
                    .snapshot(request.case_id)
                    .await
                    .map_err(|e| problem_of(e.into()))?;
                let snapshot = self
                    .store
                    .refresh(snapshot)
                    .await
                    .map_err(|e| problem_of(e.into()))?;
                self.complete(incomplete, &snapshot.case, now).await?
            }
        };
        self.store
            .seal_free_texts(&self.keys, request.case_id, &mut command)
            .await
            .map_err(casegrid_commandbus::seal_problem)?;
        let outcome = execute(&self.store, self.clock.as_ref(), request, &command).await?;
        Ok(reply_of(&outcome))
    }

    /// Fills in what only routing knows: deadlines from the rules and the calendar,
    /// sealed personal data of mediation parties.
    async fn complete(
        &self,
        incomplete: Incomplete,
        case: &Case,
        now: OffsetDateTime,
    ) -> Result<Command, Problem> {
        let district = self.config.get();
        match incomplete {
            Incomplete::Dispatch(request) => {
                // A manual dispatch keeps the terms of the rule the case would follow.
                let due = rule_deadlines(&district, case, now)?;
                Ok(request.complete(DispatchDeadlines {
                    sign_due: due.sign_due,
                    handle_due: due.handle_due,
                    return_due: Some(district.return_due(now)),
                }))
            }
            Incomplete::RequestExtension(request) => {
                let handle_due = case
                    .dispatch
                    .as_ref()
                    .map(|d| d.handle_due)
                    .ok_or_else(|| {
                        Problem::new(
                            409,
                            "invalid-state",
                            "Not possible in this state",
                            format!("case {} is not dispatched", case.label()),
                        )
                    })?;
                Ok(request.complete(district.extension_request_by(handle_due)))
            }
            Incomplete::AppealRating(request) => {
                let at = case.rated.as_ref().and_then(|r| r.recorded_at);
                Ok(request.complete(at.map(|at| district.appeal_by(at))))
            }
            Incomplete::Resume(request) => {
                let (Some(suspension), Some(dispatch)) = (&case.suspension, &case.dispatch) else {
                    return Err(Problem::new(
                        409,
                        "invalid-state",
                        "Not possible in this state",
                        format!("case {} is not suspended", case.label()),
                    ));
                };
                // The clock stopped at suspension: the working time left then runs from now.
                let left = district
                    .calendar
                    .working_between(suspension.suspended_at, dispatch.handle_due);
                let handle_due = district
                    .calendar
                    .add_working(now, left)
                    .max(dispatch.handle_due);
                Ok(request.complete(handle_due))
            }
            Incomplete::Whistle(request) => {
                Ok(request.complete(rule_deadlines(&district, case, now)?.report_due))
            }
            Incomplete::OpenMediation(request) => {
                if let Some(m) = request.mediator.as_deref() {
                    if !district.has_principal(ActorKind::Mediator, m.trim()) {
                        return Err(Problem::unprocessable(format!(
                            "mediator: {m:?} is no mediator of this district (principals.toml)"
                        )));
                    }
                }
                let key = self
                    .keys
                    .key_for_filing(case.id)
                    .await
                    .map_err(key_problem)?;
                let seal = |field: &str, clear: &str| -> Result<_, Problem> {
                    let masked = if field.ends_with(".phone") {
                        mask_phone(clear)
                    } else {
                        mask_name(clear)
                    };
                    Ok(key.seal(field, clear, masked))
                };
                request.complete(seal, district.mediation_due(now))
            }
            Incomplete::RecordAgreement(request) => {
                Ok(request.complete(district.court_confirmation_due(now)))
            }
        }
    }
}

/// The deadlines of the rule a case follows, counted from `now`.
fn rule_deadlines(
    district: &casegrid_config::District,
    case: &Case,
    now: OffsetDateTime,
) -> Result<casegrid_config::Deadlines, Problem> {
    let filed = case
        .filed
        .as_ref()
        .ok_or_else(|| Problem::case_not_found(case.id))?;
    let route = district
        .route_for(
            &filed.category,
            filed.location.grid.as_ref(),
            filed.urgency,
            &[],
        )
        .map_err(|e| Problem::unprocessable(format!("no rule gives this case deadlines: {e}")))?;
    Ok(district.deadlines(&route, filed.urgency, now))
}

fn key_problem(e: PrivacyError) -> Problem {
    tracing::warn!(error = %e, "key store");
    Problem::unavailable("the key store is unavailable; retry with the same Idempotency-Key")
}
