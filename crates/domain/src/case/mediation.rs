//! 调解 mediation: opened with both parties' consent and assigned to a mediator, held in
//! sessions, ending in an agreement (within its deadline) or a failure.

use super::decision::{rfc3339, Decision};
use super::{Mediation, Rejection, RejectionKind, Status};
use crate::actor::ActorKind;
use crate::command::{OpenMediation, Reason, RecordAgreement, RecordMediationSession};
use crate::event::{
    AgreementReached, Event, MediationFailed, MediationOpened, MediationSessionHeld,
};

impl Decision<'_> {
    pub(super) fn open_mediation(&self, c: &OpenMediation) -> Result<Event, Rejection> {
        // A mediator opens its own mediation or assigns one to another
        // mediator; an operator or supervisor assigns it (and must name whom).
        self.allow(&[
            ActorKind::Mediator,
            ActorKind::Operator,
            ActorKind::Supervisor,
        ])?;
        let mediator = match (&c.mediator, self.actor.kind) {
            (Some(m), _) if m.trim().is_empty() => {
                return Err(self.invalid("mediator: empty"));
            }
            (Some(m), _) => m.trim().to_owned(),
            (None, ActorKind::Mediator) => self.actor.id.clone(),
            (None, _) => {
                return Err(self.invalid("mediator: name the mediator the mediation is assigned to"))
            }
        };
        self.status(&[Status::Received, Status::Dispatched, Status::InProgress])?;
        if c.parties.len() < 2 {
            return Err(self.invalid("parties: a mediation needs both parties"));
        }
        if let Some(i) = c.parties.iter().position(|p| !p.consent) {
            return Err(self.invalid(format_args!(
                "parties[{i}].consent: every party must consent to mediation"
            )));
        }
        if c.mediation_due <= self.now {
            return Err(self.invalid(format_args!(
                "mediation_due: {} is already past",
                rfc3339(c.mediation_due)
            )));
        }
        Ok(Event::MediationOpened(MediationOpened {
            mediator,
            parties: c.parties.clone(),
            mediation_due: c.mediation_due,
        }))
    }

    pub(super) fn record_mediation_session(
        &self,
        c: &RecordMediationSession,
    ) -> Result<Event, Rejection> {
        let m = self.mediating(true)?;
        self.text("summary", &c.summary)?;
        Ok(Event::MediationSessionHeld(MediationSessionHeld {
            session: m.sessions + 1,
            summary: c.summary.trim().to_owned(),
        }))
    }

    pub(super) fn record_agreement(&self, c: &RecordAgreement) -> Result<Event, Rejection> {
        self.mediating(true)?;
        self.text("terms", &c.terms)?;
        if c.court_confirmation_due <= self.now {
            return Err(self.invalid(format_args!(
                "court_confirmation_due: {} is already past",
                rfc3339(c.court_confirmation_due)
            )));
        }
        Ok(Event::AgreementReached(AgreementReached {
            terms: c.terms.trim().to_owned(),
            court_confirmation: c.court_confirmation,
            court_confirmation_due: c.court_confirmation_due,
        }))
    }

    pub(super) fn record_mediation_failure(&self, r: &Reason) -> Result<Event, Rejection> {
        self.mediating(false)?;
        self.text("reason", &r.reason)?;
        Ok(Event::MediationFailed(MediationFailed {
            reason: r.reason.trim().to_owned(),
        }))
    }

    /// The case's mediation, run by this actor.
    pub(super) fn mediator(&self) -> Result<&Mediation, Rejection> {
        let Some(m) = &self.case.mediation else {
            return Err(self.state("it has no mediation"));
        };
        if m.mediator != self.actor.id {
            return Err(self.refuse(
                RejectionKind::NotAssigned,
                format_args!("it is mediated by {}", m.mediator),
            ));
        }
        Ok(m)
    }

    /// An open mediation this mediator runs; `in_time` also requires the mediation
    /// deadline not to have passed.
    fn mediating(&self, in_time: bool) -> Result<&Mediation, Rejection> {
        self.allow(&[ActorKind::Mediator])?;
        self.status(&[Status::InMediation])?;
        let m = self.mediator()?;
        if m.failure.is_some() {
            return Err(self.state("its mediation has failed"));
        }
        if in_time && self.now > m.mediation_due {
            return Err(self.state(format_args!(
                "its mediation deadline passed at {}",
                rfc3339(m.mediation_due)
            )));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::actor::{Actor, ActorKind};
    use crate::command::*;
    use crate::event::*;
    use time::macros::datetime;

    #[test]
    fn mediation_needs_consent_and_ends_in_an_agreement_within_its_deadline() {
        let mut case = given(&replied()[..1]);
        let detail = refused(
            &case,
            &mediator(),
            open_mediation(false),
            RejectionKind::Invalid,
        );
        assert!(detail.contains("parties[1].consent"), "{detail}");
        let detail = refused(
            &case,
            &operator(),
            open_mediation(true),
            RejectionKind::Invalid,
        );
        assert!(detail.contains("mediator: name the mediator"), "{detail}");
        accept(&mut case, &mediator(), open_mediation(true), NOW);
        assert_eq!(case.mediation.as_ref().unwrap().mediator, mediator().id);
        assert_eq!(case.status, Status::InMediation);
        assert!(case
            .personal_fields()
            .contains(&"parties[1].name".to_owned()));

        let session = Command::RecordMediationSession(RecordMediationSession {
            summary: "双方陈述".into(),
        });
        let other = Actor::new(ActorKind::Mediator, "med.zhou");
        refused(&case, &other, session.clone(), RejectionKind::NotAssigned);
        let event = accept(&mut case, &mediator(), session, NOW);
        assert!(matches!(event, Event::MediationSessionHeld(s) if s.session == 1));

        let agree = Command::RecordAgreement(RecordAgreement {
            terms: "赔偿2000元".into(),
            court_confirmation: true,
            court_confirmation_due: datetime!(2027-01-25 18:00 UTC),
        });
        let r = case
            .decide(&mediator(), &agree, datetime!(2026-12-24 09:00 UTC))
            .unwrap_err();
        assert!(
            r.detail.contains("mediation deadline passed"),
            "{}",
            r.detail
        );
        accept(&mut case, &mediator(), agree, NOW);
        assert_eq!(case.status, Status::Replied);
        let agreement = case.mediation.as_ref().unwrap().agreement.as_ref().unwrap();
        assert_eq!(
            agreement.court_confirmation_due,
            datetime!(2027-01-25 18:00 UTC)
        );
    }

    #[test]
    fn a_mediation_is_assigned_when_it_is_opened() {
        // An operator assigns the mediation to med.zhou: only med.zhou runs it.
        let mut case = given(&replied()[..1]);
        let event = accept(&mut case, &operator(), assigned_to("med.zhou"), NOW);
        assert!(matches!(&event, Event::MediationOpened(m) if m.mediator == "med.zhou"));
        let session = Command::RecordMediationSession(RecordMediationSession {
            summary: "双方陈述".into(),
        });
        refused(
            &case,
            &mediator(),
            session.clone(),
            RejectionKind::NotAssigned,
        );
        let zhou = Actor::new(ActorKind::Mediator, "med.zhou");
        accept(&mut case, &zhou, session, NOW);
        // A mediator may hand a new mediation to a colleague; a department may not open one.
        let mut other = given(&replied()[..1]);
        let event = accept(&mut other, &mediator(), assigned_to("med.zhou"), NOW);
        assert!(matches!(&event, Event::MediationOpened(m) if m.mediator == "med.zhou"));
        let fresh = given(&replied()[..1]);
        let urban = Actor::new(ActorKind::Department, "dept.urban");
        refused(
            &fresh,
            &urban,
            assigned_to("med.zhou"),
            RejectionKind::Forbidden,
        );
    }
}
