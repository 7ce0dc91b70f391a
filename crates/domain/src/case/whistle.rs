//! 吹哨报到 whistle and report in: a street summons departments, each reports in, and
//! the street that summoned it rates it.

use super::decision::{clean, rfc3339, Decision};
use super::{Rejection, RejectionKind, Status};
use crate::actor::ActorKind;
use crate::command::{BlowWhistle, RateReportIn};
use crate::event::{Event, ReportInRated, ReportInRating, ReportedIn, WhistleBlown};
use std::collections::BTreeSet;

impl Decision<'_> {
    pub(super) fn whistle(&self, c: &BlowWhistle) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Street])?;
        self.status(&[Status::Dispatched, Status::InProgress])?;
        self.assigned()?;
        self.text("reason", &c.reason)?;
        if c.departments.is_empty() {
            return Err(self.invalid("departments: summon at least one department"));
        }
        let mut seen = BTreeSet::new();
        for (i, department) in c.departments.iter().enumerate() {
            let why = if !seen.insert(department) {
                "is named twice"
            } else if department.as_str() == self.actor.id {
                "is the whistling street itself"
            } else if self.case.is_assigned_to(department.as_str()) {
                "is already dispatched the case"
            } else if self.case.summoned.contains_key(department) {
                "is already summoned"
            } else {
                continue;
            };
            return Err(self.invalid(format_args!("departments[{i}]: {department} {why}")));
        }
        if c.report_due <= self.now {
            return Err(self.invalid(format_args!(
                "report_due: {} is already past",
                rfc3339(c.report_due)
            )));
        }
        Ok(Event::WhistleBlown(WhistleBlown {
            street: self.department()?,
            departments: c.departments.clone(),
            report_due: c.report_due,
            reason: c.reason.trim().to_owned(),
        }))
    }

    pub(super) fn report_in(&self) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Department, ActorKind::Street])?;
        self.status_in(Status::is_in_handling)?;
        let Some(summons) = self.case.summons_of(&self.actor.id) else {
            return Err(self.refuse(
                RejectionKind::NotAssigned,
                "it was not summoned by a whistle on this case",
            ));
        };
        if summons.reported.is_some() {
            return Err(self.state("it has already reported in"));
        }
        Ok(Event::ReportedIn(ReportedIn {
            department: self.department()?,
            on_time: self.now <= summons.report_due,
        }))
    }

    pub(super) fn rate(&self, c: &RateReportIn) -> Result<Event, Rejection> {
        self.allow(&[ActorKind::Street])?;
        if c.ratings.is_empty() {
            return Err(self.invalid("ratings: rate at least one department"));
        }
        let mut seen = BTreeSet::new();
        for (i, rating) in c.ratings.iter().enumerate() {
            let department = &rating.department;
            let Some(summons) = self.case.summoned.get(department) else {
                return Err(self.refuse(
                    RejectionKind::NotAssigned,
                    format_args!("ratings[{i}]: {department} was not summoned to it"),
                ));
            };
            if summons.street.as_str() != self.actor.id {
                return Err(self.refuse(
                    RejectionKind::NotAssigned,
                    format_args!(
                        "ratings[{i}]: {department} was summoned by {}, who alone rates it",
                        summons.street
                    ),
                ));
            }
            if !seen.insert(department) {
                return Err(self.invalid(format_args!("ratings[{i}]: {department} is rated twice")));
            }
            if !(1..=5).contains(&rating.score) {
                return Err(self.invalid(format_args!(
                    "ratings[{i}].score: {} is not a whole score from 1 to 5",
                    rating.score
                )));
            }
            if summons.score.is_some() {
                return Err(self.state(format_args!("ratings[{i}]: {department} is already rated")));
            }
        }
        Ok(Event::ReportInRated(ReportInRated {
            street: self.department()?,
            ratings: c
                .ratings
                .iter()
                .map(|r| ReportInRating {
                    department: r.department.clone(),
                    score: r.score,
                    comment: clean(&r.comment),
                })
                .collect(),
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
    use time::macros::datetime;

    #[test]
    fn a_street_whistles_departments_that_each_report_in_and_are_rated() {
        let mut case = given(&signed());
        let whistle = |departments: &[&str]| {
            Command::BlowWhistle(BlowWhistle {
                departments: departments.iter().map(|d| dept(d)).collect(),
                report_due: datetime!(2026-11-23 12:00 UTC),
                reason: "联合执法".into(),
            })
        };
        refused(
            &case,
            &housing(),
            whistle(&["dept.police"]),
            RejectionKind::Forbidden,
        );
        let other_street = Actor::new(ActorKind::Street, "street.xihu");
        refused(
            &case,
            &other_street,
            whistle(&["dept.police"]),
            RejectionKind::NotAssigned,
        );
        let detail = refused(
            &case,
            &hubin(),
            whistle(&["dept.housing"]),
            RejectionKind::Invalid,
        );
        assert!(detail.contains("already dispatched"), "{detail}");
        accept(
            &mut case,
            &hubin(),
            whistle(&["dept.police", "dept.water"]),
            NOW,
        );

        accept(&mut case, &police(), Command::ReportIn, NOW);
        refused(
            &case,
            &police(),
            Command::ReportIn,
            RejectionKind::InvalidState,
        );
        let event = accept(
            &mut case,
            &water(),
            Command::ReportIn,
            datetime!(2026-11-23 13:00 UTC),
        );
        assert!(matches!(event, Event::ReportedIn(r) if !r.on_time));
        refused(
            &case,
            &Actor::new(ActorKind::Department, "dept.transport"),
            Command::ReportIn,
            RejectionKind::NotAssigned,
        );
        // A summoned department signs the summons and records progress too.
        let event = accept(&mut case, &police(), Command::Sign, NOW);
        assert!(matches!(event, Event::DispatchSigned(s) if s.whistle && s.on_time));
        accept(
            &mut case,
            &police(),
            Command::RecordProgress(RecordProgress {
                text: "已出警".into(),
                personal: Vec::new(),
            }),
            NOW,
        );

        let rate = |department: &str, score| {
            Command::RateReportIn(RateReportIn {
                ratings: vec![Rating {
                    department: dept(department),
                    score,
                    comment: None,
                }],
            })
        };
        refused(
            &case,
            &other_street,
            rate("dept.police", 5),
            RejectionKind::NotAssigned,
        );
        refused(
            &case,
            &hubin(),
            rate("dept.housing", 5),
            RejectionKind::NotAssigned,
        );
        let detail = refused(
            &case,
            &hubin(),
            rate("dept.police", 6),
            RejectionKind::Invalid,
        );
        assert!(detail.contains("ratings[0].score"), "{detail}");
        accept(&mut case, &hubin(), rate("dept.police", 5), NOW);
        assert_eq!(case.summoned[&dept("dept.police")].score, Some(5));
        refused(
            &case,
            &hubin(),
            rate("dept.police", 4),
            RejectionKind::InvalidState,
        );
    }
}
