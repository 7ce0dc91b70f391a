//! Who may do what on casegrid's NATS: one account `CASEGRID` with one user per
//! service and an admin, the system account `SYS` apart, no anonymous access.
//!
//! - [`User`]: the casegrid NATS users.
//! - [`accounts_conf`]: the server's `accounts` block with every user's subject
//!   permissions. `deploy/nats/accounts.conf` is exactly this text (a test keeps it
//!   so), and `casegrid dev` and the test kit run it too: one definition of the
//!   permissions, wherever the server runs.
//! - [`Credentials::generate`]: a fresh nkey per user, the seeds in files of mode
//!   0600, the public keys as the `CASEGRID_NKEY_<USER>` variables the config reads
//!   from the server's environment.
//!
//! Why this shape: only the gateway (and the admin tools) may publish to the services'
//! request subjects, so a service may trust the `actor` the gateway puts in a
//! request; only intake and routing may append to `casegrid.events.>`; only the
//! admin creates, updates, purges or deletes streams; each user reads replies only on
//! its own inbox prefix `_INBOX.<user>.>`, so nobody reads another's answers (a
//! revealed phone number, a data key); the services may publish to the gateway's inbox
//! `_INBOX.gateway.>` (their answers, also after a reconnect to another node), to no
//! other.

use crate::settings::NatsSettings;
use anyhow::Context;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The event stream and the key bucket the permissions name.
pub const EVENTS_STREAM: &str = "CASEGRID_EVENTS";
pub const EVENTS_SUBJECTS: &str = "casegrid.events.>";
pub const KEYS_BUCKET: &str = "CASEGRID_KEYS";
/// The notifier's delivery records (one key per notification id), routing's alone.
pub const NOTIFICATIONS_BUCKET: &str = "CASEGRID_NOTIFICATIONS";
/// The Object Store bucket of attachments (its stream is `OBJ_CASEGRID_ATTACHMENTS`).
pub const ATTACHMENTS_BUCKET: &str = "CASEGRID_ATTACHMENTS";
/// The durable consumer of the projection (routing's are `routing-<replica>`).
pub const PROJECTION_CONSUMER: &str = "projection";
/// The environment variable holding the system account user's public nkey.
pub const SYS_ENV: &str = "CASEGRID_NKEY_SYS";

/// A casegrid NATS user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum User {
    /// `casegrid rebuild`, `audit verify`, `privacy erase`, stream creation and
    /// configuration, `casegrid dev`'s bootstrap: everything.
    Admin,
    Gateway,
    Intake,
    Routing,
    Projection,
}

impl User {
    pub const ALL: [User; 5] = [
        User::Admin,
        User::Gateway,
        User::Intake,
        User::Routing,
        User::Projection,
    ];

    pub fn name(self) -> &'static str {
        match self {
            User::Admin => "admin",
            User::Gateway => "gateway",
            User::Intake => "intake",
            User::Routing => "routing",
            User::Projection => "projection",
        }
    }

    /// The variable the server config reads this user's public nkey from.
    pub fn env_var(self) -> String {
        format!("CASEGRID_NKEY_{}", self.name().to_ascii_uppercase())
    }

    /// The NATS service name this user registers (`$SRV.*.<service>`), if any.
    fn service(self) -> Option<&'static str> {
        match self {
            User::Intake => Some("casegrid-intake"),
            User::Routing => Some("casegrid-routing"),
            User::Projection => Some("casegrid-projection"),
            User::Admin | User::Gateway => None,
        }
    }
}

/// A user's subject permissions; `None` from [`permissions`] means everything.
#[derive(Debug, Default)]
struct Permissions {
    publish_allow: Vec<String>,
    publish_deny: Vec<String>,
    subscribe_allow: Vec<String>,
    subscribe_deny: Vec<String>,
    /// May answer the requests it receives (services, `$SRV`).
    allow_responses: bool,
    /// One line said above the user in the config.
    why: &'static str,
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// What every service user reads: the stream's info, its messages by direct get (any
/// replica answers) and by the leader's get (to confirm what a direct get did not find).
fn reads_the_log() -> Vec<String> {
    vec![
        format!("$JS.API.STREAM.INFO.{EVENTS_STREAM}"),
        format!("$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}"),
        format!("$JS.API.DIRECT.GET.{EVENTS_STREAM}"),
        format!("$JS.API.DIRECT.GET.{EVENTS_STREAM}.>"),
    ]
}

/// What intake and routing need of the key bucket: its info, get (direct get), create
/// and purge (both publishes to `$KV.CASEGRID_KEYS.>`).
fn uses_the_keys() -> Vec<String> {
    vec![
        format!("$KV.{KEYS_BUCKET}.>"),
        format!("$JS.API.STREAM.INFO.KV_{KEYS_BUCKET}"),
        format!("$JS.API.DIRECT.GET.KV_{KEYS_BUCKET}"),
        format!("$JS.API.DIRECT.GET.KV_{KEYS_BUCKET}.>"),
    ]
}

/// What routing's notifier needs of its bucket: info, get (direct get), and create and
/// update by revision (publishes to `$KV.CASEGRID_NOTIFICATIONS.>`).
fn uses_the_notifications() -> Vec<String> {
    let b = NOTIFICATIONS_BUCKET;
    vec![
        format!("$KV.{b}.>"),
        format!("$JS.API.STREAM.INFO.KV_{b}"),
        format!("$JS.API.DIRECT.GET.KV_{b}"),
        format!("$JS.API.DIRECT.GET.KV_{b}.>"),
    ]
}

/// Reading an attachment: the bucket's stream info, an object's metadata by direct
/// get, its chunks through an ordered push consumer (ephemeral: created without a name,
/// deleted when it is re-created; flow control answered).
fn reads_attachments() -> Vec<String> {
    let o = format!("OBJ_{ATTACHMENTS_BUCKET}");
    vec![
        format!("$JS.API.STREAM.INFO.{o}"),
        format!("$JS.API.DIRECT.GET.{o}"),
        format!("$JS.API.DIRECT.GET.{o}.>"),
        format!("$JS.API.CONSUMER.CREATE.{o}"),
        format!("$JS.API.CONSUMER.DELETE.{o}.*"),
        format!("$JS.FC.{o}.>"),
    ]
}

/// Managing the durable consumer `name` (info, create with or without a filter in the
/// subject, delete, pull) and acknowledging its messages.
fn owns_consumer(name: &str) -> Vec<String> {
    let s = EVENTS_STREAM;
    vec![
        format!("$JS.API.CONSUMER.INFO.{s}.{name}"),
        format!("$JS.API.CONSUMER.CREATE.{s}.{name}"),
        format!("$JS.API.CONSUMER.CREATE.{s}.{name}.>"),
        format!("$JS.API.CONSUMER.DELETE.{s}.{name}"),
        format!("$JS.API.CONSUMER.MSG.NEXT.{s}.{name}"),
        format!("$JS.ACK.{s}.{name}.>"),
    ]
}

/// Nobody but the admin changes a stream or a bucket.
fn never_configures() -> Vec<String> {
    strings(&[
        "$JS.API.STREAM.CREATE.>",
        "$JS.API.STREAM.UPDATE.>",
        "$JS.API.STREAM.DELETE.>",
        "$JS.API.STREAM.PURGE.>",
        "$JS.API.STREAM.MSG.DELETE.>",
    ])
}

/// Where a service's answers go: the gateway's inbox. `allow_responses` lets a service
/// answer only through the server that delivered the request; after it reconnects to
/// another node of a cluster, its answers to requests received before would be refused
/// and the gateway would wait out its timeout. Only the gateway's inbox, so a service
/// still cannot forge answers to another service's or the admin's requests.
fn answers_the_gateway() -> String {
    format!("_INBOX.{}.>", User::Gateway.name())
}

/// A service answers its own requests, in its queue group only (`q`, the service API's
/// default, or the service's name), its own `$SRV` verbs, and reads replies on its own
/// inbox.
fn serves(user: User, requests: &str) -> Vec<String> {
    let service = user.service().expect("a service user");
    vec![
        format!("{requests} q"),
        format!("{requests} {service}"),
        "$SRV.*".to_owned(),
        format!("$SRV.*.{service}"),
        format!("$SRV.*.{service}.*"),
        format!("_INBOX.{}.>", user.name()),
    ]
}

fn permissions(user: User) -> Option<Permissions> {
    let inbox = format!("_INBOX.{}.>", user.name());
    let s = EVENTS_STREAM;
    Some(match user {
        User::Admin => return None,
        User::Gateway => {
            let mut publish_allow = strings(&[
                "casegrid.intake.*",
                "casegrid.routing.*",
                "casegrid.projection.*",
                "$SRV.PING",
                "$SRV.PING.>",
                "$SRV.INFO",
                "$SRV.INFO.>",
                "$SRV.STATS",
                "$SRV.STATS.>",
            ]);
            publish_allow.extend(reads_the_log());
            // SSE follows the stream with ordered consumers: ephemeral only (a create
            // without a name in the subject cannot make a durable one), never acked.
            publish_allow.push(format!("$JS.API.CONSUMER.CREATE.{s}"));
            publish_allow.push(format!("$JS.API.CONSUMER.MSG.NEXT.{s}.*"));
            // /metrics: every durable consumer's lag.
            publish_allow.push(format!("$JS.API.CONSUMER.LIST.{s}"));
            // Attachments: stores (chunks, then the metadata) and reads objects; never
            // deletes or purges one.
            publish_allow.push(format!("$O.{ATTACHMENTS_BUCKET}.>"));
            publish_allow.extend(reads_attachments());
            let mut publish_deny = strings(&["casegrid.events.>", "$KV.>", "$JS.ACK.>"]);
            publish_deny.push(format!("$JS.API.*.*.KV_{KEYS_BUCKET}"));
            publish_deny.push(format!("$JS.API.*.*.KV_{KEYS_BUCKET}.>"));
            publish_deny.push(format!(
                "$JS.API.CONSUMER.MSG.NEXT.{s}.{PROJECTION_CONSUMER}"
            ));
            publish_deny.extend(never_configures());
            Permissions {
                publish_allow,
                publish_deny,
                subscribe_allow: vec![inbox],
                subscribe_deny: vec![],
                allow_responses: false,
                why: "the HTTP edge: requests the services, reads the log for SSE, stores and serves attachments; never appends, never touches the keys",
            }
        }
        User::Intake | User::Routing => {
            let mut publish_allow = vec![EVENTS_SUBJECTS.to_owned(), answers_the_gateway()];
            publish_allow.extend(reads_the_log());
            publish_allow.extend(uses_the_keys());
            let requests = if user == User::Intake {
                "casegrid.intake.>"
            } else {
                "casegrid.routing.>"
            };
            let mut publish_deny = never_configures();
            if user == User::Intake {
                // Erasure deletes a personal attachment: a metadata tombstone, then its
                // chunks purged. Only this stream's purge is let through.
                let o = format!("OBJ_{ATTACHMENTS_BUCKET}");
                publish_allow.push(format!("$O.{ATTACHMENTS_BUCKET}.M.>"));
                publish_allow.push(format!("$JS.API.STREAM.PURGE.{o}"));
                publish_allow.extend(reads_attachments());
                publish_deny.retain(|d| d != "$JS.API.STREAM.PURGE.>");
                publish_deny.push(format!("$JS.API.STREAM.PURGE.{EVENTS_STREAM}"));
                publish_deny.push(format!("$JS.API.STREAM.PURGE.KV_{KEYS_BUCKET}"));
            }
            if user == User::Routing {
                // Each replica owns its durable consumer `routing-<replica>`; the
                // projection's is not routing's to touch.
                for verb in ["INFO", "CREATE", "DELETE"] {
                    publish_allow.push(format!("$JS.API.CONSUMER.{verb}.{s}.*"));
                }
                publish_allow.push(format!("$JS.API.CONSUMER.CREATE.{s}.*.>"));
                publish_allow.push(format!("$JS.API.CONSUMER.MSG.NEXT.{s}.*"));
                publish_allow.push(format!("$JS.ACK.{s}.*.>"));
                publish_allow.extend(uses_the_notifications());
                publish_deny.push(format!("$JS.API.CONSUMER.*.{s}.{PROJECTION_CONSUMER}"));
                publish_deny.push(format!("$JS.API.CONSUMER.*.{s}.{PROJECTION_CONSUMER}.>"));
                publish_deny.push(format!(
                    "$JS.API.CONSUMER.MSG.NEXT.{s}.{PROJECTION_CONSUMER}"
                ));
                publish_deny.push(format!("$JS.ACK.{s}.{PROJECTION_CONSUMER}.>"));
            }
            Permissions {
                publish_allow,
                publish_deny,
                subscribe_allow: serves(user, requests),
                subscribe_deny: vec![],
                allow_responses: true,
                why: if user == User::Intake {
                    "files and acts: appends events, creates, reads and erases data keys, reads attachments and deletes personal ones at erasure, answers casegrid.intake.>"
                } else {
                    "dispatch, deadlines, reactions, notifications: appends events, seals mediation parties' data, its durable consumers, the notification bucket, answers casegrid.routing.>"
                },
            }
        }
        User::Projection => {
            let mut publish_allow = reads_the_log();
            publish_allow.push(answers_the_gateway());
            publish_allow.extend(owns_consumer(PROJECTION_CONSUMER));
            let mut publish_deny = strings(&["casegrid.events.>", "$KV.>"]);
            publish_deny.push(format!("$JS.API.*.*.KV_{KEYS_BUCKET}"));
            publish_deny.push(format!("$JS.API.*.*.KV_{KEYS_BUCKET}.>"));
            publish_deny.extend(never_configures());
            Permissions {
                publish_allow,
                publish_deny,
                subscribe_allow: serves(user, "casegrid.projection.>"),
                subscribe_deny: vec![],
                allow_responses: true,
                why: "read models: reads its durable consumer, answers casegrid.projection.>; never appends",
            }
        }
    })
}

fn list(out: &mut String, indent: &str, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{indent}{key}: [");
    for item in items {
        let _ = writeln!(out, "{indent}  {item:?}");
    }
    let _ = writeln!(out, "{indent}]");
}

/// The `accounts` block of every casegrid nats-server: `deploy/nats/accounts.conf`.
pub fn accounts_conf() -> String {
    let mut out = String::from(
        "# casegrid's NATS accounts and subject permissions. Generated by\n\
         # casegrid_runtime::natsauth::accounts_conf (a test keeps this file equal to it);\n\
         # `casegrid dev` and the test kit run the same text.\n\
         #\n\
         # Each user logs in with an nkey; the server reads the public keys from its\n\
         # environment (CASEGRID_NKEY_ADMIN, _GATEWAY, _INTAKE, _ROUTING, _PROJECTION, _SYS):\n\
         # `casegrid nats-credentials <dir>` writes them to <dir>/nkeys.env and one seed\n\
         # file per user (mode 0600) for the processes' [nats] nkey_seed_file.\n\
         # No user stands in for clients without credentials (no `no_auth_user`): they are refused.\n\
         #\n\
         # Only the gateway and the admin may publish to the services' request subjects,\n\
         # so the services trust the `actor` the gateway sends. Only intake and routing\n\
         # append to casegrid.events.>. Only the admin creates, updates, purges or deletes\n\
         # streams. Each user reads replies only on its own inbox _INBOX.<user>.>; the\n\
         # services answer the gateway on _INBOX.gateway.> (also after a reconnect to\n\
         # another node, where allow_responses no longer covers a request received before).\n\
         accounts {\n  CASEGRID {\n    jetstream: enabled\n    users: [\n",
    );
    for user in User::ALL {
        let var = user.env_var();
        match permissions(user) {
            None => {
                let _ = writeln!(
                    out,
                    "      # {}: rebuild, audit, privacy erase, stream creation and configuration\n      {{ nkey: ${var} }}",
                    user.name()
                );
            }
            Some(p) => {
                let _ = writeln!(out, "      # {}: {}", user.name(), p.why);
                let _ = writeln!(
                    out,
                    "      {{\n        nkey: ${var}\n        permissions: {{"
                );
                let _ = writeln!(out, "          publish: {{");
                list(&mut out, "            ", "allow", &p.publish_allow);
                list(&mut out, "            ", "deny", &p.publish_deny);
                let _ = writeln!(out, "          }}\n          subscribe: {{");
                list(&mut out, "            ", "allow", &p.subscribe_allow);
                list(&mut out, "            ", "deny", &p.subscribe_deny);
                let _ = writeln!(out, "          }}");
                if p.allow_responses {
                    let _ = writeln!(out, "          allow_responses: true");
                }
                let _ = writeln!(out, "        }}\n      }}");
            }
        }
    }
    let _ = write!(
        out,
        "    ]\n  }}\n  # The system account, apart: server monitoring only.\n  SYS {{\n    users: [ {{ nkey: ${SYS_ENV} }} ]\n  }}\n}}\nsystem_account: SYS\n"
    );
    out
}

/// Fresh nkeys for every user, written under one folder.
#[derive(Debug, Clone)]
pub struct Credentials {
    dir: PathBuf,
    /// (variable, public key), the server's environment.
    public: Vec<(String, String)>,
}

/// The file holding `user`'s seed in a credentials folder.
pub fn seed_file(dir: &Path, user: User) -> PathBuf {
    dir.join(format!("{}.nk", user.name()))
}

impl Credentials {
    /// Writes into `dir` (created with mode 0700): `<user>.nk` (the seed, mode 0600)
    /// for every user and `sys.nk` for the system account, `nkeys.env` (the public keys
    /// as `CASEGRID_NKEY_<USER>=…` lines, for the server's environment) and
    /// `accounts.conf` (the permissions). Old files are replaced.
    pub fn generate(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        restrict(dir, 0o700)?;
        let mut public = Vec::new();
        let mut keys: Vec<(String, PathBuf)> = User::ALL
            .iter()
            .map(|u| (u.env_var(), seed_file(dir, *u)))
            .collect();
        keys.push((SYS_ENV.to_owned(), dir.join("sys.nk")));
        for (var, file) in keys {
            let pair = nkeys::KeyPair::new_user();
            let seed = pair.seed().context("encoding an nkey seed")?;
            write_private(&file, format!("{seed}\n").as_bytes())?;
            public.push((var, pair.public_key()));
        }
        let env: String = public.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        std::fs::write(dir.join("nkeys.env"), env)?;
        std::fs::write(dir.join("accounts.conf"), accounts_conf())?;
        Ok(Self {
            dir: dir.to_path_buf(),
            public,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's environment: every user's public nkey.
    pub fn server_env(&self) -> &[(String, String)] {
        &self.public
    }

    /// How `user` connects to `url`.
    pub fn settings(&self, user: User, url: &str) -> NatsSettings {
        settings_for(&self.dir, user, url)
    }
}

/// How `user` connects to `url` with the seed in credentials folder `dir`.
pub fn settings_for(dir: &Path, user: User, url: &str) -> NatsSettings {
    NatsSettings {
        user: user.name().to_owned(),
        nkey_seed_file: Some(seed_file(dir, user)),
        ..NatsSettings::open(url)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_accounts_file_is_the_generated_one() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats/accounts.conf");
        let text = std::fs::read_to_string(&shipped).unwrap_or_default();
        assert!(
            text == accounts_conf(),
            "{} differs from natsauth::accounts_conf(); regenerate it with \
             CASEGRID_WRITE_ACCOUNTS=1 cargo test -p casegrid-runtime natsauth",
            shipped.display()
        );
    }

    #[test]
    fn write_the_shipped_accounts_file_when_asked() {
        if std::env::var_os("CASEGRID_WRITE_ACCOUNTS").is_some() {
            let shipped =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats/accounts.conf");
            std::fs::write(shipped, accounts_conf()).unwrap();
        }
    }

    #[test]
    fn no_anonymous_access_and_the_system_account_apart() {
        let text = accounts_conf();
        assert!(!text.contains("no_auth_user:"));
        assert!(text.contains("system_account: SYS"));
        for user in User::ALL {
            assert!(text.contains(&format!("${}", user.env_var())));
        }
    }

    #[test]
    fn credentials_are_private_files_with_valid_seeds() {
        let dir = std::env::temp_dir().join(format!("cg-natsauth-{}", std::process::id()));
        let creds = Credentials::generate(&dir).unwrap();
        for user in User::ALL {
            let settings = creds.settings(user, "nats://127.0.0.1:1");
            let file = settings.nkey_seed_file.unwrap();
            let seed = std::fs::read_to_string(&file).unwrap();
            let pair = nkeys::KeyPair::from_seed(seed.trim()).unwrap();
            let public = &creds
                .server_env()
                .iter()
                .find(|(k, _)| *k == user.env_var())
                .unwrap()
                .1;
            assert_eq!(&pair.public_key(), public);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", file.display());
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
