//! JWT bearer tokens (RFC 7519), the production way in, verified by `jsonwebtoken`:
//! HS256 with a shared secret, RS256 or ES256 with the issuer's public key, or the
//! issuer's JWKS (RFC 7517) fetched from a URL, its keys chosen by the token's `kid`.
//! `sub` is the principal's id, `kind` its [`ActorKind`], `aud` must name this gateway,
//! `iss` the configured issuer (when one is set) and `exp` must lie ahead; an optional
//! `scope` claim (`city`, or a grid code such as `NH`) limits a supervisor to that part
//! of the grid tree, and names a grid worker's grid.
//!
//! The algorithms are pinned by configuration (`[auth] jwt_algorithms`, by default the
//! one of the configured key, or RS256 and ES256 for a JWKS): the token's `alg` header
//! only selects among them, and each key verifies only its own algorithm, so neither
//! `none` nor an HS256 token "signed" with an RSA public key gets through.
//!
//! Key rotation: a token naming a `kid` the cached set does not hold makes the gateway
//! fetch the set again, at most once per `jwt_jwks_refetch_floor_secs`; the set is also
//! fetched again once older than `jwt_jwks_max_age_secs`. A key removed from the set is
//! refused after the next fetch.

use casegrid_domain::ActorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The settings naming the keys, for messages.
const HS256_SECRET: &str = "[auth] jwt_hs256_secret";
const RS256_PUBLIC_KEY_FILE: &str = "[auth] jwt_rs256_public_key_file";
const ES256_PUBLIC_KEY_FILE: &str = "[auth] jwt_es256_public_key_file";
const JWKS_URL: &str = "[auth] jwt_jwks_url";

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 30;

/// The algorithms a gateway can be configured to accept.
const SUPPORTED: &[Algorithm] = &[Algorithm::HS256, Algorithm::RS256, Algorithm::ES256];

/// How tokens are verified. `Debug` never shows a key.
#[derive(Clone)]
pub struct JwtConfig {
    keys: Keys,
    /// Pinned: a token whose `alg` is not here is refused before any key is looked at.
    algorithms: Vec<Algorithm>,
    audience: String,
    issuer: Option<String>,
}

#[derive(Clone)]
enum Keys {
    /// One configured key, verifying this algorithm only.
    Fixed(Algorithm, DecodingKey),
    /// The issuer's key set, by `kid`.
    Jwks(Arc<Jwks>),
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            Keys::Fixed(alg, _) => format!("{alg:?} key"),
            Keys::Jwks(jwks) => format!("JWKS {}", jwks.url),
        };
        f.debug_struct("JwtConfig")
            .field("keys", &keys)
            .field("algorithms", &self.algorithms)
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Why a token was refused; the message is the 401's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the bearer token is not a well-formed JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with {0}; this gateway accepts {1}")]
    Algorithm(String, String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is not meant for this gateway (audience)")]
    WrongAudience,
    #[error("the token was not issued by the issuer this gateway trusts (issuer)")]
    WrongIssuer,
    #[error("the token's key {0:?} is not among the issuer's keys")]
    UnknownKey(String),
    #[error("the token names no key (kid); the issuer has several")]
    NoKeyId,
    /// The key set could not be fetched (and none is cached): 503, not 401.
    #[error("the issuer's keys cannot be fetched right now: {0}")]
    KeysUnavailable(String),
    #[error("the configured JWT key is unusable: {0}")]
    Key(String),
}

/// The claims the gateway reads (`aud` and `iss` are checked by the library).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Claims {
    pub(crate) sub: String,
    pub(crate) kind: ActorKind,
    pub(crate) exp: i64,
    #[serde(default)]
    pub(crate) nbf: Option<i64>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

impl JwtConfig {
    fn fixed(alg: Algorithm, key: DecodingKey, audience: impl Into<String>) -> Self {
        Self {
            keys: Keys::Fixed(alg, key),
            algorithms: vec![alg],
            audience: audience.into(),
            issuer: None,
        }
    }

    pub fn hs256(secret: &[u8], audience: impl Into<String>) -> Self {
        Self::fixed(Algorithm::HS256, DecodingKey::from_secret(secret), audience)
    }

    /// An RS256 verifier from a PEM public key (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`).
    pub fn rs256_pem(pem: &str, audience: impl Into<String>) -> Result<Self, JwtError> {
        let key = DecodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| JwtError::Key(format!("not an RSA public key in PEM: {e}")))?;
        Ok(Self::fixed(Algorithm::RS256, key, audience))
    }

    /// An ES256 verifier from a PEM P-256 public key (`BEGIN PUBLIC KEY`).
    pub fn es256_pem(pem: &str, audience: impl Into<String>) -> Result<Self, JwtError> {
        let key = DecodingKey::from_ec_pem(pem.as_bytes())
            .map_err(|e| JwtError::Key(format!("not an EC public key in PEM: {e}")))?;
        Ok(Self::fixed(Algorithm::ES256, key, audience))
    }

    /// Keys from the issuer's JWKS at `url`, RS256 and ES256 accepted, fetched again on
    /// an unknown `kid` at most once a minute and at the latest after an hour.
    pub fn jwks(url: impl Into<String>, audience: impl Into<String>) -> Result<Self, JwtError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| JwtError::Key(format!("an HTTP client for the JWKS: {e}")))?;
        Ok(Self {
            keys: Keys::Jwks(Arc::new(Jwks {
                url: url.into(),
                http,
                refetch_floor_secs: 60,
                max_age_secs: 3600,
                state: tokio::sync::Mutex::default(),
            })),
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            audience: audience.into(),
            issuer: None,
        })
    }

    /// Tokens must carry `iss` equal to `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Pins the accepted algorithms (names as in the `alg` header: HS256, RS256, ES256).
    pub fn with_algorithms(mut self, names: &[impl AsRef<str>]) -> Result<Self, JwtError> {
        let mut algorithms = Vec::new();
        for name in names {
            let name = name.as_ref();
            let alg = SUPPORTED
                .iter()
                .copied()
                .find(|a| format!("{a:?}") == name)
                .ok_or_else(|| {
                    JwtError::Key(format!(
                        "algorithm {name:?} is not supported; use HS256, RS256 or ES256"
                    ))
                })?;
            algorithms.push(alg);
        }
        if algorithms.is_empty() {
            return Err(JwtError::Key("no algorithm is accepted".into()));
        }
        if let Keys::Fixed(key_alg, _) = &self.keys {
            if algorithms != [*key_alg] {
                return Err(JwtError::Key(format!(
                    "the configured key verifies {key_alg:?} only, not {}",
                    names_of(&algorithms)
                )));
            }
        }
        if matches!(self.keys, Keys::Jwks(_)) && algorithms.contains(&Algorithm::HS256) {
            return Err(JwtError::Key(
                "HS256 is a shared secret, never taken from a JWKS".into(),
            ));
        }
        self.algorithms = algorithms;
        Ok(self)
    }

    /// How often the JWKS may be fetched again (the floor between two fetches on
    /// unknown `kid`s) and after how long it is fetched again anyway, in seconds.
    pub fn with_jwks_timing(mut self, refetch_floor_secs: u64, max_age_secs: u64) -> Self {
        if let Keys::Jwks(jwks) = &self.keys {
            self.keys = Keys::Jwks(Arc::new(Jwks {
                url: jwks.url.clone(),
                http: jwks.http.clone(),
                refetch_floor_secs: secs(refetch_floor_secs),
                max_age_secs: secs(max_age_secs),
                state: tokio::sync::Mutex::default(),
            }));
        }
        self
    }

    /// From `[auth]` of the settings tree: one of `jwt_hs256_secret`,
    /// `jwt_rs256_public_key_file`, `jwt_es256_public_key_file` and `jwt_jwks_url`, with
    /// `jwt_audience`, `jwt_issuer`, `jwt_algorithms` and the JWKS timing; `None` when
    /// no key is set.
    pub fn from_settings(
        auth: &casegrid_runtime::settings::AuthSettings,
    ) -> anyhow::Result<Option<Self>> {
        let secret = auth
            .jwt_hs256_secret
            .as_ref()
            .map(|s| s.expose().clone())
            .filter(|s| !s.is_empty());
        let path = |p: &Option<std::path::PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .filter(|p| !p.is_empty())
        };
        let rsa = path(&auth.jwt_rs256_public_key_file);
        let ec = path(&auth.jwt_es256_public_key_file);
        let jwks = auth.jwt_jwks_url.clone().filter(|u| !u.is_empty());
        let audience = auth.jwt_audience.clone();
        let set = [
            secret.is_some().then_some(HS256_SECRET),
            rsa.is_some().then_some(RS256_PUBLIC_KEY_FILE),
            ec.is_some().then_some(ES256_PUBLIC_KEY_FILE),
            jwks.is_some().then_some(JWKS_URL),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
        anyhow::ensure!(set.len() <= 1, "set only one of {}", set.join(", "));
        let read = |setting: &str, path: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading {setting}={path}: {e}"))
        };
        let config = if let Some(secret) = secret {
            anyhow::ensure!(
                secret.len() >= 32,
                "{HS256_SECRET} must be at least 32 bytes long"
            );
            Self::hs256(secret.as_bytes(), audience)
        } else if let Some(path) = rsa {
            Self::rs256_pem(&read(RS256_PUBLIC_KEY_FILE, &path)?, audience)
                .map_err(|e| anyhow::anyhow!("{RS256_PUBLIC_KEY_FILE}={path}: {e}"))?
        } else if let Some(path) = ec {
            Self::es256_pem(&read(ES256_PUBLIC_KEY_FILE, &path)?, audience)
                .map_err(|e| anyhow::anyhow!("{ES256_PUBLIC_KEY_FILE}={path}: {e}"))?
        } else if let Some(url) = jwks {
            Self::jwks(url, audience)?
                .with_jwks_timing(auth.jwt_jwks_refetch_floor_secs, auth.jwt_jwks_max_age_secs)
        } else {
            return Ok(None);
        };
        let config = match auth.jwt_issuer.as_deref().filter(|i| !i.is_empty()) {
            Some(issuer) => config.with_issuer(issuer),
            None => config,
        };
        let config = if auth.jwt_algorithms.is_empty() {
            config
        } else {
            config
                .with_algorithms(&auth.jwt_algorithms)
                .map_err(|e| anyhow::anyhow!("[auth] jwt_algorithms: {e}"))?
        };
        Ok(Some(config))
    }

    /// Checks the algorithm, the signature, `aud`, `iss`, `exp` and `nbf` at `now`
    /// (Unix seconds; the JWKS timing is measured on it too).
    pub(crate) async fn verify(&self, token: &str, now: i64) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| JwtError::Malformed(format!("header: {e}")))?;
        let refused = |alg: Algorithm, accepted: &[Algorithm]| {
            JwtError::Algorithm(format!("{alg:?}"), names_of(accepted))
        };
        if !self.algorithms.contains(&header.alg) {
            return Err(refused(header.alg, &self.algorithms));
        }
        let (key_alg, key) = match &self.keys {
            Keys::Fixed(alg, key) => (*alg, key.clone()),
            Keys::Jwks(jwks) => {
                let kid = header.kid.as_deref().ok_or(JwtError::NoKeyId)?;
                jwks.key(kid, now).await?
            }
        };
        if key_alg != header.alg {
            return Err(refused(header.alg, &[key_alg]));
        }
        let mut validation = Validation::new(key_alg);
        validation.set_audience(&[&self.audience]);
        // `exp` and `nbf` are checked below against the injected `now`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let mut required = vec!["exp", "aud"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.into_kind() {
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::InvalidAudience => JwtError::WrongAudience,
                ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
                ErrorKind::InvalidAlgorithm => refused(header.alg, &[key_alg]),
                ErrorKind::MissingRequiredClaim(claim) => {
                    JwtError::Malformed(format!("claims: missing {claim}"))
                }
                ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::Crypto(_) => {
                    JwtError::BadSignature
                }
                other => JwtError::Malformed(format!("{other:?}")),
            })?
            .claims;
        if claims.exp + LEEWAY_SECS <= now {
            return Err(JwtError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECS > now) {
            return Err(JwtError::NotYetValid);
        }
        Ok(claims)
    }
}

fn names_of(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Whether a bearer token looks like a JWT rather than a static development token.
pub(crate) fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2
}

/// The issuer's key set, fetched from `url` and cached by `kid`.
struct Jwks {
    url: String,
    http: reqwest::Client,
    refetch_floor_secs: i64,
    max_age_secs: i64,
    state: tokio::sync::Mutex<JwksState>,
}

#[derive(Default)]
struct JwksState {
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    /// When the set was last fetched successfully (its age).
    fetched_at: Option<i64>,
    /// When a fetch was last tried (the floor between fetches counts from here).
    tried_at: Option<i64>,
}

impl Jwks {
    /// The key `kid` names, fetching the set first when it is stale or lacks `kid`
    /// and the floor since the last try has passed.
    async fn key(&self, kid: &str, now: i64) -> Result<(Algorithm, DecodingKey), JwtError> {
        let mut state = self.state.lock().await;
        let stale = state
            .fetched_at
            .is_none_or(|at| now - at >= self.max_age_secs);
        let may_try = state
            .tried_at
            .is_none_or(|at| now - at >= self.refetch_floor_secs);
        if (stale || !state.keys.contains_key(kid)) && may_try {
            state.tried_at = Some(now);
            match self.fetch().await {
                Ok(keys) => {
                    tracing::info!(url = %self.url, keys = keys.len(), "JWKS fetched");
                    state.keys = keys;
                    state.fetched_at = Some(now);
                }
                Err(why) => {
                    tracing::warn!(url = %self.url, error = %why, "JWKS fetch failed");
                    if state.fetched_at.is_none() {
                        return Err(JwtError::KeysUnavailable(why));
                    }
                }
            }
        }
        if state.fetched_at.is_none() {
            return Err(JwtError::KeysUnavailable(
                "not fetched yet; retry shortly".into(),
            ));
        }
        state
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| JwtError::UnknownKey(kid.to_owned()))
    }

    /// The set's usable keys: RSA keys verify RS256, P-256 keys ES256; keys of other
    /// kinds, without `kid`, or whose `alg` says otherwise are left out.
    async fn fetch(&self) -> Result<HashMap<String, (Algorithm, DecodingKey)>, String> {
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<serde_json::Value>,
        }
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{} answered {}", self.url, response.status()));
        }
        let set: Set = response.json().await.map_err(|e| e.to_string())?;
        Ok(set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| {
                let alg = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                        Algorithm::ES256
                    }
                    _ => return None,
                };
                if jwk
                    .common
                    .key_algorithm
                    .is_some_and(|a| format!("{a:?}") != format!("{alg:?}"))
                {
                    return None;
                }
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(&jwk).ok()?;
                Some((kid, (alg, key)))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::{json, Value};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    const NOW: i64 = 1_800_000_000;
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const RSA_PRIVATE: &str = include_str!("../tests/gateway/fixtures/rs256-private.pem");
    const RSA_PUBLIC: &str = include_str!("../tests/gateway/fixtures/rs256-public.pem");

    fn claims(aud: Value) -> Value {
        json!({"sub": "sup.li", "kind": "supervisor", "aud": aud, "iss": "https://idp.city", "exp": NOW + 7200})
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, key).expect("sign")
    }

    fn rsa() -> EncodingKey {
        EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("RSA key")
    }

    /// The fixture's RSA public key as a JWK.
    fn rsa_jwk(kid: &str) -> Value {
        let body: String = RSA_PRIVATE
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let pair = ring::rsa::KeyPair::from_pkcs8(&der).unwrap();
        let parts: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
        json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
               "n": URL_SAFE_NO_PAD.encode(&parts.n), "e": URL_SAFE_NO_PAD.encode(&parts.e)})
    }

    /// A fresh P-256 key: the signing key, its JWK and its PEM public key.
    fn ec(kid: &str) -> (EncodingKey, Value, String) {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
                         "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                         "y": URL_SAFE_NO_PAD.encode(&point[33..])});
        // SubjectPublicKeyInfo of an uncompressed P-256 point.
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        spki.extend_from_slice(point);
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(spki)
        );
        (EncodingKey::from_ec_der(pkcs8.as_ref()), jwk, pem)
    }

    /// A tiny HTTP server answering every request with the current key set, counting
    /// the fetches.
    struct JwksServer {
        url: String,
        keys: Arc<Mutex<Vec<Value>>>,
        fetches: Arc<AtomicUsize>,
    }

    async fn jwks_server(keys: Vec<Value>) -> JwksServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (keys.clone(), fetches.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let body = json!({"keys": *served.lock().unwrap()}).to_string();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        JwksServer { url, keys, fetches }
    }

    #[tokio::test]
    async fn hs256_claims_are_checked() {
        let config = JwtConfig::hs256(SECRET, "casegrid");
        let secret = EncodingKey::from_secret(SECRET);
        let token = sign(
            Algorithm::HS256,
            None,
            &claims(json!(["x", "casegrid"])),
            &secret,
        );
        assert!(looks_like_jwt(&token));
        let claims_of = config.verify(&token, NOW).await.expect("valid");
        assert_eq!(
            (claims_of.sub.as_str(), claims_of.kind),
            ("sup.li", ActorKind::Supervisor)
        );
        assert_eq!(
            config.verify(&token, NOW + 7300).await.unwrap_err(),
            JwtError::Expired
        );
        let forged = sign(
            Algorithm::HS256,
            None,
            &claims(json!("casegrid")),
            &EncodingKey::from_secret(b"another secret, just as long...."),
        );
        assert_eq!(
            config.verify(&forged, NOW).await.unwrap_err(),
            JwtError::BadSignature
        );
        assert!(!looks_like_jwt("demo-operator"));
    }

    #[tokio::test]
    async fn wrong_audience_and_wrong_issuer_are_refused() {
        let config = JwtConfig::rs256_pem(RSA_PUBLIC, "casegrid")
            .unwrap()
            .with_issuer("https://idp.city");
        let good = sign(Algorithm::RS256, None, &claims(json!("casegrid")), &rsa());
        assert_eq!(config.verify(&good, NOW).await.unwrap().sub, "sup.li");
        let elsewhere = sign(Algorithm::RS256, None, &claims(json!("other")), &rsa());
        assert_eq!(
            config.verify(&elsewhere, NOW).await.unwrap_err(),
            JwtError::WrongAudience
        );
        let mut foreign = claims(json!("casegrid"));
        foreign["iss"] = json!("https://idp.elsewhere");
        let foreign = sign(Algorithm::RS256, None, &foreign, &rsa());
        assert_eq!(
            config.verify(&foreign, NOW).await.unwrap_err(),
            JwtError::WrongIssuer
        );
        let mut unnamed = claims(json!("casegrid"));
        unnamed.as_object_mut().unwrap().remove("iss");
        let unnamed = sign(Algorithm::RS256, None, &unnamed, &rsa());
        assert!(matches!(
            config.verify(&unnamed, NOW).await.unwrap_err(),
            JwtError::Malformed(why) if why.contains("iss")
        ));
    }

    #[tokio::test]
    async fn es256_tokens_are_accepted() {
        let (signing, _, pem) = ec("k1");
        let config = JwtConfig::es256_pem(&pem, "casegrid").unwrap();
        let token = sign(Algorithm::ES256, None, &claims(json!("casegrid")), &signing);
        assert_eq!(config.verify(&token, NOW).await.unwrap().sub, "sup.li");
        let (other, _, _) = ec("k2");
        let forged = sign(Algorithm::ES256, None, &claims(json!("casegrid")), &other);
        assert_eq!(
            config.verify(&forged, NOW).await.unwrap_err(),
            JwtError::BadSignature
        );
    }

    #[tokio::test]
    async fn none_and_algorithm_confusion_are_refused() {
        let config = JwtConfig::rs256_pem(RSA_PUBLIC, "casegrid").unwrap();
        let body = URL_SAFE_NO_PAD.encode(claims(json!("casegrid")).to_string());
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"None"}"#] {
            let none = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(header));
            assert!(
                matches!(
                    config.verify(&none, NOW).await,
                    Err(JwtError::Malformed(_) | JwtError::Algorithm(..))
                ),
                "{header}"
            );
        }
        // HS256 "signed" with the RSA public key as the secret: the classic confusion.
        let confused = sign(
            Algorithm::HS256,
            None,
            &claims(json!("casegrid")),
            &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
        );
        assert_eq!(
            config.verify(&confused, NOW).await.unwrap_err(),
            JwtError::Algorithm("HS256".into(), "RS256".into())
        );
        // A JWKS never yields an HS256 key, nor verifies RS256 with an EC key.
        let (signing, jwk, _) = ec("ec-1");
        let server = jwks_server(vec![jwk, rsa_jwk("rsa-1")]).await;
        let jwks = JwtConfig::jwks(&server.url, "casegrid").unwrap();
        let confused = sign(
            Algorithm::HS256,
            Some("rsa-1"),
            &claims(json!("casegrid")),
            &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
        );
        assert!(matches!(
            jwks.verify(&confused, NOW).await.unwrap_err(),
            JwtError::Algorithm(..)
        ));
        let mislabelled = sign(
            Algorithm::RS256,
            Some("ec-1"),
            &claims(json!("casegrid")),
            &rsa(),
        );
        assert_eq!(
            jwks.verify(&mislabelled, NOW).await.unwrap_err(),
            JwtError::Algorithm("RS256".into(), "ES256".into())
        );
        let good = sign(
            Algorithm::ES256,
            Some("ec-1"),
            &claims(json!("casegrid")),
            &signing,
        );
        assert!(jwks.verify(&good, NOW).await.is_ok());
        assert!(JwtConfig::jwks(&server.url, "casegrid")
            .unwrap()
            .with_algorithms(&["HS256"])
            .is_err());
        // Pinned to ES256, an RS256 token of a key in the set is refused.
        let es_only = JwtConfig::jwks(&server.url, "casegrid")
            .unwrap()
            .with_algorithms(&["ES256"])
            .unwrap();
        let rs = sign(
            Algorithm::RS256,
            Some("rsa-1"),
            &claims(json!("casegrid")),
            &rsa(),
        );
        assert_eq!(
            es_only.verify(&rs, NOW).await.unwrap_err(),
            JwtError::Algorithm("RS256".into(), "ES256".into())
        );
    }

    #[tokio::test]
    async fn jwks_rotation_by_kid_with_a_floor_between_fetches() {
        let server = jwks_server(vec![rsa_jwk("2026-old")]).await;
        let config = JwtConfig::jwks(&server.url, "casegrid")
            .unwrap()
            .with_issuer("https://idp.city")
            .with_jwks_timing(60, 3600);
        let old = sign(
            Algorithm::RS256,
            Some("2026-old"),
            &claims(json!("casegrid")),
            &rsa(),
        );
        assert!(config.verify(&old, NOW).await.is_ok());
        assert!(config.verify(&old, NOW + 1).await.is_ok(), "cached");
        assert_eq!(server.fetches.load(Ordering::SeqCst), 1);

        // The issuer rotates: the old key goes, a new one comes.
        let (signing, jwk, _) = ec("2026-new");
        *server.keys.lock().unwrap() = vec![jwk];
        let new = sign(
            Algorithm::ES256,
            Some("2026-new"),
            &claims(json!("casegrid")),
            &signing,
        );
        assert_eq!(
            config.verify(&new, NOW + 10).await.unwrap_err(),
            JwtError::UnknownKey("2026-new".into()),
            "within the floor the set is not fetched again"
        );
        assert_eq!(server.fetches.load(Ordering::SeqCst), 1);
        assert!(config.verify(&new, NOW + 61).await.is_ok(), "the new kid");
        assert_eq!(server.fetches.load(Ordering::SeqCst), 2);
        assert_eq!(
            config.verify(&old, NOW + 62).await.unwrap_err(),
            JwtError::UnknownKey("2026-old".into()),
            "the removed key is refused"
        );
        let unnamed = sign(Algorithm::ES256, None, &claims(json!("casegrid")), &signing);
        assert_eq!(
            config.verify(&unnamed, NOW + 63).await.unwrap_err(),
            JwtError::NoKeyId
        );
        // After max_age the set is fetched again even for a known kid.
        assert!(config.verify(&new, NOW + 61 + 3600).await.is_ok());
        assert_eq!(server.fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_unreachable_jwks_is_unavailable_not_unauthenticated() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        drop(listener);
        let config = JwtConfig::jwks(url, "casegrid").unwrap();
        let token = sign(
            Algorithm::RS256,
            Some("k"),
            &claims(json!("casegrid")),
            &rsa(),
        );
        assert!(matches!(
            config.verify(&token, NOW).await.unwrap_err(),
            JwtError::KeysUnavailable(_)
        ));
    }
}
