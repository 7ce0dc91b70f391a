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
            personal: c.personal.clone(),
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
                personal: Vec::new(),
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
        let empty = Command::RecordProgress(RecordProgress {
            text: "  ".into(),
            personal: Vec::new(),
        });
        refused(&case, &housing(), empty, RejectionKind::Invalid);
    }

    #[test]
    fn an_id_number_in_a_progress_report_is_masked_sealed_revealed_and_erased_with_the_key() {
        let mut case = given(&signed());
        let version = case.version + 1;
        let progress = sealed_at_the_edge(
            Command::RecordProgress(RecordProgress {
                text: "已约谈施工方负责人，身份证11010119900307125X".into(),
                personal: Vec::new(),
            }),
            version,
        );
        let event = accept(&mut case, &housing(), progress, NOW);
        let Event::ProgressRecorded(p) = &event else {
            panic!("{event:?}")
        };
        assert_eq!(p.text, "已约谈施工方负责人，身份证110***********125X");
        assert!(!event.data().to_string().contains("11010119900307125X"));
        revealed_then_erased(&mut case, &format!("progress.v{version}#0"));
        let old = serde_json::json!({"department": "dept.housing", "text": "t"});
        let Ok(Event::ProgressRecorded(old)) = Event::from_parts("ProgressRecorded", 1, &old)
        else {
            panic!("an old progress report reads")
        };
        assert!(old.personal.is_empty());
    }
}
