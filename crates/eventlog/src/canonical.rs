//! RFC 8785 JSON Canonicalization Scheme for the values casegrid stores: members
//! sorted by their UTF-16 code units, no whitespace, strings escaped as ECMAScript
//! does (which is what `serde_json` writes), integers only (events hold no floats).

use serde_json::Value;

/// A value that has no canonical form here: a floating-point number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("floating-point number {0} in an event; events hold integers or strings only")]
pub struct NotCanonical(pub String);

/// The canonical text of `value`.
pub fn to_canonical(value: &Value) -> Result<String, NotCanonical> {
    let mut out = String::with_capacity(512);
    write(value, &mut out)?;
    Ok(out)
}

/// The canonical text of the object `value` without its member `except` (the form a
/// hash is taken over), written without copying the value.
pub fn to_canonical_except(value: &Value, except: &str) -> Result<String, NotCanonical> {
    let Value::Object(members) = value else {
        return to_canonical(value);
    };
    let mut out = String::with_capacity(512);
    write_members(
        members.iter().filter(|(k, _)| k.as_str() != except),
        &mut out,
    )?;
    Ok(out)
}

fn write_members<'a>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut String,
) -> Result<(), NotCanonical> {
    let mut members: Vec<(&String, &Value)> = members.collect();
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write(value, out)?;
    }
    out.push('}');
    Ok(())
}

fn write(value: &Value, out: &mut String) -> Result<(), NotCanonical> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(NotCanonical(n.to_string()));
            }
            out.push_str(&n.to_string());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out)?;
            }
            out.push(']');
        }
        Value::Object(members) => write_members(members.iter(), out)?,
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_members_and_drops_whitespace() {
        let v = json!({"b": [1, {"z": null, "a": true}], "a": "x"});
        assert_eq!(
            to_canonical(&v).unwrap(),
            r#"{"a":"x","b":[1,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn sorts_by_utf16_code_units_not_bytes() {
        // In UTF-8 U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80); in UTF-16
        // the surrogate D83D sorts before FF21, as RFC 8785 requires.
        let v = json!({"\u{FF21}": 2, "\u{1F600}": 1});
        assert_eq!(
            to_canonical(&v).unwrap(),
            "{\"\u{1F600}\":1,\"\u{FF21}\":2}"
        );
    }

    #[test]
    fn escapes_like_ecmascript() {
        let v = json!("a\"b\\c\n\u{1}é/王");
        assert_eq!(to_canonical(&v).unwrap(), "\"a\\\"b\\\\c\\n\\u0001é/王\"");
    }

    #[test]
    fn refuses_floats() {
        assert!(to_canonical(&json!({"score": 1.5})).is_err());
        assert_eq!(to_canonical(&json!(-42)).unwrap(), "-42");
    }
}
