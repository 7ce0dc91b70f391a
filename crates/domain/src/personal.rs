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
