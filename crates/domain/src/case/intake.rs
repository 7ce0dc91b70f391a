//! Answering at intake (reply at intake) and declining: the operator settles a call
//! before any department has signed.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::{Decline, ReplyAtIntake};
use crate::event::{CaseDeclined, DeclineReason, Event, RepliedAtIntake};

impl Decision<'_> {
    pub(super) fn reply_at_intake(&self, r: &ReplyAtIntake) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator])?;
        self.still_at_intake()?;
        self.text("text", &r.text)?;
        Ok(Event::RepliedAtIntake(RepliedAtIntake {
            text: r.text.trim().to_owned(),
            kb_entry: r.kb_entry,
            personal: r.personal.clone(),
        }))
    }

    pub(super) fn decline(&self, c: &Decline) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator])?;
        self.still_at_intake()?;
        if c.reason == DeclineReason::Other {
            self.text("text", &c.text)?;
        }
        Ok(Event::CaseDeclined(CaseDeclined {
            reason: c.reason,
            text: c.text.trim().to_owned(),
        }))
    }

    /// Intake may still answer or decline a case: it is received, or routing has
    /// dispatched it automatically and no department has signed yet (the operator
    /// answers during the call while the dispatch is already on its way).
    fn still_at_intake(&self) -> Result<(), Rejection> {
        let case = self.case;
        let unsigned_dispatch = case.status == Status::Dispatched && case.signed.is_empty();
        if unsigned_dispatch {
            Ok(())
        } else {
            self.status(&[Status::Received])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use crate::event::*;

    #[test]
    fn an_answer_at_intake_cites_its_knowledge_base_entry_and_old_events_still_read() {
        let mut case = given(&replied()[..1]);
        let entry = crate::kb::KbEntryId::for_creation("sup.li", "k1");
        let answer = Command::ReplyAtIntake(ReplyAtIntake {
            text: "携带身份证到社保窗口办理".into(),
            kb_entry: Some(entry),
            personal: Vec::new(),
        });
        let event = case.decide(&operator(), &answer, NOW).unwrap();
        let Event::RepliedAtIntake(r) = &event else {
            panic!("{event:?}");
        };
        assert_eq!(r.kb_entry, Some(entry));
        let old = Event::from_parts("RepliedAtIntake", 1, &serde_json::json!({"text": "t"}));
        let Ok(Event::RepliedAtIntake(old)) = old else {
            panic!("an event written before citations reads: {old:?}");
        };
        assert_eq!(old.kb_entry, None);
        assert!(!event.data().to_string().is_empty());
        case.apply(&event);
        assert_eq!(case.status, Status::Replied);
    }

    #[test]
    fn an_operator_answers_at_intake_or_declines_before_anyone_signs() {
        let mut case = given(&replied()[..1]);
        let answer = Command::ReplyAtIntake(ReplyAtIntake {
            text: "施工许可至22点".into(),
            kb_entry: None,
            personal: Vec::new(),
        });
        refused(&case, &housing(), answer.clone(), RejectionKind::Forbidden);
        accept(&mut case, &operator(), answer, NOW);
        assert_eq!(case.status, Status::Replied);

        let mut case = given(&replied()[..1]);
        let other = Command::Decline(Decline {
            reason: DeclineReason::Other,
            text: " ".into(),
        });
        let detail = refused(&case, &operator(), other, RejectionKind::Invalid);
        assert!(detail.ends_with("text: must not be empty"), "{detail}");
        let decline = Command::Decline(Decline {
            reason: DeclineReason::InLitigation,
            text: String::new(),
        });
        accept(&mut case, &operator(), decline.clone(), NOW);
        assert_eq!(case.status, Status::Declined);

        // Routing's automatic dispatch does not take the case from intake before anyone signs.
        let mut case = given(&replied()[..2]);
        accept(&mut case, &operator(), decline.clone(), NOW);
        assert_eq!(case.status, Status::Declined);

        let case = given(&replied()[..3]);
        let detail = refused(&case, &operator(), decline, RejectionKind::InvalidState);
        assert!(detail.ends_with("it is in_progress"), "{detail}");
    }

    #[test]
    fn a_card_number_in_an_answer_at_intake_is_masked_sealed_revealed_and_erased_with_the_key() {
        let mut case = given(&replied()[..1]);
        let version = case.version + 1;
        let answer = sealed_at_the_edge(
            Command::ReplyAtIntake(ReplyAtIntake {
                text: "退款将退回卡号6222 0212 3456 7891 233".into(),
                kb_entry: None,
                personal: Vec::new(),
            }),
            version,
        );
        let event = accept(&mut case, &operator(), answer, NOW);
        let Event::RepliedAtIntake(r) = &event else {
            panic!("{event:?}")
        };
        assert_eq!(r.text, "退款将退回卡号622************1233");
        revealed_then_erased(&mut case, &format!("intake_reply.v{version}#0"));
        assert_eq!(
            case.intake_reply.as_ref().unwrap().text,
            "退款将退回卡号[erased]"
        );
    }
}
