//! 申诉: the department a callback counted against appeals it, within the configured
//! window after the callback, with a reason; one appeal per callback.

use super::decision::Decision;
use super::{Case, Rejection, RejectionKind};
use crate::actor::ActorKind;
use crate::command::AppealRating;
use crate::event::{CallbackRecorded, Event, RatingAppealed, Satisfaction};
use crate::ids::DepartmentId;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The last callback of a case: whom it counted against and its appeal, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatedCallback {
    /// The version of the `CallbackRecorded` event.
    pub version: u64,
    /// The lead department when the callback was recorded: the figures count it there.
    pub department: Option<DepartmentId>,
    pub satisfaction: Satisfaction,
    pub resolved: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub recorded_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub appeal: Option<Appeal>,
}

/// An appeal of a callback and, once ruled, the supervisor's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appeal {
    pub department: DepartmentId,
    pub reason: String,
    /// `None` while pending.
    pub accepted: Option<bool>,
}

impl RatedCallback {
    /// The callback `c` as applied to `case` (whose version already counts it).
    pub(super) fn of(case: &Case, c: &CallbackRecorded) -> Self {
        Self {
            version: case.version,
            department: case.lead().cloned(),
            satisfaction: c.satisfaction,
            resolved: c.resolved,
            recorded_at: c.recorded_at,
            appeal: None,
        }
    }

    /// Whether the callback counts against its department at all (an appeal of a
    /// satisfied, resolved callback has nothing to take out).
    pub fn counts_against(&self) -> bool {
        self.satisfaction == Satisfaction::Unsatisfied || !self.resolved
    }
}

impl Decision<'_> {
    pub(super) fn appeal_rating(&self, c: &AppealRating) -> Result<Event, Rejection> {
        let (d, actor, now) = (self, self.actor, self.now);
        d.allow(&[ActorKind::Department, ActorKind::Street])?;
        let Some(rated) = &self.case.rated else {
            return Err(d.state("no callback is recorded"));
        };
        if rated.department.as_ref().map(DepartmentId::as_str) != Some(actor.id.as_str()) {
            let whom = rated
                .department
                .as_ref()
                .map_or_else(|| "no department".to_owned(), ToString::to_string);
            return Err(d.refuse(
                RejectionKind::NotAssigned,
                format_args!("its callback counted against {whom}, not {}", actor.id),
            ));
        }
        if let Some(appeal) = &rated.appeal {
            let how = match appeal.accepted {
                None => "pending",
                Some(true) => "accepted",
                Some(false) => "rejected",
            };
            return Err(d.state(format_args!(
                "the callback of version {} is already appealed ({how}); a callback is appealed once",
                rated.version
            )));
        }
        if !rated.counts_against() {
            return Err(d.state("its callback was satisfied and resolved: nothing to appeal"));
        }
        d.reason(&c.reason)?;
        match c.appeal_by {
            None => {
                return Err(
                    d.state("its callback carries no instant, so no appeal window can be counted")
                )
            }
            Some(by) if now > by => {
                return Err(d.state(format_args!(
                    "the appeal window ended at {}",
                    super::decision::rfc3339(by)
                )))
            }
            Some(_) => {}
        }
        Ok(Event::RatingAppealed(RatingAppealed {
            callback_version: rated.version,
            department: d.department()?,
            reason: c.reason.trim().to_owned(),
        }))
    }
}

impl Case {
    pub(super) fn apply_rating_appealed(&mut self, a: &RatingAppealed) {
        if let Some(rated) = self
            .rated
            .as_mut()
            .filter(|r| r.version == a.callback_version)
        {
            rated.appeal = Some(Appeal {
                department: a.department.clone(),
                reason: a.reason.clone(),
                accepted: None,
            });
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::testing::{given, housing, operator, replied, water, NOW};
    use super::*;
    use crate::command::Command;
    use crate::command::RecordCallback;
    use time::macros::datetime;

    /// Replied by dept.housing, then the citizen called back unsatisfied at NOW.
    pub(in crate::case) fn rated_unsatisfied() -> Case {
        let mut steps = replied();
        steps.push((
            operator(),
            Command::RecordCallback(RecordCallback {
                satisfaction: Satisfaction::Unsatisfied,
                resolved: false,
                comment: None,
            }),
        ));
        given(&steps)
    }

    pub(in crate::case) fn appeal(by: OffsetDateTime) -> Command {
        Command::AppealRating(AppealRating {
            reason: "诉求超出法定职权，已依法解释".into(),
            appeal_by: Some(by),
        })
    }

    const WINDOW_END: OffsetDateTime = datetime!(2026-11-26 10:00 UTC);

    #[test]
    fn the_lead_appeals_its_callback_within_the_window() {
        let mut case = rated_unsatisfied();
        let event = case.decide(&housing(), &appeal(WINDOW_END), NOW).unwrap();
        assert_eq!(
            event,
            Event::RatingAppealed(RatingAppealed {
                callback_version: 5,
                department: DepartmentId::parse("dept.housing").unwrap(),
                reason: "诉求超出法定职权，已依法解释".into(),
            })
        );
        case.apply(&event);
        let appeal = case.rated.as_ref().unwrap().appeal.as_ref().unwrap();
        assert_eq!(appeal.accepted, None);
    }

    #[test]
    fn a_second_appeal_of_the_same_callback_is_refused() {
        let mut case = rated_unsatisfied();
        let event = case.decide(&housing(), &appeal(WINDOW_END), NOW).unwrap();
        case.apply(&event);
        let r = case
            .decide(&housing(), &appeal(WINDOW_END), NOW)
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        assert!(
            r.detail.contains("already appealed (pending)"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn an_appeal_after_the_window_is_refused() {
        let case = rated_unsatisfied();
        let late = WINDOW_END + time::Duration::minutes(1);
        let r = case
            .decide(&housing(), &appeal(WINDOW_END), late)
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        assert_eq!(
            r.detail,
            "dept.housing cannot appeal the callback of case NH-20261123-000001: the appeal window ended at 2026-11-26T10:00:00Z"
        );
    }

    #[test]
    fn another_units_appeal_is_refused() {
        let case = rated_unsatisfied();
        let r = case.decide(&water(), &appeal(WINDOW_END), NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::NotAssigned);
        assert!(
            r.detail
                .contains("its callback counted against dept.housing, not dept.water"),
            "{}",
            r.detail
        );
    }

    #[test]
    fn an_operator_cannot_appeal_and_a_reason_is_required() {
        let case = rated_unsatisfied();
        let r = case
            .decide(&operator(), &appeal(WINDOW_END), NOW)
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::Forbidden);
        let empty = Command::AppealRating(AppealRating {
            reason: "  ".into(),
            appeal_by: Some(WINDOW_END),
        });
        let r = case.decide(&housing(), &empty, NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
    }

    #[test]
    fn without_a_callback_or_against_a_satisfied_one_there_is_nothing_to_appeal() {
        let case = given(&replied());
        let r = case
            .decide(&housing(), &appeal(WINDOW_END), NOW)
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidState);
        let mut steps = replied();
        steps.push((
            operator(),
            Command::RecordCallback(RecordCallback {
                satisfaction: Satisfaction::Satisfied,
                resolved: true,
                comment: None,
            }),
        ));
        let closed = given(&steps);
        let r = closed
            .decide(&housing(), &appeal(WINDOW_END), NOW)
            .unwrap_err();
        assert!(r.detail.contains("nothing to appeal"), "{}", r.detail);
    }
}
