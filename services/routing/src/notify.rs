//! The notifier (通知): routing's outbox consumer of the event log. The rules of
//! `notifications.toml` turn events (and deadlines ahead, by the injected clock) into
//! notifications; each has a deterministic id — SHA-256 of rule, trigger (event id,
//! or the deadline's case, kind, unit and due instant) and recipient — and one
//! delivery record in the KV bucket `CASEGRID_NOTIFICATIONS`:
//!
//! - **claimed** by a create-only put, so a redelivery, a restart or a second replica
//!   makes no second record;
//! - **sent** under a lease taken by an update at the record's revision (one sender at
//!   a time), then recorded `sent`, or `failed` with the next attempt after an
//!   exponential backoff, or `dead` after the configured attempts (the dead-letter list);
//! - never holding the citizen's phone: a text to the reporter names the case, and the
//!   sender unseals the phone with the case's data key only to hand it to the gateway.
//!
//! Each replica keeps an index of the ids it has seen in its own state database
//! (`notifications`), so the sender and the listing never scan the bucket.

use crate::channels::{hex, SmsGateway, Webhook};
use crate::Routing;
use async_nats::jetstream::kv;
use casegrid_config::notifications::{Channel, NotifyRule, Target, Trigger};
use casegrid_config::{District, EscalationLevel, Notify, Role};
use casegrid_domain::event::{CaseEscalated, Deadline};
use casegrid_domain::{Case, CaseId, DepartmentId, Event};
use casegrid_eventlog::StoredEvent;
use casegrid_runtime::restart::transient;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How long a sender holds a record while it sends (wall-clock time: this is about
/// a process being alive, not about the case's deadlines).
const LEASE_MS: i64 = 60_000;
/// Records looked at per delivery round.
const PER_ROUND: u32 = 200;

pub use casegrid_contracts::notifications::DeliveryState as State;

/// A notification's delivery record, as kept in the bucket and answered to supervisors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub rule: String,
    pub case_id: CaseId,
    /// What started it: the event type, or `deadline_ahead`.
    pub trigger: String,
    /// The event id, or `<case>:<deadline>:<unit>:<due>` of a reminder.
    pub trigger_id: String,
    pub channel: Channel,
    /// A department id, a role name, or `reporter`.
    pub recipient: String,
    /// The webhook URL or a staff SMS number; absent for the reporter (the phone stays
    /// sealed in the case until the text is sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub text: String,
    pub state: State,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The earliest next attempt (injected clock).
    #[serde(with = "time::serde::rfc3339")]
    pub next_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sent_at: Option<OffsetDateTime>,
    /// The replica sending now and until when (Unix milliseconds, wall clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<(String, i64)>,
}

impl Record {
    fn key(&self) -> String {
        key_of(&self.id)
    }

    /// As supervisors see it (the lease is the senders' business).
    pub fn view(&self) -> casegrid_contracts::notifications::NotificationView {
        let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        casegrid_contracts::notifications::NotificationView {
            id: self.id.clone(),
            rule: self.rule.clone(),
            case_id: self.case_id,
            trigger: self.trigger.clone(),
            trigger_id: self.trigger_id.clone(),
            channel: self.channel.as_str().to_owned(),
            recipient: self.recipient.clone(),
            address: self.address.clone(),
            text: self.text.clone(),
            state: self.state,
            attempts: self.attempts,
            created_at: at(self.created_at),
            next_at: at(self.next_at),
            last_error: self.last_error.clone(),
            sent_at: self.sent_at.map(at),
        }
    }
}

fn key_of(id: &str) -> String {
    format!("n.{id}")
}

/// The deterministic id: hex SHA-256 of rule, trigger and recipient (first 32 digits).
pub fn notification_id(rule: &str, trigger_id: &str, recipient: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{rule}\n{trigger_id}\n{recipient}").as_bytes(),
    );
    hex(&digest.as_ref()[..16])
}

fn wall_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// What the notifier holds: the bucket, the channels and who it is.
#[derive(Clone)]
pub struct Notifier {
    kv: kv::Store,
    webhook: Webhook,
    sms: Option<Arc<dyn SmsGateway>>,
    replica: String,
}

impl Notifier {
    /// Opens the bucket (never creating it: `EventLog::bootstrap` does, as the admin).
    pub async fn attach(
        client: async_nats::Client,
        webhook: Webhook,
        sms: Option<Arc<dyn SmsGateway>>,
        replica: &str,
    ) -> anyhow::Result<Self> {
        let bucket = casegrid_runtime::natsauth::NOTIFICATIONS_BUCKET;
        let kv = async_nats::jetstream::new(client)
            .get_key_value(bucket)
            .await
            .map_err(|e| {
                if casegrid_runtime::nats::is_stream_not_found(&e) {
                    anyhow::anyhow!(
                        "the notification bucket {bucket} does not exist; the NATS admin \
                         creates it (`casegrid init`, `casegrid dev`)"
                    )
                } else {
                    transient(e)
                        .context(format!("the notification bucket {bucket} cannot be opened"))
                }
            })?;
        Ok(Self {
            kv,
            webhook,
            sms,
            replica: replica.to_owned(),
        })
    }

    /// The record of `id`, if any.
    pub async fn record(&self, id: &str) -> anyhow::Result<Option<Record>> {
        Ok(match self.kv.get(key_of(id)).await? {
            Some(bytes) => Some(serde_json::from_slice(&bytes)?),
            None => None,
        })
    }
}

/// The values a rule's text is filled with.
struct Context<'a> {
    case: &'a Case,
    deadline: Option<Deadline>,
    due: Option<OffsetDateTime>,
    /// The department a deadline is of: `lead`/`assisting` of a deadline rule name it alone.
    unit: Option<&'a DepartmentId>,
    level: Option<String>,
    summoned: &'a [DepartmentId],
}

fn deadline_name(d: Deadline) -> &'static str {
    match d {
        Deadline::Sign => "sign",
        Deadline::Handle => "handle",
        Deadline::Report => "report",
    }
}

fn fill(text: &str, cx: &Context<'_>) -> String {
    let case = cx.case;
    let title = case.filed.as_ref().map(|f| f.title.as_str()).unwrap_or("");
    let result = case
        .reply
        .as_ref()
        .map(|r| format!("{:?}", r.result).to_lowercase())
        .unwrap_or_default();
    text.replace("{number}", case.number.as_deref().unwrap_or("-"))
        .replace("{title}", title)
        .replace("{deadline}", cx.deadline.map(deadline_name).unwrap_or(""))
        .replace(
            "{due}",
            &cx.due
                .and_then(|d| d.format(&Rfc3339).ok())
                .unwrap_or_default(),
        )
        .replace("{department}", cx.unit.map(|d| d.as_str()).unwrap_or(""))
        .replace("{level}", cx.level.as_deref().unwrap_or(""))
        .replace("{result}", &result)
}

/// The configured level an escalation reached: the one it names, else the one of its
/// rank. Routing's escalations name their level; a supervisor's or the lead's name a
/// grid level only (`level_id` never comes from a request), whose rank is the ladder's.
fn ladder_level<'a>(district: &'a District, e: &CaseEscalated) -> Option<&'a EscalationLevel> {
    let ladder = &district.escalation;
    e.level_id
        .as_deref()
        .and_then(|id| ladder.iter().find(|l| l.id == id))
        .or_else(|| ladder.iter().find(|l| l.rank as u32 == e.rank()))
}

/// The recipient keys (department ids, role names, `reporter`) a rule's targets name
/// for this case.
fn recipients(district: &District, rule: &NotifyRule, cx: &Context<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |k: String| {
        if !out.contains(&k) {
            out.push(k);
        }
    };
    let mut notify: Vec<Notify> = Vec::new();
    for t in &rule.notify {
        match t {
            Target::Notify(n) => notify.push(n.clone()),
            Target::Summoned => cx.summoned.iter().for_each(|d| push(d.to_string())),
            Target::Reporter => {
                let has_phone = cx
                    .case
                    .filed
                    .as_ref()
                    .and_then(|f| f.reporter.as_ref())
                    .is_some_and(|r| r.phone.is_some());
                if has_phone && !cx.case.personal_erased {
                    push("reporter".to_owned());
                }
            }
            Target::Ladder => {
                if let Some(level) = cx
                    .level
                    .as_deref()
                    .and_then(|id| district.escalation.iter().find(|l| l.id == id))
                {
                    notify.extend(level.notify.iter().cloned());
                }
            }
        }
    }
    let dispatch = cx.case.dispatch.as_ref();
    for n in notify {
        match n {
            Notify::Department(d) => push(d.to_string()),
            Notify::Role(Role::Lead) => {
                if let Some(d) = dispatch.map(|d| &d.lead) {
                    if cx.unit.is_none_or(|u| u == d) {
                        push(d.to_string());
                    }
                }
            }
            Notify::Role(Role::Assisting) => {
                for d in dispatch.map(|d| d.assisting.as_slice()).unwrap_or(&[]) {
                    if cx.unit.is_none_or(|u| u == d) {
                        push(d.to_string());
                    }
                }
            }
            Notify::Role(Role::TerritorialOffice) => {
                let grid = cx
                    .case
                    .filed
                    .as_ref()
                    .and_then(|f| f.location.grid.as_ref());
                if let Some(d) = grid.and_then(|g| district.territorial_office(g)) {
                    push(d.to_string());
                }
            }
            Notify::Role(role) => push(role.name().to_owned()),
        }
    }
    out
}

impl Routing {
    fn notifier(&self) -> Option<&Notifier> {
        self.notifier.as_ref()
    }

    /// Makes the records the rules ask for `rule` in context `cx`, each once.
    async fn claim(
        &self,
        district: &District,
        rule: &NotifyRule,
        trigger: &str,
        trigger_id: &str,
        cx: &Context<'_>,
        now: OffsetDateTime,
    ) -> anyhow::Result<usize> {
        let Some(notifier) = self.notifier() else {
            return Ok(0);
        };
        let mut made = 0;
        for recipient in recipients(district, rule, cx) {
            let address = if recipient == "reporter" {
                None
            } else {
                let found =
                    district
                        .notifications
                        .recipient(&recipient)
                        .and_then(|r| match rule.channel {
                            Channel::Webhook => r.webhook.clone(),
                            Channel::Sms => r.sms.clone(),
                        });
                if found.is_none() {
                    tracing::debug!(rule = %rule.id, %recipient, "no address for the rule's channel; not notified");
                    continue;
                }
                found
            };
            let id = notification_id(&rule.id, trigger_id, &recipient);
            if self.state.has_notification(&id).await? {
                continue;
            }
            let record = Record {
                id: id.clone(),
                rule: rule.id.clone(),
                case_id: cx.case.id,
                trigger: trigger.to_owned(),
                trigger_id: trigger_id.to_owned(),
                channel: rule.channel,
                recipient,
                address,
                text: fill(&rule.text, cx),
                state: State::Pending,
                attempts: 0,
                created_at: now,
                next_at: now,
                last_error: None,
                sent_at: None,
                lease: None,
            };
            match notifier
                .kv
                .create(record.key(), serde_json::to_vec(&record)?.into())
                .await
            {
                Ok(_) => made += 1,
                // Another replica, or this one before a restart, claimed it first.
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
                Err(e) => return Err(anyhow::anyhow!("claiming notification {id}: {e}")),
            }
            self.state.index_notification(&id, cx.case.id).await?;
        }
        Ok(made)
    }

    /// The notifications a batch of events asks for (before the batch's checkpoint is
    /// written, so a crash makes them again, and the claim keeps each once).
    pub async fn notify_events(&self, events: &[StoredEvent]) -> anyhow::Result<usize> {
        if self.notifier.is_none() {
            return Ok(0);
        }
        let district = self.config.get();
        if district.notifications.rules.is_empty() {
            return Ok(0);
        }
        let mut made = 0;
        for stored in events {
            let e = &stored.envelope;
            let Ok(event) = Event::from_parts(&e.event_type, e.schema, &e.data) else {
                continue;
            };
            let matching: Vec<&NotifyRule> = district
                .notifications
                .rules
                .iter()
                .filter(|r| match (&r.trigger, &event) {
                    (Trigger::DeadlineMissed(None), Event::DeadlineMissed(_)) => true,
                    (Trigger::DeadlineMissed(Some(d)), Event::DeadlineMissed(m)) => {
                        *d == m.deadline
                    }
                    (Trigger::CaseEscalated, Event::CaseEscalated(_)) => true,
                    (Trigger::WhistleBlown, Event::WhistleBlown(_)) => true,
                    (Trigger::CaseReplied, Event::CaseReplied(_)) => true,
                    _ => false,
                })
                .collect();
            if matching.is_empty() {
                continue;
            }
            let snapshot = self.store.snapshot(e.case_id).await?;
            let snapshot = self.store.refresh_to(snapshot, stored.seq).await?;
            let (deadline, due, unit, level, summoned) = match &event {
                Event::DeadlineMissed(m) => (
                    Some(m.deadline),
                    Some(m.due),
                    Some(&m.department),
                    None,
                    &[][..],
                ),
                Event::CaseEscalated(x) => (
                    None,
                    None,
                    None,
                    ladder_level(&district, x).map(|l| l.id.clone()),
                    &[][..],
                ),
                Event::WhistleBlown(w) => (
                    Some(Deadline::Report),
                    Some(w.report_due),
                    None,
                    None,
                    w.departments.as_slice(),
                ),
                _ => (None, None, None, None, &[][..]),
            };
            let cx = Context {
                case: &snapshot.case,
                deadline,
                due,
                unit,
                level,
                summoned,
            };
            for rule in matching {
                made += self
                    .claim(
                        &district,
                        rule,
                        &e.event_type,
                        &e.event_id.to_string(),
                        &cx,
                        e.occurred_at,
                    )
                    .await?;
            }
        }
        Ok(made)
    }

    /// Reminders of open deadlines that are at most the rule's `before` away by `now`.
    pub async fn remind(&self, now: OffsetDateTime) -> anyhow::Result<usize> {
        if self.notifier.is_none() {
            return Ok(0);
        }
        let district = self.config.get();
        let mut made = 0;
        for (rule, deadline, before) in district.notifications.reminders() {
            let ahead = time::Duration::days(before.days.into())
                + time::Duration::minutes(before.minutes.into());
            for due in self.state.due_between(deadline, now, now + ahead).await? {
                let snapshot = self.store.snapshot(due.case_id).await?;
                let trigger_id = format!(
                    "{}:{}:{}:{}",
                    due.case_id,
                    deadline_name(deadline),
                    due.department,
                    due.due.unix_timestamp()
                );
                let cx = Context {
                    case: &snapshot.case,
                    deadline: Some(deadline),
                    due: Some(due.due),
                    unit: Some(&due.department),
                    level: None,
                    summoned: &[],
                };
                made += self
                    .claim(&district, rule, "deadline_ahead", &trigger_id, &cx, now)
                    .await?;
            }
        }
        Ok(made)
    }

    /// Sends what is due by `now`: each record once under its lease; answers how many
    /// were attempted.
    pub async fn deliver_due(&self, now: OffsetDateTime) -> anyhow::Result<usize> {
        let Some(notifier) = self.notifier() else {
            return Ok(0);
        };
        let delivery = self.config.get().notifications.delivery;
        let mut attempted = 0;
        for id in self.state.open_notifications(PER_ROUND).await? {
            let key = key_of(&id);
            let Some(entry) = notifier.kv.entry(&key).await? else {
                continue;
            };
            let mut record: Record = match serde_json::from_slice(&entry.value) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%id, error = %e, "unreadable notification record passed over");
                    self.state.notification_done(&id).await?;
                    continue;
                }
            };
            if record.state.is_final() {
                self.state.notification_done(&id).await?;
                continue;
            }
            let wall = wall_ms();
            if record.next_at > now
                || record
                    .lease
                    .as_ref()
                    .is_some_and(|(_, until)| *until > wall)
            {
                continue;
            }
            if record.channel == Channel::Sms && notifier.sms.is_none() {
                continue;
            }
            // The lease: whoever updates at this revision sends; the others see a conflict.
            record.lease = Some((notifier.replica.clone(), wall + LEASE_MS));
            let Ok(revision) = notifier
                .kv
                .update(&key, serde_json::to_vec(&record)?.into(), entry.revision)
                .await
            else {
                continue;
            };
            attempted += 1;
            let outcome = self.send(notifier, &record).await;
            record.attempts += 1;
            record.lease = None;
            match outcome {
                Ok(()) => {
                    record.state = State::Sent;
                    record.sent_at = Some(now);
                    record.last_error = None;
                }
                Err(error) => {
                    tracing::warn!(%id, rule = %record.rule, recipient = %record.recipient, attempt = record.attempts, %error, "notification not delivered");
                    record.last_error = Some(error);
                    if record.attempts >= delivery.max_attempts {
                        record.state = State::Dead;
                    } else {
                        record.state = State::Failed;
                        record.next_at = now + delivery.wait_after(record.attempts);
                    }
                }
            }
            notifier
                .kv
                .update(&key, serde_json::to_vec(&record)?.into(), revision)
                .await
                .map_err(|e| anyhow::anyhow!("recording notification {id}: {e}"))?;
            if record.state.is_final() {
                self.state.notification_done(&id).await?;
            }
        }
        Ok(attempted)
    }

    async fn send(&self, notifier: &Notifier, record: &Record) -> Result<(), String> {
        match record.channel {
            Channel::Webhook => {
                let url = record.address.as_deref().ok_or("no webhook URL")?;
                let body = serde_json::json!({
                    "id": record.id,
                    "rule": record.rule,
                    "case_id": record.case_id,
                    "trigger": record.trigger,
                    "trigger_id": record.trigger_id,
                    "recipient": record.recipient,
                    "text": record.text,
                    "created_at": record.created_at.format(&Rfc3339).unwrap_or_default(),
                });
                notifier
                    .webhook
                    .post(url, &record.id, body.to_string().into_bytes())
                    .await
            }
            Channel::Sms => {
                let sms = notifier.sms.as_ref().ok_or("no SMS gateway")?;
                let phone = match &record.address {
                    Some(staff) => staff.clone(),
                    // Only here is the citizen's phone in clear, and only on its way out.
                    None => self.reporter_phone(record.case_id).await?,
                };
                sms.send(&record.id, &phone, &record.text)
            }
        }
    }

    async fn reporter_phone(&self, case_id: CaseId) -> Result<String, String> {
        let snapshot = self
            .store
            .snapshot(case_id)
            .await
            .map_err(|e| format!("the case cannot be read: {e}"))?;
        let sealed = snapshot
            .case
            .filed
            .as_ref()
            .and_then(|f| f.reporter.as_ref())
            .and_then(|r| r.phone.as_ref())
            .ok_or("the case has no reporter phone")?;
        let key = self
            .keys
            .key(case_id)
            .await
            .map_err(|e| format!("the data key: {e}"))?;
        key.open("reporter.phone", sealed)
            .map_err(|e| format!("the phone: {e}"))
    }

    /// The records of `case` (or all indexed), in the state asked for.
    pub async fn notifications(
        &self,
        case: Option<CaseId>,
        state: Option<State>,
        limit: u32,
    ) -> anyhow::Result<Vec<Record>> {
        let Some(notifier) = self.notifier() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for id in self.state.notifications_of(case).await? {
            if let Some(r) = notifier.record(&id).await? {
                if state.is_none_or(|s| s == r.state) {
                    out.push(r);
                    if out.len() as u32 >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Every `tick` until `shutdown`: reminders of deadlines ahead, then delivery. Its own
/// loop, so slow webhooks never hold up the deadline timers.
pub async fn run(
    routing: Routing,
    tick: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    if routing.notifier.is_none() {
        shutdown.cancelled().await;
        return Ok(());
    }
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            _ = interval.tick() => {
                let now = routing.clock.now();
                if let Err(e) = routing.remind(now).await {
                    tracing::warn!(error = %e, "reminders failed; retrying next tick");
                }
                if let Err(e) = routing.deliver_due(now).await {
                    tracing::warn!(error = %e, "notification delivery failed; retrying next tick");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use casegrid_domain::event::EscalationLevel as GridLevel;

    fn escalated(level_id: Option<&str>, level: GridLevel) -> CaseEscalated {
        CaseEscalated {
            level,
            by: casegrid_domain::Actor::routing(),
            reason: "签收超期".into(),
            level_id: level_id.map(str::to_owned),
            rank: None,
        }
    }

    #[test]
    fn an_escalation_reaches_the_level_it_names_else_the_one_of_its_rank() {
        let district = District::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config"),
        )
        .unwrap();
        let reached = |e: CaseEscalated| ladder_level(&district, &e).map(|l| l.id.as_str());
        // Routing's: the configured level it names.
        assert_eq!(
            reached(escalated(Some("leader"), GridLevel::Leadership)),
            Some("leader")
        );
        // A supervisor's by hand: the grid level's rank on the ladder.
        assert_eq!(
            reached(escalated(None, GridLevel::Department)),
            Some("department")
        );
        assert_eq!(reached(escalated(None, GridLevel::Street)), Some("street"));
        // A level since removed from the ladder: by rank.
        assert_eq!(
            reached(escalated(Some("gone"), GridLevel::Street)),
            Some("street")
        );
    }

    #[test]
    fn ids_are_deterministic_and_name_rule_trigger_and_recipient() {
        let a = notification_id("sign_missed", "e1", "supervisor");
        assert_eq!(a, notification_id("sign_missed", "e1", "supervisor"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, notification_id("sign_missed", "e1", "dept.water"));
        assert_ne!(a, notification_id("sign_missed", "e2", "supervisor"));
        assert_ne!(a, notification_id("escalated", "e1", "supervisor"));
    }
}
