//! Runs `nats-server` as a child process: for `casegrid dev`, `casegrid bench` and
//! the test kit. Finds the binary (`CASEGRID_NATS_SERVER`, the project's installed
//! copy under `.tools/nats`, then `PATH`), checks its version, writes a config with
//! `sync_interval: always`, waits until it answers, and stops it on drop.

use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/install-nats-server` puts the binary, relative to the project root.
pub const INSTALLED_PATH: &str = ".tools/nats/bin/nats-server";

/// Finds a `nats-server` binary; the error says how to install one.
pub fn locate() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("CASEGRID_NATS_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let mut starts = vec![];
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for start in starts {
        for dir in start.ancestors() {
            let candidate = dir.join(INSTALLED_PATH);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("nats-server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "nats-server not found: run scripts/install-nats-server (installs 2.15.1 into {INSTALLED_PATH}) \
         or set CASEGRID_NATS_SERVER to a nats-server ≥ 2.12"
    )
}

/// The version a `nats-server` binary reports (`nats-server: v2.15.1` → `2.15.1`).
pub fn binary_version(binary: &Path) -> anyhow::Result<String> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .last()
        .map(|v| v.trim_start_matches('v').to_owned())
        .filter(|v| !v.is_empty())
        .with_context(|| format!("{} --version printed {text:?}", binary.display()))?;
    crate::nats::check_version(&version)
        .with_context(|| format!("{} reports version {version}", binary.display()))?;
    Ok(version)
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// The JetStream block casegrid's servers run with; the same as `deploy/nats/*.conf`.
pub fn config_text(port: u16, store_dir: &Path, sync_always: bool) -> String {
    let sync = if sync_always {
        "  sync_interval: always\n"
    } else {
        ""
    };
    format!(
        "listen: 127.0.0.1:{port}\nserver_name: casegrid-local\nmax_payload: 1MB\n\
         jetstream {{\n  store_dir: {store:?}\n{sync}}}\n",
        store = store_dir.display().to_string()
    )
}

/// A running `nats-server` child; stopped when dropped.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store_dir: PathBuf,
    pub version: String,
}

/// How to start the child.
pub struct Options {
    /// JetStream's store; the config and log file are written beside it.
    pub store_dir: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    /// `sync_interval: always` (the shipped configuration); false for the server default.
    pub sync_always: bool,
}

impl NatsServer {
    pub fn start(options: Options) -> anyhow::Result<Self> {
        let binary = locate()?;
        let version = binary_version(&binary)?;
        let port = if options.port == 0 {
            free_port()?
        } else {
            options.port
        };
        std::fs::create_dir_all(&options.store_dir)
            .with_context(|| format!("creating {}", options.store_dir.display()))?;
        let store_dir = options.store_dir.canonicalize()?;
        let parent = store_dir.parent().unwrap_or(&store_dir).to_path_buf();
        let config = parent.join(format!("nats-{port}.conf"));
        std::fs::write(&config, config_text(port, &store_dir, options.sync_always))?;
        let log = std::fs::File::create(parent.join(format!("nats-{port}.log")))?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            child: Some(child),
            port,
            store_dir,
            version,
        };
        server.wait_ready(Duration::from_secs(15))?;
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until the server sends its INFO line; fails if the child exits first.
    fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "nats-server exited with {status} before answering; see its log beside {}",
                        self.store_dir.display()
                    );
                }
            }
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut line = String::new();
                if BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO") {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "nats-server on port {} did not answer within {within:?}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks the server to stop (SIGTERM), then kills it if it lingers.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_server_config_syncs_every_write() {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats");
        let mut seen = 0;
        for entry in std::fs::read_dir(&deploy).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "conf") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    text.contains("sync_interval: always"),
                    "{} lacks sync_interval: always",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 2);
        assert!(config_text(4222, Path::new("/tmp/x"), true).contains("sync_interval: always"));
    }
}
