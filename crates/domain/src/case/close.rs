//! 结案 close: a replied case without a callback, or a referred case, is closed.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::Close;
use crate::event::{CaseClosed, Event};

impl Decision<'_> {
    pub(super) fn close(&self, c: &Close) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Operator, ActorKind::System])?;
        self.status(&[Status::Replied, Status::Referred])?;
        let referred = self.case.status == Status::Referred;
        Ok(Event::CaseClosed(CaseClosed {
            reason: c.reason.clone().unwrap_or_else(|| {
                if referred {
                    "referred; closed".to_owned()
                } else {
                    "replied; closed without callback".to_owned()
                }
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;

    #[test]
    fn a_closed_case_refuses_another_close() {
        let mut steps = replied();
        steps.push((operator(), Command::Close(Close { reason: None })));
        let case = given(&steps);
        assert_eq!(case.status, Status::Closed);
        let r = case
            .decide(&operator(), &Command::Close(Close { reason: None }), NOW)
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        assert!(r.detail.ends_with("it is closed"), "{}", r.detail);
    }
}
