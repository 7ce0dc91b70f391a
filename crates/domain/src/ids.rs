//! Identifiers and small values that are parsed once at the edge and trusted after.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// Why a value could not be parsed; names the field and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ParseError {
    pub field: &'static str,
    pub problem: String,
}

impl ParseError {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Namespace of case ids derived from (principal, idempotency key), so that a
/// retried filing lands on the same case id.
const CASE_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a0e_4b7d_5c3e_9a41_7c2d_0e5b_8f13);

/// The identity of a case: a UUID, also the last token of its stream subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(Uuid);

impl CaseId {
    /// The case id a filing with this idempotency key by this principal gets.
    pub fn for_filing(principal: &str, idempotency_key: &str) -> Self {
        let name = format!("{principal}\u{1f}{idempotency_key}");
        Self(Uuid::new_v5(&CASE_NAMESPACE, name.as_bytes()))
    }

    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| ParseError::new("case_id", format!("{s:?} is not a UUID")))
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The id of a stream of events named by another UUID: a knowledge-base entry's
    /// envelopes carry its id here.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr, $expect:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, ParseError> {
                let check: fn(&str) -> bool = $check;
                if check(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(ParseError::new($field, format!("{s:?} is not {}", $expect)))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_dotted_lower(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

fn is_grid_code(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

string_id!(
    /// A department or street office, e.g. `dept.housing`, `street.hubin`.
    DepartmentId,
    "department",
    is_dotted_lower,
    "a unit id like dept.housing"
);
string_id!(
    /// A node of the grid tree, e.g. `NH.HB.BJ.03` (district.street.community.grid).
    GridCode,
    "grid",
    is_grid_code,
    "a grid code like NH.HB.BJ.03"
);
string_id!(
    /// A case category from the routing rules, e.g. `noise`.
    Category,
    "category",
    is_dotted_lower,
    "a category like noise"
);

impl GridCode {
    /// The codes from the root down to this one: `NH`, `NH.HB`, `NH.HB.BJ`, ...
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        let s = self.0.as_str();
        s.match_indices('.')
            .map(move |(i, _)| &s[..i])
            .chain(std::iter::once(s))
    }

    /// Whether this grid is the node `area` or lies below it ([`grid_within`]).
    pub fn is_within(&self, area: &str) -> bool {
        grid_within(self.as_str(), area)
    }
}

/// The one grid-prefix rule: `grid` is the node `area` or lies below it in the tree
/// (`NH.HB` holds `NH.HB.BJ.03`, never `NH.HBX.1`); a trailing `.` of `area` is
/// ignored. Routing rules' `grid_prefix`, scopes and list filters all mean this; the
/// read model says the same in SQL (`grid = area OR grid LIKE 'area.%'`).
pub fn grid_within(grid: &str, area: &str) -> bool {
    let area = area.trim_end_matches('.');
    grid.strip_prefix(area)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// A phone number as a citizen gives it: digits, optionally a leading `+`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let compact: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(compact))
        } else {
            Err(ParseError::new(
                "reporter.phone",
                format!("{s:?} is not a phone number (5 to 20 digits)"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `13800001234` → `138****1234`: the first three and last four digits stay. Masking
/// a masked value changes nothing, and the erased marker stays as it is, so an edge
/// may mask whatever a service sent.
pub fn mask_phone(phone: &str) -> String {
    if phone == crate::personal::ERASED {
        return phone.to_owned();
    }
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// `王女士` → `王**`: the first character stays (the family name).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => format!("{first}{}", "*".repeat(chars.count().max(1))),
        None => String::new(),
    }
}

/// `110101199003071234` → `110***********1234`; other texts keep only their first character.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// A home address keeps its first two characters (the district), nothing else.
pub fn mask_address(address: &str) -> String {
    let head: String = address.chars().take(2).collect();
    format!("{head}****")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_ancestors_run_from_root() {
        let g = GridCode::parse("NH.HB.BJ.03").unwrap();
        assert_eq!(
            g.ancestors().collect::<Vec<_>>(),
            ["NH", "NH.HB", "NH.HB.BJ", "NH.HB.BJ.03"]
        );
    }

    #[test]
    fn a_grid_lies_within_itself_and_its_ancestors_only() {
        assert!(grid_within("NH.HB.BJ.03", "NH"));
        assert!(grid_within("NH.HB.BJ.03", "NH.HB."));
        assert!(grid_within("NH.HB", "NH.HB"));
        assert!(!grid_within("NH.HBX.1", "NH.HB"));
        assert!(!grid_within("NH", "NH.HB"));
        let g = GridCode::parse("NH.HB.BJ.03").unwrap();
        assert!(g.ancestors().all(|a| g.is_within(a)));
    }

    #[test]
    fn ids_reject_bad_shapes() {
        assert!(DepartmentId::parse("Dept.Housing").is_err());
        assert!(DepartmentId::parse("dept..x").is_err());
        assert!(GridCode::parse("nh.hb").is_err());
        assert_eq!(
            PhoneNumber::parse("138-0000-1234").unwrap().as_str(),
            "13800001234"
        );
        assert!(PhoneNumber::parse("call me").is_err());
    }

    #[test]
    fn masks_keep_only_what_identifies_nobody() {
        assert_eq!(mask_phone("13800001234"), "138****1234");
        for phone in ["13800001234", "+8613800001234", "1234567", "12"] {
            let once = mask_phone(phone);
            assert_eq!(mask_phone(&once), once, "masking {phone} twice");
        }
        assert_eq!(mask_phone(crate::personal::ERASED), crate::personal::ERASED);
        assert_eq!(mask_name("王女士"), "王**");
        assert_eq!(mask_name("李"), "李*");
    }

    #[test]
    fn filing_ids_are_stable_per_principal_and_key() {
        let a = CaseId::for_filing("operator.zhang", "call-1");
        assert_eq!(a, CaseId::for_filing("operator.zhang", "call-1"));
        assert_ne!(a, CaseId::for_filing("operator.li", "call-1"));
    }
}
