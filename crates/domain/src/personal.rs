//! Personal data as it may enter the append-only log: a masked form anyone may read
//! and a ciphertext that only the case's data key opens (crypto-shredding).

use serde::{Deserialize, Serialize};

/// One sensitive field: `masked` is safe to show (`138****1234`), `sealed` is the
/// AEAD ciphertext (base64 of nonce ‖ ciphertext) under the case's data key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub masked: String,
    pub sealed: String,
}

/// What every read path shows for a personal field once its case's key is erased.
pub const ERASED: &str = "[erased]";

/// The reporter of a case, as stored in `CaseFiled`. Absent for anonymous suggestions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Sealed>,
    /// 身份证号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<Sealed>,
    /// A home address (the incident's location is not personal and stays in clear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Sealed>,
}

impl Reporter {
    pub fn is_empty(&self) -> bool {
        self.fields().next().is_none()
    }

    /// The sealed fields present, with their names (`reporter.phone`, …), which are
    /// also the associated data they are sealed under.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &Sealed)> {
        [
            ("reporter.name", &self.name),
            ("reporter.phone", &self.phone),
            ("reporter.id_number", &self.id_number),
            ("reporter.address", &self.address),
        ]
        .into_iter()
        .filter_map(|(name, field)| field.as_ref().map(|f| (name, f)))
    }
}

/// The one walker over personal data in JSON (event data, a folded state): every
/// `sealed` member goes, at any depth, so only masked values remain; with `erased`
/// (the case's data key is deleted) every `masked` value reads [`ERASED`] too. Answers
/// the masked values it erased, for texts that may quote them (summaries).
pub fn strip_sealed(value: &mut serde_json::Value, erased: bool) -> Vec<String> {
    let mut was = Vec::new();
    walk(value, erased, &mut was);
    was
}

fn walk(value: &mut serde_json::Value, erased: bool, was: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(members) => {
            members.remove("sealed");
            for (name, member) in members.iter_mut() {
                match member {
                    serde_json::Value::String(masked) if erased && name == "masked" => {
                        was.push(std::mem::replace(masked, ERASED.to_owned()));
                    }
                    other => walk(other, erased, was),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| walk(v, erased, was)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sealed_members_go_at_any_depth_and_erasure_blanks_masked_values() {
        let data = json!({"reporter": {"phone": {"masked": "138****1234", "sealed": "AbC"}},
            "parties": [{"name": {"masked": "王**", "sealed": "x"}, "keep": 1}]});
        let mut kept = data.clone();
        assert!(strip_sealed(&mut kept, false).is_empty());
        assert_eq!(
            kept,
            json!({"reporter": {"phone": {"masked": "138****1234"}},
                "parties": [{"name": {"masked": "王**"}, "keep": 1}]})
        );
        let mut erased = data;
        let mut was = strip_sealed(&mut erased, true);
        was.sort();
        assert_eq!(was, ["138****1234", "王**"]);
        assert_eq!(
            erased,
            json!({"reporter": {"phone": {"masked": ERASED}},
                "parties": [{"name": {"masked": ERASED}, "keep": 1}]})
        );
    }
}
