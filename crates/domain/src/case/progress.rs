//! Progress: an assigned or summoned unit records what it has done so far.

use super::decision::Decision;
use super::{Rejection, Status};
use crate::actor::ActorKind;
use crate::command::RecordProgress;
use crate::event::{Event, ProgressRecorded};

impl Decision<'_> {
    pub(super) fn record_progress(&self, c: &RecordProgress) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Department, ActorKind::Street])?;
        self.status_in(Status::is_in_handling)?;
        self.assigned_or_summoned()?;
        self.text("text", &c.text)?;
        Ok(Event::ProgressRecorded(ProgressRecorded {
            department: self.department()?,
            text: c.text.trim().to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;
    use crate::event::*;

    #[test]
    fn an_assigned_unit_records_progress_and_others_are_told_whom_it_is_for() {
        let mut case = given(&signed());
        let progress = || {
            Command::RecordProgress(RecordProgress {
                text: " 已约谈施工方 ".into(),
            })
        };
        let event = accept(&mut case, &housing(), progress(), NOW);
        let Event::ProgressRecorded(p) = event else {
            panic!("{event:?}")
        };
        assert_eq!(
            (p.department.as_str(), p.text.as_str()),
            ("dept.housing", "已约谈施工方")
        );
        let why = refused(&case, &water(), progress(), RejectionKind::NotAssigned);
        assert!(why.contains("dispatched to dept.housing"), "{why}");
        refused(&case, &operator(), progress(), RejectionKind::Forbidden);
        let empty = Command::RecordProgress(RecordProgress { text: "  ".into() });
        refused(&case, &housing(), empty, RejectionKind::Invalid);
    }
}
