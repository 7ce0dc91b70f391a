//! Notes: any staff member may annotate a case, in any status.

use super::decision::Decision;
use super::{Rejection, RejectionKind};
use crate::actor::ActorKind;
use crate::command::Annotate;
use crate::event::{Event, NoteAdded};

impl Decision<'_> {
    pub(super) fn annotate(&self, a: &Annotate) -> Result<Event, Rejection> {
        if matches!(self.actor.kind, ActorKind::Public) {
            return Err(self.refuse(RejectionKind::Forbidden, "only staff may annotate"));
        }
        if a.text.trim().is_empty() {
            return Err(self.invalid("the note is empty"));
        }
        Ok(Event::NoteAdded(NoteAdded {
            text: a.text.clone(),
            personal: a.personal.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::*;
    use crate::actor::ActorKind;
    use crate::command::*;

    fn note(text: &str) -> Command {
        Command::Annotate(Annotate {
            text: text.into(),
            personal: Vec::new(),
        })
    }

    #[test]
    fn staff_annotate_with_text_the_public_never() {
        let mut case = given(&replied()[..1]);
        accept(&mut case, &housing(), note("已电话联系"), NOW);
        refused(&case, &operator(), note(" "), RejectionKind::Invalid);
        let public = Actor::new(ActorKind::Public, "citizen");
        refused(&case, &public, note("hello"), RejectionKind::Forbidden);
    }
}
