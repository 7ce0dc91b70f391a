//! Which deadlines of a case run, and which of them a timer may still mark missed.
//! This is the one definition: routing's deadline table caches [`Case::open_deadlines`],
//! `MarkDeadlineMissed` is accepted exactly for an open deadline that has passed, and
//! the read models' overdue list and countdowns use [`Case::running_handle_due`].

use super::Case;
use crate::event::Deadline;
use crate::ids::DepartmentId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A deadline whose clock runs: `unit` must sign, handle or report in by `due`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpenDeadline {
    pub kind: Deadline,
    pub unit: DepartmentId,
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
}

impl Case {
    /// Every deadline whose clock runs now, with whether it is already marked missed:
    /// the sign deadline of each dispatched unit that has not signed, the lead's
    /// handling deadline, the report-in deadline of each summoned unit that has not
    /// reported in. The clock runs only while the case is being handled
    /// ([`crate::Status::is_overdue_able`]): it stops while suspended or in mediation,
    /// and a reply, return, reopen or any final status ends it.
    pub fn running_deadlines(&self) -> Vec<(OpenDeadline, bool)> {
        let mut out = Vec::new();
        if !self.status.is_overdue_able() {
            return out;
        }
        let Some(dispatch) = &self.dispatch else {
            return out;
        };
        let mut add = |kind: Deadline, unit: &DepartmentId, due: OffsetDateTime| {
            let missed = self.missed.contains(&(kind, unit.clone()));
            out.push((
                OpenDeadline {
                    kind,
                    unit: unit.clone(),
                    due,
                },
                missed,
            ));
        };
        for unit in self.departments() {
            if !self.signed.contains(unit) {
                add(Deadline::Sign, unit, dispatch.sign_due);
            }
        }
        add(Deadline::Handle, &dispatch.lead, dispatch.handle_due);
        for (unit, summons) in &self.summoned {
            if summons.reported.is_none() {
                add(Deadline::Report, unit, summons.report_due);
            }
        }
        out
    }

    /// The deadlines a timer may still mark missed once they pass: running and not yet
    /// marked. Sorted by kind, then unit.
    pub fn open_deadlines(&self) -> Vec<OpenDeadline> {
        let mut open: Vec<OpenDeadline> = self
            .running_deadlines()
            .into_iter()
            .filter(|(_, missed)| !missed)
            .map(|(d, _)| d)
            .collect();
        open.sort();
        open
    }

    /// The open deadline of `kind` for `unit`, if there is one.
    pub fn open_deadline(&self, kind: Deadline, unit: &DepartmentId) -> Option<OpenDeadline> {
        self.open_deadlines()
            .into_iter()
            .find(|d| d.kind == kind && &d.unit == unit)
    }

    /// The handling deadline while its clock runs (missed or not); `None` while the
    /// case is suspended, in mediation, not dispatched, replied or final.
    pub fn running_handle_due(&self) -> Option<OffsetDateTime> {
        self.running_deadlines()
            .into_iter()
            .find(|(d, _)| d.kind == Deadline::Handle)
            .map(|(d, _)| d.due)
    }

    /// Past its handling deadline while the clock runs.
    pub fn is_overdue(&self, now: OffsetDateTime) -> bool {
        self.running_handle_due().is_some_and(|due| due < now)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{given, replied, NOW};
    use super::*;
    use crate::actor::{Actor, ActorKind};
    use crate::command::{BlowWhistle, Command, MarkDeadlineMissed};
    use crate::Status;
    use time::macros::datetime;

    fn dept(id: &str) -> DepartmentId {
        DepartmentId::parse(id).unwrap()
    }

    fn kinds(case: &Case) -> Vec<(Deadline, String)> {
        case.open_deadlines()
            .into_iter()
            .map(|d| (d.kind, d.unit.to_string()))
            .collect()
    }

    /// Every open deadline, once past, is accepted as missed; nothing else is.
    fn only_open_ones_are_accepted(case: &Case) {
        let later = datetime!(2027-06-01 00:00 UTC);
        for kind in [Deadline::Sign, Deadline::Handle, Deadline::Report] {
            for unit in ["dept.housing", "street.hubin", "dept.water", "dept.police"] {
                let command = Command::MarkDeadlineMissed(MarkDeadlineMissed {
                    deadline: kind,
                    department: dept(unit),
                });
                let accepted = case.decide(&Actor::routing(), &command, later).is_ok();
                let open = case.open_deadline(kind, &dept(unit)).is_some();
                assert_eq!(
                    accepted, open,
                    "{kind:?} of {unit} in status {}",
                    case.status
                );
            }
        }
    }

    #[test]
    fn a_dispatch_opens_sign_and_handle_deadlines_and_signing_closes_one() {
        let case = given(&replied()[..2]);
        assert_eq!(
            kinds(&case),
            [
                (Deadline::Sign, "dept.housing".to_owned()),
                (Deadline::Sign, "street.hubin".to_owned()),
                (Deadline::Handle, "dept.housing".to_owned()),
            ]
        );
        only_open_ones_are_accepted(&case);
        let case = given(&replied()[..3]);
        assert_eq!(
            kinds(&case),
            [
                (Deadline::Sign, "street.hubin".to_owned()),
                (Deadline::Handle, "dept.housing".to_owned()),
            ]
        );
        only_open_ones_are_accepted(&case);
    }

    #[test]
    fn a_reply_ends_every_deadline_even_of_summoned_departments() {
        let mut case = given(&replied()[..3]);
        let street = Actor::new(ActorKind::Street, "street.hubin");
        let whistle = case
            .decide(
                &street,
                &Command::BlowWhistle(BlowWhistle {
                    departments: vec![dept("dept.police")],
                    report_due: datetime!(2026-11-23 14:00 UTC),
                    reason: "联合执法".into(),
                }),
                NOW,
            )
            .unwrap();
        case.apply(&whistle);
        assert!(case
            .open_deadline(Deadline::Report, &dept("dept.police"))
            .is_some());
        only_open_ones_are_accepted(&case);
        let reply = &replied()[3];
        let event = case.decide(&reply.0, &reply.1, NOW).unwrap();
        case.apply(&event);
        assert_eq!(case.status, Status::Replied);
        assert!(case.open_deadlines().is_empty());
        only_open_ones_are_accepted(&case);
    }

    #[test]
    fn the_clock_stops_while_suspended_or_in_mediation_and_overdue_follows_it() {
        let mut case = given(&replied()[..3]);
        let due = case.dispatch.as_ref().unwrap().handle_due;
        let after = due + time::Duration::hours(1);
        assert!(case.is_overdue(after));
        // How a case comes to be suspended (and who approves) is the suspension's
        // business; the clock follows the status.
        for stopped in [Status::Suspended, Status::InMediation] {
            case.status = stopped;
            assert!(case.open_deadlines().is_empty());
            assert!(!case.is_overdue(after));
            only_open_ones_are_accepted(&case);
        }
        case.status = Status::Suspended;
        assert_eq!(case.status, Status::Suspended);
        assert!(case.open_deadlines().is_empty());
        assert!(!case.is_overdue(after));
        only_open_ones_are_accepted(&case);
    }
}
