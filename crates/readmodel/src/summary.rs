//! One line per event that a supervisor understands, Chinese term first:
//! `派单 dispatched to dept.urban (lead), dept.ecology (assisting) by rules.toml#noise`.
//!
//! Summaries name departments and rules by id; display names are added at query
//! time, so a renamed department never makes a rebuild differ from the live model.

use casegrid_domain::event::{ReplyResult, Satisfaction};
use casegrid_domain::Event;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

/// Longest piece of free text (titles, replies, notes) quoted in a summary, in characters.
pub const QUOTE_CHARS: usize = 60;

/// The summary of a readable event.
pub fn of(event: &Event) -> String {
    match event {
        Event::CaseFiled(f) => format!(
            "受理 filed via {} ({}, {}, {}): {}",
            enum_str(&f.channel),
            enum_str(&f.kind),
            f.category,
            enum_str(&f.urgency),
            quote(&f.title)
        ),
        Event::CaseDispatched(d) => {
            let mut to = vec![format!("{} (lead)", d.lead)];
            to.extend(d.assisting.iter().map(|a| format!("{a} (assisting)")));
            format!(
                "派单 dispatched to {} by {}; sign by {}, handle by {}",
                to.join(", "),
                d.rule,
                rfc3339(d.sign_due),
                rfc3339(d.handle_due)
            )
        }
        Event::DispatchSigned(s) => format!(
            "签收 signed by {} ({})",
            s.department,
            if s.on_time { "on time" } else { "late" }
        ),
        Event::CaseReplied(r) => format!(
            "办结答复 replied by {}: {} — {}",
            r.department,
            match r.result {
                ReplyResult::Resolved => "resolved 已解决",
                ReplyResult::Explained => "explained 已解释",
                ReplyResult::Unresolvable => "unresolvable 无法解决",
            },
            quote(&r.text)
        ),
        Event::CallbackRecorded(c) => format!(
            "回访评价 callback: {}, {}{}",
            match c.satisfaction {
                Satisfaction::Satisfied => "satisfied 满意",
                Satisfaction::BasicallySatisfied => "basically satisfied 基本满意",
                Satisfaction::Unsatisfied => "unsatisfied 不满意",
            },
            if c.resolved {
                "resolved"
            } else {
                "not resolved"
            },
            if c.closed { "; case closed 结案" } else { "" }
        ),
        Event::CaseClosed(c) => format!("结案 closed: {}", quote(&c.reason)),
        Event::NoteAdded(n) => format!("备注 note: {}", quote(&n.text)),
        Event::PersonalDataRevealed(r) => format!(
            "查看个人信息 revealed {}: {}",
            r.fields.join(", "),
            quote(&r.reason)
        ),
        Event::PersonalDataErased(r) => {
            format!("个人信息删除 personal data erased: {}", quote(&r.reason))
        }
        // Types without a sentence of their own yet are named; their data is in the
        // timeline entry beside the summary.
        other => format!("{} recorded", other.event_type()),
    }
}

/// The summary of an event this version cannot read (a newer type or schema).
pub fn unreadable(event_type: &str, schema: u32) -> String {
    format!("{event_type} (schema {schema}): recorded; this version cannot summarize it")
}

/// `data` with every `sealed` member removed, at any depth: only masked values remain.
pub fn without_sealed(data: &Value) -> Value {
    match data {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(k, _)| k.as_str() != "sealed")
                .map(|(k, v)| (k.clone(), without_sealed(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_sealed).collect()),
        other => other.clone(),
    }
}

/// The snake_case name of a unit enum as it is serialized (`suggestion_box`).
pub(crate) fn enum_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn quote(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= QUOTE_CHARS {
        line
    } else {
        let cut: String = line.chars().take(QUOTE_CHARS).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sealed_members_are_removed_at_any_depth() {
        let data = json!({"reporter": {"name": {"masked": "王**", "sealed": "c2VjcmV0"}},
                          "list": [{"sealed": "x", "masked": "y"}], "title": "t"});
        assert_eq!(
            without_sealed(&data),
            json!({"reporter": {"name": {"masked": "王**"}}, "list": [{"masked": "y"}], "title": "t"})
        );
    }

    #[test]
    fn long_text_is_cut_to_one_line() {
        let q = quote(&format!("a\nb {}", "x".repeat(100)));
        assert!(q.starts_with("a b x"));
        assert!(q.ends_with('…'));
        assert_eq!(q.chars().count(), QUOTE_CHARS + 1);
    }
}
