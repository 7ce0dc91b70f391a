//! Connecting to NATS and refusing servers that cannot hold casegrid's log safely.

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

/// Connects as `name`, and refuses a server older than [`MIN_SERVER`].
pub async fn connect(url: &str, name: &str) -> anyhow::Result<async_nats::Client> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(std::time::Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("connecting to NATS at {url}"))?;
    // The INFO arrives with the connection; wait for it briefly when retrying.
    for _ in 0..100 {
        if !client.server_info().version.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    check_version(&client.server_info().version).with_context(|| format!("NATS at {url}"))?;
    Ok(client)
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
}
