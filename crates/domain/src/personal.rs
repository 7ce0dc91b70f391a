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

/// The reporter of a case, as stored in `CaseFiled`. Absent for anonymous suggestions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reporter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Sealed>,
}

impl Reporter {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none()
    }
}
