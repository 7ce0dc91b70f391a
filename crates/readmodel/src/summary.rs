//! One line per event that a supervisor understands, Chinese term first:
//! `派单 dispatched to dept.urban (lead), dept.ecology (assisting) by rules.toml#noise`.
//!
//! Summaries name departments and rules by id; display names are added at query
//! time, so a renamed department never makes a rebuild differ from the live model.

use casegrid_domain::event::{
    Deadline, DeclineReason, EscalationLevel, PartyRole, ReferralTarget, ReplyResult, Satisfaction,
};
use casegrid_domain::Event;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

/// Longest piece of free text (titles, replies, notes) quoted in a summary, in characters.
pub const QUOTE_CHARS: usize = 60;

/// The event types the public may see (Open311 `notes`). Everything else — mediation,
/// agreements, decline and return reasons, supervision, notes, reveals, escalation,
/// whistles — stays inside.
pub const PUBLIC_EVENTS: &[&str] = &[
    "CaseFiled",
    "CaseDispatched",
    "CaseReplied",
    "CaseReopened",
    "CaseClosed",
];

/// The public note of an event of a [`PUBLIC_EVENTS`] type, from its (masked) data:
/// fixed words and ids only, never a text somebody typed (a reply's text may name
/// people; its result is public). `None` for every other type.
pub fn public(event_type: &str, data: &Value) -> Option<String> {
    let str_of = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("?");
    Some(match event_type {
        "CaseFiled" => "受理 received".to_owned(),
        "CaseDispatched" => format!("派单 dispatched to {}", str_of("lead")),
        "CaseReplied" => format!(
            "办结答复 replied by {}: {}",
            str_of("department"),
            match str_of("result") {
                "resolved" => "resolved 已解决",
                "explained" => "explained 已解释",
                "unresolvable" => "unresolvable 无法解决",
                _ => "replied",
            }
        ),
        "CaseReopened" => "重办 reopened".to_owned(),
        "CaseClosed" => "结案 closed".to_owned(),
        _ => return None,
    })
}

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
            "签收 {}signed by {} ({})",
            if s.whistle { "summons " } else { "" },
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
        Event::AttachmentAdded(a) => format!(
            "附件 attachment {} ({}, {} bytes{}) sha256 {}",
            a.name,
            a.media_type,
            a.size,
            if a.personal { ", personal" } else { "" },
            a.sha256
        ),
        Event::PersonalDataRevealed(r) => format!(
            "查看个人信息 revealed {}: {}",
            r.fields.join(", "),
            quote(&r.reason)
        ),
        Event::ErasureRequested(r) => format!(
            "个人信息删除申请 erasure of personal data asked by {}: {}",
            r.requested_by,
            quote(&r.reason)
        ),
        Event::PersonalDataErased(r) => match &r.requested_by {
            Some(asker) => format!(
                "个人信息删除 personal data erased, as {asker} asked: {}",
                quote(&r.reason)
            ),
            None => format!("个人信息删除 personal data erased: {}", quote(&r.reason)),
        },
        Event::RepliedAtIntake(r) => format!("直接答复 answered at intake: {}", quote(&r.text)),
        Event::CaseDeclined(d) => format!(
            "不予受理 declined: {}{}",
            match d.reason {
                DeclineReason::InLitigation => "in litigation 已进入诉讼程序",
                DeclineReason::InArbitration => "in arbitration 已进入仲裁程序",
                DeclineReason::InPetition => "in petition 已进入信访程序",
                DeclineReason::OutOfScope => "out of scope 不属于受理范围",
                DeclineReason::Other => "other reason",
            },
            suffix(&d.text)
        ),
        Event::DispatchReturned(r) => format!(
            "退单 returned by {}, suggested owner {}: {}",
            r.department,
            r.suggested_owner,
            quote(&r.reason)
        ),
        Event::ExtensionRequested(r) => format!(
            "延期申请 extension requested by {}: handle by {} instead of {}: {}",
            r.department,
            rfc3339(r.handle_due),
            rfc3339(r.previous_handle_due),
            quote(&r.reason)
        ),
        Event::ExtensionDecided(x) => match (x.granted, x.handle_due) {
            (true, Some(due)) => format!(
                "延期审批 extension granted to {}: handle by {}{}",
                x.department,
                rfc3339(due),
                suffix(x.comment.as_deref().unwrap_or(""))
            ),
            (true, None) => format!(
                "延期审批 extension granted to {}{}",
                x.department,
                suffix(x.comment.as_deref().unwrap_or(""))
            ),
            (false, _) => format!(
                "延期审批 extension refused to {}{}",
                x.department,
                suffix(x.comment.as_deref().unwrap_or(""))
            ),
        },
        Event::ProgressRecorded(p) => {
            format!("办理进展 progress by {}: {}", p.department, quote(&p.text))
        }
        Event::SuspensionRequested(r) => format!(
            "中止申请 suspension asked by {}, clock still running: {}",
            r.department,
            quote(&r.reason)
        ),
        Event::CaseSuspended(s) => format!(
            "中止 suspended by {} (approved by {}), clock stopped: {}",
            s.department,
            s.approved_by,
            quote(&s.reason)
        ),
        Event::CaseResumed(r) => format!(
            "恢复 resumed, clock runs again; handle by {}",
            rfc3339(r.handle_due)
        ),
        Event::WhistleBlown(w) => format!(
            "吹哨 whistle blown by {}: {} summoned, report in by {}: {}",
            w.street,
            join(&w.departments),
            rfc3339(w.report_due),
            quote(&w.reason)
        ),
        Event::ReportedIn(r) => format!(
            "报到 reported in by {} ({})",
            r.department,
            if r.on_time { "on time" } else { "late" }
        ),
        Event::ReportInRated(r) => format!(
            "评价 report-in rated by {}: {}",
            r.street,
            r.ratings
                .iter()
                .map(|x| format!("{} {}/5", x.department, x.score))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::DeadlineMissed(m) => format!(
            "超期 {} deadline missed by {} (due {})",
            match m.deadline {
                Deadline::Sign => "sign 签收",
                Deadline::Handle => "handle 办理",
                Deadline::Report => "report-in 报到",
            },
            m.department,
            rfc3339(m.due)
        ),
        Event::CaseEscalated(x) => format!(
            "升级 escalated to {} by {}: {}",
            match x.level {
                EscalationLevel::Community => "community level 村居主战",
                EscalationLevel::Street => "street level 镇街会战",
                EscalationLevel::Department => "department level 部门助战",
                EscalationLevel::Leadership => "leadership level 领导征战",
            },
            x.by.id,
            quote(&x.reason)
        ),
        Event::SupervisionIssued(s) => match s.respond_by {
            Some(by) => format!(
                "督办 supervision issued, respond by {}: {}",
                rfc3339(by),
                quote(&s.text)
            ),
            None => format!("督办 supervision issued: {}", quote(&s.text)),
        },
        Event::CaseReopened(r) => format!("重办 reopened for a new dispatch: {}", quote(&r.reason)),
        Event::MediationOpened(m) => format!(
            "调解 mediation opened by {} with {}; ends by {}",
            m.mediator,
            m.parties
                .iter()
                .map(|p| format!("{} {}", party_role(p.role), p.name.masked))
                .collect::<Vec<_>>()
                .join(", "),
            rfc3339(m.mediation_due)
        ),
        Event::MediationSessionHeld(s) => format!(
            "调解 mediation session {} held: {}",
            s.session,
            quote(&s.summary)
        ),
        Event::AgreementReached(a) => {
            if a.court_confirmation {
                format!(
                    "调解协议 agreement reached; court confirmation 司法确认 to apply for by {}: {}",
                    rfc3339(a.court_confirmation_due),
                    quote(&a.terms)
                )
            } else {
                format!("调解协议 agreement reached: {}", quote(&a.terms))
            }
        }
        Event::MediationFailed(f) => format!("调解不成 mediation failed: {}", quote(&f.reason)),
        Event::CaseReferred(r) => format!(
            "诉调对接 referred to {}: {}",
            match r.to {
                ReferralTarget::Court => "court 法院",
                ReferralTarget::Arbitration => "arbitration 仲裁",
            },
            r.institution
        ),
        Event::CaseMerged(m) => format!("合并重复件 merged as a duplicate into case {}", m.into),
        Event::CaseWithdrawn(w) => format!("撤件 withdrawn: {}", quote(&w.reason)),
        Event::RatingAppealed(a) => format!(
            "申诉 callback of version {} appealed by {}: {}",
            a.callback_version,
            a.department,
            quote(&a.reason)
        ),
        Event::AppealDecided(a) => format!(
            "甄别 appeal of {} {} by {}: {}",
            a.department,
            if a.accepted {
                "accepted, the callback leaves its figures"
            } else {
                "rejected, the callback stands"
            },
            a.decided_by,
            quote(&a.reason)
        ),
    }
}

fn join(departments: &[casegrid_domain::DepartmentId]) -> String {
    departments
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `: text` when there is any text, else nothing.
fn suffix(text: &str) -> String {
    let q = quote(text);
    if q.is_empty() {
        q
    } else {
        format!(": {q}")
    }
}

fn party_role(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Applicant => "applicant 申请人",
        PartyRole::Respondent => "respondent 被申请人",
        PartyRole::Other => "party",
    }
}

/// The summary of an event this version cannot read (a newer type or schema).
pub fn unreadable(event_type: &str, schema: u32) -> String {
    format!("{event_type} (schema {schema}): recorded; this version cannot summarize it")
}

/// `data` with every `sealed` member removed, at any depth: only masked values remain
/// ([`casegrid_domain::personal::strip_sealed`]).
pub fn without_sealed(data: &Value) -> Value {
    let mut data = data.clone();
    casegrid_domain::personal::strip_sealed(&mut data, false);
    data
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
    /// One event of every type, as the log holds them.
    fn one_of_each() -> Vec<Event> {
        let sealed = |m: &str| json!({"masked": m, "sealed": "U0VDUkVU"});
        let samples = [
            (
                "CaseFiled",
                json!({"channel": "hotline", "kind": "complaint", "category": "noise",
                "urgency": "normal", "title": "夜间施工", "description": "d",
                "location": {"grid": "NH.HB.BJ.03"}, "reporter": {"name": sealed("王**")}}),
            ),
            ("RepliedAtIntake", json!({"text": "已告知办理流程"})),
            (
                "CaseDeclined",
                json!({"reason": "in_litigation", "text": "已起诉"}),
            ),
            (
                "CaseDispatched",
                json!({"lead": "dept.urban", "assisting": [],
                "sign_due": "2026-11-23T05:30:00Z", "handle_due": "2026-11-30T09:30:00Z",
                "rule": "manual"}),
            ),
            (
                "DispatchSigned",
                json!({"department": "dept.urban", "on_time": true}),
            ),
            (
                "DispatchReturned",
                json!({"department": "dept.urban", "reason": "非本部门职责",
                "suggested_owner": "dept.housing"}),
            ),
            (
                "ExtensionRequested",
                json!({"department": "dept.urban", "reason": "需检测",
                "handle_due": "2026-12-05T09:30:00Z",
                "previous_handle_due": "2026-11-30T09:30:00Z"}),
            ),
            (
                "ExtensionDecided",
                json!({"department": "dept.urban", "granted": true,
                "handle_due": "2026-12-05T09:30:00Z"}),
            ),
            (
                "ProgressRecorded",
                json!({"department": "dept.urban", "text": "已现场勘查"}),
            ),
            (
                "CaseSuspended",
                json!({"department": "dept.urban", "reason": "等待鉴定",
                "approved_by": "sup.li", "suspended_at": "2026-11-24T01:00:00Z"}),
            ),
            (
                "CaseResumed",
                json!({"suspended_at": "2026-11-24T01:00:00Z",
                "handle_due": "2026-12-02T09:30:00Z"}),
            ),
            (
                "CaseReplied",
                json!({"department": "dept.urban", "result": "resolved",
                "text": "已停工", "summary_for_citizen": "已停工"}),
            ),
            (
                "WhistleBlown",
                json!({"street": "street.hubin", "departments": ["dept.police"],
                "report_due": "2026-11-23T06:00:00Z", "reason": "联合执法"}),
            ),
            (
                "ReportedIn",
                json!({"department": "dept.police", "on_time": false}),
            ),
            (
                "ReportInRated",
                json!({"street": "street.hubin",
                "ratings": [{"department": "dept.police", "score": 4}]}),
            ),
            (
                "DeadlineMissed",
                json!({"deadline": "sign", "department": "dept.urban",
                "due": "2026-11-23T05:30:00Z"}),
            ),
            (
                "CaseEscalated",
                json!({"level": "department",
                "by": {"kind": "system", "id": "routing"}, "reason": "签收超期"}),
            ),
            (
                "SupervisionIssued",
                json!({"text": "请加快办理",
                "respond_by": "2026-11-25T09:30:00Z"}),
            ),
            (
                "CallbackRecorded",
                json!({"satisfaction": "basically_satisfied",
                "resolved": true, "closed": true}),
            ),
            ("CaseReopened", json!({"reason": "市民不满意"})),
            ("CaseClosed", json!({"reason": "回访满意"})),
            (
                "MediationOpened",
                json!({"mediator": "med.zhao",
                "mediation_due": "2026-12-20T09:30:00Z",
                "parties": [{"role": "applicant", "name": sealed("王**"), "consent": true},
                            {"role": "respondent", "name": sealed("李**"),
                             "phone": sealed("139****0000"), "consent": true}]}),
            ),
            (
                "MediationSessionHeld",
                json!({"session": 2, "summary": "双方同意赔偿方案"}),
            ),
            (
                "AgreementReached",
                json!({"terms": "赔偿两千元", "court_confirmation": true,
                "court_confirmation_due": "2027-01-20T09:30:00Z"}),
            ),
            ("MediationFailed", json!({"reason": "被申请人拒绝"})),
            (
                "CaseReferred",
                json!({"to": "court", "institution": "南湖区人民法院"}),
            ),
            (
                "CaseMerged",
                json!({"into": "0192f3a4-0000-7000-8000-000000000001"}),
            ),
            ("NoteAdded", json!({"text": "录音已归档"})),
            (
                "AttachmentAdded",
                json!({"name": "c1/a1.png", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "media_type": "image/png", "size": 42, "personal": true}),
            ),
            ("CaseWithdrawn", json!({"reason": "市民撤回"})),
            (
                "PersonalDataRevealed",
                json!({"fields": ["reporter.phone"], "reason": "回访"}),
            ),
            (
                "ErasureRequested",
                json!({"requested_by": "op.zhang", "reason": "本人申请"}),
            ),
            ("PersonalDataErased", json!({"reason": "本人申请"})),
            (
                "SuspensionRequested",
                json!({"department": "dept.housing", "reason": "等待鉴定"}),
            ),
        ];
        samples
            .iter()
            .map(|(t, data)| Event::from_parts(t, 1, data).unwrap_or_else(|e| panic!("{t}: {e}")))
            .collect()
    }

    #[test]
    fn every_event_type_has_a_summary_of_its_own() {
        let events = one_of_each();
        let types: std::collections::BTreeSet<&str> =
            events.iter().map(|e| e.event_type()).collect();
        assert_eq!(types.len(), 34, "one sample of each of the 34 event types");
        for event in &events {
            let line = of(event);
            // A Chinese term first, then English; never the generic fallback.
            assert!(!line.is_ascii(), "{}: {line}", event.event_type());
            assert!(!line.starts_with(event.event_type()), "{line}");
            assert!(
                !line.contains("recorded;") && !line.ends_with(" recorded"),
                "{line}"
            );
            assert!(!line.contains('\n'), "{line}");
            assert!(!line.contains("U0VDUkVU"), "sealed data in {line}");
        }
        let by_type = |t: &str| of(events.iter().find(|e| e.event_type() == t).unwrap());
        assert_eq!(
            by_type("DispatchReturned"),
            "退单 returned by dept.urban, suggested owner dept.housing: 非本部门职责"
        );
        assert_eq!(
            by_type("AttachmentAdded"),
            "附件 attachment c1/a1.png (image/png, 42 bytes, personal) sha256 \
             9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(
            by_type("WhistleBlown"),
            "吹哨 whistle blown by street.hubin: dept.police summoned, report in by \
             2026-11-23T06:00:00Z: 联合执法"
        );
        assert_eq!(
            by_type("CaseEscalated"),
            "升级 escalated to department level 部门助战 by routing: 签收超期"
        );
        assert_eq!(
            by_type("DeadlineMissed"),
            "超期 sign 签收 deadline missed by dept.urban (due 2026-11-23T05:30:00Z)"
        );
        assert_eq!(
            by_type("MediationOpened"),
            "调解 mediation opened by med.zhao with applicant 申请人 王**, respondent 被申请人 李**; \
             ends by 2026-12-20T09:30:00Z"
        );
        assert_eq!(
            by_type("ExtensionDecided"),
            "延期审批 extension granted to dept.urban: handle by 2026-12-05T09:30:00Z"
        );
    }
}
