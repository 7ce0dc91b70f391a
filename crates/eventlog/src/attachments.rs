//! The attachment bucket: the files added to cases, in the NATS Object Store bucket
//! `CASEGRID_ATTACHMENTS`, one object per case and content hash (`<case id>/<sha256>`),
//! so erasing one case's personal file never touches another case's copy of the same
//! bytes.
//!
//! The admin creates the bucket ([`AttachmentStore::create`], from
//! [`crate::EventLog::bootstrap`]); the gateway puts and gets objects, intake gets and
//! deletes them (erasure); nobody else touches it (`casegrid_runtime::natsauth`).

use async_nats::jetstream::{self, object_store};
use casegrid_domain::CaseId;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// The Object Store bucket of attachments.
pub const BUCKET: &str = casegrid_runtime::natsauth::ATTACHMENTS_BUCKET;

/// Why the bucket could not answer.
#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    /// NATS is unreachable or did not answer: answer 503, retry later.
    #[error("the attachment bucket {BUCKET} is unavailable: {0}")]
    Unavailable(String),
    /// The bucket does not exist: the NATS admin creates it.
    #[error("the attachment bucket {BUCKET} does not exist; the NATS admin creates it (`casegrid dev` does at start; on a deployment run the init tool as the admin user)")]
    Missing,
}

fn unavailable(e: impl std::fmt::Display) -> AttachmentError {
    AttachmentError::Unavailable(e.to_string())
}

/// The object key of a case's file: `<case id>/<sha256>`.
pub fn object_key(case_id: CaseId, sha256: &str) -> String {
    format!("{case_id}/{sha256}")
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An object as stored: its size and the SHA-256 the store computed while writing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub size: u64,
    /// Lower-case hex, from the store's `SHA-256=<base64url>` digest.
    pub sha256: Option<String>,
}

/// The attachment bucket.
#[derive(Clone)]
pub struct AttachmentStore {
    store: object_store::ObjectStore,
}

impl AttachmentStore {
    /// Creates the bucket when absent (file storage), or opens it: for the NATS admin.
    pub async fn create(
        admin: async_nats::Client,
        replicas: usize,
    ) -> Result<Self, AttachmentError> {
        let js = jetstream::new(admin);
        if let Ok(store) = js.get_object_store(BUCKET).await {
            return Ok(Self { store });
        }
        let store = js
            .create_object_store(object_store::Config {
                bucket: BUCKET.into(),
                description: Some("files added to cases, under <case id>/<sha256>".into()),
                storage: jetstream::stream::StorageType::File,
                num_replicas: replicas,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        Ok(Self { store })
    }

    /// Opens the existing bucket without ever creating it: what the services do.
    pub async fn attach(client: async_nats::Client) -> Result<Self, AttachmentError> {
        let js = jetstream::new(client);
        let store = js.get_object_store(BUCKET).await.map_err(|e| {
            if casegrid_runtime::nats::is_stream_not_found(&e) {
                AttachmentError::Missing
            } else {
                unavailable(e)
            }
        })?;
        Ok(Self { store })
    }

    /// Stores `bytes` under `key`. A live object already there is kept (the key names
    /// its hash, so it holds these bytes).
    pub async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), AttachmentError> {
        if self.stored(key).await?.is_some() {
            return Ok(());
        }
        let mut reader = bytes;
        match self.store.put(key, &mut reader).await {
            Ok(_) => Ok(()),
            // A put over an erased object's tombstone stores the new object, then
            // tries to purge the old chunks, which the erasure already purged, and
            // which nobody but the admin and intake may purge.
            Err(e) if e.kind() == object_store::PutErrorKind::PurgeOldChunks => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The live object under `key`, if any (a deleted one answers `None`).
    pub async fn stored(&self, key: &str) -> Result<Option<StoredObject>, AttachmentError> {
        match self.store.info(key).await {
            Ok(info) if info.deleted => Ok(None),
            Ok(info) => Ok(Some(StoredObject {
                size: info.size as u64,
                sha256: info.digest.as_deref().and_then(digest_hex),
            })),
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// The bytes under `key`, if a live object is there.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AttachmentError> {
        let mut object = match self.store.get(key).await {
            Ok(o) => o,
            Err(e) if e.kind() == object_store::GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let mut bytes = Vec::with_capacity(object.info().size);
        object.read_to_end(&mut bytes).await.map_err(unavailable)?;
        Ok(Some(bytes))
    }

    /// Deletes the object under `key` (its chunks purged); a missing or already
    /// deleted one is no error, so a replayed erasure deletes again harmlessly.
    pub async fn delete(&self, key: &str) -> Result<(), AttachmentError> {
        if self.stored(key).await?.is_none() {
            return Ok(());
        }
        match self.store.delete(key).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == object_store::DeleteErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// `SHA-256=<base64url>` → lower-case hex.
fn digest_hex(digest: &str) -> Option<String> {
    use base64::Engine;
    let b64 = digest.strip_prefix("SHA-256=")?;
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(b64)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64))
        .ok()?;
    Some(raw.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stores_digest_reads_as_the_hex_the_event_records() {
        let hex = sha256_hex(b"test");
        use base64::Engine;
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let digest = format!(
            "SHA-256={}",
            base64::engine::general_purpose::URL_SAFE.encode(raw)
        );
        assert_eq!(digest_hex(&digest).as_deref(), Some(hex.as_str()));
        assert_eq!(
            hex,
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(digest_hex("MD5=abc"), None);
    }
}
