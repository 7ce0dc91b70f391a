//! JSON Schemas (`schemars`, feature `schema`) of the values whose rules the domain owns
//! and serde cannot describe by itself: the ids' patterns and the status list. The
//! command bodies and event enums derive theirs; `casegrid_contracts` puts them into the
//! API document.

use crate::ids::{CaseId, Category, DepartmentId, GridCode};
use crate::kb::KbEntryId;
use crate::Status;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

/// A unit id or category: dotted lowercase words, 1 to 64 characters (`ids::is_dotted_lower`).
pub const DOTTED_LOWER: &str = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$";
/// A grid code: dotted uppercase words and digits (`ids::is_grid_code`).
pub const GRID_CODE: &str = r"^[A-Z0-9]+(\.[A-Z0-9]+)*$";

/// A text the domain refuses when blank (`Case::decide`'s `text` and `reason` checks).
pub const NOT_BLANK: &str = r"\S";

/// `Decline`: `text` (not blank) is required when `reason` is `other`.
pub fn decline_rule(schema: &mut Schema) {
    schema.insert(
        "anyOf".into(),
        serde_json::json!([
            { "properties": { "reason": { "not": { "const": "other" } } } },
            { "required": ["text"], "properties": { "text": { "type": "string", "pattern": NOT_BLANK } } },
        ]),
    );
}

macro_rules! string_schema {
    ($name:ident, $schema:expr) => {
        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

string_schema!(CaseId, json_schema!({ "type": "string", "format": "uuid" }));
string_schema!(
    KbEntryId,
    json_schema!({ "type": "string", "format": "uuid" })
);
string_schema!(
    DepartmentId,
    json_schema!({ "type": "string", "pattern": DOTTED_LOWER, "minLength": 1, "maxLength": 64 })
);
string_schema!(
    Category,
    json_schema!({ "type": "string", "pattern": DOTTED_LOWER, "minLength": 1, "maxLength": 64 })
);
string_schema!(
    GridCode,
    json_schema!({ "type": "string", "pattern": GRID_CODE, "minLength": 1, "maxLength": 64 })
);

impl JsonSchema for Status {
    fn schema_name() -> Cow<'static, str> {
        "Status".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Status::ALL.iter().map(Status::as_str).collect();
        json_schema!({ "type": "string", "enum": names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns say what the parsers accept.
    #[test]
    fn patterns_match_the_parsers() {
        let dotted = |s: &str| {
            let ok = s.len() <= 64
                && !s.is_empty()
                && s.split('.').all(|p| {
                    !p.is_empty()
                        && p.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                        })
                });
            assert_eq!(DepartmentId::parse(s).is_ok(), ok, "{s:?}");
            ok
        };
        for s in [
            "dept.housing",
            "a",
            "dept..x",
            ".x",
            "Dept.x",
            "x.",
            "a-b_c.9",
        ] {
            dotted(s);
        }
        assert!(GridCode::parse("NH.HB.03").is_ok() && GridCode::parse("NH..HB").is_err());
    }
}
