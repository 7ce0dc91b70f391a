//! An RFC 8785 canonicalization written independently of the event log's, so the
//! chain is checked by a second implementation, as any auditor would.

use serde_json::Value;
use sha2::{Digest, Sha256};

pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            assert!(!n.is_f64(), "events hold no floats");
            n.to_string()
        }
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by_key(|k| k.encode_utf16().collect::<Vec<u16>>());
            let members: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", serde_json::to_string(k).unwrap(), canonical(&m[k])))
                .collect();
            format!("{{{}}}", members.join(","))
        }
    }
}

/// Recomputes every hash and link of a case's envelopes, as stored.
pub(crate) fn check_chain(envelopes: &[Value]) {
    let mut prev = "0".repeat(64);
    for (i, e) in envelopes.iter().enumerate() {
        assert_eq!(e["version"], (i + 1) as u64, "versions are contiguous");
        assert_eq!(
            e["prev_hash"],
            prev.as_str(),
            "version {} links to its predecessor",
            i + 1
        );
        let mut without = e.clone();
        without.as_object_mut().unwrap().remove("hash");
        let digest = Sha256::digest(canonical(&without).as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(e["hash"], hex.as_str(), "hash of version {}", i + 1);
        prev = hex;
    }
}
