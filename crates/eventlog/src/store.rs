//! [`CaseStore`]: decides commands against cached case states and appends their
//! events with optimistic concurrency. The cache is refreshed only when an append
//! meets a conflict, so the hot path does not reload a case from the stream.

use crate::classify::{classify_parsed, Head, RawMessage};
use crate::envelope::{ChainBreak, Envelope, RequestFingerprint, StoredEvent, GENESIS_HASH};
use crate::error::{LogError, SealError};
use crate::log::EventLog;
use casegrid_domain::{Actor, Case, CaseId, Command, Rejection};
use casegrid_privacy::KeyVault;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::{OffsetDateTime, UtcOffset};

/// How case numbers read to citizens are formed: `<prefix>-<local date>-<sequence>`.
#[derive(Debug, Clone)]
pub struct Numbering {
    pub prefix: String,
    /// The city's offset, for the date part (UTC+8 in China).
    pub offset: UtcOffset,
}

impl Default for Numbering {
    fn default() -> Self {
        Self {
            prefix: "NH".into(),
            offset: UtcOffset::from_hms(8, 0, 0).expect("valid offset"),
        }
    }
}

impl Numbering {
    /// `NH-20261123-000123`: the filing's local date and its stream sequence, so the
    /// number is known when the filing is acknowledged, is the same after any
    /// rebuild, and costs no write of its own.
    pub fn number(&self, filed_at: OffsetDateTime, filing_seq: u64) -> String {
        let d = filed_at.to_offset(self.offset).date();
        format!(
            "{}-{:04}{:02}{:02}-{:06}",
            self.prefix,
            d.year(),
            d.month() as u8,
            d.day(),
            filing_seq
        )
    }
}

/// Where a command comes from: its id makes it idempotent.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    /// Unique per principal and request: `http:<actor kind>:<actor id>:<key>` for API
    /// requests, `dispatch:…`, `escalate:…`, `missed:…` for routing's own commands.
    pub command_id: String,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    /// The request's fingerprint (API requests): a known command id with another
    /// fingerprint is refused as [`ExecuteError::KeyReused`].
    pub request: Option<RequestFingerprint>,
}

/// What a command id did: the event it produced, and the request that asked for it.
/// Kept small: a cached case holds one per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: u64,
    pub event_type: &'static str,
    /// The request's action and its fingerprint's SHA-256.
    request: Option<Box<(Box<str>, [u8; 32])>>,
}

impl Applied {
    pub(crate) fn new(
        version: u64,
        event_type: &'static str,
        request: Option<&RequestFingerprint>,
    ) -> Self {
        Self {
            version,
            event_type,
            request: request.map(|r| Box::new((r.action.as_str().into(), digest(&r.hash)))),
        }
    }

    /// The action of the request that made the event (absent for system commands and
    /// events written before fingerprints).
    pub fn action(&self) -> Option<&str> {
        self.request.as_ref().map(|r| &*r.0)
    }

    /// Whether `request` is the one recorded (no fingerprint on either side counts).
    pub fn same_request(&self, request: Option<&RequestFingerprint>) -> bool {
        match (&self.request, request) {
            (None, None) => true,
            (Some(mine), Some(theirs)) => {
                *mine.0 == *theirs.action && mine.1 == digest(&theirs.hash)
            }
            _ => false,
        }
    }
}

/// The 32 bytes of a hex SHA-256 (any other text: its own SHA-256, still comparable).
fn digest(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let bytes = hex.as_bytes();
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    if bytes.len() == 64 {
        let mut ok = true;
        for (i, pair) in bytes.chunks(2).enumerate() {
            match (nibble(pair[0]), nibble(pair[1])) {
                (Some(h), Some(l)) => out[i] = h << 4 | l,
                _ => ok = false,
            }
        }
        if ok {
            return out;
        }
    }
    use sha2::Digest as _;
    out.copy_from_slice(&sha2::Sha256::digest(hex.as_bytes()));
    out
}

/// A case folded from its events, with what an append needs to know.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub case: Case,
    /// Stream sequence of the case's last event (0 before filing).
    pub last_seq: u64,
    pub last_hash: String,
    /// Where the case's chain cannot be extended (a forged or missing event, or one
    /// written by a newer version): commands on the case are refused.
    pub broken: Option<ChainBreak>,
    /// Command id → what it did.
    commands: HashMap<String, Applied>,
}

impl Snapshot {
    pub fn empty(case_id: CaseId) -> Self {
        Self {
            case: Case::new(case_id),
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            broken: None,
            commands: HashMap::new(),
        }
    }

    /// Folds events read from the stream (in order) into the snapshot, verifying the
    /// chain: see [`Self::extend_raw`].
    pub fn extend(
        &mut self,
        events: &[StoredEvent],
        numbering: &Numbering,
    ) -> Result<(), LogError> {
        let prefix = crate::log::LogConfig::default().subject_prefix;
        let messages: Vec<RawMessage> = events.iter().map(|e| RawMessage::of(&prefix, e)).collect();
        self.extend_raw(&prefix, &messages, numbering);
        Ok(())
    }

    /// Folds the case's messages read from the stream (in order): each is classified
    /// against the snapshot's head ([`classify`]); valid events apply, the others are
    /// passed over (the sequence still moves, so appends expect the subject's real
    /// last message), and one that breaks the chain marks the snapshot
    /// [`Self::broken`]: nothing may be appended after it.
    pub fn extend_raw(&mut self, prefix: &str, messages: &[RawMessage], numbering: &Numbering) {
        for message in messages {
            if message.seq <= self.last_seq {
                continue;
            }
            self.last_seq = message.seq;
            if self.broken.is_some() {
                continue;
            }
            let head = Head {
                version: self.case.version,
                hash: self.last_hash.clone(),
            };
            let (stored, event) = match classify_parsed(prefix, message, Some(&head)) {
                Ok(valid) => valid,
                Err(q) => {
                    tracing::warn!(seq = q.seq, reason = %q.reason, detail = %q.detail, "case store passes over a quarantined message");
                    self.broken = q.chain_break();
                    continue;
                }
            };
            let e = &stored.envelope;
            self.case.apply(&event);
            if e.version == 1 {
                self.case.number = Some(numbering.number(e.occurred_at, stored.seq));
            }
            self.commands.insert(
                e.command_id.clone(),
                Applied::new(e.version, event.event_type(), e.request.as_ref()),
            );
            self.last_hash = e.hash.clone();
        }
    }

    /// The version of the event a command id produced, if it was already applied.
    pub fn version_of(&self, command_id: &str) -> Option<u64> {
        self.commands.get(command_id).map(|a| a.version)
    }

    /// What a command id did, if it was already applied.
    pub fn applied(&self, command_id: &str) -> Option<&Applied> {
        self.commands.get(command_id)
    }

    /// What made the event at `version` (1: the filing).
    pub fn applied_at(&self, version: u64) -> Option<&Applied> {
        self.commands.values().find(|a| a.version == version)
    }
}

/// What came of a command.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The case after the command.
    pub case: Case,
    /// The version of the event this command produced.
    pub version: u64,
    /// The command id had been applied before: nothing was appended now.
    pub already_done: bool,
    /// The type of the event this command produced (now or before): side effects
    /// follow the recorded event, never the request alone.
    pub event_type: &'static str,
    /// The event appended now (absent when `already_done`).
    pub envelope: Option<Envelope>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// The domain refused the command: show the reason to the person.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The log failed: `Unavailable` may be retried with the same command id.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Other writers kept winning; retry later with the same command id.
    #[error("case {0} is too busy: gave up after {1} conflicting attempts")]
    Contended(CaseId, usize),
    /// The command id was used before for another request (action or body): nothing
    /// was done; the caller must use a new key.
    #[error("command id {command_id} was first used for {} (version {})", first.action().unwrap_or(first.event_type), first.version)]
    KeyReused {
        case: String,
        command_id: String,
        first: Applied,
    },
}

const MAX_ATTEMPTS: usize = 500;

/// A random pause of up to 2^attempt ms, capped at 20 ms.
fn backoff(attempt: usize) -> Duration {
    let cap = 1u64 << attempt.min(5);
    let cap = cap.min(20);
    let jitter = u64::from(uuid::Uuid::new_v4().as_u128() as u16) % (cap * 1000);
    Duration::from_micros(jitter)
}

/// What a store has done since it started, for metrics.
#[derive(Debug, Default)]
struct Counters {
    appends: AtomicU64,
    conflicts: AtomicU64,
    reloads: AtomicU64,
}

/// Decides and appends commands; shared by every task of a service.
#[derive(Clone)]
pub struct CaseStore {
    log: EventLog,
    numbering: Numbering,
    cache: Arc<Mutex<CaseCache>>,
    counters: Arc<Counters>,
}

impl CaseStore {
    pub fn new(log: EventLog, numbering: Numbering, capacity: usize) -> Self {
        Self {
            log,
            numbering,
            cache: Arc::new(Mutex::new(CaseCache::new(capacity, DEFAULT_CACHE_BYTES))),
            counters: Arc::default(),
        }
    }

    /// `{"appends", "conflicts", "reloads"}` since start: events appended, appends that
    /// met another writer (or a duplicate), loads of case events from the stream.
    pub fn counters(&self) -> serde_json::Value {
        serde_json::json!({
            "appends": self.counters.appends.load(Ordering::Relaxed),
            "conflicts": self.counters.conflicts.load(Ordering::Relaxed),
            "reloads": self.counters.reloads.load(Ordering::Relaxed),
        })
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Bounds the cached cases by their estimated bytes as well (default
    /// [`DEFAULT_CACHE_BYTES`]); the least recently used go first.
    pub fn with_max_bytes(self, max_bytes: usize) -> Self {
        self.cache.lock().expect("cache lock").max_bytes = max_bytes.max(1);
        self
    }

    /// (cases, estimated bytes) in the cache.
    pub fn cache_size(&self) -> (usize, usize) {
        let cache = self.cache.lock().expect("cache lock");
        (cache.map.len(), cache.bytes)
    }

    pub fn numbering(&self) -> &Numbering {
        &self.numbering
    }

    /// The cached state of a case, loading it from the stream on a miss.
    pub async fn snapshot(&self, case_id: CaseId) -> Result<Arc<Snapshot>, LogError> {
        if let Some(s) = self.cached(case_id) {
            return Ok(s);
        }
        self.refresh(Arc::new(Snapshot::empty(case_id))).await
    }

    /// Reads the case's events after the snapshot's and caches the result.
    pub async fn refresh(&self, snapshot: Arc<Snapshot>) -> Result<Arc<Snapshot>, LogError> {
        let case_id = snapshot.case.id;
        self.counters.reloads.fetch_add(1, Ordering::Relaxed);
        let messages = self.log.load_case_raw(case_id, snapshot.last_seq).await?;
        Ok(self.fold(snapshot, &messages))
    }

    /// Like [`Self::refresh`], but read up to the case's last message as the stream
    /// leader knows it ([`EventLog::load_case_raw_confirmed`]): a direct get may be
    /// served by a replica behind the leader, so "no such case", a refusal, or a
    /// conflict that a reload did not explain must rest on this one.
    pub async fn refresh_confirmed(
        &self,
        snapshot: Arc<Snapshot>,
    ) -> Result<Arc<Snapshot>, LogError> {
        self.counters.reloads.fetch_add(1, Ordering::Relaxed);
        let messages = self
            .log
            .load_case_raw_confirmed(snapshot.case.id, snapshot.last_seq)
            .await?;
        Ok(self.fold(snapshot, &messages))
    }

    /// The case read at least up to stream sequence `seq` (an event a consumer
    /// delivered): by direct get, then through the leader when the direct get was
    /// served by a replica that has not reached `seq` yet.
    pub async fn refresh_to(
        &self,
        snapshot: Arc<Snapshot>,
        seq: u64,
    ) -> Result<Arc<Snapshot>, LogError> {
        // The cache folds a case's messages in order: one that holds `seq` holds all
        // before it.
        if snapshot.last_seq >= seq {
            return Ok(snapshot);
        }
        let snapshot = self.refresh(snapshot).await?;
        if snapshot.last_seq >= seq {
            return Ok(snapshot);
        }
        self.refresh_confirmed(snapshot).await
    }

    /// The cached state of a case, confirmed by the stream leader (see
    /// [`Self::refresh_confirmed`]): what answers "not found".
    pub async fn snapshot_confirmed(&self, case_id: CaseId) -> Result<Arc<Snapshot>, LogError> {
        let snapshot = self.snapshot(case_id).await?;
        self.refresh_confirmed(snapshot).await
    }

    /// Masks the phones, ID and card numbers in the free texts of `command` (a note, a
    /// reply and its summary, a progress report, an answer at intake) and seals them
    /// under the case's key ([`KeyVault::seal_free_texts`]), named with the version the
    /// event will likely get (the cached case's next one: a label). What the service
    /// that owns the action calls before the domain decides; reads neither the case
    /// nor the key when the texts hold nothing to seal.
    pub async fn seal_free_texts(
        &self,
        keys: &KeyVault,
        case_id: CaseId,
        command: &mut Command,
    ) -> Result<(), SealError> {
        if !casegrid_domain::personal::holds_personal_text(command) {
            return Ok(());
        }
        let snapshot = self.snapshot(case_id).await?;
        if !snapshot.case.exists() {
            return Err(SealError::CaseNotFound(case_id));
        }
        keys.seal_free_texts(case_id, snapshot.case.version + 1, command)
            .await?;
        Ok(())
    }

    fn fold(&self, snapshot: Arc<Snapshot>, messages: &[RawMessage]) -> Arc<Snapshot> {
        if messages.is_empty() {
            return snapshot;
        }
        let mut next = (*snapshot).clone();
        next.extend_raw(&self.log.config().subject_prefix, messages, &self.numbering);
        let next = Arc::new(next);
        self.remember(next.clone());
        next
    }

    /// Folds an event this service observed on its consumer into the cache, if the
    /// cache holds the case just before it (otherwise the next conflict catches up).
    /// A case's first event, classified valid against an empty history (as
    /// [`crate::Heads`] does), starts its cached state: a new case costs no load.
    pub fn observe(&self, stored: &StoredEvent) {
        let current = match self.cached(stored.envelope.case_id) {
            Some(current) => current,
            None if stored.envelope.version == 1 => {
                Arc::new(Snapshot::empty(stored.envelope.case_id))
            }
            None => return,
        };
        if current.last_seq >= stored.seq || current.case.version + 1 != stored.envelope.version {
            return;
        }
        let mut next = (*current).clone();
        let message = RawMessage::of(&self.log.config().subject_prefix, stored);
        next.extend_raw(
            &self.log.config().subject_prefix,
            std::slice::from_ref(&message),
            &self.numbering,
        );
        self.remember(Arc::new(next));
    }

    /// Decides `command` against the case and appends its event; on a conflict,
    /// reloads and decides again; a command id seen before answers what it did then.
    pub async fn execute(
        &self,
        case_id: CaseId,
        actor: &Actor,
        command: &Command,
        meta: &CommandMeta,
        now: OffsetDateTime,
    ) -> Result<Outcome, ExecuteError> {
        let mut snapshot = self.snapshot(case_id).await?;
        // A refusal rests only on a state the stream leader confirmed: the fast loads
        // (cache, direct get) may be behind other writers or served by a lagging replica.
        let mut confirmed = false;
        for attempt in 0..MAX_ATTEMPTS {
            if let Some(applied) = snapshot.applied(&meta.command_id) {
                if !applied.same_request(meta.request.as_ref()) {
                    return Err(ExecuteError::KeyReused {
                        case: snapshot.case.label(),
                        command_id: meta.command_id.clone(),
                        first: applied.clone(),
                    });
                }
                return Ok(Outcome {
                    case: snapshot.case.clone(),
                    version: applied.version,
                    already_done: true,
                    event_type: applied.event_type,
                    envelope: None,
                });
            }
            if let Some(brk) = &snapshot.broken {
                return Err(LogError::ChainBroken(brk.clone()).into());
            }
            let event = match snapshot.case.decide(actor, command, now) {
                Ok(event) => event,
                Err(rejection) if !confirmed => {
                    confirmed = true;
                    let before = snapshot.last_seq;
                    snapshot = self.refresh_confirmed(snapshot).await?;
                    if snapshot.last_seq == before {
                        return Err(rejection.into());
                    }
                    continue;
                }
                Err(rejection) => return Err(rejection.into()),
            };
            let envelope = Envelope::seal(
                case_id,
                snapshot.case.version + 1,
                &snapshot.last_hash,
                event.event_type(),
                event.schema(),
                event.data(),
                actor.clone(),
                meta.command_id.clone(),
                meta.correlation_id.clone(),
                meta.causation_id.clone(),
                now,
            )?
            .with_request(meta.request.clone())?;
            match self.log.append(&envelope, snapshot.last_seq).await {
                Ok(seq) => {
                    self.counters.appends.fetch_add(1, Ordering::Relaxed);
                    let mut next = (*snapshot).clone();
                    next.case.apply(&event);
                    if envelope.version == 1 {
                        next.case.number = Some(self.numbering.number(envelope.occurred_at, seq));
                    }
                    next.commands.insert(
                        meta.command_id.clone(),
                        Applied::new(envelope.version, event.event_type(), meta.request.as_ref()),
                    );
                    next.last_seq = seq;
                    next.last_hash = envelope.hash.clone();
                    let case = next.case.clone();
                    self.remember(Arc::new(next));
                    return Ok(Outcome {
                        case,
                        version: envelope.version,
                        already_done: false,
                        event_type: event.event_type(),
                        envelope: Some(envelope),
                    });
                }
                Err(LogError::Conflict { .. } | LogError::Duplicate { .. }) => {
                    self.counters.conflicts.fetch_add(1, Ordering::Relaxed);
                    let before = snapshot.last_seq;
                    snapshot = self.refresh(snapshot).await?;
                    if snapshot.last_seq == before {
                        // The direct get came from a replica behind the append we met.
                        snapshot = self.refresh_confirmed(snapshot).await?;
                        confirmed = true;
                    }
                    if attempt >= 2 {
                        // Hot case: back off with jitter so one writer cannot starve.
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                }
                Err(e) => {
                    self.forget(case_id);
                    return Err(e.into());
                }
            }
        }
        Err(ExecuteError::Contended(case_id, MAX_ATTEMPTS))
    }

    fn cached(&self, case_id: CaseId) -> Option<Arc<Snapshot>> {
        self.cache.lock().expect("cache lock").get(case_id)
    }

    fn remember(&self, snapshot: Arc<Snapshot>) {
        self.cache.lock().expect("cache lock").insert(snapshot);
    }

    fn forget(&self, case_id: CaseId) {
        self.cache.lock().expect("cache lock").remove(case_id);
    }
}

/// The default bound on the case cache's estimated bytes.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Cached case states bounded by count and by estimated bytes; when either bound is
/// passed, the least recently used eighth goes (amortised: one sort per eviction).
struct CaseCache {
    map: HashMap<CaseId, CacheEntry>,
    tick: u64,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

struct CacheEntry {
    snapshot: Arc<Snapshot>,
    used: u64,
    weight: usize,
}

/// A snapshot's estimated heap bytes: the case and one entry per applied command.
fn weight(s: &Snapshot) -> usize {
    let filed = s
        .case
        .filed
        .as_ref()
        .map_or(0, |f| f.title.len() + f.description.len());
    let commands: usize = s.commands.keys().map(|k| k.len() + 96).sum();
    1024 + filed + commands
}

impl CaseCache {
    fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            map: HashMap::new(),
            tick: 0,
            bytes: 0,
            max_entries: max_entries.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    fn get(&mut self, id: CaseId) -> Option<Arc<Snapshot>> {
        self.tick += 1;
        let entry = self.map.get_mut(&id)?;
        entry.used = self.tick;
        Some(entry.snapshot.clone())
    }

    fn insert(&mut self, snapshot: Arc<Snapshot>) {
        let id = snapshot.case.id;
        if self
            .map
            .get(&id)
            .is_some_and(|old| old.snapshot.last_seq > snapshot.last_seq)
        {
            return;
        }
        self.tick += 1;
        let weight = weight(&snapshot);
        let entry = CacheEntry {
            snapshot,
            used: self.tick,
            weight,
        };
        self.bytes += weight;
        if let Some(old) = self.map.insert(id, entry) {
            self.bytes -= old.weight;
        }
        if self.map.len() > self.max_entries || self.bytes > self.max_bytes {
            self.evict();
        }
    }

    fn remove(&mut self, id: CaseId) {
        if let Some(old) = self.map.remove(&id) {
            self.bytes -= old.weight;
        }
    }

    /// Drops the least recently used until both bounds are 7/8 full.
    fn evict(&mut self) {
        let mut by_use: Vec<(u64, CaseId)> = self.map.iter().map(|(id, e)| (e.used, *id)).collect();
        by_use.sort_unstable();
        let (entries, bytes) = (self.max_entries / 8 * 7, self.max_bytes / 8 * 7);
        for (_, id) in by_use {
            if self.map.len() <= entries && self.bytes <= bytes {
                break;
            }
            self.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snap(i: usize, seq: u64) -> Arc<Snapshot> {
        let mut s = Snapshot::empty(CaseId::for_filing("cache", &i.to_string()));
        s.last_seq = seq;
        Arc::new(s)
    }

    #[test]
    fn the_case_cache_evicts_the_least_recently_used_within_count_and_bytes() {
        let mut cache = CaseCache::new(8, usize::MAX);
        for i in 0..8 {
            cache.insert(snap(i, 1));
        }
        assert!(
            cache.get(snap(0, 1).case.id).is_some(),
            "case 0 is used again"
        );
        cache.insert(snap(8, 1));
        assert!(cache.map.len() <= 8);
        assert!(
            cache.get(snap(0, 1).case.id).is_some(),
            "the recently used stays"
        );
        assert!(
            cache.get(snap(1, 1).case.id).is_none(),
            "the least recently used goes"
        );
        assert!(cache.get(snap(8, 1).case.id).is_some());
        // An older state never replaces a newer one.
        cache.insert(snap(8, 5));
        cache.insert(snap(8, 3));
        assert_eq!(cache.get(snap(8, 1).case.id).unwrap().last_seq, 5);

        let one = weight(&snap(0, 1));
        let mut cache = CaseCache::new(usize::MAX, one * 10);
        for i in 0..100 {
            cache.insert(snap(i, 1));
            assert!(cache.bytes <= one * 10, "bounded by bytes");
        }
        assert_eq!(
            cache.bytes,
            cache.map.values().map(|e| e.weight).sum::<usize>()
        );
        assert!(cache.get(snap(99, 1).case.id).is_some());
        cache.remove(snap(99, 1).case.id);
        assert_eq!(
            cache.bytes,
            cache.map.values().map(|e| e.weight).sum::<usize>()
        );
    }

    #[test]
    fn a_request_is_the_same_only_with_the_same_action_and_canonical_body() {
        let first = RequestFingerprint::of("annotate", &json!({"text": "a", "n": 1})).unwrap();
        let applied = Applied::new(2, "NoteAdded", Some(&first));
        assert_eq!(applied.action(), Some("annotate"));
        let reordered = RequestFingerprint::of("annotate", &json!({"n": 1, "text": "a"})).unwrap();
        assert!(applied.same_request(Some(&reordered)));
        let other_body = RequestFingerprint::of("annotate", &json!({"text": "b", "n": 1})).unwrap();
        assert!(!applied.same_request(Some(&other_body)));
        let other_action = RequestFingerprint::of("erase", &json!({"text": "a", "n": 1})).unwrap();
        assert!(!applied.same_request(Some(&other_action)));
        assert!(
            !applied.same_request(None),
            "a system command never matches a request"
        );
        let system = Applied::new(3, "DeadlineMissed", None);
        assert!(system.same_request(None));
        assert!(!system.same_request(Some(&first)));
        assert!(RequestFingerprint::of("annotate", &json!({"x": 1.5})).is_err());
        assert_eq!(
            RequestFingerprint::of("sign", &serde_json::Value::Null).unwrap(),
            RequestFingerprint::of("sign", &json!({})).unwrap()
        );
    }
}
