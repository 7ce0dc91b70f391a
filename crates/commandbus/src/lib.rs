//! Answering command requests in the services that decide them (intake, routing):
//! parse the request, check `If-Match`, execute in the [`CaseStore`], and answer a
//! [`CommandReply`] or a [`Problem`].
//!
//! - [`act`]: one `ActRequest` for the actions a service owns.
//! - [`problem_of`]: how execution errors read to a person ([`seal_problem`]: failed
//!   sealings of free texts).
//! - [`answer`]: the JSON bytes of an `Answer`.
//! - [`http_command_id`], [`fingerprint`]: an API request's command id, namespaced by
//!   the principal that sent it, and what it asked for.
//!
//! An `Idempotency-Key` belongs to its principal: the command id of an API request is
//! `http:<actor kind>:<actor id>:<key>`, built here from the actor the gateway
//! authenticated, so nobody can occupy another principal's id, and no key can become
//! one of routing's own ids (`dispatch:…`, `escalate:…`, `missed:…`). A known id with
//! the same fingerprint (action and RFC 8785 body) answers what it did; with another
//! fingerprint it is refused with 422 `idempotency-key-reused` and nothing runs.

use casegrid_contracts::actions::{self, Owner, Parsed};
use casegrid_contracts::{ActRequest, Answer, CommandReply, Problem};
use casegrid_domain::{Actor, Command};
use casegrid_eventlog::{
    CaseStore, CommandMeta, ExecuteError, LogError, Outcome, RequestFingerprint, SealError,
};
use casegrid_runtime::clock::Clock;
use serde::Serialize;

/// How an execution error reads to a person; internal detail goes to the log.
pub fn problem_of(e: ExecuteError) -> Problem {
    match e {
        ExecuteError::Rejected(r) => r.into(),
        ExecuteError::Contended(id, _) => Problem::new(
            503,
            "contended",
            "Case busy",
            format!("case {id} is changing too fast; retry with the same Idempotency-Key"),
        ),
        ExecuteError::Log(LogError::Unavailable(detail)) => {
            tracing::warn!(%detail, "event log unavailable");
            Problem::unavailable(
                "the event log is unavailable; retry with the same Idempotency-Key",
            )
        }
        ExecuteError::Log(LogError::ChainBroken(brk)) => Problem::new(
            409,
            "chain-broken",
            "Case chain broken",
            format!(
                "case {} refuses commands: its chain breaks at version {} ({}); a supervisor must look at `casegrid audit verify`",
                brk.case_id, brk.version, brk.reason
            ),
        ),
        ExecuteError::Log(e) => {
            tracing::error!(error = %e, "event log failure");
            Problem::internal("the event log failed; the incident is logged")
        }
        ExecuteError::KeyReused {
            case,
            command_id,
            first,
        } => key_reused(&command_id, &case, &first),
    }
}

/// How a failed sealing of free texts ([`CaseStore::seal_free_texts`]) reads to a
/// person: a missing case as one, the log as [`problem_of`], the key store as 503.
pub fn seal_problem(e: SealError) -> Problem {
    match e {
        SealError::CaseNotFound(id) => Problem::case_not_found(id),
        SealError::Log(e) => problem_of(e.into()),
        SealError::Key(e) => {
            tracing::warn!(error = %e, "key store");
            Problem::unavailable(
                "the key store is unavailable; retry with the same Idempotency-Key",
            )
        }
    }
}

/// 422 `idempotency-key-reused`, naming the key's first use.
pub fn key_reused(command_id: &str, case: &str, first: &casegrid_eventlog::Applied) -> Problem {
    let first_use = format!(
        "{} (version {} of case {case})",
        first.action().unwrap_or(first.event_type),
        first.version
    );
    Problem::new(
        422,
        "idempotency-key-reused",
        "Idempotency-Key reused",
        format!(
            "Idempotency-Key {:?} was first used for {first_use}; this request asks for \
             another action or body, so nothing was done: send it with a new key",
            client_key(command_id)
        ),
    )
}

/// The command id of an API request: the principal's namespace, then its key.
pub fn http_command_id(actor: &Actor, key: &str) -> String {
    format!("http:{}:{}:{key}", actor.kind.as_str(), actor.id)
}

/// The client's key inside an id made by [`http_command_id`] (other ids as they are).
pub fn client_key(command_id: &str) -> &str {
    match command_id.strip_prefix("http:") {
        Some(rest) => rest.splitn(3, ':').nth(2).unwrap_or(rest),
        None => command_id,
    }
}

/// What a request asks for: `action` and its body in RFC 8785 form, hashed.
pub fn fingerprint(action: &str, body: &serde_json::Value) -> Result<RequestFingerprint, Problem> {
    RequestFingerprint::of(action, body).map_err(|e| Problem::unprocessable(format!("body: {e}")))
}

/// The reply to a command that went through.
pub fn reply_of(outcome: &Outcome) -> CommandReply {
    CommandReply {
        id: outcome.case.id,
        number: outcome.case.number.clone(),
        version: outcome.version,
        status: outcome.case.status,
        created: outcome.version == 1 && !outcome.already_done,
        revealed: None,
    }
}

/// JSON bytes of an answer.
pub fn answer<T: Serialize>(answer: impl Into<Answer<T>>) -> Vec<u8> {
    serde_json::to_vec(&answer.into()).expect("answers serialize")
}

/// Parses a request body, answering 400 for malformed JSON.
pub fn parse_request<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(payload)
        .map_err(|e| Problem::bad_request(format!("malformed request: {e}")))
}

/// Parses an action request for a service owning `owner`'s actions; the command may
/// still need values the service computes ([`Parsed::Incomplete`]).
pub fn prepare(owner: Owner, payload: &[u8]) -> Result<(ActRequest, Parsed), Problem> {
    let request: ActRequest = parse_request(payload)?;
    if actions::owner(&request.action) != Some(owner) {
        return Err(actions::unknown_action(&request.action));
    }
    let parsed = actions::parse(&request.action, &request.body)?;
    Ok((request, parsed))
}

/// A parsed action that must be a complete command (the service has nothing to add).
pub fn complete(action: &str, parsed: Parsed) -> Result<Command, Problem> {
    match parsed {
        Parsed::Command(command) => Ok(command),
        Parsed::Incomplete(_) => {
            tracing::error!(
                action,
                "an action needing service-computed values reached the wrong service"
            );
            Err(Problem::internal(format!(
                "action {action} cannot be completed here"
            )))
        }
    }
}

/// Checks `If-Match`, then executes the command in the store.
pub async fn execute(
    store: &CaseStore,
    clock: &dyn Clock,
    request: ActRequest,
    command: &Command,
) -> Result<Outcome, Problem> {
    let command_id = http_command_id(&request.actor, &request.command_id);
    if let Some(expected) = request.if_match {
        let snapshot = store
            .snapshot(request.case_id)
            .await
            .map_err(|e| problem_of(e.into()))?;
        // A repeated command answers what it did, whatever the version is now.
        if snapshot.version_of(&command_id).is_none() && snapshot.case.version != expected {
            return Err(Problem::precondition_failed(format!(
                "case {} is at version {}, not {expected}",
                snapshot.case.label(),
                snapshot.case.version
            )));
        }
    }
    let meta = CommandMeta {
        request: Some(fingerprint(&request.action, &request.body)?),
        command_id,
        correlation_id: casegrid_runtime::correlation::or(request.correlation_id),
        causation_id: None,
    };
    store
        .execute(request.case_id, &request.actor, command, &meta, clock.now())
        .await
        .map_err(problem_of)
}

/// Handles one action request for a service owning `owner`'s actions.
pub async fn act(
    store: &CaseStore,
    clock: &dyn Clock,
    owner: Owner,
    payload: &[u8],
) -> Result<CommandReply, Problem> {
    let (request, parsed) = prepare(owner, payload)?;
    let command = complete(&request.action, parsed)?;
    let outcome = execute(store, clock, request, &command).await?;
    Ok(reply_of(&outcome))
}
