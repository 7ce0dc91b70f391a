//! 督办 supervise: a supervisor presses the case's units, optionally with a date by
//! which they must respond.

use super::decision::{rfc3339, Decision};
use super::Rejection;
use crate::actor::ActorKind;
use crate::command::Supervise;
use crate::event::{Event, SupervisionIssued};

impl Decision<'_> {
    pub(super) fn supervise(&self, c: &Supervise) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Supervisor])?;
        self.text("text", &c.text)?;
        if let Some(by) = c.respond_by.filter(|by| *by <= self.now) {
            return Err(self.invalid(format_args!("respond_by: {} is already past", rfc3339(by))));
        }
        Ok(Event::SupervisionIssued(SupervisionIssued {
            text: c.text.trim().to_owned(),
            respond_by: c.respond_by,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use time::Duration;

    fn supervise(respond_by: Option<OffsetDateTime>) -> Command {
        Command::Supervise(Supervise {
            text: "请于明日前答复".into(),
            respond_by,
        })
    }

    #[test]
    fn a_supervisor_presses_with_a_date_still_to_come() {
        let mut case = given(&signed());
        accept(
            &mut case,
            &supervisor(),
            supervise(Some(NOW + Duration::days(1))),
            NOW,
        );
        assert_eq!(case.supervisions, 1);
        let past = refused(
            &case,
            &supervisor(),
            supervise(Some(NOW)),
            RejectionKind::Invalid,
        );
        assert!(past.contains("respond_by"), "{past}");
        refused(&case, &housing(), supervise(None), RejectionKind::Forbidden);
    }
}
