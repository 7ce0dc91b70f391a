//! Attachments: staff who may act on a case record a file already stored in the
//! attachment bucket (the gateway writes it; intake checks it is there with this
//! size and hash before appending). Allowed in any status, like a note. A citizen's
//! filing (Open311 `media` with a public api_key) carries one photo: the public may
//! record the first file of a suggestion-box case, and only as personal (a photo may
//! show people; it goes with the case's personal data).

use super::decision::Decision;
use super::{Rejection, RejectionKind};
use crate::actor::ActorKind;
use crate::command::AddAttachment;
use crate::event::{AttachmentAdded, Channel, Event};

/// Longest object key accepted.
const MAX_NAME: usize = 200;

impl Decision<'_> {
    pub(super) fn add_attachment(&self, a: &AddAttachment) -> Result<Event, Rejection> {
        if matches!(self.actor.kind, ActorKind::Public) {
            let public_filing = self
                .case
                .filed
                .as_ref()
                .is_some_and(|f| f.channel == Channel::SuggestionBox);
            if !public_filing || !self.case.attachments.is_empty() {
                return Err(self.refuse(
                    RejectionKind::Forbidden,
                    "the public adds only the one file of its own filing (the first of a \
                     suggestion-box case); staff add the others",
                ));
            }
            if !a.personal {
                return Err(self.invalid(
                    "personal: a citizen's file is recorded as personal (it may show people)",
                ));
            }
        }
        if a.name.is_empty()
            || a.name.len() > MAX_NAME
            || a.name.starts_with('/')
            || a.name
                .split('/')
                .any(|part| part.is_empty() || part == "..")
            || !a
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        {
            return Err(self.invalid("name: not a valid object key"));
        }
        if a.sha256.len() != 64
            || !a
                .sha256
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        {
            return Err(self.invalid("sha256: not 64 lower-case hex digits"));
        }
        if a.media_type.trim().is_empty() {
            return Err(self.invalid("media_type: empty"));
        }
        if a.size == 0 {
            return Err(self.invalid("size: the file is empty"));
        }
        if self.case.attachment(&a.name).is_some() {
            return Err(self.state(format_args!("attachment {} is already recorded", a.name)));
        }
        Ok(Event::AttachmentAdded(AttachmentAdded {
            name: a.name.clone(),
            sha256: a.sha256.clone(),
            media_type: a.media_type.clone(),
            size: a.size,
            personal: a.personal,
            description: a.description.clone().filter(|d| !d.trim().is_empty()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::actor::ActorKind;
    use crate::command::*;

    fn attach(name: &str, sha256: &str, size: u64) -> Command {
        Command::AddAttachment(AddAttachment {
            name: name.into(),
            sha256: sha256.into(),
            media_type: "image/png".into(),
            size,
            personal: true,
            description: Some("现场照片".into()),
        })
    }

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn staff_attach_a_stored_file_once_the_public_not_to_a_hotline_case() {
        let mut case = given(&replied()[..1]);
        let event = accept(&mut case, &housing(), attach("c1/a1.png", HASH, 42), NOW);
        match event {
            Event::AttachmentAdded(e) => {
                assert_eq!(e.sha256, HASH);
                assert_eq!(e.size, 42);
                assert!(e.personal);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(case.attachment("c1/a1.png").map(|a| a.size), Some(42));
        refused(
            &case,
            &operator(),
            attach("c1/a1.png", HASH, 42),
            RejectionKind::InvalidState,
        );
        let public = Actor::new(ActorKind::Public, "citizen");
        refused(
            &case,
            &public,
            attach("c1/a2.png", HASH, 42),
            RejectionKind::Forbidden,
        );
    }

    #[test]
    fn a_citizen_records_one_personal_photo_with_its_own_filing() {
        let citizen = Actor::new(ActorKind::Public, "public.open311");
        let Command::FileCase(mut filing) = file_noise() else {
            unreachable!()
        };
        filing.channel = crate::event::Channel::SuggestionBox;
        let mut case = given(&[(citizen.clone(), Command::FileCase(filing))]);
        let mut not_personal = attach("c1/street.png", HASH, 9);
        if let Command::AddAttachment(a) = &mut not_personal {
            a.personal = false;
        }
        refused(&case, &citizen, not_personal, RejectionKind::Invalid);
        accept(&mut case, &citizen, attach("c1/street.png", HASH, 9), NOW);
        assert_eq!(case.personal_attachments(), vec!["c1/street.png"]);
        // One file: a second is staff's to add.
        refused(
            &case,
            &citizen,
            attach("c1/more.png", HASH, 9),
            RejectionKind::Forbidden,
        );
        accept(&mut case, &operator(), attach("c1/more.png", HASH, 9), NOW);
        // Never on a case the hotline filed.
        let hotline = given(&replied()[..1]);
        refused(
            &hotline,
            &citizen,
            attach("c1/a.png", HASH, 9),
            RejectionKind::Forbidden,
        );
    }

    #[test]
    fn only_personal_attachments_go_with_the_personal_data() {
        let mut case = given(&replied()[..1]);
        accept(&mut case, &operator(), attach("c1/face.png", HASH, 3), NOW);
        let mut public_photo = attach("c1/road.png", HASH, 3);
        if let Command::AddAttachment(a) = &mut public_photo {
            a.personal = false;
        }
        accept(&mut case, &operator(), public_photo, NOW);
        assert_eq!(case.personal_attachments(), vec!["c1/face.png"]);
    }

    #[test]
    fn malformed_attachments_are_invalid() {
        let case = given(&replied()[..1]);
        refused(
            &case,
            &operator(),
            attach("../x", HASH, 1),
            RejectionKind::Invalid,
        );
        refused(
            &case,
            &operator(),
            attach("a.png", "ABC", 1),
            RejectionKind::Invalid,
        );
        refused(
            &case,
            &operator(),
            attach("a.png", HASH, 0),
            RejectionKind::Invalid,
        );
    }

    #[test]
    fn a_replied_case_still_takes_attachments() {
        let mut case = given(&replied());
        accept(&mut case, &operator(), attach("c1/late.png", HASH, 7), NOW);
    }
}
