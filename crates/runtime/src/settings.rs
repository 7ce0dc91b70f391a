//! One typed settings tree for every casegrid process, layered: built-in defaults,
//! then an optional TOML file, then `CASEGRID__SECTION__KEY` environment variables
//! (e.g. `CASEGRID__NATS__URL=nats://10.0.0.5:4222`). Unknown keys are errors.
//!
//! An environment value is read as a TOML value (`1.5` a float, `true` a boolean,
//! `[1, 2]` an array, `"1234"` a string); one that is not a TOML value is a string
//! (`nats://…`, `/etc/…`), and where the setting already holds a string (its default or
//! the file's) the value is taken as written. This module is the only reader of
//! `CASEGRID_…` variables besides `CASEGRID_SETTINGS` (the file's name): a workspace
//! test fails on any other.

use anyhow::Context;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A value that never prints (database URLs hold passwords).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub nats: NatsSettings,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub district: DistrictSettings,
    pub routing: RoutingSettings,
    pub auth: AuthSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub clock: ClockSettings,
    #[serde(default)]
    pub eventlog: EventlogSettings,
    #[serde(default)]
    pub attachments: AttachmentSettings,
    #[serde(default)]
    pub duplicates: DuplicatesSettings,
    #[serde(default)]
    pub kb: KbSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub notify: NotifySettings,
}

/// Routing's notifier (通知): the outbox consumer that sends what `notifications.toml`
/// asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// Whether this routing replica sends notifications.
    pub enabled: bool,
    /// The key of the `X-Casegrid-Signature` HMAC-SHA256 of each webhook body; unset:
    /// webhooks go unsigned (a warning at start).
    pub webhook_secret: Option<Secret<String>>,
    /// How long a webhook may take to answer, in milliseconds.
    pub webhook_timeout_ms: u64,
    /// The development SMS adapter: texts are appended to this file, one JSON line
    /// each. Unset: texts wait (pending) until a gateway is configured.
    pub sms_file: Option<PathBuf>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            webhook_secret: None,
            webhook_timeout_ms: 5000,
            sms_file: None,
        }
    }
}

/// Duplicate candidates (重复件): which open cases the gateway offers as possible
/// duplicates of a case or of a filing being typed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DuplicatesSettings {
    /// Candidates were filed at most this many days before (or after) the case.
    pub window_days: u32,
    /// With coordinates on both cases, one in another grid within this many metres.
    pub max_distance_m: u32,
    /// Least likeness of title and description, per mille (character bigrams, Dice).
    pub min_score: u32,
    /// Most candidates answered.
    pub limit: u32,
}

impl Default for DuplicatesSettings {
    fn default() -> Self {
        Self {
            window_days: 30,
            max_distance_m: 300,
            min_score: 300,
            limit: 10,
        }
    }
}

/// The knowledge base (知识库).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KbSettings {
    /// The principal kinds that create and edit entries (`supervisor`, `operator`, …).
    pub editors: Vec<String>,
}

impl Default for KbSettings {
    fn default() -> Self {
        Self {
            editors: vec!["supervisor".to_owned()],
        }
    }
}

/// A service's own `/metrics` (intake, routing, projection; the gateway serves its own on
/// its HTTP address): each replica reports only what it did, so a scrape of every
/// replica sums without counting anything twice.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// The address to serve `GET /metrics` on, e.g. `0.0.0.0:9464`; empty: none.
    pub listen: String,
}

/// Files added to cases (`[attachments]`): the largest accepted and the media types
/// accepted, as sniffed from the bytes (the client's content type is not trusted).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentSettings {
    pub max_bytes: u64,
    pub types: Vec<String>,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            types: ["image/jpeg", "image/png", "audio/mpeg", "application/pdf"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// How a process writes its log to stderr. `RUST_LOG` still chooses what is written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    #[serde(default)]
    pub format: LogFormat,
}

/// `text` for people at a terminal, `json` (one object per line) for a log collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where the services read the time from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// A file holding the current instant (RFC 3339), read on every call, so a test can
    /// move the time of services running as separate processes. Tests only; unset: the
    /// system clock.
    #[serde(default)]
    pub file: Option<PathBuf>,
}

/// Group commit of the event log: appends of every task of a process are gathered
/// into JetStream atomic batches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventlogSettings {
    /// How long the first append of a batch waits for others while batches are in
    /// flight, in microseconds (0: no group commit, every append is its own request).
    pub batch_window_us: u64,
    /// At most this many events a batch (the server allows 1,000).
    pub batch_max: usize,
    /// Batches in flight at once, per process.
    pub batch_in_flight: usize,
}

impl Default for EventlogSettings {
    fn default() -> Self {
        Self {
            batch_window_us: 1_000,
            batch_max: 256,
            batch_in_flight: 4,
        }
    }
}

/// How the gateway authenticates callers. It refuses to start with neither a JWT key
/// nor `static_tokens`: there is no fail-open default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Accept the static demo tokens of `principals.toml` (development only; `casegrid
    /// dev` turns it on). Off by default.
    pub static_tokens: bool,
    /// HS256 shared secret (at least 32 bytes).
    #[serde(default)]
    pub jwt_hs256_secret: Option<Secret<String>>,
    /// PEM file with the RS256 public key.
    #[serde(default)]
    pub jwt_rs256_public_key_file: Option<PathBuf>,
    /// PEM file with the ES256 (P-256) public key.
    #[serde(default)]
    pub jwt_es256_public_key_file: Option<PathBuf>,
    /// The issuer's JWKS (`https://idp.example/.well-known/jwks.json`): its keys are
    /// chosen by the token's `kid`, and fetched again on an unknown one (key rotation).
    /// Only one of the secret, the two key files and this URL may be set.
    #[serde(default)]
    pub jwt_jwks_url: Option<String>,
    /// The least time between two fetches of the JWKS, in seconds (a flood of tokens
    /// with made-up `kid`s fetches it once per floor).
    pub jwt_jwks_refetch_floor_secs: u64,
    /// After this many seconds the JWKS is fetched again even for known keys.
    pub jwt_jwks_max_age_secs: u64,
    /// The `aud` tokens must carry.
    pub jwt_audience: String,
    /// The `iss` tokens must carry; unset: not checked.
    #[serde(default)]
    pub jwt_issuer: Option<String>,
    /// The accepted `alg`s (HS256, RS256, ES256); empty: the configured key's, or RS256
    /// and ES256 for a JWKS.
    #[serde(default)]
    pub jwt_algorithms: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSettings {
    /// Routing's own state (deadlines, dispatcher queue, checkpoint): `sqlite:…`.
    pub database_url: Secret<String>,
    /// This replica's name: each replica keeps its own consumer `routing-<replica>`
    /// and its own state, and replicas agree through deterministic command ids.
    pub replica: String,
    /// How often deadlines are checked, in milliseconds.
    pub tick_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSettings {
    /// One server, or a cluster's nodes separated by commas
    /// (`nats://casegrid-1:4222,nats://casegrid-2:4222,nats://casegrid-3:4222`).
    pub url: String,
    /// Replicas of the event stream: 1 on one machine, 3 in a cluster.
    pub replicas: usize,
    /// The casegrid NATS user this process is (`gateway`, `intake`, `routing`,
    /// `projection`, `admin`): its replies arrive on `_INBOX.<user>.>`, the only inbox
    /// the shipped permissions let it read. With `password` it is also the login name.
    /// Empty: an open server (tests only).
    #[serde(default)]
    pub user: String,
    /// Password of `user` (user-and-password authentication).
    #[serde(default)]
    pub password: Option<Secret<String>>,
    /// File holding the user's nkey seed (`SU…`; what `casegrid dev` and
    /// `casegrid nats credentials` write, one file per user, mode 0600).
    #[serde(default)]
    pub nkey_seed_file: Option<PathBuf>,
    /// A `.creds` file (JWT and seed) for servers run in operator mode.
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    #[serde(default)]
    pub tls: NatsTlsSettings,
}

/// TLS towards the NATS server.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsTlsSettings {
    /// Refuse to talk to a server without TLS.
    #[serde(default)]
    pub required: bool,
    /// PEM file of the CA that signed the server's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for servers that verify clients (with `key_file`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

impl NatsSettings {
    /// An unauthenticated connection to `url` (an open test server).
    pub fn open(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            replicas: 1,
            user: String::new(),
            password: None,
            nkey_seed_file: None,
            creds_file: None,
            tls: NatsTlsSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path?mode=rwc` (default) or `postgres://…`.
    pub url: Secret<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub addr: String,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Per principal (bearer token): 20 requests per second, bursts of 40.
    pub rate_limit: RateLimitSettings,
    /// Per client address on the routes without a token (Open311, `/openapi.json`):
    /// 5 requests per second, bursts of 20.
    pub public_rate_limit: RateLimitSettings,
}

/// A token bucket: `burst` requests at once, refilled at `per_second`; `per_second = 0`
/// turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimitSettings {
    /// `None` when `per_second` is 0 (or less): no limit.
    pub fn enabled(self) -> Option<Self> {
        (self.per_second > 0.0).then_some(self)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictSettings {
    /// Folder with `grids.toml`, `departments.toml`, `rules.toml`, `principals.toml`.
    pub config_dir: PathBuf,
    /// Prefix of case numbers (`NH-20261123-000123`).
    pub case_prefix: String,
}

const DEFAULTS: &str = r#"
[nats]
url = "nats://127.0.0.1:4222"
replicas = 1
user = ""

[database]
url = "sqlite://data/casegrid.db?mode=rwc"

[http]
addr = "127.0.0.1:8080"
body_limit = 65536

[http.rate_limit]
per_second = 20.0
burst = 40

[http.public_rate_limit]
per_second = 5.0
burst = 20

[district]
config_dir = "deploy/config"
case_prefix = "NH"

[routing]
database_url = "sqlite://data/routing.db?mode=rwc"
replica = "1"
tick_ms = 1000

[auth]
static_tokens = false
jwt_audience = "casegrid"
jwt_jwks_refetch_floor_secs = 60
jwt_jwks_max_age_secs = 3600

[log]
format = "text"

[clock]
"#;

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &vars)
    }

    /// Like [`Self::load`] with the environment given (for tests).
    pub fn load_from(file: Option<&Path>, env: &[(String, String)]) -> anyhow::Result<Self> {
        let mut tree: toml::Table = DEFAULTS.parse().expect("built-in defaults parse");
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading settings file {}", file.display()))?;
            let layer: toml::Table = text
                .parse()
                .with_context(|| format!("settings file {} is not valid TOML", file.display()))?;
            merge(&mut tree, layer);
        }
        for (key, value) in env {
            let Some(path) = key.strip_prefix("CASEGRID__") else {
                continue;
            };
            let path: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
            set(&mut tree, &path, value).with_context(|| format!("environment variable {key}"))?;
        }
        toml::Value::Table(tree).try_into().context(
            "settings (defaults, file, CASEGRID__ environment) are invalid (an environment \
             value is read as TOML: quote a string that reads as a number, '\"1234\"')",
        )
    }
}

/// An environment value as TOML: `1.5`, `true`, `[1, 2]`, `"text"`, or, when it is no
/// TOML value, the text itself.
fn env_value(text: &str) -> toml::Value {
    use serde::Deserialize as _;
    toml::Value::deserialize(toml::de::ValueDeserializer::new(text))
        .unwrap_or_else(|_| toml::Value::String(text.to_owned()))
}

fn merge(into: &mut toml::Table, layer: toml::Table) {
    for (k, v) in layer {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn set(tree: &mut toml::Table, path: &[String], text: &str) -> anyhow::Result<()> {
    match path {
        [] => anyhow::bail!("empty key"),
        [last] => {
            // Taken as written where the setting is a string (a numeric-looking replica
            // name or password).
            let value = match tree.get(last) {
                Some(toml::Value::String(_)) => toml::Value::String(text.to_owned()),
                _ => env_value(text),
            };
            tree.insert(last.clone(), value);
            Ok(())
        }
        [head, rest @ ..] => {
            let entry = tree
                .entry(head.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set(t, rest, text),
                _ => anyhow::bail!("{head} is not a section"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("cg-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.toml");
        std::fs::write(&file, "[http]\naddr = \"0.0.0.0:9000\"\n").unwrap();
        let env = vec![("CASEGRID__NATS__REPLICAS".to_owned(), "3".to_owned())];
        let s = Settings::load_from(Some(&file), &env).unwrap();
        assert_eq!(s.http.addr, "0.0.0.0:9000");
        assert_eq!(s.nats.replicas, 3);
        assert_eq!(s.nats.url, "nats://127.0.0.1:4222");
        assert_eq!(format!("{:?}", s.database.url), "[redacted]");
    }

    #[test]
    fn group_commit_settings_default_and_come_from_the_environment() {
        let s = Settings::load_from(None, &[]).unwrap();
        assert_eq!(s.eventlog.batch_window_us, 1_000);
        assert_eq!(s.eventlog.batch_max, 256);
        let env = vec![
            (
                "CASEGRID__EVENTLOG__BATCH_WINDOW_US".to_owned(),
                "0".to_owned(),
            ),
            ("CASEGRID__EVENTLOG__BATCH_MAX".to_owned(), "10".to_owned()),
        ];
        let s = Settings::load_from(None, &env).unwrap();
        assert_eq!(s.eventlog.batch_window_us, 0);
        assert_eq!(s.eventlog.batch_max, 10);
        assert_eq!(s.eventlog.batch_in_flight, 4);
        let env = vec![("CASEGRID__EVENTLOG__BATCH_SIZE".to_owned(), "1".to_owned())];
        assert!(Settings::load_from(None, &env).is_err(), "unknown key");
    }

    #[test]
    fn static_tokens_are_off_unless_the_settings_say_so() {
        let s = Settings::load_from(None, &[]).unwrap();
        assert!(!s.auth.static_tokens);
        assert!(s.auth.jwt_hs256_secret.is_none());
        let env = vec![
            (
                "CASEGRID__AUTH__STATIC_TOKENS".to_owned(),
                "true".to_owned(),
            ),
            (
                "CASEGRID__AUTH__JWT_HS256_SECRET".to_owned(),
                "0123456789abcdef0123456789abcdef".to_owned(),
            ),
        ];
        let s = Settings::load_from(None, &env).unwrap();
        assert!(s.auth.static_tokens);
        assert_eq!(format!("{:?}", s.auth.jwt_hs256_secret), "Some([redacted])");
    }

    #[test]
    fn jwks_issuer_and_pinned_algorithms_come_from_the_tree() {
        let s = Settings::load_from(None, &[]).unwrap();
        assert_eq!(s.auth.jwt_jwks_refetch_floor_secs, 60);
        assert_eq!(s.auth.jwt_jwks_max_age_secs, 3600);
        assert!(s.auth.jwt_algorithms.is_empty() && s.auth.jwt_issuer.is_none());
        let s = Settings::load_from(
            None,
            &env(&[
                (
                    "CASEGRID__AUTH__JWT_JWKS_URL",
                    "https://idp.city/.well-known/jwks.json",
                ),
                ("CASEGRID__AUTH__JWT_ISSUER", "https://idp.city"),
                ("CASEGRID__AUTH__JWT_ALGORITHMS", "[\"ES256\"]"),
                ("CASEGRID__AUTH__JWT_JWKS_REFETCH_FLOOR_SECS", "5"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.auth.jwt_jwks_url.as_deref(),
            Some("https://idp.city/.well-known/jwks.json")
        );
        assert_eq!(s.auth.jwt_issuer.as_deref(), Some("https://idp.city"));
        assert_eq!(s.auth.jwt_algorithms, ["ES256"]);
        assert_eq!(s.auth.jwt_jwks_refetch_floor_secs, 5);
    }

    #[test]
    fn nats_credentials_and_tls_come_from_the_tree() {
        let env = vec![
            ("CASEGRID__NATS__USER".to_owned(), "intake".to_owned()),
            ("CASEGRID__NATS__PASSWORD".to_owned(), "s3cret".to_owned()),
            (
                "CASEGRID__NATS__NKEY_SEED_FILE".to_owned(),
                "/run/casegrid/intake.nk".to_owned(),
            ),
            (
                "CASEGRID__NATS__TLS__CA_FILE".to_owned(),
                "/etc/ca.pem".to_owned(),
            ),
            (
                "CASEGRID__NATS__TLS__REQUIRED".to_owned(),
                "true".to_owned(),
            ),
        ];
        let s = Settings::load_from(None, &env).unwrap();
        assert_eq!(s.nats.user, "intake");
        assert_eq!(s.nats.password.as_ref().unwrap().expose(), "s3cret");
        assert!(!format!("{:?}", s.nats).contains("s3cret"));
        assert_eq!(
            s.nats.nkey_seed_file.as_deref(),
            Some(Path::new("/run/casegrid/intake.nk"))
        );
        assert_eq!(
            s.nats.tls.ca_file.as_deref(),
            Some(Path::new("/etc/ca.pem"))
        );
        assert!(s.nats.tls.required);
        let plain = Settings::load_from(None, &[]).unwrap();
        assert!(plain.nats.user.is_empty() && plain.nats.password.is_none());
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn environment_values_are_toml_values() {
        assert_eq!(env_value("1.5"), toml::Value::Float(1.5));
        assert_eq!(env_value("true"), toml::Value::Boolean(true));
        assert_eq!(
            env_value("[1, 2]"),
            toml::Value::Array(vec![toml::Value::Integer(1), toml::Value::Integer(2)])
        );
        assert_eq!(env_value("\"1234\""), toml::Value::String("1234".into()));
        for text in [
            "nats://10.0.0.5:4222",
            "/etc/casegrid/a.pem",
            "0.0.0.0:80",
            "",
        ] {
            assert_eq!(env_value(text), toml::Value::String(text.into()), "{text}");
        }

        let s = Settings::load_from(
            None,
            &env(&[
                ("CASEGRID__HTTP__RATE_LIMIT__PER_SECOND", "1.5"),
                ("CASEGRID__HTTP__RATE_LIMIT__BURST", "7"),
                ("CASEGRID__HTTP__PUBLIC_RATE_LIMIT__PER_SECOND", "0"),
                ("CASEGRID__NATS__TLS__REQUIRED", "true"),
                ("CASEGRID__LOG__FORMAT", "json"),
                ("CASEGRID__CLOCK__FILE", "/tmp/clock"),
                // Strings where the setting is one, though they read as TOML numbers.
                ("CASEGRID__ROUTING__REPLICA", "2"),
                ("CASEGRID__NATS__USER", "1234"),
                ("CASEGRID__NATS__PASSWORD", "\"5678\""),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.http.rate_limit,
            RateLimitSettings {
                per_second: 1.5,
                burst: 7
            }
        );
        assert_eq!(s.http.public_rate_limit.enabled(), None);
        assert!(s.nats.tls.required);
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.clock.file.as_deref(), Some(Path::new("/tmp/clock")));
        assert_eq!(s.routing.replica, "2");
        assert_eq!(s.nats.user, "1234");
        assert_eq!(s.nats.password.unwrap().expose(), "5678");
    }

    #[test]
    fn defaults_of_the_new_sections() {
        let s = Settings::load_from(None, &[]).unwrap();
        assert_eq!(
            s.http.rate_limit.enabled(),
            Some(RateLimitSettings {
                per_second: 20.0,
                burst: 40
            })
        );
        assert_eq!(s.http.public_rate_limit.per_second, 5.0);
        assert_eq!(s.http.public_rate_limit.burst, 20);
        assert_eq!(s.log.format, LogFormat::Text);
        assert!(s.clock.file.is_none());
        assert_eq!(s.attachments.max_bytes, 10 * 1024 * 1024);
        assert!(s.attachments.types.iter().any(|t| t == "application/pdf"));
    }

    #[test]
    fn unknown_keys_and_values_of_the_wrong_type_are_refused() {
        for (key, value, named) in [
            (
                "CASEGRID__HTTP__RATE_LIMIT__PER_SECONDS",
                "1",
                "per_seconds",
            ),
            ("CASEGRID__CLOCK__PATH", "/tmp/x", "path"),
            ("CASEGRID__LOG__FORMAT", "xml", "xml"),
            ("CASEGRID__HTTP__RATE_LIMIT__BURST", "1.5", "burst"),
            ("CASEGRID__NATS__PASSWORD", "1234", "quote"),
        ] {
            let err = format!(
                "{:#}",
                Settings::load_from(None, &env(&[(key, value)])).unwrap_err()
            );
            assert!(err.contains(named), "{key}={value}: {err}");
        }
    }

    #[test]
    fn unknown_or_mistyped_keys_are_named() {
        let env = vec![("CASEGRID__HTTP__ADRR".to_owned(), "x".to_owned())];
        let err = format!("{:#}", Settings::load_from(None, &env).unwrap_err());
        assert!(err.contains("adrr"), "{err}");
        let env = vec![("CASEGRID__NATS__REPLICAS".to_owned(), "many".to_owned())];
        let err = format!("{:#}", Settings::load_from(None, &env).unwrap_err());
        assert!(
            err.contains("replicas") || err.contains("invalid type"),
            "{err}"
        );
    }
}
