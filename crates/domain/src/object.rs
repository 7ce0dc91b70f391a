//! serde reads a struct from a JSON array too (its fields in order: `[null, null]` is a
//! reporter with no name and no phone); a body member that is an object in the API
//! document must be one. `#[serde(deserialize_with = "…::object::object")]` on such a
//! member (an `Option` of a struct takes `null` too), `objects` on a list of them.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Value;

fn from_object<T: serde::de::DeserializeOwned, E: Error>(value: Value) -> Result<T, E> {
    match value {
        Value::Object(_) | Value::Null => T::deserialize(value).map_err(E::custom),
        other => Err(E::custom(format!(
            "invalid type: {}, expected an object",
            kind(&other)
        ))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A member that must be a JSON object (or `null`, for an `Option`).
pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    from_object(Value::deserialize(d)?)
}

/// A list whose every item must be a JSON object.
pub fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(_) => from_object(item),
                other => Err(D::Error::custom(format!(
                    "[{i}]: invalid type: {}, expected an object",
                    kind(&other)
                ))),
            })
            .collect(),
        other => Err(D::Error::custom(format!(
            "invalid type: {}, expected a list",
            kind(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        #[serde(default)]
        a: Option<String>,
        #[serde(default)]
        b: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[serde(default, deserialize_with = "object")]
        one: Option<Inner>,
        #[serde(default, deserialize_with = "objects")]
        many: Vec<Inner>,
    }

    /// Plain serde takes `[null, null]` for a struct; these do not.
    #[test]
    fn a_struct_member_is_an_object_not_an_array() {
        assert!(serde_json::from_value::<Inner>(json!([null, null])).is_ok());
        let ok: Outer =
            serde_json::from_value(json!({"one": {"a": "x"}, "many": [{"b": "y"}]})).unwrap();
        assert_eq!(ok.one.unwrap().a.as_deref(), Some("x"));
        assert_eq!(ok.many[0].b.as_deref(), Some("y"));
        let none: Outer = serde_json::from_value(json!({"one": null})).unwrap();
        assert!(none.one.is_none());
        for bad in [
            json!({"one": [null, null]}),
            json!({"one": "x"}),
            json!({"many": [[null]]}),
            json!({"many": {"a": "x"}}),
        ] {
            let e = serde_json::from_value::<Outer>(bad.clone()).unwrap_err();
            assert!(e.to_string().contains("expected"), "{bad}: {e}");
        }
    }
}
