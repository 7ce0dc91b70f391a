//! The query endpoints of the projection service, registered with the NATS service
//! API in the `casegrid-projection` queue group so replicas share the requests.

use anyhow::anyhow;
use async_nats::service::ServiceExt;
use casegrid_contracts::kb::{
    KbEntryQuery, KbEntryView, KbExpiredQuery, KbHistoryView, KbPage, KbSearchQuery,
};
use casegrid_contracts::similar::{SimilarQuery, SimilarView};
use casegrid_contracts::views::{CaseView, InboxView, TimelineView};
use casegrid_contracts::{services, subjects, Answer, CaseQuery, InboxQuery, Problem};
use casegrid_readmodel::{
    CasePage, ListQuery, OverdueQuery, PublicPage, PublicQuery, ReadModel, ReadModelError,
    StatsQuery, StatsView,
};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What an endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    Case,
    Timeline,
    Inbox,
    Checkpoint,
    Counts,
    List,
    Overdue,
    Stats,
    Quarantine,
    /// The Open311 list: cases and their public notes in one answer.
    Public,
    /// Duplicate candidates of a case or a draft.
    Similar,
    KbSearch,
    KbEntry,
    KbHistory,
    KbExpired,
}

impl Query {
    pub const ALL: [Query; 15] = [
        Query::Case,
        Query::Timeline,
        Query::Inbox,
        Query::Checkpoint,
        Query::Counts,
        Query::List,
        Query::Overdue,
        Query::Stats,
        Query::Quarantine,
        Query::Public,
        Query::Similar,
        Query::KbSearch,
        Query::KbEntry,
        Query::KbHistory,
        Query::KbExpired,
    ];

    pub fn subject(self) -> &'static str {
        match self {
            Query::Case => subjects::PROJECTION_CASE,
            Query::Timeline => subjects::PROJECTION_TIMELINE,
            Query::Inbox => subjects::PROJECTION_INBOX,
            Query::Checkpoint => subjects::PROJECTION_CHECKPOINT,
            Query::Counts => subjects::PROJECTION_COUNTS,
            Query::List => subjects::PROJECTION_LIST,
            Query::Overdue => subjects::PROJECTION_OVERDUE,
            Query::Stats => subjects::PROJECTION_STATS,
            Query::Quarantine => subjects::PROJECTION_QUARANTINE,
            Query::Public => subjects::PROJECTION_PUBLIC,
            Query::Similar => subjects::PROJECTION_SIMILAR,
            Query::KbSearch => subjects::PROJECTION_KB_SEARCH,
            Query::KbEntry => subjects::PROJECTION_KB_ENTRY,
            Query::KbHistory => subjects::PROJECTION_KB_HISTORY,
            Query::KbExpired => subjects::PROJECTION_KB_EXPIRED,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Query::Case => "case",
            Query::Timeline => "timeline",
            Query::Inbox => "inbox",
            Query::Checkpoint => "checkpoint",
            Query::Counts => "counts",
            Query::List => "list",
            Query::Overdue => "overdue",
            Query::Stats => "stats",
            Query::Quarantine => "quarantine",
            Query::Public => "public",
            Query::Similar => "similar",
            Query::KbSearch => "kb_search",
            Query::KbEntry => "kb_entry",
            Query::KbHistory => "kb_history",
            Query::KbExpired => "kb_expired",
        }
    }
}

/// The registered service; [`Running::stop`] waits for its endpoint tasks.
pub struct Running {
    service: async_nats::service::Service,
    tasks: JoinSet<()>,
}

impl Running {
    /// Waits for the endpoints (stopped by the token given to [`start`]) and
    /// unregisters the service.
    pub async fn stop(mut self) {
        while self.tasks.join_next().await.is_some() {}
        if let Err(e) = self.service.stop().await {
            tracing::warn!(error = %e, "stopping the projection service");
        }
    }
}

/// Registers the service and serves every [`Query`] until `stop` is cancelled.
pub async fn start(
    client: &async_nats::Client,
    model: ReadModel,
    stop: CancellationToken,
) -> anyhow::Result<Running> {
    let service = client
        .service_builder()
        .description("casegrid read models: cases, timelines, inboxes, lists, figures")
        .queue_group(services::PROJECTION)
        .start(services::PROJECTION, services::VERSION)
        .await
        .map_err(|e| anyhow!("starting service {}: {e}", services::PROJECTION))?;
    let mut tasks = JoinSet::new();
    for query in Query::ALL {
        let mut endpoint = service
            .endpoint_builder()
            .name(query.name())
            .add(query.subject())
            .await
            .map_err(|e| anyhow!("adding endpoint {}: {e}", query.subject()))?;
        casegrid_runtime::metrics::endpoint(services::PROJECTION, query.subject());
        let model = model.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            loop {
                let request = tokio::select! {
                    () = stop.cancelled() => break,
                    r = endpoint.next() => match r {
                        Some(r) => r,
                        None => break,
                    },
                };
                let model = model.clone();
                // One task per request: a slow query does not hold up the next.
                tokio::spawn(async move {
                    let body = answer(&model, query, &request.message.payload).await;
                    casegrid_runtime::metrics::answered(
                        services::PROJECTION,
                        query.subject(),
                        &body,
                    );
                    if let Err(e) = request.respond(Ok(body.into())).await {
                        tracing::warn!(error = %e, subject = query.subject(), "reply not sent");
                    }
                });
            }
        });
    }
    Ok(Running { service, tasks })
}

/// Most quarantined messages listed in one answer (the counts cover all).
const QUARANTINE_LIMIT: u32 = 1000;

/// The JSON answer (`{"ok": …}` or `{"problem": …}`) to one request.
pub async fn answer(model: &ReadModel, query: Query, payload: &[u8]) -> Vec<u8> {
    match query {
        Query::Case => encode(case(model, payload).await),
        Query::Timeline => encode(timeline(model, payload).await),
        Query::Inbox => encode(inbox(model, payload).await),
        Query::Checkpoint => encode(model.checkpoint().await.map_err(internal)),
        Query::Counts => encode(model.cases_by_status().await.map_err(internal)),
        Query::List => encode(list(model, payload).await),
        Query::Overdue => encode(overdue(model, payload).await),
        Query::Stats => encode(stats(model, payload).await),
        Query::Quarantine => encode(model.quarantine(QUARANTINE_LIMIT).await.map_err(internal)),
        Query::Public => encode(public(model, payload).await),
        Query::Similar => encode(similar(model, payload).await),
        Query::KbSearch => encode(kb_search(model, payload).await),
        Query::KbEntry => encode(kb_entry(model, payload).await),
        Query::KbHistory => encode(kb_history(model, payload).await),
        Query::KbExpired => encode(kb_expired(model, payload).await),
    }
}

async fn list(model: &ReadModel, payload: &[u8]) -> Result<CasePage, Problem> {
    let q: ListQuery = parse_or_default(payload)?;
    model
        .list(&q, OffsetDateTime::now_utc())
        .await
        .map_err(refusal)
}

async fn overdue(model: &ReadModel, payload: &[u8]) -> Result<CasePage, Problem> {
    let q: OverdueQuery = parse_or_default(payload)?;
    model
        .overdue(&q, OffsetDateTime::now_utc())
        .await
        .map_err(refusal)
}

async fn stats(model: &ReadModel, payload: &[u8]) -> Result<StatsView, Problem> {
    let q: StatsQuery = parse_or_default(payload)?;
    model.stats(&q).await.map_err(refusal)
}

async fn public(model: &ReadModel, payload: &[u8]) -> Result<PublicPage, Problem> {
    let q: PublicQuery = parse_or_default(payload)?;
    model
        .public(&q, OffsetDateTime::now_utc())
        .await
        .map_err(refusal)
}

async fn similar(model: &ReadModel, payload: &[u8]) -> Result<SimilarView, Problem> {
    let q: SimilarQuery = parse(payload)?;
    model
        .similar(&q, OffsetDateTime::now_utc())
        .await
        .map_err(refusal)?
        .ok_or_else(|| match q.case_id {
            Some(id) => Problem::case_not_found(id),
            None => Problem::bad_request("a draft needs a category"),
        })
}

async fn kb_search(model: &ReadModel, payload: &[u8]) -> Result<KbPage, Problem> {
    let q: KbSearchQuery = parse_or_default(payload)?;
    model.kb_search(&q).await.map_err(refusal)
}

fn kb_not_found(q: &KbEntryQuery) -> Problem {
    Problem::not_found(format!("knowledge-base entry {} not found", q.id))
}

async fn kb_entry(model: &ReadModel, payload: &[u8]) -> Result<KbEntryView, Problem> {
    let q: KbEntryQuery = parse(payload)?;
    model
        .kb_entry(q.id)
        .await
        .map_err(internal)?
        .ok_or_else(|| kb_not_found(&q))
}

async fn kb_history(model: &ReadModel, payload: &[u8]) -> Result<KbHistoryView, Problem> {
    let q: KbEntryQuery = parse(payload)?;
    model
        .kb_history(q.id)
        .await
        .map_err(internal)?
        .ok_or_else(|| kb_not_found(&q))
}

async fn kb_expired(model: &ReadModel, payload: &[u8]) -> Result<KbPage, Problem> {
    let q: KbExpiredQuery = parse(payload)?;
    model.kb_expired(&q).await.map_err(refusal)
}

/// An empty body asks with every default.
fn parse_or_default<T: DeserializeOwned + Default>(payload: &[u8]) -> Result<T, Problem> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(payload)
}

/// A bad query is the caller's to fix; anything else is ours.
fn refusal(e: ReadModelError) -> Problem {
    match e {
        ReadModelError::BadQuery(detail) => Problem::bad_request(detail),
        e => internal(e),
    }
}

async fn case(model: &ReadModel, payload: &[u8]) -> Result<CaseView, Problem> {
    let q: CaseQuery = parse(payload)?;
    model
        .case(q.case_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found(&q))
}

async fn timeline(model: &ReadModel, payload: &[u8]) -> Result<TimelineView, Problem> {
    let q: CaseQuery = parse(payload)?;
    model
        .timeline(q.case_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| not_found(&q))
}

async fn inbox(model: &ReadModel, payload: &[u8]) -> Result<InboxView, Problem> {
    let q: InboxQuery = parse(payload)?;
    if q.department.trim().is_empty() {
        return Err(Problem::bad_request("department: must not be empty"));
    }
    model.inbox(&q.department, q.limit).await.map_err(internal)
}

fn not_found(q: &CaseQuery) -> Problem {
    Problem::case_not_found(q.case_id)
}

fn parse<T: DeserializeOwned>(payload: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(payload)
        .map_err(|e| Problem::bad_request(format!("malformed request: {e}")))
}

/// The detail goes to the log, not to the caller.
fn internal(e: ReadModelError) -> Problem {
    tracing::error!(error = %e, "read model query failed");
    Problem::unavailable("the read model cannot answer now; try again")
}

fn encode<T: Serialize>(result: Result<T, Problem>) -> Vec<u8> {
    serde_json::to_vec(&Answer::from(result)).unwrap_or_else(|e| {
        tracing::error!(error = %e, "answer not serializable");
        br#"{"problem":{"status":500,"slug":"internal","title":"Internal error","detail":"answer not serializable"}}"#.to_vec()
    })
}
