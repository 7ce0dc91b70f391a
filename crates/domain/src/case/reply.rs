//! 办结/答复 reply: the lead, having signed, answers the case; the citizen hears the
//! summary.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Reply;
use crate::event::{CaseReplied, Event};

impl Decision<'_> {
    pub(super) fn reply(&self, r: &Reply) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Department, ActorKind::Street])?;
        self.lead()?;
        let case = self.case;
        let signed = case.signed.iter().any(|x| x.as_str() == self.actor.id);
        if case.status == Status::Dispatched && !signed {
            return Err(self.state("it has not signed the case yet"));
        }
        self.status(&[Status::InProgress])?;
        if r.text.trim().is_empty() {
            return Err(self.invalid("the reply text is empty"));
        }
        let summary = r
            .summary_for_citizen
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(&r.text);
        Ok(Event::CaseReplied(CaseReplied {
            department: self.department()?,
            result: r.result,
            text: r.text.clone(),
            summary_for_citizen: summary.to_owned(),
            personal: r.personal.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::actor::{Actor, ActorKind};
    use crate::command::*;
    use crate::event::*;

    #[test]
    fn an_assisting_department_signs_but_does_not_reply() {
        let street = Actor::new(ActorKind::Street, "street.hubin");
        let mut case = given(&replied()[..3]);
        let signed = case.decide(&street, &Command::Sign, NOW).unwrap();
        case.apply(&signed);
        let r = case
            .decide(
                &street,
                &Command::Reply(Reply {
                    result: ReplyResult::Resolved,
                    text: "x".into(),
                    summary_for_citizen: None,
                    personal: Vec::new(),
                }),
                NOW,
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::NotAssigned);
        assert!(r.detail.contains("only the lead department dept.housing"));
    }

    #[test]
    fn the_lead_must_sign_before_replying() {
        let case = given(&replied()[..2]);
        let r = case
            .decide(
                &housing(),
                &Command::Reply(Reply {
                    result: ReplyResult::Resolved,
                    text: "done".into(),
                    summary_for_citizen: None,
                    personal: Vec::new(),
                }),
                NOW,
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
    }

    #[test]
    fn replies_are_written_at_schema_2_and_schema_1_replies_still_read() {
        assert_eq!(crate::event::schema_of("CaseReplied"), 2);
        assert_eq!(crate::event::schema_of("CaseFiled"), 1);
        // As stored in the log by casegrid before schema 2.
        let old: serde_json::Value = serde_json::from_str(
            r#"{"department": "dept.housing", "result": "resolved", "text": "已责令工地夜间停工"}"#,
        )
        .unwrap();
        let event = Event::from_parts("CaseReplied", 1, &old).unwrap();
        let Event::CaseReplied(reply) = &event else {
            panic!("not a reply: {event:?}")
        };
        assert_eq!(reply.summary_for_citizen, "已责令工地夜间停工");
        assert!(
            Event::from_parts("CaseReplied", 2, &old).is_err(),
            "schema 2 requires the summary"
        );
        assert!(Event::from_parts("CaseReplied", 3, &event.data()).is_err());
        assert_eq!(event.schema(), 2);
        assert_eq!(
            Event::from_parts("CaseReplied", 2, &event.data()).unwrap(),
            event
        );

        // Old dispatches without return_due still read, and allow returns until the reply.
        let old = serde_json::json!({"lead": "dept.housing", "assisting": [],
            "sign_due": "2026-11-23T12:00:00Z", "handle_due": "2026-11-30T18:00:00Z", "rule": "noise"});
        let Event::CaseDispatched(d) = Event::from_parts("CaseDispatched", 1, &old).unwrap() else {
            panic!("not a dispatch")
        };
        assert_eq!(d.return_due, None);
    }

    #[test]
    fn a_phone_in_a_reply_is_masked_sealed_revealed_and_erased_with_the_key() {
        let mut case = given(&signed());
        let version = case.version + 1;
        let reply = sealed_at_the_edge(
            Command::Reply(Reply {
                result: ReplyResult::Resolved,
                text: "已停工，联系施工方13800001234".into(),
                summary_for_citizen: Some("已停工，回电0573-82345678".into()),
                personal: Vec::new(),
            }),
            version,
        );
        let event = accept(&mut case, &housing(), reply, NOW);
        let Event::CaseReplied(r) = &event else {
            panic!("{event:?}")
        };
        assert_eq!(r.text, "已停工，联系施工方138****1234");
        assert_eq!(r.summary_for_citizen, "已停工，回电057*****5678");
        let fields: Vec<&str> = r.personal.iter().map(|s| s.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                format!("reply.v{version}#0"),
                format!("summary.v{version}#0")
            ]
        );
        assert!(!event.data().to_string().contains("13800001234"));
        revealed_then_erased(&mut case, &format!("reply.v{version}#0"));
        let r = case.reply.as_ref().unwrap();
        assert_eq!(
            (r.text.as_str(), r.summary_for_citizen.as_str()),
            ("已停工，联系施工方[erased]", "已停工，回电[erased]")
        );
        // A reply written before free texts were sealed still reads.
        let old = serde_json::json!({"department": "dept.housing", "result": "resolved",
            "text": "t", "summary_for_citizen": "t"});
        let Ok(Event::CaseReplied(old)) = Event::from_parts("CaseReplied", 2, &old) else {
            panic!("an old reply reads")
        };
        assert!(old.personal.is_empty());
    }
}
