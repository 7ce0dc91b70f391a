//! 延期 extension: the lead asks by the configured cutoff; a supervisor grants (moving
//! the handling deadline) or refuses.

use super::decision::{clean, rfc3339, Decision};
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::{DecideExtension, RequestExtension};
use crate::event::{Event, ExtensionDecided, ExtensionRequested};

impl Decision<'_> {
    pub(super) fn request_extension(&self, c: &RequestExtension) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Department, ActorKind::Street])?;
        self.lead()?;
        self.status(&[Status::InProgress])?;
        self.text("reason", &c.reason)?;
        if self.case.pending_extension.is_some() {
            return Err(self.state("an extension request is already pending"));
        }
        let current = self.handle_due();
        if c.handle_due <= current {
            return Err(self.invalid(format_args!(
                "handle_due: {} is not after the current deadline {}",
                rfc3339(c.handle_due),
                rfc3339(current)
            )));
        }
        if self.now > c.request_by {
            return Err(self.state(format_args!(
                "an extension must be asked by {}, the configured cutoff before the deadline {}",
                rfc3339(c.request_by),
                rfc3339(current)
            )));
        }
        Ok(Event::ExtensionRequested(ExtensionRequested {
            department: self.department()?,
            reason: c.reason.trim().to_owned(),
            handle_due: c.handle_due,
            previous_handle_due: current,
        }))
    }

    pub(super) fn decide_extension(&self, c: &DecideExtension) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Supervisor])?;
        let Some(pending) = &self.case.pending_extension else {
            return Err(self.state("no extension request is pending"));
        };
        let handle_due = if c.granted {
            let due = c.handle_due.unwrap_or(pending.handle_due);
            if due <= self.handle_due() {
                return Err(self.invalid(format_args!(
                    "handle_due: {} is not after the current deadline {}",
                    rfc3339(due),
                    rfc3339(self.handle_due())
                )));
            }
            Some(due)
        } else if c.handle_due.is_some() {
            return Err(self.invalid("handle_due: only a granted extension moves the deadline"));
        } else {
            None
        };
        Ok(Event::ExtensionDecided(ExtensionDecided {
            department: pending.department.clone(),
            granted: c.granted,
            handle_due,
            comment: clean(&c.comment),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use time::macros::datetime;

    #[test]
    fn extensions_are_asked_by_the_cutoff_and_decided_by_supervisors() {
        let mut case = given(&signed());
        let ask = |request_by| {
            Command::RequestExtension(RequestExtension {
                reason: "需第三方噪音检测".into(),
                handle_due: datetime!(2026-12-07 18:00 UTC),
                request_by,
            })
        };
        let r = case
            .decide(
                &housing(),
                &ask(datetime!(2026-11-29 18:00 UTC)),
                datetime!(2026-11-30 09:00 UTC),
            )
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        assert!(
            r.detail.contains("must be asked by 2026-11-29T18:00:00Z"),
            "{}",
            r.detail
        );
        refused(
            &case,
            &hubin(),
            ask(datetime!(2026-11-29 18:00 UTC)),
            RejectionKind::NotAssigned,
        );
        accept(
            &mut case,
            &housing(),
            ask(datetime!(2026-11-29 18:00 UTC)),
            NOW,
        );
        refused(
            &case,
            &housing(),
            ask(datetime!(2026-11-29 18:00 UTC)),
            RejectionKind::InvalidState,
        );

        let grant = Command::DecideExtension(DecideExtension {
            granted: true,
            handle_due: None,
            comment: None,
        });
        refused(&case, &housing(), grant.clone(), RejectionKind::Forbidden);
        accept(&mut case, &supervisor(), grant.clone(), NOW);
        assert_eq!(
            case.dispatch.as_ref().unwrap().handle_due,
            datetime!(2026-12-07 18:00 UTC)
        );
        assert!(case.pending_extension.is_none());
        refused(&case, &supervisor(), grant, RejectionKind::InvalidState);
    }
}
