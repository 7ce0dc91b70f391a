//! The HTTP groups: filing, acting and lag, through the gateway on 127.0.0.1 with the
//! demo district's tokens, and the checks on what they left in the read models.

use super::{rate, Latencies};
use anyhow::{bail, Context};
use casegrid_contracts::{subjects, Answer};
use casegrid_domain::{ActorKind, CaseId};
use casegrid_eventlog::EventLog;
use casegrid_readmodel::ReadModel;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// No single request may take longer than this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// No group runs longer than this, whatever its count.
const GROUP_LIMIT: Duration = Duration::from_secs(600);

/// The gateway, over a pool of keep-alive connections.
#[derive(Clone)]
pub(super) struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub(super) fn new(addr: SocketAddr) -> anyhow::Result<Self> {
        if !addr.ip().is_loopback() {
            bail!("the benchmark only targets 127.0.0.1, not {addr}");
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(256)
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            http,
            base: format!("http://{addr}"),
        })
    }

    async fn post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn get_status(&self, path: &str) -> Option<u16> {
        let r = self.http.get(format!("{}{path}", self.base)).send().await;
        r.ok().map(|r| r.status().as_u16())
    }

    /// Waits until `/readyz` answers 200.
    pub(super) async fn wait_ready(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while self.get_status("/readyz").await != Some(200) {
            if Instant::now() > deadline {
                bail!("the gateway was not ready within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// The demo tokens the groups act with.
pub(super) struct Tokens {
    operator: String,
    /// Department (or street office) id → its token.
    departments: HashMap<String, String>,
}

impl Tokens {
    pub(super) fn from_district(district: &casegrid_config::District) -> anyhow::Result<Self> {
        let mut principals: Vec<_> = district.principals.values().collect();
        principals.sort_by(|a, b| a.token.cmp(&b.token));
        let operator = principals
            .iter()
            .find(|p| p.kind == ActorKind::Operator)
            .map(|p| p.token.clone())
            .context("the district names no operator principal")?;
        let departments = principals
            .iter()
            .filter(|p| matches!(p.kind, ActorKind::Department | ActorKind::Street))
            .map(|p| (p.id.clone(), p.token.clone()))
            .collect();
        Ok(Self {
            operator,
            departments,
        })
    }

    fn department(&self, id: &str) -> anyhow::Result<&str> {
        self.departments
            .get(id)
            .map(String::as_str)
            .with_context(|| format!("no principal in principals.toml acts for {id}"))
    }
}

/// The filing body of DESIGN.md's contract example, with a call id of its own.
fn complaint(call_id: &str) -> Value {
    json!({
        "channel": "hotline", "kind": "complaint", "category": "noise", "urgency": "normal",
        "title": "夜间施工噪音扰民",
        "description": "滨江路12号工地每晚十一点后仍在打桩，影响休息。",
        "location": { "address": "湖滨街道滨江路12号", "grid": "NH.HB.BJ.03" },
        "reporter": { "name": "王女士", "phone": "13800001234" },
        "source": { "call_id": call_id }
    })
}

fn run_tag() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp()
    )
}

/// Files, dispatches, signs and replies one case; returns the mean byte size of its
/// envelopes as stored, the event size of the raw group.
pub(super) async fn warmup(
    api: &Api,
    tokens: &Tokens,
    log: &EventLog,
    live: &ReadModel,
) -> anyhow::Result<usize> {
    let key = format!("bench-warmup-{}", run_tag());
    let (status, body) = api
        .post(
            "/api/v1/cases",
            &tokens.operator,
            &complaint(&key),
            Some(&key),
        )
        .await?;
    if status != 201 {
        bail!("warm-up filing answered {status}: {body}");
    }
    let id = case_id(&body)?;
    let waited = wait_dispatched(live, &[id], Duration::from_secs(30)).await?;
    let Some((_, lead)) = waited.leads.first() else {
        bail!("the warm-up case was not dispatched within 30 s");
    };
    act_on(api, tokens, id, lead).await?;
    let events = log.load_case(id, 0).await?;
    if events.is_empty() {
        bail!("the warm-up case has no events in the stream");
    }
    let total: usize = events.iter().map(|e| e.envelope.to_payload().len()).sum();
    Ok(total / events.len())
}

fn case_id(body: &Value) -> anyhow::Result<CaseId> {
    let id = body["id"].as_str().context("answer without an id")?;
    Ok(CaseId::parse(id)?)
}

/// What the filing group did.
pub(super) struct Filed {
    pub(super) ids: Vec<CaseId>,
    pub(super) elapsed: Duration,
    pub(super) latencies: Latencies,
    pub(super) errors: usize,
}

impl Filed {
    pub(super) fn rate(&self) -> f64 {
        rate(self.ids.len() as u64, self.elapsed)
    }
}

/// `clients` tasks file `count` cases in all, each with a fresh Idempotency-Key.
pub(super) async fn file(
    api: &Api,
    tokens: &Tokens,
    count: usize,
    clients: usize,
    tag: &str,
) -> anyhow::Result<Filed> {
    let run = run_tag();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + GROUP_LIMIT;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (api, next, token) = (api.clone(), next.clone(), tokens.operator.clone());
        let (run, tag) = (run.clone(), tag.to_owned());
        tasks.spawn(async move {
            let (mut ids, mut latencies, mut errors) = (Vec::new(), Vec::new(), 0usize);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || Instant::now() > deadline {
                    break;
                }
                let key = format!("bench-{tag}-{run}-{i}");
                let t = Instant::now();
                match api
                    .post("/api/v1/cases", &token, &complaint(&key), Some(&key))
                    .await
                {
                    Ok((201, body)) => {
                        latencies.push(t.elapsed());
                        match case_id(&body) {
                            Ok(id) => ids.push(id),
                            Err(_) => errors += 1,
                        }
                    }
                    Ok((status, body)) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("casegrid bench: a filing answered {status}: {body}");
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("casegrid bench: a filing failed: {e:#}");
                        }
                    }
                }
            }
            (ids, latencies, errors)
        });
    }
    let (mut ids, mut latencies, mut errors) = (Vec::new(), Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (i, l, e) = done.context("a filing client panicked")?;
        ids.extend(i);
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    ids.sort_unstable();
    ids.dedup();
    Ok(Filed {
        ids,
        elapsed,
        latencies: Latencies::new(latencies),
        errors,
    })
}

/// Which filed cases the projection shows dispatched, and to whom.
pub(super) struct Dispatched {
    pub(super) leads: Vec<(CaseId, String)>,
    pub(super) dispatched: usize,
    pub(super) all_dispatched: bool,
    pub(super) waited: Duration,
}

/// Waits until the live read models show every case in `ids` dispatched (routing
/// reacted, the projection applied it), up to `within`.
pub(super) async fn wait_dispatched(
    live: &ReadModel,
    ids: &[CaseId],
    within: Duration,
) -> anyhow::Result<Dispatched> {
    let started = Instant::now();
    let mut waiting: Vec<CaseId> = ids.to_vec();
    let mut leads = Vec::with_capacity(ids.len());
    loop {
        let mut still = Vec::new();
        for id in waiting {
            match live.case(id).await? {
                Some(view) if view.status.as_str() == "dispatched" => {
                    leads.push((id, view.lead.unwrap_or_default()));
                }
                _ => still.push(id),
            }
        }
        waiting = still;
        if waiting.is_empty() || started.elapsed() > within {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Dispatched {
        dispatched: leads.len(),
        all_dispatched: waiting.is_empty(),
        leads,
        waited: started.elapsed(),
    })
}

/// Number of cases in the live read models.
pub(super) async fn count_cases(live: &ReadModel) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM cases")
        .fetch_one(live.pool())
        .await?;
    Ok(n as u64)
}

/// Waits until the projection has applied the whole stream.
pub(super) async fn wait_projected(
    log: &EventLog,
    live: &ReadModel,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let last = log.last_sequence().await?;
        if live.checkpoint().await? >= last {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the projection did not reach sequence {last} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs and replies one case as its lead department; returns the two latencies.
async fn act_on(
    api: &Api,
    tokens: &Tokens,
    id: CaseId,
    lead: &str,
) -> anyhow::Result<[Duration; 2]> {
    let token = tokens.department(lead)?;
    let t = Instant::now();
    let (status, body) = api
        .post(
            &format!("/api/v1/cases/{id}/actions/sign"),
            token,
            &json!({}),
            None,
        )
        .await?;
    let sign = t.elapsed();
    if status != 200 || body["status"] != "in_progress" {
        bail!("sign of {id} by {lead} answered {status}: {body}");
    }
    let t = Instant::now();
    let reply =
        json!({"result": "resolved", "text": "已责令施工单位夜间22时后停止作业，并现场复查。"});
    let (status, body) = api
        .post(
            &format!("/api/v1/cases/{id}/actions/reply"),
            token,
            &reply,
            None,
        )
        .await?;
    let replied = t.elapsed();
    if status != 200 || body["status"] != "replied" {
        bail!("reply to {id} by {lead} answered {status}: {body}");
    }
    Ok([sign, replied])
}

/// What the acting group did.
pub(super) struct Acted {
    pub(super) count: u64,
    pub(super) elapsed: Duration,
    pub(super) latencies: Latencies,
    pub(super) errors: usize,
    pub(super) first_error: String,
}

impl Acted {
    pub(super) fn rate(&self) -> f64 {
        rate(self.count, self.elapsed)
    }
}

/// `clients` tasks sign and reply every case of `cases` as its lead department.
pub(super) async fn act(
    api: &Api,
    tokens: &Tokens,
    cases: &[(CaseId, String)],
    clients: usize,
) -> anyhow::Result<Acted> {
    let cases: Arc<Vec<(CaseId, String)>> = Arc::new(cases.to_vec());
    let tokens = Arc::new(Tokens {
        operator: tokens.operator.clone(),
        departments: tokens.departments.clone(),
    });
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + GROUP_LIMIT;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (api, next, cases, tokens) = (api.clone(), next.clone(), cases.clone(), tokens.clone());
        tasks.spawn(async move {
            let (mut latencies, mut errors, mut first) = (Vec::new(), 0usize, String::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= cases.len() || Instant::now() > deadline {
                    break;
                }
                let (id, lead) = &cases[i];
                match act_on(&api, &tokens, *id, lead).await {
                    Ok(l) => latencies.extend(l),
                    Err(e) => {
                        errors += 1;
                        if first.is_empty() {
                            first = format!("{e:#}");
                        }
                    }
                }
            }
            (latencies, errors, first)
        });
    }
    let (mut latencies, mut errors, mut first_error) = (Vec::new(), 0, String::new());
    while let Some(done) = tasks.join_next().await {
        let (l, e, f) = done.context("an acting client panicked")?;
        latencies.extend(l);
        errors += e;
        if first_error.is_empty() {
            first_error = f;
        }
    }
    let elapsed = started.elapsed();
    Ok(Acted {
        count: latencies.len() as u64,
        elapsed,
        latencies: Latencies::new(latencies),
        errors,
        first_error,
    })
}

/// What the lag group saw.
pub(super) struct Lag {
    pub(super) offered: usize,
    pub(super) filed: usize,
    /// Filings answered other than 201 (or not at all): the load was refused.
    pub(super) refused: usize,
    pub(super) achieved_rate: f64,
    pub(super) from_answer: Latencies,
    pub(super) from_request: Latencies,
    pub(super) filing: Latencies,
    /// 201 → the `CaseDispatched` event read back from the stream (routing's share).
    pub(super) to_dispatch: Latencies,
    pub(super) missing: usize,
}

/// Files `count` cases open-loop at `per_second` and measures when each becomes
/// visible in its department's inbox: the projection's checkpoint passing the
/// sequence of the case's `CaseDispatched` (the inbox row is written in the same
/// transaction as the checkpoint).
pub(super) async fn lag(
    api: &Api,
    tokens: &Tokens,
    log: &EventLog,
    client: &async_nats::Client,
    live: &ReadModel,
    count: usize,
    per_second: f64,
) -> anyhow::Result<Lag> {
    let from = log.last_sequence().await? + 1;
    // Where each case's dispatch landed in the stream.
    let dispatches: Arc<Mutex<HashMap<CaseId, (u64, Instant)>>> = Arc::default();
    let watcher = {
        let (log, dispatches) = (log.clone(), dispatches.clone());
        tokio::spawn(async move {
            let mut events = std::pin::pin!(log.read_from(from).await?);
            while let Some(event) = events.next().await {
                let event = event?;
                if event.envelope.event_type == "CaseDispatched" {
                    let mut d = dispatches.lock().expect("not poisoned");
                    d.entry(event.envelope.case_id)
                        .or_insert((event.seq, Instant::now()));
                }
            }
            anyhow::Ok(())
        })
    };
    // When the projection's checkpoint moved.
    let observations: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let poller = {
        let (client, observations, stop) = (client.clone(), observations.clone(), stop.clone());
        tokio::spawn(async move {
            let mut last = 0u64;
            while !stop.is_cancelled() {
                let reply = tokio::time::timeout(
                    Duration::from_secs(5),
                    client.request(subjects::PROJECTION_CHECKPOINT, "{}".into()),
                )
                .await;
                let now = Instant::now();
                if let Ok(Ok(msg)) = reply {
                    if let Ok(Answer::Ok(cp)) = serde_json::from_slice::<Answer<u64>>(&msg.payload)
                    {
                        if cp > last {
                            last = cp;
                            observations.lock().expect("not poisoned").push((now, cp));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };

    // Open loop: the n-th request leaves at n / rate, whatever the answers do.
    let run = run_tag();
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / per_second)).await;
        let (api, token) = (api.clone(), tokens.operator.clone());
        let key = format!("bench-lag-{run}-{i}");
        tasks.spawn(async move {
            let sent = Instant::now();
            let answer = api
                .post("/api/v1/cases", &token, &complaint(&key), Some(&key))
                .await;
            let answered = Instant::now();
            match answer {
                Ok((201, body)) => case_id(&body).ok().map(|id| (id, sent, answered)),
                _ => None,
            }
        });
    }
    let mut filed = Vec::new();
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        match done.context("a lag filing panicked")? {
            Some(f) => filed.push(f),
            None => failed += 1,
        }
    }
    let achieved_rate = rate(filed.len() as u64, started.elapsed());

    // Wait until the checkpoint covers every dispatch (or give up after 60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let covered = {
            let d = dispatches.lock().expect("not poisoned");
            let top = observations
                .lock()
                .expect("not poisoned")
                .last()
                .map_or(0, |o| o.1);
            filed
                .iter()
                .all(|(id, ..)| d.get(id).is_some_and(|(s, _)| *s <= top))
        };
        if covered || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let _ = poller.await;
    // A watcher that failed shows as missing dispatches below.
    watcher.abort();

    let dispatches = dispatches.lock().expect("not poisoned").clone();
    let observations = observations.lock().expect("not poisoned").clone();
    let (mut from_answer, mut from_request, mut filing) = (Vec::new(), Vec::new(), Vec::new());
    let mut to_dispatch = Vec::new();
    let mut missing = 0;
    for (id, sent, answered) in &filed {
        filing.push(answered.duration_since(*sent));
        let Some((seq, dispatched)) = dispatches.get(id) else {
            missing += 1;
            continue;
        };
        to_dispatch.push(dispatched.saturating_duration_since(*answered));
        let at = observations.partition_point(|(_, cp)| cp < seq);
        let Some((seen, _)) = observations.get(at) else {
            missing += 1;
            continue;
        };
        from_answer.push(seen.saturating_duration_since(*answered));
        from_request.push(seen.saturating_duration_since(*sent));
    }
    // The inbox itself: every lag case is in the lead's inbox (the earlier cases were
    // replied and left it).
    if missing == 0 {
        let in_inbox: i64 =
            sqlx::query_scalar("SELECT count(*) FROM inbox WHERE role = 'lead' AND signed = 0")
                .fetch_one(live.pool())
                .await?;
        missing = filed.len().saturating_sub(in_inbox as usize);
        let sample = client
            .request(
                subjects::PROJECTION_INBOX,
                serde_json::to_vec(&json!({"department": "dept.urban", "limit": 10}))?.into(),
            )
            .await
            .context("querying an inbox")?;
        let answer: Value = serde_json::from_slice(&sample.payload)?;
        if answer["ok"]["items"]
            .as_array()
            .is_none_or(|i| i.is_empty())
        {
            bail!("the inbox query answered no items: {answer}");
        }
    }
    Ok(Lag {
        offered: count,
        filed: filed.len(),
        refused: failed,
        achieved_rate,
        from_answer: Latencies::new(from_answer),
        from_request: Latencies::new(from_request),
        filing: Latencies::new(filing),
        to_dispatch: Latencies::new(to_dispatch),
        missing,
    })
}
