//! `notifications.toml` (optional): who hears about what (通知). Each rule names an
//! event (or a deadline ahead), whom it tells and through which channel; each
//! recipient names the addresses of a department or a role. Absent, nobody is told
//! anything.
//!
//! Targets are resolved against the case when the event happens: a department id, an
//! escalation role (`lead`, `assisting`, `territorial_office`, `supervisor`, …),
//! `summoned` (the departments a whistle summons), `ladder` (the `notify` list of the
//! escalation level reached, from `escalation.toml`) and `reporter` (the citizen, by
//! SMS only: the phone is unsealed only when the text is sent).

use crate::escalation::{Notify, Role};
use crate::span::Span;
use crate::{Department, Problems};
use casegrid_domain::event::Deadline;
use casegrid_domain::DepartmentId;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The file's name in a configuration folder.
pub const FILE: &str = "notifications.toml";

/// What starts a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `DeadlineMissed` (超期), of one kind of deadline or of any.
    DeadlineMissed(Option<Deadline>),
    /// An open deadline is `before` away (by the injected clock, calendar time): a
    /// reminder to sign, to report in, to reply.
    DeadlineAhead { deadline: Deadline, before: Span },
    /// `CaseEscalated` (升级).
    CaseEscalated,
    /// `WhistleBlown` (吹哨): the summons to report in.
    WhistleBlown,
    /// `CaseReplied` (办结答复).
    CaseReplied,
}

/// Whom a rule tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A role resolved against the case, or a fixed department.
    Notify(Notify),
    /// The departments the whistle summons.
    Summoned,
    /// The escalation level's own `notify` list.
    Ladder,
    /// The citizen who filed the case (SMS to the sealed phone).
    Reporter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Webhook,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Sms => "sms",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRule {
    pub id: String,
    pub trigger: Trigger,
    pub notify: Vec<Target>,
    pub channel: Channel,
    /// The text sent; `{number}`, `{title}`, `{deadline}`, `{due}`, `{department}`,
    /// `{level}` and `{result}` are filled in from the event and the case.
    pub text: String,
}

/// The addresses of a department or a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// A department id or a role name: the key recipients are found by.
    pub target: String,
    pub webhook: Option<String>,
    pub sms: Option<String>,
}

/// How webhook deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Attempts before a notification is dead-lettered.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; doubled after each further one.
    pub backoff: time::Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: time::Duration::minutes(1),
        }
    }
}

impl Delivery {
    /// The wait after `failed` failed attempts (1 after the first): backoff × 2^(failed-1),
    /// at most a day.
    pub fn wait_after(&self, failed: u32) -> time::Duration {
        let factor = 1i32 << failed.saturating_sub(1).min(20);
        (self.backoff * factor).min(time::Duration::days(1))
    }
}

/// Everything `notifications.toml` configures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notifications {
    pub delivery: Delivery,
    pub rules: Vec<NotifyRule>,
    /// By target (department id or role name).
    pub recipients: BTreeMap<String, Recipient>,
}

impl Notifications {
    /// The addresses of a department or role, if configured.
    pub fn recipient(&self, target: &str) -> Option<&Recipient> {
        self.recipients.get(target)
    }

    /// The rules reminding of deadlines ahead.
    pub fn reminders(&self) -> impl Iterator<Item = (&NotifyRule, Deadline, Span)> {
        self.rules.iter().filter_map(|r| match r.trigger {
            Trigger::DeadlineAhead { deadline, before } => Some((r, deadline, before)),
            _ => None,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsFile {
    #[serde(default)]
    delivery: Option<DeliveryEntry>,
    #[serde(default)]
    rule: Vec<RuleEntry>,
    #[serde(default)]
    recipient: Vec<RecipientEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveryEntry {
    max_attempts: u32,
    /// Calendar time: `30s` is allowed here besides `30m`, `2h`, `1d`.
    backoff: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    id: String,
    on: String,
    #[serde(default)]
    deadline: Option<String>,
    #[serde(default)]
    before: Option<String>,
    notify: Vec<String>,
    channel: Channel,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientEntry {
    target: String,
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    sms: Option<String>,
}

const TRIGGERS: &str =
    "deadline_missed, deadline_ahead, case_escalated, whistle_blown, case_replied";

fn deadline_named(s: &str) -> Option<Deadline> {
    match s {
        "sign" => Some(Deadline::Sign),
        "handle" => Some(Deadline::Handle),
        "report" => Some(Deadline::Report),
        _ => None,
    }
}

/// `30s` or a [`Span`] in calendar time (a day is 24 hours).
fn backoff_of(s: &str) -> Result<time::Duration, String> {
    if let Some(secs) = s.strip_suffix('s') {
        return secs
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| time::Duration::seconds(n.into()))
            .ok_or_else(|| format!("{s:?} is not a duration like 30s, 5m or 1h"));
    }
    let span = Span::parse(s)?;
    if span.is_zero() {
        return Err("must be above zero".into());
    }
    Ok(time::Duration::days(span.days.into()) + time::Duration::minutes(span.minutes.into()))
}

/// A phone number as an SMS gateway takes it: digits with an optional leading `+`.
pub fn is_phone(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (5..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Reads and validates `dir/notifications.toml`; problems go to `list`.
pub(crate) fn load(
    dir: &Path,
    departments: &BTreeMap<DepartmentId, Department>,
    list: &mut Vec<crate::Problem>,
) -> Notifications {
    let path = dir.join(FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Notifications::default();
    };
    let mut problems = Problems::new(&path, list);
    let Some(file) = crate::parse::<NotificationsFile>(Some(&text), &mut problems) else {
        return Notifications::default();
    };
    let mut out = Notifications::default();
    if let Some(d) = file.delivery {
        if d.max_attempts == 0 {
            problems.add("delivery.max_attempts", "must be at least 1");
        }
        match backoff_of(&d.backoff) {
            Ok(backoff) => {
                out.delivery = Delivery {
                    max_attempts: d.max_attempts.max(1),
                    backoff,
                }
            }
            Err(e) => problems.add("delivery.backoff", e),
        }
    }
    let known_target = |t: &str| {
        Role::named(t).is_some()
            || DepartmentId::parse(t).is_ok_and(|d| departments.contains_key(&d))
    };
    for r in file.recipient {
        let entry = format!("recipient {}", r.target);
        if !known_target(&r.target) {
            problems.add(
                entry.as_str(),
                format!(
                    "unknown target (a department id or one of {})",
                    Role::names()
                ),
            );
        }
        if r.webhook.is_none() && r.sms.is_none() {
            problems.add(entry.as_str(), "names neither a webhook nor an sms number");
        }
        if let Some(url) = &r.webhook {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.add(
                    entry.as_str(),
                    format!("webhook {url:?} is no http:// or https:// URL"),
                );
            }
        }
        if let Some(sms) = &r.sms {
            if !is_phone(sms) {
                problems.add(entry.as_str(), format!("sms {sms:?} is no phone number"));
            }
        }
        let recipient = Recipient {
            target: r.target.clone(),
            webhook: r.webhook,
            sms: r.sms,
        };
        if out.recipients.insert(r.target, recipient).is_some() {
            problems.add(entry, "defined twice");
        }
    }
    for r in file.rule {
        let entry = format!("rule {}", r.id);
        if out.rules.iter().any(|o| o.id == r.id) {
            problems.add(entry.as_str(), "defined twice");
        }
        let deadline = match r.deadline.as_deref() {
            None => None,
            Some(d) => match deadline_named(d) {
                Some(d) => Some(d),
                None => {
                    problems.add(
                        entry.as_str(),
                        format!("deadline {d:?} is none of sign, handle, report"),
                    );
                    None
                }
            },
        };
        let before = r.before.as_deref().and_then(|b| match Span::parse(b) {
            Ok(s) if !s.is_zero() => Some(s),
            Ok(_) => {
                problems.add(entry.as_str(), "before: must be above zero");
                None
            }
            Err(e) => {
                problems.add(entry.as_str(), format!("before: {e}"));
                None
            }
        });
        if r.before.is_some() && r.on != "deadline_ahead" {
            problems.add(
                entry.as_str(),
                "before belongs to on = \"deadline_ahead\" only",
            );
        }
        if r.deadline.is_some() && !r.on.starts_with("deadline_") {
            problems.add(
                entry.as_str(),
                "deadline belongs to the deadline_ rules only",
            );
        }
        let trigger = match r.on.as_str() {
            "deadline_missed" => Some(Trigger::DeadlineMissed(deadline)),
            "deadline_ahead" => match (deadline, before) {
                (Some(deadline), Some(before)) => Some(Trigger::DeadlineAhead { deadline, before }),
                _ => {
                    if r.deadline.is_none() || r.before.is_none() {
                        problems.add(entry.as_str(), "deadline_ahead needs deadline and before");
                    }
                    None
                }
            },
            "case_escalated" => Some(Trigger::CaseEscalated),
            "whistle_blown" => Some(Trigger::WhistleBlown),
            "case_replied" => Some(Trigger::CaseReplied),
            other => {
                problems.add(
                    entry.as_str(),
                    format!("unknown event {other:?} (one of {TRIGGERS})"),
                );
                None
            }
        };
        if r.notify.is_empty() {
            problems.add(entry.as_str(), "notifies nobody");
        }
        if r.text.trim().is_empty() {
            problems.add(entry.as_str(), "has no text");
        }
        let mut notify = Vec::new();
        for n in &r.notify {
            let target = match n.as_str() {
                "summoned" => Some(Target::Summoned),
                "ladder" => Some(Target::Ladder),
                "reporter" => Some(Target::Reporter),
                other => Role::named(other)
                    .map(|role| Target::Notify(Notify::Role(role)))
                    .or_else(|| {
                        DepartmentId::parse(other)
                            .ok()
                            .filter(|d| departments.contains_key(d))
                            .map(|d| Target::Notify(Notify::Department(d)))
                    }),
            };
            let Some(target) = target else {
                problems.add(
                    entry.as_str(),
                    format!(
                        "unknown notify target {n:?} (a department id, summoned, ladder, reporter or one of {})",
                        Role::names()
                    ),
                );
                continue;
            };
            match (&target, trigger) {
                (Target::Ladder, Some(t)) if t != Trigger::CaseEscalated => problems.add(
                    entry.as_str(),
                    "ladder names the escalation level's notify list: on = \"case_escalated\" only",
                ),
                (Target::Summoned, Some(t)) if t != Trigger::WhistleBlown => problems.add(
                    entry.as_str(),
                    "summoned names the departments a whistle summons: on = \"whistle_blown\" only",
                ),
                _ => {}
            }
            if target == Target::Reporter && r.channel != Channel::Sms {
                problems.add(entry.as_str(), "the reporter is told by sms only");
            }
            // A fixed target must have an address for the rule's channel.
            let fixed = match &target {
                Target::Notify(Notify::Department(d)) => Some(d.as_str().to_owned()),
                Target::Notify(Notify::Role(role @ (Role::Supervisor | Role::DistrictLeader))) => {
                    Some(role.name().to_owned())
                }
                _ => None,
            };
            if let Some(fixed) = fixed {
                let address = out.recipients.get(&fixed).and_then(|a| match r.channel {
                    Channel::Webhook => a.webhook.as_ref(),
                    Channel::Sms => a.sms.as_ref(),
                });
                if address.is_none() {
                    problems.add(
                        entry.as_str(),
                        format!(
                            "{fixed} has no {} address among the recipients",
                            r.channel.as_str()
                        ),
                    );
                }
            }
            notify.push(target);
        }
        if let Some(trigger) = trigger {
            out.rules.push(NotifyRule {
                id: r.id,
                trigger,
                notify,
                channel: r.channel,
                text: r.text,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::District;
    use std::path::PathBuf;

    fn demo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config")
    }

    /// The demo folder with `notifications.toml` replaced by `text` (or removed).
    fn with(name: &str, text: Option<&str>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cg-notify-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in crate::FILES.iter().chain(&["grids.geojson"]) {
            std::fs::copy(demo().join(f), dir.join(f)).unwrap();
        }
        let _ = std::fs::remove_file(dir.join(FILE));
        if let Some(text) = text {
            std::fs::write(dir.join(FILE), text).unwrap();
        }
        dir
    }

    #[test]
    fn the_demo_rules_load_and_a_missing_file_tells_nobody() {
        let d = District::load(&demo()).unwrap();
        let n = &d.notifications;
        let ids: Vec<&str> = n.rules.iter().map(|r| r.id.as_str()).collect();
        for id in [
            "sign_reminder",
            "sign_missed",
            "escalated",
            "summons",
            "reply_text",
        ] {
            assert!(ids.contains(&id), "{id} in {ids:?}");
        }
        let (rule, deadline, before) = n.reminders().next().unwrap();
        assert_eq!(rule.id, "sign_reminder");
        assert_eq!(deadline, Deadline::Sign);
        assert_eq!(before, Span::parse("30m").unwrap());
        assert!(n.recipient("supervisor").unwrap().webhook.is_some());
        let d = District::load(&with("none", None)).unwrap();
        assert_eq!(d.notifications, Notifications::default());
    }

    #[test]
    fn backoff_doubles_up_to_a_day() {
        let d = Delivery {
            max_attempts: 3,
            backoff: time::Duration::seconds(30),
        };
        assert_eq!(d.wait_after(1), time::Duration::seconds(30));
        assert_eq!(d.wait_after(2), time::Duration::seconds(60));
        assert_eq!(d.wait_after(3), time::Duration::seconds(120));
        assert_eq!(d.wait_after(40), time::Duration::days(1));
    }

    #[test]
    fn every_problem_is_named() {
        let text = r#"
[delivery]
max_attempts = 0
backoff = "soon"

[[recipient]]
target = "dept.nowhere"
webhook = "ftp://x"

[[recipient]]
target = "district_leader"
sms = "call me"

[[rule]]
id = "a"
on = "deadline_ahead"
deadline = "sign"
notify = ["lead"]
channel = "webhook"
text = "x"

[[rule]]
id = "b"
on = "case_replied"
notify = ["reporter", "ladder", "mayor", "supervisor"]
channel = "webhook"
text = "x"

[[rule]]
id = "c"
on = "case_filed"
notify = []
channel = "sms"
text = " "
"#;
        let err = District::load(&with("bad", Some(text)))
            .unwrap_err()
            .to_string();
        for needle in [
            "notifications.toml: delivery.max_attempts: must be at least 1",
            "delivery.backoff",
            "recipient dept.nowhere: unknown target",
            "webhook \"ftp://x\" is no http:// or https:// URL",
            "sms \"call me\" is no phone number",
            "rule a: deadline_ahead needs deadline and before",
            "rule b: the reporter is told by sms only",
            "rule b: ladder names the escalation level's notify list",
            "rule b: unknown notify target \"mayor\"",
            "rule b: supervisor has no webhook address among the recipients",
            "rule c: unknown event \"case_filed\"",
            "rule c: notifies nobody",
            "rule c: has no text",
        ] {
            assert!(err.contains(needle), "{needle:?} in\n{err}");
        }
    }
}
