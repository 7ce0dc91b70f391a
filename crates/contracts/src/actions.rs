//! API actions: who owns each, and how its JSON body becomes a command.

use crate::Problem;
use casegrid_domain::command::{Annotate, Close, Reason, RecordCallback, Reply};
use casegrid_domain::Command;
use serde::de::DeserializeOwned;

/// The service that decides an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Intake,
    Routing,
}

/// Actions the API accepts today, with their owner. Filing is `POST /cases`.
pub const ACTIONS: &[(&str, Owner)] = &[
    ("sign", Owner::Routing),
    ("reply", Owner::Routing),
    ("callback", Owner::Intake),
    ("close", Owner::Intake),
    ("annotate", Owner::Intake),
    ("reveal", Owner::Intake),
    ("erase", Owner::Intake),
];

pub fn owner(action: &str) -> Option<Owner> {
    ACTIONS.iter().find(|(a, _)| *a == action).map(|(_, o)| *o)
}

/// Parses an action's body; errors name the field.
pub fn parse(action: &str, body: &serde_json::Value) -> Result<Command, Problem> {
    match action {
        "sign" => {
            expect_empty(body)?;
            Ok(Command::Sign)
        }
        "reply" => Ok(Command::Reply(from_body::<Reply>(action, body)?)),
        "callback" => Ok(Command::RecordCallback(from_body::<RecordCallback>(
            action, body,
        )?)),
        "close" => Ok(Command::Close(from_body::<Close>(action, body)?)),
        "annotate" => Ok(Command::Annotate(from_body::<Annotate>(action, body)?)),
        "reveal" => Ok(Command::RevealPersonalData(from_body::<Reason>(
            action, body,
        )?)),
        "erase" => Ok(Command::ErasePersonalData(from_body::<Reason>(
            action, body,
        )?)),
        other => Err(unknown_action(other)),
    }
}

pub fn unknown_action(action: &str) -> Problem {
    let known: Vec<&str> = ACTIONS.iter().map(|(a, _)| *a).collect();
    Problem::new(
        404,
        "unknown-action",
        "Unknown action",
        format!(
            "unknown action {action:?}; known actions: {}",
            known.join(", ")
        ),
    )
}

fn expect_empty(body: &serde_json::Value) -> Result<(), Problem> {
    match body {
        serde_json::Value::Null => Ok(()),
        serde_json::Value::Object(m) if m.is_empty() => Ok(()),
        serde_json::Value::Object(m) => Err(Problem::unprocessable(format!(
            "unknown field {:?}: this action takes an empty body",
            m.keys().next().expect("non-empty")
        ))),
        _ => Err(Problem::unprocessable("the body must be a JSON object")),
    }
}

/// Deserializes a body, naming the offending field in the error.
pub fn from_body<T: DeserializeOwned>(what: &str, body: &serde_json::Value) -> Result<T, Problem> {
    let body = if body.is_null() {
        serde_json::Value::Object(Default::default())
    } else {
        body.clone()
    };
    serde_json::from_value(body).map_err(|e| Problem::unprocessable(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_parse_and_errors_name_the_field() {
        assert!(matches!(parse("sign", &json!({})), Ok(Command::Sign)));
        assert!(parse("reply", &json!({"result": "resolved", "text": "ok"})).is_ok());
        let p = parse("reply", &json!({"result": "done", "text": "ok"})).unwrap_err();
        assert_eq!(p.status, 422);
        assert!(p.detail.contains("unknown variant `done`"), "{}", p.detail);
        let p = parse("callback", &json!({"resolved": true})).unwrap_err();
        assert!(
            p.detail.contains("missing field `satisfaction`"),
            "{}",
            p.detail
        );
        let p = parse("fly", &json!({})).unwrap_err();
        assert_eq!((p.status, p.slug.as_str()), (404, "unknown-action"));
        assert_eq!(owner("sign"), Some(Owner::Routing));
        assert_eq!(owner("callback"), Some(Owner::Intake));
    }
}
