//! JWT bearer tokens (RFC 7519), the production way in: HS256 with a shared secret or
//! RS256 with the issuer's public key. `sub` is the principal's id, `kind` its
//! [`ActorKind`], `aud` must name this gateway and `exp` must lie ahead; an optional
//! `scope` claim (`city`, or a grid code such as `NH`) limits a supervisor to that part of
//! the grid tree, and names a grid worker's grid.
//!
//! Verification uses `ring` (already in the tree through async-nats) rather than a JWT
//! crate: the subset needed — two algorithms, four registered claims — is small.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use casegrid_domain::ActorKind;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde::Deserialize;
use std::fmt;

/// The settings naming the two keys, for messages.
const HS256_SECRET: &str = "[auth] jwt_hs256_secret";
const RS256_PUBLIC_KEY_FILE: &str = "[auth] jwt_rs256_public_key_file";

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 30;

/// How tokens are verified. `Debug` never shows the key.
#[derive(Clone)]
pub struct JwtConfig {
    key: Key,
    audience: String,
}

#[derive(Clone)]
enum Key {
    Hs256(ring::hmac::Key),
    /// PKCS#1 `RSAPublicKey` DER.
    Rs256(Vec<u8>),
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = match self.key {
            Key::Hs256(_) => "HS256",
            Key::Rs256(_) => "RS256",
        };
        f.debug_struct("JwtConfig")
            .field("alg", &alg)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Why a token was refused; the message is the 401's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the bearer token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0}; this gateway accepts {1}")]
    Algorithm(String, &'static str),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is not meant for this gateway (audience)")]
    WrongAudience,
    #[error("the configured JWT key is unusable: {0}")]
    Key(String),
}

/// The claims the gateway reads.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    pub(crate) kind: ActorKind,
    pub(crate) aud: Audience,
    pub(crate) exp: i64,
    #[serde(default)]
    pub(crate) nbf: Option<i64>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::One(a) => a == wanted,
            Self::Many(all) => all.iter().any(|a| a == wanted),
        }
    }
}

impl JwtConfig {
    pub fn hs256(secret: &[u8], audience: impl Into<String>) -> Self {
        Self {
            key: Key::Hs256(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret)),
            audience: audience.into(),
        }
    }

    /// An RS256 verifier from a PEM public key (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    pub fn rs256_pem(pem: &str, audience: impl Into<String>) -> Result<Self, JwtError> {
        Ok(Self {
            key: Key::Rs256(rsa_public_key_der(pem)?),
            audience: audience.into(),
        })
    }

    /// From `[auth]` of the settings tree (`jwt_hs256_secret` or
    /// `jwt_rs256_public_key_file`, `jwt_audience`); `None` when neither key is set.
    pub fn from_settings(
        auth: &casegrid_runtime::settings::AuthSettings,
    ) -> anyhow::Result<Option<Self>> {
        let secret = auth
            .jwt_hs256_secret
            .as_ref()
            .map(|s| s.expose().clone())
            .filter(|s| !s.is_empty());
        let file = auth
            .jwt_rs256_public_key_file
            .as_ref()
            .map(|p| p.display().to_string())
            .filter(|p| !p.is_empty());
        Self::from_parts(secret, file, auth.jwt_audience.clone())
    }

    fn from_parts(
        secret: Option<String>,
        file: Option<String>,
        audience: String,
    ) -> anyhow::Result<Option<Self>> {
        match (secret, file) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => {
                anyhow::bail!("set only one of {HS256_SECRET} and {RS256_PUBLIC_KEY_FILE}")
            }
            (Some(secret), None) => {
                anyhow::ensure!(
                    secret.len() >= 32,
                    "{HS256_SECRET} must be at least 32 bytes long"
                );
                Ok(Some(Self::hs256(secret.as_bytes(), audience)))
            }
            (None, Some(path)) => {
                let pem = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("reading {RS256_PUBLIC_KEY_FILE}={path}: {e}"))?;
                Ok(Some(Self::rs256_pem(&pem, audience).map_err(|e| {
                    anyhow::anyhow!("{RS256_PUBLIC_KEY_FILE}={path}: {e}")
                })?))
            }
        }
    }

    /// Checks the signature, `aud`, `exp` and `nbf` at `now` (Unix seconds).
    pub(crate) fn verify(&self, token: &str, now: i64) -> Result<Claims, JwtError> {
        let mut parts = token.split('.');
        let (Some(header_part), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed(
                "expected three dot-separated parts".into(),
            ));
        };
        let decode = |part: &str, what: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| JwtError::Malformed(format!("{what}: {e}")))
        };
        #[derive(Deserialize)]
        struct Header {
            alg: String,
        }
        let signed = &token.as_bytes()[..header_part.len() + 1 + payload.len()];
        let header: Header = serde_json::from_slice(&decode(header_part, "header")?)
            .map_err(|e| JwtError::Malformed(format!("header: {e}")))?;
        let signature = decode(signature, "signature")?;
        match (&self.key, header.alg.as_str()) {
            (Key::Hs256(key), "HS256") => {
                ring::hmac::verify(key, signed, &signature).map_err(|_| JwtError::BadSignature)?
            }
            (Key::Rs256(der), "RS256") => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
                .verify(signed, &signature)
                .map_err(|_| JwtError::BadSignature)?,
            (Key::Hs256(_), other) => return Err(JwtError::Algorithm(other.into(), "HS256")),
            (Key::Rs256(_), other) => return Err(JwtError::Algorithm(other.into(), "RS256")),
        }
        let claims: Claims = serde_json::from_slice(&decode(payload, "claims")?)
            .map_err(|e| JwtError::Malformed(format!("claims: {e}")))?;
        if !claims.aud.contains(&self.audience) {
            return Err(JwtError::WrongAudience);
        }
        if claims.exp + LEEWAY_SECS <= now {
            return Err(JwtError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECS > now) {
            return Err(JwtError::NotYetValid);
        }
        Ok(claims)
    }
}

/// Whether a bearer token looks like a JWT rather than a static development token.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2
}

/// The PKCS#1 `RSAPublicKey` inside a PEM; a `PUBLIC KEY` (SubjectPublicKeyInfo) is
/// unwrapped: SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { RSAPublicKey } }.
fn rsa_public_key_der(pem: &str) -> Result<Vec<u8>, JwtError> {
    let bad = |why: &str| JwtError::Key(why.to_owned());
    let label = if pem.contains("-----BEGIN RSA PUBLIC KEY-----") {
        "RSA PUBLIC KEY"
    } else if pem.contains("-----BEGIN PUBLIC KEY-----") {
        "PUBLIC KEY"
    } else {
        return Err(bad("expected a PEM `PUBLIC KEY` or `RSA PUBLIC KEY`"));
    };
    let body: String = pem
        .split(&format!("-----BEGIN {label}-----"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("-----END {label}-----")).next())
        .ok_or_else(|| bad("unterminated PEM block"))?
        .split_whitespace()
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|e| JwtError::Key(format!("PEM base64: {e}")))?;
    if label == "RSA PUBLIC KEY" {
        return Ok(der);
    }
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let (spki, _) = der_element(&der, 0x30).ok_or_else(|| bad("not a DER SEQUENCE"))?;
    let (algorithm, rest) = der_element(spki, 0x30).ok_or_else(|| bad("no algorithm"))?;
    let (oid, _) = der_element(algorithm, 0x06).ok_or_else(|| bad("no algorithm OID"))?;
    if oid != RSA_ENCRYPTION {
        return Err(bad("the public key is not an RSA key"));
    }
    match der_element(rest, 0x03) {
        Some(([0, key @ ..], _)) => Ok(key.to_vec()),
        _ => Err(bad("no RSA key in the SubjectPublicKeyInfo")),
    }
}

/// One DER element with `tag`: its contents and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hs256(claims: &serde_json::Value, secret: &[u8]) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    #[test]
    fn hs256_claims_are_checked() {
        let config = JwtConfig::hs256(b"0123456789abcdef0123456789abcdef", "casegrid");
        let now = 1_800_000_000;
        let good = json!({"sub": "sup.li", "kind": "supervisor", "aud": ["x", "casegrid"], "exp": now + 60});
        let token = hs256(&good, b"0123456789abcdef0123456789abcdef");
        assert!(looks_like_jwt(&token));
        let claims = config.verify(&token, now).expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.kind),
            ("sup.li", ActorKind::Supervisor)
        );
        assert_eq!(
            config.verify(&token, now + 3600).unwrap_err(),
            JwtError::Expired
        );
        let forged = hs256(&good, b"another secret, just as long....");
        assert_eq!(
            config.verify(&forged, now).unwrap_err(),
            JwtError::BadSignature
        );
        let elsewhere = hs256(
            &json!({"sub": "a", "kind": "operator", "aud": "other", "exp": now + 60}),
            b"0123456789abcdef0123456789abcdef",
        );
        assert_eq!(
            config.verify(&elsewhere, now).unwrap_err(),
            JwtError::WrongAudience
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(good.to_string())
        );
        assert!(matches!(
            config.verify(&none, now),
            Err(JwtError::Algorithm(..) | JwtError::Malformed(_))
        ));
        assert!(!looks_like_jwt("demo-operator"));
    }
}
