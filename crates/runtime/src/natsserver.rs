//! Runs `nats-server` as a child process: for `casegrid dev`, `casegrid bench` and
//! the test kit, alone or as a 3-node cluster ([`NatsCluster`]). Finds the binary
//! (`CASEGRID_NATS_SERVER`, the project's installed copy under `.tools/nats`, then
//! `PATH`), checks its version, writes a config with `sync_interval: always`, waits
//! until it answers, and stops it on drop.

use crate::natsauth;
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
    config_text_named(port, store_dir, sync_always, "casegrid-local")
}

fn config_text_named(port: u16, store_dir: &Path, sync_always: bool, name: &str) -> String {
    let sync = if sync_always {
        "  sync_interval: always\n"
    } else {
        ""
    };
    format!(
        "listen: 127.0.0.1:{port}\nserver_name: {name}\nmax_payload: 1MB\n\
         jetstream {{\n  store_dir: {store:?}\n{sync}}}\n",
        store = store_dir.display().to_string()
    )
}

/// The file the server config includes for [`Options::auth`], beside the config.
pub const ACCOUNTS_FILE: &str = "nats-accounts.conf";

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
    /// Run the shipped accounts and permissions ([`natsauth::accounts_conf`]) with these
    /// users' keys; `None` runs an open server (unit-level tests only).
    pub auth: Option<natsauth::Credentials>,
    /// Serve clients over TLS only.
    pub tls: Option<ServerTls>,
}

/// The server's TLS for clients (PEM files).
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// With `verify`, the CA clients' certificates must be signed by.
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate.
    pub verify: bool,
}

impl ServerTls {
    fn config_text(&self) -> String {
        let mut out = format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n",
            self.cert_file.display().to_string(),
            self.key_file.display().to_string()
        );
        if let Some(ca) = &self.ca_file {
            out.push_str(&format!("  ca_file: {:?}\n", ca.display().to_string()));
        }
        if self.verify {
            out.push_str("  verify: true\n");
        }
        out.push_str("}\n");
        out
    }
}

impl NatsServer {
    /// Starts the server. With port 0 a free port is chosen, and another is tried when
    /// the chosen one is taken before the server binds it.
    pub fn start(options: Options) -> anyhow::Result<Self> {
        let binary = locate()?;
        let version = binary_version(&binary)?;
        std::fs::create_dir_all(&options.store_dir)
            .with_context(|| format!("creating {}", options.store_dir.display()))?;
        let store_dir = options.store_dir.canonicalize()?;
        let attempts = if options.port == 0 { 5 } else { 1 };
        let mut last_error = None;
        for attempt in 0..attempts {
            let port = if options.port == 0 {
                free_port()?
            } else {
                options.port
            };
            match Self::spawn(&binary, &store_dir, port, &options, attempt) {
                Ok(child) => {
                    let mut server = Self {
                        child: Some(child),
                        port,
                        store_dir: store_dir.clone(),
                        version: version.clone(),
                    };
                    let name = Self::name(port, attempt);
                    match server.wait_ready(&name, Duration::from_secs(15)) {
                        Ok(()) => return Ok(server),
                        Err(e) => {
                            server.kill();
                            last_error = Some(e);
                        }
                    }
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// A name only this start uses, so readiness is not mistaken on a taken port.
    fn name(port: u16, attempt: u32) -> String {
        format!("casegrid-{}-{port}-{attempt}", std::process::id())
    }

    fn spawn(
        binary: &Path,
        store_dir: &Path,
        port: u16,
        options: &Options,
        attempt: u32,
    ) -> anyhow::Result<Child> {
        let parent = store_dir.parent().unwrap_or(store_dir).to_path_buf();
        let config = parent.join(format!("nats-{port}.conf"));
        let name = Self::name(port, attempt);
        let mut text = config_text_named(port, store_dir, options.sync_always, &name);
        let mut command = Command::new(binary);
        if let Some(tls) = &options.tls {
            text.push_str(&tls.config_text());
        }
        if let Some(auth) = &options.auth {
            // Includes are relative to the config; the keys come from the environment.
            std::fs::write(parent.join(ACCOUNTS_FILE), natsauth::accounts_conf())?;
            text.push_str(&format!("include \"{ACCOUNTS_FILE}\"\n"));
            command.envs(auth.server_env().iter().map(|(k, v)| (k, v)));
        }
        std::fs::write(&config, text)?;
        let log = std::fs::File::create(parent.join(format!("nats-{port}.log")))?;
        command
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))
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

    /// Waits until this server (by its name) sends its INFO line; fails if the child
    /// exits first.
    fn wait_ready(&mut self, name: &str, within: Duration) -> anyhow::Result<()> {
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
                let read = BufReader::new(stream).read_line(&mut line).is_ok();
                // The INFO names the server: another one on this port is not ours.
                if read && line.starts_with("INFO") && line.contains(&format!("\"{name}\"")) {
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

/// One node of a [`NatsCluster`]: its ports, store and (while it runs) its process.
struct ClusterNode {
    name: String,
    client_port: u16,
    cluster_port: u16,
    http_port: u16,
    dir: PathBuf,
    server: Option<NatsServer>,
}

/// Three `nats-server` processes on 127.0.0.1 forming one JetStream cluster, each with
/// its own store under one folder, `sync_interval: always` and the shipped accounts and
/// permissions, as `deploy/nats/cluster-*.conf` runs them. Nodes can be killed
/// (SIGKILL) and restarted by index on the same ports and store; all stop on drop.
/// The test kit's `TestCluster` builds on this; it lives here, not in the test kit, so a
/// production binary (a future `casegrid soak`) may start one without linking the kit.
pub struct NatsCluster {
    binary: PathBuf,
    auth: natsauth::Credentials,
    nodes: Vec<ClusterNode>,
    pub version: String,
}

impl NatsCluster {
    /// Starts `size` nodes under `dir` (stores in `dir/node-<i>`), waiting until each
    /// answers; JetStream's own elections happen after (wait for them on a client).
    pub fn start(dir: &Path, size: usize, auth: natsauth::Credentials) -> anyhow::Result<Self> {
        let binary = locate()?;
        let version = binary_version(&binary)?;
        // Hold every listener at once so the 3 × size ports are distinct.
        let listeners = (0..size * 3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()
            .context("finding free ports")?;
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        drop(listeners);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let nodes = (0..size)
            .map(|i| ClusterNode {
                // Unique on this machine, so readiness never mistakes another server.
                name: format!("casegrid-{}-{}", i + 1, ports[i * 3]),
                client_port: ports[i * 3],
                cluster_port: ports[i * 3 + 1],
                http_port: ports[i * 3 + 2],
                dir: dir.join(format!("node-{}", i + 1)),
                server: None,
            })
            .collect();
        let mut cluster = Self {
            binary,
            auth,
            nodes,
            version,
        };
        let routes: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("nats-route://127.0.0.1:{}", n.cluster_port))
            .collect();
        for node in &cluster.nodes {
            std::fs::create_dir_all(node.dir.join("jetstream"))?;
            std::fs::write(node.dir.join(ACCOUNTS_FILE), natsauth::accounts_conf())?;
            std::fs::write(node.dir.join("nats.conf"), node.config_text(&routes))?;
        }
        for i in 0..size {
            cluster.restart(i)?;
        }
        Ok(cluster)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's client URL, comma-separated: what `nats.url` takes.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("nats://127.0.0.1:{}", n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Node `i`'s client URL.
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// Node `i`'s monitoring address (`/healthz`, `/jsz`).
    pub fn http_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].http_port)
    }

    /// Node `i`'s `server_name`, as stream info names its leader and replicas.
    pub fn name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// The index of the node called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].server.is_some()
    }

    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].server.as_ref().and_then(NatsServer::pid)
    }

    /// The folder of node `i` (config, log `nats.log`, store `jetstream/`).
    pub fn node_dir(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }

    /// Kills node `i` at once (SIGKILL), as a crash would; its store stays.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut server) = self.nodes[i].server.take() {
            server.kill();
        }
    }

    /// Starts node `i` again (or the first time) on its ports and store, and waits
    /// until it answers clients.
    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        self.kill(i);
        let node = &self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("nats.log"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(node.dir.join("nats.conf"))
            .envs(self.auth.server_env().iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let mut server = NatsServer {
            child: Some(child),
            port: node.client_port,
            store_dir: node.dir.join("jetstream"),
            version: self.version.clone(),
        };
        server
            .wait_ready(&node.name, Duration::from_secs(15))
            .with_context(|| format!("cluster node {} ({})", i, node.name))?;
        self.nodes[i].server = Some(server);
        Ok(())
    }
}

impl ClusterNode {
    fn config_text(&self, routes: &[String]) -> String {
        let store = self.dir.join("jetstream").display().to_string();
        let routes: String = routes.iter().map(|r| format!("    {r}\n")).collect();
        format!(
            "listen: 127.0.0.1:{client}\nserver_name: {name}\nhttp: 127.0.0.1:{http}\n\
             max_payload: 1MB\njetstream {{\n  store_dir: {store:?}\n  sync_interval: always\n}}\n\
             cluster {{\n  name: casegrid\n  listen: 127.0.0.1:{cluster}\n  routes: [\n{routes}  ]\n}}\n\
             include \"{ACCOUNTS_FILE}\"\n",
            client = self.client_port,
            name = self.name,
            http = self.http_port,
            cluster = self.cluster_port,
        )
    }
}

impl Drop for NatsCluster {
    /// Kills every node: a cluster's stores are throw-away.
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
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
            let accounts = path.file_name().is_some_and(|n| n == "accounts.conf");
            if path.extension().is_some_and(|e| e == "conf") && !accounts {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    text.contains("sync_interval: always"),
                    "{} lacks sync_interval: always",
                    path.display()
                );
                assert!(
                    text.contains("include \"accounts.conf\"") && !text.contains("no_auth_user:"),
                    "{} must run the shipped accounts and permissions, with no anonymous user",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 2);
        assert!(config_text(4222, Path::new("/tmp/x"), true).contains("sync_interval: always"));
    }
}
