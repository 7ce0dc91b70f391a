//! 受理 file: a case enters through its channel (hotline, grid patrol, suggestion box)
//! with a title, its place and, for a hotline call, the caller.

use super::{Case, Rejection, RejectionKind};
use crate::actor::{Actor, ActorKind};
use crate::command::FileCase;
use crate::event::{CaseFiled, Event};

impl Case {
    pub(super) fn decide_file(&self, actor: &Actor, file: &FileCase) -> Result<Event, Rejection> {
        use crate::event::Channel;
        if self.exists() {
            return Err(Rejection::new(
                RejectionKind::AlreadyExists,
                format!("case {} already exists", self.label()),
            ));
        }
        let allowed: &[ActorKind] = match file.channel {
            Channel::Hotline => &[ActorKind::Operator],
            Channel::GridPatrol => &[ActorKind::GridWorker, ActorKind::Operator],
            Channel::SuggestionBox => &[ActorKind::Public, ActorKind::Operator],
        };
        if !allowed.contains(&actor.kind) {
            return Err(Rejection::new(
                RejectionKind::Forbidden,
                format!(
                    "{actor} cannot file a case through the {:?} channel",
                    file.channel
                ),
            ));
        }
        let invalid = |detail: String| Rejection::new(RejectionKind::Invalid, detail);
        if file.title.trim().is_empty() {
            return Err(invalid("title: must not be empty".into()));
        }
        if file.title.chars().count() > 200 {
            return Err(invalid("title: longer than 200 characters".into()));
        }
        if file.description.chars().count() > 10_000 {
            return Err(invalid("description: longer than 10000 characters".into()));
        }
        if file.channel == Channel::GridPatrol && file.location.grid.is_none() {
            return Err(invalid(
                "location.grid: a grid patrol case needs its grid code or its point".into(),
            ));
        }
        if file.channel == Channel::Hotline && file.reporter.as_ref().is_none_or(|r| r.is_empty()) {
            return Err(invalid(
                "reporter: a hotline case needs the caller's name or phone".into(),
            ));
        }
        Ok(Event::CaseFiled(CaseFiled {
            channel: file.channel,
            kind: file.kind,
            category: file.category.clone(),
            urgency: file.urgency,
            title: file.title.trim().to_owned(),
            description: file.description.clone(),
            location: file.location.clone(),
            reporter: file.reporter.clone(),
            source: file.source.clone(),
            grid_found: file.grid_found.clone(),
            personal: file.personal.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::command::*;

    #[test]
    fn filing_checks_channel_and_content() {
        let case = Case::new(CaseId::for_filing("x", "y"));
        let r = case.decide(&housing(), &file_noise(), NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::Forbidden);
        let Command::FileCase(mut f) = file_noise() else {
            unreachable!()
        };
        f.title = "  ".into();
        let r = case
            .decide(&operator(), &Command::FileCase(f), NOW)
            .unwrap_err();
        assert_eq!(r.kind, RejectionKind::Invalid);
        assert!(r.detail.starts_with("title"));
    }

    #[test]
    fn filing_an_existing_case_is_refused() {
        let case = given(&replied()[..1]);
        let r = case.decide(&operator(), &file_noise(), NOW).unwrap_err();
        assert_eq!(r.kind, RejectionKind::AlreadyExists);
    }
}
