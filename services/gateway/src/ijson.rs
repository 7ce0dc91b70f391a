//! I-JSON (RFC 7493) at the edge: every JSON body the gateway forwards is checked here
//! before anything is sent to a service, so no float, no integer beyond ±(2^53 − 1),
//! no duplicate object member and no lone surrogate ever reaches a key, an event or
//! the log's canonical form (RFC 8785 has no single answer for them; DESIGN.md:
//! "Payloads are I-JSON").
//!
//! A number whose fraction is all zeros (`2.0`, no exponent) is that integer: JSON
//! Schema reads it so (schemathesis sends one for every `integer`), and
//! [`whole_numbers_as_integers`] forwards it as `2`, so still no float reaches an event.
//!
//! [`check`] walks the raw bytes once (serde_json's `Value` would already have lost
//! the number text, the duplicates and the escapes) and names the first offending
//! member by its JSON pointer (RFC 6901: `/source/lat`, `/parties/1/name`). Bytes that
//! are not JSON at all are left to serde_json, whose message says where.

use std::collections::HashSet;
use std::fmt;

/// Largest magnitude of an integer I-JSON may carry: 2^53 − 1.
const MAX_SAFE: u64 = (1 << 53) - 1;
/// Deeper nesting is refused (a stack guard; no case body comes near it).
const MAX_DEPTH: usize = 64;

/// Why a body is not I-JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A number with a fraction or an exponent.
    Float { pointer: String, text: String },
    /// An integer beyond ±(2^53 − 1).
    TooLarge { pointer: String, text: String },
    /// A member name given twice in one object.
    DuplicateKey { pointer: String },
    /// A `\uD800`–`\uDFFF` escape without its other half.
    LoneSurrogate { pointer: String },
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep { pointer: String },
}

impl Violation {
    /// The JSON pointer of the offending member (`""` is the whole body).
    #[cfg(test)]
    pub(crate) fn pointer(&self) -> &str {
        match self {
            Self::Float { pointer, .. }
            | Self::TooLarge { pointer, .. }
            | Self::DuplicateKey { pointer }
            | Self::LoneSurrogate { pointer }
            | Self::TooDeep { pointer } => pointer,
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |p: &str| {
            if p.is_empty() {
                "/".to_owned()
            } else {
                p.to_owned()
            }
        };
        match self {
            Self::Float { pointer, text } => write!(
                f,
                "{}: {text} is not an integer; casegrid takes no floating-point numbers \
                 (send a string, or an integer in smaller units)",
                at(pointer)
            ),
            Self::TooLarge { pointer, text } => write!(
                f,
                "{}: {text} is beyond ±9007199254740991 (2^53 − 1), the largest integer \
                 every JSON reader keeps exactly; send it as a string",
                at(pointer)
            ),
            Self::DuplicateKey { pointer } => {
                write!(
                    f,
                    "{}: the member is given twice in one object",
                    at(pointer)
                )
            }
            Self::LoneSurrogate { pointer } => write!(
                f,
                "{}: a \\uD800–\\uDFFF escape without its other half is no character",
                at(pointer)
            ),
            Self::TooDeep { pointer } => {
                write!(f, "{}: nested deeper than {MAX_DEPTH} levels", at(pointer))
            }
        }
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// I-JSON (or not JSON at all: serde_json reports that).
    Fine,
    Violation(Violation),
}

/// The numbers of a checked body that serde_json read as floats are whole (`2.0`,
/// [`check`] let no other through): made the integers they are.
pub(crate) fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                // Whole and within ±(2^53 − 1): exact as i64.
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        serde_json::Value::Object(members) => {
            members.values_mut().for_each(whole_numbers_as_integers)
        }
        _ => {}
    }
}

/// Checks that `bytes`, if they are JSON, are I-JSON.
pub(crate) fn check(bytes: &[u8]) -> Outcome {
    let mut s = Scanner {
        bytes,
        at: 0,
        path: Vec::new(),
    };
    s.ws();
    match s.value() {
        Ok(()) => Outcome::Fine,
        Err(Stop::Syntax) => Outcome::Fine,
        Err(Stop::Violation(v)) => Outcome::Violation(v),
    }
}

enum Stop {
    /// Not JSON: left to serde_json.
    Syntax,
    Violation(Violation),
}

type Step<T = ()> = Result<T, Stop>;

enum Segment {
    Key(String),
    Index(usize),
}

struct Scanner<'b> {
    bytes: &'b [u8],
    at: usize,
    path: Vec<Segment>,
}

impl Scanner<'_> {
    fn pointer(&self) -> String {
        let mut out = String::new();
        for s in &self.path {
            out.push('/');
            match s {
                Segment::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Step {
        if self.peek() == Some(b) {
            self.at += 1;
            Ok(())
        } else {
            Err(Stop::Syntax)
        }
    }

    fn value(&mut self) -> Step {
        if self.path.len() > MAX_DEPTH {
            return Err(Stop::Violation(Violation::TooDeep {
                pointer: self.pointer(),
            }));
        }
        match self.peek().ok_or(Stop::Syntax)? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => Err(Stop::Syntax),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Step {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(Stop::Syntax)
        }
    }

    fn object(&mut self) -> Step {
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        let mut seen = HashSet::new();
        loop {
            self.ws();
            let key = self.string()?;
            self.path.push(Segment::Key(key.clone()));
            if !seen.insert(key) {
                return Err(Stop::Violation(Violation::DuplicateKey {
                    pointer: self.pointer(),
                }));
            }
            self.ws();
            self.eat(b':')?;
            self.ws();
            self.value()?;
            self.path.pop();
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Syntax),
            }
        }
    }

    fn array(&mut self) -> Step {
        self.eat(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        let mut index = 0;
        loop {
            self.ws();
            self.path.push(Segment::Index(index));
            self.value()?;
            self.path.pop();
            index += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Syntax),
            }
        }
    }

    fn hex4(&mut self) -> Step<u32> {
        let digits = self.bytes.get(self.at..self.at + 4).ok_or(Stop::Syntax)?;
        let text = std::str::from_utf8(digits).map_err(|_| Stop::Syntax)?;
        let v = u32::from_str_radix(text, 16).map_err(|_| Stop::Syntax)?;
        self.at += 4;
        Ok(v)
    }

    /// A string, decoded (member names are compared decoded: `"a"` and `"\u0061"` are
    /// the same name).
    fn string(&mut self) -> Step<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let b = self.peek().ok_or(Stop::Syntax)?;
            self.at += 1;
            match b {
                b'"' => return String::from_utf8(out).map_err(|_| Stop::Syntax),
                b'\\' => {
                    let e = self.peek().ok_or(Stop::Syntax)?;
                    self.at += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.escaped_char()?,
                        _ => return Err(Stop::Syntax),
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(Stop::Syntax),
                _ => out.push(b),
            }
        }
    }

    /// After `\u`: one character, from a pair of surrogates where needed.
    fn escaped_char(&mut self) -> Step<char> {
        let lone = |s: &Self| {
            Stop::Violation(Violation::LoneSurrogate {
                pointer: s.pointer(),
            })
        };
        let first = self.hex4()?;
        match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(lone(self));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(lone(self));
                }
                let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                char::from_u32(c).ok_or(Stop::Syntax)
            }
            0xDC00..=0xDFFF => Err(lone(self)),
            c => char::from_u32(c).ok_or(Stop::Syntax),
        }
    }

    fn number(&mut self) -> Step {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        if self.at == digits {
            return Err(Stop::Syntax);
        }
        let whole = self.at;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                // `2.0`, `2.000`: the integer 2.
                float |= self.peek() != Some(b'0');
                self.at += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            float = true;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.at += 1;
            }
        }
        let text = String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned();
        if float {
            return Err(Stop::Violation(Violation::Float {
                pointer: self.pointer(),
                text,
            }));
        }
        let magnitude = &self.bytes[digits..whole];
        let too_large = magnitude.len() > 16
            || std::str::from_utf8(magnitude)
                .ok()
                .and_then(|m| m.parse::<u64>().ok())
                .is_none_or(|m| m > MAX_SAFE);
        if too_large {
            return Err(Stop::Violation(Violation::TooLarge {
                pointer: self.pointer(),
                text,
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(body: &str) -> Option<Violation> {
        match check(body.as_bytes()) {
            Outcome::Fine => None,
            Outcome::Violation(v) => Some(v),
        }
    }

    #[test]
    fn i_json_passes() {
        for body in [
            r#"{}"#,
            r#"{"a": [1, -2, 0, 9007199254740991, -9007199254740991], "b": {"c": null}}"#,
            r#"{"s": "\ud83d\ude00 \u0041 \n 噪音", "t": true, "f": false}"#,
            r#"  {"x": ["a", {"x": 1}], "y": {"x": 2}}  "#,
        ] {
            assert_eq!(violation(body), None, "{body}");
        }
    }

    #[test]
    fn floats_are_named_by_pointer() {
        let v = violation(r#"{"title": "t", "source": {"lat": 30.25}}"#).unwrap();
        assert_eq!(
            v,
            Violation::Float {
                pointer: "/source/lat".into(),
                text: "30.25".into()
            }
        );
        assert!(v
            .to_string()
            .starts_with("/source/lat: 30.25 is not an integer"));
        assert_eq!(violation(r#"{"a": [0, 1e3]}"#).unwrap().pointer(), "/a/1");
        assert_eq!(violation(r#"{"a": 1.05}"#).unwrap().pointer(), "/a");
        assert_eq!(violation(r#"{"a": 2.0e0}"#).unwrap().pointer(), "/a");
    }

    /// JSON Schema's `integer` takes `2.0` (schemathesis sends it for every integer):
    /// it is the integer 2, forwarded as `2`; beyond 2^53 − 1 it is still too large.
    #[test]
    fn whole_numbers_are_integers() {
        let body = r#"{"score": 5.0, "source": {"n": [-3.000, 9007199254740991.0, 0.0]}}"#;
        assert_eq!(violation(body), None);
        let mut value: serde_json::Value = serde_json::from_str(body).unwrap();
        whole_numbers_as_integers(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"score": 5, "source": {"n": [-3, 9007199254740991_i64, 0]}})
        );
        assert_eq!(
            value.to_string(),
            r#"{"score":5,"source":{"n":[-3,9007199254740991,0]}}"#
        );
        assert!(matches!(
            violation(r#"{"n": 9007199254740992.0}"#),
            Some(Violation::TooLarge { .. })
        ));
    }

    #[test]
    fn large_integers_duplicates_and_lone_surrogates_are_refused() {
        assert!(matches!(
            violation(r#"{"n": 9007199254740992}"#),
            Some(Violation::TooLarge { .. })
        ));
        assert!(matches!(
            violation(r#"{"n": -123456789012345678901234567890}"#),
            Some(Violation::TooLarge { .. })
        ));
        assert_eq!(
            violation(r#"{"a": {"b": 1, "b": 2}}"#),
            Some(Violation::DuplicateKey {
                pointer: "/a/b".into()
            })
        );
        assert_eq!(
            violation(r#"{"a": 1, "\u0061": 2}"#),
            Some(Violation::DuplicateKey {
                pointer: "/a".into()
            }),
            "names are compared decoded"
        );
        assert_eq!(
            violation(r#"{"reporter": {"name": "\ud800"}}"#),
            Some(Violation::LoneSurrogate {
                pointer: "/reporter/name".into()
            })
        );
        assert!(violation(r#"{"x": "\udc00"}"#).is_some());
        assert!(violation(r#"{"x": "\ud800\u0041"}"#).is_some());
        assert_eq!(
            violation(r#"{"a/b~c": 1.5}"#).unwrap().pointer(),
            "/a~1b~0c"
        );
    }

    #[test]
    fn not_json_is_left_to_serde() {
        for body in ["", "{", r#"{"a" 1}"#, "[1,]", "nul", r#"{"a": 01.5"#] {
            let _ = check(body.as_bytes());
        }
        assert_eq!(check(b"{\"a\": }"), Outcome::Fine);
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(matches!(
            check(deep.as_bytes()),
            Outcome::Violation(Violation::TooDeep { .. })
        ));
    }
}
