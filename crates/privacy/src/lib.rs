//! Personal data that an append-only log can forget (crypto-shredding).
//!
//! Each case has a random 256-bit data key in the NATS KV bucket `CASEGRID_KEYS`
//! (history 1; unlike the stream it allows deletion). Sensitive fields are sealed
//! with ChaCha20-Poly1305 under that key, bound to the case and the field name, before
//! they enter an event. Erasing the key erases the person from every replay while the
//! hash chain, which covers only ciphertext, still verifies.
//!
//! - [`KeyVault`]: create, fetch and erase case keys.
//! - [`DataKey::seal`] / [`DataKey::open`]: the AEAD on one field;
//!   [`DataKey::seal_free_texts`]: the numbers typed in a command's free texts.

use async_nats::jetstream::{self, kv};
use base64::Engine;
use casegrid_domain::personal::Sealed;
use casegrid_domain::CaseId;
use casegrid_runtime::batch::{Answer, BatchConfig, Batcher};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use std::sync::Arc;

pub const BUCKET: &str = "CASEGRID_KEYS";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// The key store did not answer: retry later.
    #[error("key store unavailable: {0}")]
    Unavailable(String),
    /// The key bucket does not exist: the NATS admin creates it.
    #[error("{0}")]
    Missing(String),
    /// The case's key was erased (or never existed): its personal data is gone.
    #[error("the data key of case {0} is erased")]
    Erased(CaseId),
    /// A sealed value does not open under its key (tampered, or another case's).
    #[error("sealed {field} of case {case_id} does not open")]
    Undecryptable { case_id: CaseId, field: String },
}

/// A case's data key. Never printed, never logged.
#[derive(Clone)]
pub struct DataKey {
    case_id: CaseId,
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({}, [redacted])", self.case_id)
    }
}

impl DataKey {
    fn from_bytes(case_id: CaseId, bytes: &[u8]) -> Option<Self> {
        (bytes.len() == 32).then(|| Self {
            case_id,
            cipher: ChaCha20Poly1305::new(Key::from_slice(bytes)),
        })
    }

    fn aad(&self, field: &str) -> String {
        format!("casegrid/{}/{field}", self.case_id)
    }

    /// Seals `clear` as field `field` of this case; `masked` is what anyone may see.
    pub fn seal(&self, field: &str, clear: &str, masked: String) -> Sealed {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = self.aad(field);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: clear.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("encryption of a short field cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Sealed {
            masked,
            sealed: base64::engine::general_purpose::STANDARD.encode(out),
        }
    }

    /// Masks the phones, ID and card numbers in the free texts of `command` and seals
    /// them with this key under `<text>.v<version>#<i>`
    /// ([`casegrid_domain::personal::seal_free_texts`]): the one sealing of free texts,
    /// for live actions ([`KeyVault::seal_free_texts`]) and imported histories alike.
    pub fn seal_free_texts(&self, version: u64, command: &mut casegrid_domain::Command) {
        casegrid_domain::personal::seal_free_texts(command, version, |field, clear, masked| {
            self.seal(field, clear, masked)
        });
    }

    /// Opens a sealed field of this case.
    pub fn open(&self, field: &str, sealed: &Sealed) -> Result<String, PrivacyError> {
        let fail = || PrivacyError::Undecryptable {
            case_id: self.case_id,
            field: field.to_owned(),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&sealed.sealed)
            .map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let aad = self.aad(field);
        let clear = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| fail())?;
        String::from_utf8(clear).map_err(|_| fail())
    }
}

/// The KV bucket of case data keys.
#[derive(Clone)]
pub struct KeyVault {
    store: kv::Store,
    /// Group commit of new keys ([`Self::with_group_commit`]); `None`: one request each.
    batcher: Option<Arc<Batcher>>,
}

impl KeyVault {
    /// Creates the bucket when absent (file storage, history 1), or opens it: the one
    /// place it is made, for the NATS admin. Services [`Self::attach`].
    pub async fn create(admin: async_nats::Client, replicas: usize) -> Result<Self, PrivacyError> {
        let js = jetstream::new(admin);
        let unavailable = |e: &dyn std::fmt::Display| PrivacyError::Unavailable(e.to_string());
        let mut store = match js.get_key_value(BUCKET).await {
            Ok(s) => s,
            Err(_) => js
                .create_key_value(kv::Config {
                    bucket: BUCKET.into(),
                    history: 1,
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: replicas,
                    ..Default::default()
                })
                .await
                .map_err(|e| unavailable(&e))?,
        };
        // New keys of many filings go in one atomic batch (group commit).
        let mut config = store.stream.cached_info().config.clone();
        if !config.allow_atomic_publish {
            tracing::info!(
                bucket = BUCKET,
                "allowing atomic batch publish on the key bucket"
            );
            config.allow_atomic_publish = true;
            js.update_stream(config)
                .await
                .map_err(|e| unavailable(&e))?;
            // Opened again, so the store's cached configuration says so.
            store = js
                .get_key_value(BUCKET)
                .await
                .map_err(|e| unavailable(&e))?;
        }
        Ok(Self {
            store,
            batcher: None,
        })
    }

    /// Like [`Self::create`] (kept for the tools and tests that open a fresh server).
    pub async fn open(client: async_nats::Client, replicas: usize) -> Result<Self, PrivacyError> {
        Self::create(client, replicas).await
    }

    /// Opens the existing bucket without ever creating it: what intake and routing do.
    pub async fn attach(client: async_nats::Client) -> Result<Self, PrivacyError> {
        let js = jetstream::new(client);
        match js.get_key_value(BUCKET).await {
            Ok(store) => Ok(Self {
                store,
                batcher: None,
            }),
            Err(e) if casegrid_runtime::nats::is_stream_not_found(&e) => {
                Err(PrivacyError::Missing(format!(
                    "the key bucket {BUCKET} does not exist; the NATS admin creates it \
                     (`casegrid dev` does at start; on a deployment run the init tool as the admin user)"
                )))
            }
            Err(e) => Err(PrivacyError::Unavailable(format!(
                "the key bucket {BUCKET} cannot be opened ({e})"
            ))),
        }
    }

    /// New keys of concurrent filings are gathered into JetStream atomic batches
    /// ([`casegrid_runtime::batch`], the `[eventlog] batch_*` settings), one fsync for
    /// many keys, when the bucket allows them (`casegrid init` turns it on) and the
    /// window is not 0. Must be called inside a Tokio runtime.
    pub fn with_group_commit(mut self, client: async_nats::Client, config: BatchConfig) -> Self {
        let atomic = self.store.stream.cached_info().config.allow_atomic_publish;
        if !atomic {
            tracing::warn!(bucket = BUCKET, "the key bucket does not allow atomic batches: every new key is its own request (run `casegrid init` as the NATS admin to allow them)");
        }
        if atomic && !config.window.is_zero() {
            let js = jetstream::new(client.clone());
            self.batcher = Some(Arc::new(Batcher::spawn(client, js, config, true)));
        }
        self
    }

    /// `(batches, batched messages)` the key group commit published since start.
    pub fn batch_counters(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.batcher.as_ref().map_or((0, 0), |b| {
            (
                b.counters.batches.load(Relaxed),
                b.counters.batched_messages.load(Relaxed),
            )
        })
    }

    fn key_name(case_id: CaseId) -> String {
        format!("case.{case_id}")
    }

    /// Masks the phones, ID and card numbers in the free texts of `command` (a note, a
    /// reply, a progress report, an answer at intake) and seals them under the case's key
    /// (created when absent), named with `version`, the one the event will likely get.
    /// Touches no key when the texts hold none.
    pub async fn seal_free_texts(
        &self,
        case_id: CaseId,
        version: u64,
        command: &mut casegrid_domain::Command,
    ) -> Result<(), PrivacyError> {
        if !casegrid_domain::personal::holds_personal_text(command) {
            return Ok(());
        }
        let key = self.key_for_filing(case_id).await?;
        key.seal_free_texts(version, command);
        Ok(())
    }

    /// The case's key, created when absent (a retried filing finds the first one).
    pub async fn key_for_filing(&self, case_id: CaseId) -> Result<DataKey, PrivacyError> {
        let fresh = ChaCha20Poly1305::generate_key(&mut OsRng);
        if let Some(batcher) = &self.batcher {
            // Created only when the subject holds nothing yet (expected sequence 0);
            // anything else (the key exists, was erased, or the batch's outcome is
            // unknown) takes the one-request path below, which knows each case.
            let subject = format!(
                "{}{}",
                self.store.put_prefix.as_ref().unwrap_or(&self.store.prefix),
                Self::key_name(case_id)
            );
            let payload = bytes::Bytes::copy_from_slice(&fresh);
            let msg_id = format!("key:{case_id}:{}", key_tag(&fresh));
            if let Ok(Answer {
                duplicate: false, ..
            }) = batcher.publish(subject, payload, msg_id, 0).await
            {
                return Ok(DataKey::from_bytes(case_id, &fresh).expect("32-byte key"));
            }
        }
        match self
            .store
            .create(
                Self::key_name(case_id),
                bytes::Bytes::copy_from_slice(&fresh),
            )
            .await
        {
            Ok(_) => Ok(DataKey::from_bytes(case_id, &fresh).expect("32-byte key")),
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => self.key(case_id).await,
            Err(e) => Err(PrivacyError::Unavailable(e.to_string())),
        }
    }

    /// The keys of many new cases at once (`casegrid import`): created in JetStream
    /// atomic batches of up to [`casegrid_runtime::batch::SERVER_MAX_BATCH`], each key
    /// only where its subject holds nothing, so one fsync covers a thousand keys. A batch
    /// the server refuses (a key exists already: an earlier run stopped between keys and
    /// events) or whose outcome is unknown is done key by key by
    /// [`Self::key_for_filing`], which finds a stored key. Four batches go at once; answers
    /// in the order of `ids`.
    pub async fn keys_for_filings(
        &self,
        client: &async_nats::Client,
        ids: &[CaseId],
    ) -> Result<Vec<DataKey>, PrivacyError> {
        use casegrid_runtime::batch::{publish_atomic, BatchOutcome, Staged, SERVER_MAX_BATCH};
        use futures_util::{stream, StreamExt, TryStreamExt};
        let atomic = self.store.stream.cached_info().config.allow_atomic_publish;
        let prefix = self.store.put_prefix.as_ref().unwrap_or(&self.store.prefix);
        let batches: Vec<Vec<DataKey>> = stream::iter(ids.chunks(SERVER_MAX_BATCH))
            .map(|chunk| async move {
                let fresh: Vec<_> = chunk
                    .iter()
                    .map(|_| ChaCha20Poly1305::generate_key(&mut OsRng))
                    .collect();
                let messages: Vec<(String, bytes::Bytes, String)> = chunk
                    .iter()
                    .zip(&fresh)
                    .map(|(id, k)| {
                        (
                            format!("{prefix}{}", Self::key_name(*id)),
                            bytes::Bytes::copy_from_slice(k),
                            format!("key:{id}:{}", key_tag(k)),
                        )
                    })
                    .collect();
                let staged: Vec<Staged<'_>> = messages
                    .iter()
                    .map(|(subject, payload, msg_id)| Staged {
                        subject,
                        payload,
                        msg_id,
                        expected: Some(0),
                    })
                    .collect();
                let stored = atomic
                    && staged.len() > 1
                    && matches!(
                        publish_atomic(client, &staged).await,
                        BatchOutcome::Stored { count, .. } if count == staged.len() as u64
                    );
                if stored {
                    Ok(chunk
                        .iter()
                        .zip(&fresh)
                        .map(|(id, k)| DataKey::from_bytes(*id, k).expect("32-byte key"))
                        .collect())
                } else {
                    stream::iter(chunk.iter().copied())
                        .map(|id| self.key_for_filing(id))
                        .buffered(64)
                        .try_collect()
                        .await
                }
            })
            .buffered(4)
            .try_collect()
            .await?;
        let keys = batches.into_iter().flatten().collect();
        Ok(keys)
    }

    /// The case's key; `Erased` when it was deleted.
    pub async fn key(&self, case_id: CaseId) -> Result<DataKey, PrivacyError> {
        match self.store.get(Self::key_name(case_id)).await {
            Ok(Some(bytes)) => {
                DataKey::from_bytes(case_id, &bytes).ok_or(PrivacyError::Erased(case_id))
            }
            Ok(None) => Err(PrivacyError::Erased(case_id)),
            Err(e) => Err(PrivacyError::Unavailable(e.to_string())),
        }
    }

    /// Erases the case's key for good (purging its history).
    pub async fn erase(&self, case_id: CaseId) -> Result<(), PrivacyError> {
        self.store
            .purge(Self::key_name(case_id))
            .await
            .map_err(|e| PrivacyError::Unavailable(e.to_string()))
    }
}

/// A message id part unique to this fresh key (its first 8 bytes in hex), so a
/// duplicate never stands for another key.
fn key_tag(fresh: &[u8]) -> String {
    fresh.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(case: &str) -> DataKey {
        let id = CaseId::for_filing("op", case);
        DataKey::from_bytes(id, &ChaCha20Poly1305::generate_key(&mut OsRng)).unwrap()
    }

    #[test]
    fn sealed_fields_open_only_as_themselves() {
        let k = key("a");
        let s = k.seal("reporter.phone", "13800001234", "138****1234".into());
        assert!(!s.sealed.contains("13800001234"));
        assert_eq!(k.open("reporter.phone", &s).unwrap(), "13800001234");
        assert!(k.open("reporter.name", &s).is_err(), "bound to the field");
        assert!(
            key("b").open("reporter.phone", &s).is_err(),
            "bound to the key"
        );
    }
}
