//! Connecting to NATS and refusing servers that cannot hold casegrid's log safely.

use crate::settings::NatsSettings;
use anyhow::{bail, Context};

/// The oldest nats-server casegrid runs on: older ones cannot sync every write
/// (`sync_interval: always`), and 2.9.15–2.9.20 accepted two racing appends with the
/// same expected sequence.
pub const MIN_SERVER: (u64, u64) = (2, 12);

/// Parses `2.15.1` (or `v2.15.1`) into (major, minor, patch).
pub fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let v = v.trim().trim_start_matches('v');
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Checks a server version string against [`MIN_SERVER`].
pub fn check_version(v: &str) -> anyhow::Result<()> {
    let Some((major, minor, _)) = parse_version(v) else {
        bail!("cannot read the nats-server version {v:?}");
    };
    if (major, minor) < MIN_SERVER {
        bail!(
            "nats-server {v} is too old: casegrid needs {}.{} or newer (older servers cannot fsync \
             every append; run scripts/install-nats-server or set CASEGRID_NATS_SERVER)",
            MIN_SERVER.0,
            MIN_SERVER.1
        );
    }
    Ok(())
}

/// The servers of `nats.url`: one URL or a comma-separated list (a cluster's nodes;
/// the client connects to any and fails over to the others).
pub fn server_addrs(url: &str) -> anyhow::Result<Vec<async_nats::ServerAddr>> {
    let addrs = url
        .split(',')
        .map(str::trim)
        .map(|one| {
            if one.is_empty() {
                bail!("nats.url {url:?} holds an empty entry: list URLs separated by commas");
            }
            one.parse::<async_nats::ServerAddr>()
                .with_context(|| format!("nats.url: {one:?} is not a NATS URL"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(addrs)
}

/// How long to wait before reconnect attempt `attempts` (1-based): at once, then
/// doubling from 100 ms up to [`RECONNECT_MAX`], so a restarted cluster is not hammered
/// by every replica at once and a lost node is left within a second.
pub fn reconnect_delay(attempts: usize) -> std::time::Duration {
    if attempts <= 1 {
        return std::time::Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 2).unwrap_or(u32::MAX).min(16);
    std::time::Duration::from_millis(100u64.saturating_mul(1 << exp)).min(RECONNECT_MAX)
}

/// The longest wait between reconnect attempts; the client never gives up.
pub const RECONNECT_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects as `name` without credentials (an open test server), and refuses a
/// server older than [`MIN_SERVER`].
pub async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    connect_with(&NatsSettings::open(url), name).await
}

/// The inbox prefix of a casegrid NATS user: each user may read replies only there.
pub fn inbox_prefix(user: &str) -> String {
    if user.is_empty() {
        "_INBOX".to_owned()
    } else {
        format!("_INBOX.{user}")
    }
}

/// The connect options of `settings`: credentials (user and password, nkey seed file
/// or creds file), TLS, and the user's own inbox prefix.
pub async fn options(settings: &NatsSettings) -> anyhow::Result<async_nats::ConnectOptions> {
    let mut options = async_nats::ConnectOptions::new();
    let given = [
        settings.password.is_some(),
        settings.nkey_seed_file.is_some(),
        settings.creds_file.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        bail!("nats: set only one of password, nkey_seed_file and creds_file");
    }
    if let Some(password) = &settings.password {
        if settings.user.is_empty() {
            bail!("nats.password is set but nats.user is empty");
        }
        options = options.user_and_password(settings.user.clone(), password.expose().clone());
    }
    if let Some(file) = &settings.nkey_seed_file {
        let seed = std::fs::read_to_string(file)
            .with_context(|| format!("reading the nkey seed file {}", file.display()))?;
        let seed = seed.trim().to_owned();
        nkeys::KeyPair::from_seed(&seed)
            .with_context(|| format!("{} holds no valid nkey seed", file.display()))?;
        options = options.nkey(seed);
    }
    if let Some(file) = &settings.creds_file {
        options = options
            .credentials_file(file)
            .await
            .with_context(|| format!("reading the NATS creds file {}", file.display()))?;
    }
    let tls = &settings.tls;
    if let Some(ca) = &tls.ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        (None, None) => {}
        _ => bail!("nats.tls: cert_file and key_file go together"),
    }
    if tls.required {
        options = options.require_tls(true);
    }
    Ok(options.custom_inbox_prefix(inbox_prefix(&settings.user)))
}

/// Connects as `name` with the credentials and TLS of `settings`, and refuses a
/// server older than [`MIN_SERVER`]. A refusal by the server's permissions is logged
/// with the subject it names.
pub async fn connect_with(
    settings: &NatsSettings,
    name: &str,
) -> anyhow::Result<async_nats::Client> {
    let url = &settings.url;
    let addrs = server_addrs(url)?;
    let who = if settings.user.is_empty() {
        "without credentials".to_owned()
    } else {
        format!("as user {}", settings.user)
    };
    let connection_name = name.to_owned();
    let client = options(settings)
        .await?
        .name(name)
        .event_callback(move |event| {
            let name = connection_name.clone();
            async move {
                if let async_nats::Event::ServerError(e) = event {
                    tracing::error!(connection = %name, error = %e, "the NATS server refused");
                }
            }
        })
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay)
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(addrs)
        .await
        .with_context(|| format!("connecting to NATS at {url} {who}"))?;
    // The INFO arrives with the connection; wait for it briefly when retrying. A
    // server that refuses the credentials sends its INFO but never lets us connect.
    let connected = |c: &async_nats::Client| {
        c.connection_state() == async_nats::connection::State::Connected
            && !c.server_info().version.is_empty()
    };
    for _ in 0..100 {
        if connected(&client) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if !connected(&client) {
        bail!(
            "NATS at {url} did not accept a connection {who} within 5 s: is the server up, \
             and are the credentials in [nats] (user, password, nkey_seed_file, creds_file) right?"
        );
    }
    check_version(&client.server_info().version).with_context(|| format!("NATS at {url}"))?;
    Ok(client)
}

/// Whether `e`, or an error it wraps, is JetStream's "stream not found": a stream or
/// bucket that does not exist, as opposed to a server that did not answer in time.
pub fn is_stream_not_found(e: &(dyn std::error::Error + 'static)) -> bool {
    use async_nats::jetstream::context::{GetStreamError, GetStreamErrorKind};
    use async_nats::jetstream::ErrorCode;
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(get) = e.downcast_ref::<GetStreamError>() {
            if matches!(get.kind(), GetStreamErrorKind::JetStream(j)
                if j.error_code() == ErrorCode::STREAM_NOT_FOUND)
            {
                return true;
            }
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_older_than_2_12_are_refused() {
        assert!(check_version("2.9.10").is_err());
        assert!(check_version("2.11.9").is_err());
        assert!(check_version("2.12.0").is_ok());
        assert!(check_version("v2.15.1").is_ok());
        assert!(check_version("nonsense").is_err());
        assert_eq!(parse_version("2.12.0-beta.1"), Some((2, 12, 0)));
    }

    #[test]
    fn a_cluster_is_a_comma_separated_list_of_urls() {
        let addrs =
            server_addrs("nats://casegrid-1:4222, nats://casegrid-2:4222,tls://casegrid-3:4222")
                .unwrap();
        let hosts: Vec<_> = addrs.iter().map(|a| a.host().to_owned()).collect();
        assert_eq!(hosts, ["casegrid-1", "casegrid-2", "casegrid-3"]);
        assert!(addrs[2].tls_required());
        assert_eq!(server_addrs("nats://127.0.0.1:4222").unwrap().len(), 1);
        let err = format!(
            "{:#}",
            server_addrs("nats://a:4222,,nats://b:4222").unwrap_err()
        );
        assert!(err.contains("empty entry"), "{err}");
        let err = format!(
            "{:#}",
            server_addrs("nats://a:4222,http://b:80").unwrap_err()
        );
        assert!(err.contains("http://b:80"), "{err}");
    }

    #[test]
    fn reconnects_back_off_to_five_seconds_and_never_stop() {
        use std::time::Duration;
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(100));
        assert_eq!(reconnect_delay(3), Duration::from_millis(200));
        assert_eq!(reconnect_delay(7), Duration::from_millis(3200));
        assert_eq!(reconnect_delay(8), RECONNECT_MAX);
        assert_eq!(reconnect_delay(10_000), RECONNECT_MAX);
    }
}
