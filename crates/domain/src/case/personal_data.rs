//! Personal data: an audited reveal with a reason; erasure asked by an operator and
//! done by a supervisor (then the case's key is deleted).

use super::decision::Decision;
use super::{Rejection, RejectionKind};
use crate::actor::ActorKind;
use crate::command::Reason;
use crate::event::{ErasureRequested, Event, PersonalDataErased, PersonalDataRevealed};

impl Decision<'_> {
    pub(super) fn reveal(&self, r: &Reason) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator, ActorKind::Supervisor])?;
        self.reason(&r.reason)?;
        if self.case.personal_erased {
            return Err(self.state("its personal data is erased"));
        }
        let fields = self.case.personal_fields();
        if fields.is_empty() {
            return Err(self.state("it holds no personal data"));
        }
        Ok(Event::PersonalDataRevealed(PersonalDataRevealed {
            fields,
            reason: r.reason.trim().to_owned(),
        }))
    }

    pub(super) fn request_erasure(&self, r: &Reason) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator])?;
        self.reason(&r.reason)?;
        if self.case.personal_erased {
            return Err(self.state("its personal data is already erased"));
        }
        if self.case.pending_erasure.is_some() {
            return Err(self.state("an erasure request is already pending"));
        }
        Ok(Event::ErasureRequested(ErasureRequested {
            requested_by: self.actor.id.clone(),
            reason: r.reason.trim().to_owned(),
        }))
    }

    pub(super) fn erase(&self, r: &Reason) -> Result<Event, Rejection> {
        if self.actor.kind == ActorKind::Operator {
            return Err(self.refuse(
                RejectionKind::Forbidden,
                "an operator asks with request_erasure; a supervisor erases",
            ));
        }
        self.allow(&[ActorKind::Supervisor])?;
        self.reason(&r.reason)?;
        if self.case.personal_erased {
            return Err(self.state("its personal data is already erased"));
        }
        Ok(Event::PersonalDataErased(PersonalDataErased {
            reason: r.reason.trim().to_owned(),
            requested_by: self
                .case
                .pending_erasure
                .as_ref()
                .map(|e| e.requested_by.clone()),
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
    fn operators_and_supervisors_reveal_with_a_reason_departments_never() {
        use crate::command::Reason;
        let case = given(&replied()[..2]);
        let reveal = |reason: &str| {
            Command::RevealPersonalData(Reason {
                reason: reason.into(),
            })
        };
        let event = case
            .decide(&operator(), &reveal("回访需要联系来电人"), NOW)
            .unwrap();
        assert!(
            matches!(&event, Event::PersonalDataRevealed(r) if r.fields == ["reporter.name"]),
            "{event:?}"
        );
        let supervisor = Actor::new(ActorKind::Supervisor, "sup.li");
        assert!(case.decide(&supervisor, &reveal("督办核实"), NOW).is_ok());
        let r = case.decide(&housing(), &reveal("想看看"), NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Forbidden);
        let r = case.decide(&operator(), &reveal("  "), NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
        assert!(r.detail.contains("reason"), "{}", r.detail);
    }

    #[test]
    fn an_erased_case_reveals_nothing_and_erases_once() {
        use crate::command::Reason;
        let mut case = given(&replied()[..1]);
        let erase = Command::ErasePersonalData(Reason {
            reason: "来电人依法申请删除".into(),
        });
        let supervisor = Actor::new(ActorKind::Supervisor, "sup.li");
        let event = case.decide(&supervisor, &erase, NOW).unwrap();
        case.apply(&event);
        assert!(case.personal_erased);
        assert_eq!(
            case.decide(&supervisor, &erase, NOW).unwrap_err().kind,
            RejectionKind::InvalidState
        );
        let reveal = Command::RevealPersonalData(Reason { reason: "x".into() });
        let r = case.decide(&operator(), &reveal, NOW).unwrap_err();
        assert!(r.detail.contains("erased"), "{}", r.detail);
    }

    #[test]
    fn an_erasure_is_asked_by_an_operator_and_done_by_a_supervisor() {
        let mut case = given(&signed());
        let erase = Command::ErasePersonalData(reason("依法删除"));
        refused(&case, &operator(), erase.clone(), RejectionKind::Forbidden);
        refused(
            &case,
            &housing(),
            Command::RequestErasure(reason("x")),
            RejectionKind::Forbidden,
        );
        let event = accept(
            &mut case,
            &operator(),
            Command::RequestErasure(reason("本人申请")),
            NOW,
        );
        assert!(matches!(event, Event::ErasureRequested(r) if r.requested_by == "op.zhang"));
        assert!(!case.personal_erased, "asking erases nothing");
        refused(&case, &operator(), erase.clone(), RejectionKind::Forbidden);
        let event = accept(&mut case, &supervisor(), erase.clone(), NOW);
        assert!(
            matches!(&event, Event::PersonalDataErased(e) if e.requested_by.as_deref() == Some("op.zhang")),
            "{event:?}"
        );
        assert!(case.personal_erased && case.pending_erasure.is_none());
        refused(&case, &supervisor(), erase, RejectionKind::InvalidState);
    }

    #[test]
    fn numbers_found_in_the_title_and_description_are_revealed_and_erased_with_the_key() {
        use crate::personal::{Sealed, Spotted};
        let spotted = |field: &str, masked: &str| Spotted {
            field: field.into(),
            value: Sealed {
                masked: masked.into(),
                sealed: "c2VhbGVk".into(),
            },
        };
        let Command::FileCase(mut filing) = file_noise() else {
            unreachable!()
        };
        filing.title = "噪音 邻居136****5432".into();
        filing.description = "联系137****5678".into();
        filing.personal = vec![
            spotted("description#0", "137****5678"),
            spotted("title#0", "136****5432"),
        ];
        let mut case = Case::new(CaseId::for_filing("op.zhang", "title-pii"));
        accept(&mut case, &operator(), Command::FileCase(filing), NOW);
        let fields: Vec<String> = case.sealed_fields().into_iter().map(|(f, _)| f).collect();
        assert!(fields.contains(&"title#0".to_owned()), "{fields:?}");
        assert!(fields.contains(&"description#0".to_owned()), "{fields:?}");
        let reveal = Command::RevealPersonalData(reason("核实联系人"));
        let event = case.decide(&operator(), &reveal, NOW).unwrap();
        assert!(
            matches!(&event, Event::PersonalDataRevealed(r) if r.fields.contains(&"title#0".to_owned())),
            "{event:?}"
        );
        accept(
            &mut case,
            &supervisor(),
            Command::ErasePersonalData(reason("依法删除")),
            NOW,
        );
        // What a view keeps of the erased case (the read model's fold).
        case.keep_masked_only();
        let filed = case.filed.as_ref().unwrap();
        assert_eq!(filed.title, "噪音 邻居[erased]");
        assert_eq!(filed.description, "联系[erased]");
        assert!(filed.personal.iter().all(|s| s.value.sealed.is_empty()));
    }
}
