//! [`TestPostgres`]: a real, throw-away PostgreSQL server, for tests (through the test
//! kit, which re-exports it) and for `casegrid bench`'s PostgreSQL rebuild: the same
//! kind of local child as [`crate::natsserver`], so the production binary needs no
//! test kit. Behind the `postgres` feature (it brings `sqlx`).
//!
//! - Binaries: `$CASEGRID_PG_BIN` (a directory holding `initdb`, `pg_ctl`, `postgres`),
//!   else the newest `/usr/lib/postgresql/*/bin` (Debian's layout; `scripts/install-postgres`
//!   installs postgresql-15 when absent).
//! - `initdb` refuses to run as root. When the tests run as root, the server binaries run
//!   as the `postgres` system user (`runuser -u postgres -- …`) and the temporary
//!   directory is chowned to it; when `postgres` is absent, create an unprivileged user
//!   (`useradd --system --no-create-home postgres`) or run the tests as another user.
//! - The cluster lives in a temporary directory (data, log and the unix socket), listens on
//!   a free port on 127.0.0.1 with `trust` authentication and `fsync=off`, and `pg_ctl -w`
//!   waits until it accepts connections. Dropping the value stops the server
//!   (`-m immediate`) and deletes the directory. A watchdog shell does the same when the
//!   test process dies without dropping it (a `static` shared server, an abort).
//! - `CASEGRID_TEST_DATABASE_URL=postgres://user:pw@host/db`: no server is started; each
//!   [`TestPostgres::database`] creates a fresh `test_<random>` database on that server.

use anyhow::{anyhow, bail, Context};
use sqlx::{Connection, Executor, PgConnection};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use tokio::sync::OnceCell;

/// Environment variable naming an existing server to use instead of starting one.
pub const DATABASE_URL_ENV: &str = "CASEGRID_TEST_DATABASE_URL";
/// Environment variable naming the directory of the server binaries.
pub const PG_BIN_ENV: &str = "CASEGRID_PG_BIN";

/// A throw-away PostgreSQL server (or an external one from `CASEGRID_TEST_DATABASE_URL`).
#[derive(Debug)]
pub struct TestPostgres {
    /// URL of the maintenance database (`postgres`), used to create test databases.
    admin_url: String,
    /// The running cluster we own; `None` for an external server.
    cluster: Option<Cluster>,
}

#[derive(Debug)]
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    run_as: Option<String>,
}

impl TestPostgres {
    /// Starts a server (or adopts `CASEGRID_TEST_DATABASE_URL`); panics with install
    /// instructions when no server binaries are found.
    pub fn start() -> Self {
        if let Ok(url) = std::env::var(DATABASE_URL_ENV) {
            return Self {
                admin_url: url,
                cluster: None,
            };
        }
        Self::start_cluster(false).unwrap_or_else(|e| panic!("test kit: PostgreSQL: {e:#}"))
    }

    /// A server that fsyncs every commit (`fsync=on`, `synchronous_commit=on`), for
    /// durable-write comparisons (`casegrid bench`'s PostgreSQL event store twin).
    /// Ignores `CASEGRID_TEST_DATABASE_URL`.
    pub fn start_durable() -> anyhow::Result<Self> {
        Self::start_cluster(true)
    }

    /// One server for the whole test binary, started on first use; each test takes its
    /// own [`Self::database`]. The watchdog stops it when the process exits.
    pub async fn shared() -> &'static TestPostgres {
        static SHARED: OnceCell<TestPostgres> = OnceCell::const_new();
        SHARED
            .get_or_init(|| async { tokio::task::spawn_blocking(Self::start).await.unwrap() })
            .await
    }

    /// Creates a fresh, empty database `test_<random>` and returns its URL.
    pub async fn database(&self) -> String {
        self.create_database()
            .await
            .unwrap_or_else(|e| panic!("test kit: creating a PostgreSQL database: {e:#}"))
    }

    /// The URL of the maintenance database `postgres` (or of `CASEGRID_TEST_DATABASE_URL`).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    async fn create_database(&self) -> anyhow::Result<String> {
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .with_context(|| "connecting to the test server".to_string())?;
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .context("CREATE DATABASE")?;
        conn.close().await.ok();
        Ok(replace_database(&self.admin_url, &name))
    }

    fn start_cluster(durable: bool) -> anyhow::Result<Self> {
        let bin = find_bin()?;
        let run_as = if is_root() {
            let user = "postgres";
            if !Command::new("id")
                .arg("-u")
                .arg(user)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
            {
                bail!(
                    "running as root and there is no `postgres` user to run the server as: \
                     create one (`useradd --system --no-create-home postgres`), or set \
                     {DATABASE_URL_ENV}"
                );
            }
            Some(user.to_owned())
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("casegrid-pg-")
            .tempdir()
            .context("temp dir")?
            .keep();
        let cluster = Cluster { bin, dir, run_as };
        if let Some(user) = &cluster.run_as {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{user}:"))
                .arg(&cluster.dir)
                .status()
                .context("chown")?;
            if !status.success() {
                bail!("chown {} to {user} failed", cluster.dir.display());
            }
        }
        cluster.watchdog()?;
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data().to_string_lossy(),
                "--auth=trust",
                "--username=postgres",
                "--no-locale",
                "--encoding=UTF8",
                "--no-sync",
            ],
        )?;
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            let durability = if durable {
                "-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
            } else {
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            };
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 {durability} \
                 -c max_connections=200",
                cluster.dir.display()
            );
            match cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    &cluster.data().to_string_lossy(),
                    "-l",
                    &cluster.dir.join("server.log").to_string_lossy(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ) {
                Ok(()) => {
                    return Ok(Self {
                        admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                        cluster: Some(cluster),
                    })
                }
                // Another process took the port between our probe and the start: retry.
                Err(e) => last = Some(e),
            }
        }
        let log = std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default();
        Err(last
            .unwrap_or_else(|| anyhow!("no attempt"))
            .context(format!("server log:\n{log}")))
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(cluster) = &self.cluster {
            let _ = cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    &cluster.data().to_string_lossy(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
            let _ = std::fs::remove_dir_all(&cluster.dir);
        }
    }
}

impl Cluster {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Runs a server binary (as the server's user when we are root), failing with its output.
    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let output = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// A detached shell that stops the server and deletes its directory once this
    /// process is gone, so a server shared through a `static` never outlives its tests.
    fn watchdog(&self) -> anyhow::Result<()> {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- '{}'", pg_ctl.display()),
            None => format!("'{}'", pg_ctl.display()),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             [ -d '{dir}/data' ] && {stop} -D '{dir}/data' -m immediate stop >/dev/null 2>&1; \
             rm -rf '{dir}'",
            pid = std::process::id(),
            dir = self.dir.display(),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the PostgreSQL watchdog")?;
        Ok(())
    }
}

fn find_bin() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").is_file() {
            return Ok(dir);
        }
        bail!("{PG_BIN_ENV}={} holds no initdb", dir.display());
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        anyhow!(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) in \
             /usr/lib/postgresql/*/bin: run scripts/install-postgres (Debian: \
             apt-get install postgresql-15), set {PG_BIN_ENV} to their directory, or \
             set {DATABASE_URL_ENV} to an existing server"
        )
    })
}

fn is_root() -> bool {
    // The owner of /proc/self is the process's user; no libc call needed.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("probing a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `url` with its database (path) replaced by `name`, keeping any query string.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_replace_the_path() {
        assert_eq!(
            replace_database("postgres://u:p@h:5/postgres?sslmode=disable", "test_x"),
            "postgres://u:p@h:5/test_x?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://h", "test_x"),
            "postgres://h/test_x"
        );
    }

    #[tokio::test]
    async fn a_server_starts_answers_and_gives_fresh_databases() {
        let pg = TestPostgres::start();
        let a = pg.database().await;
        let b = pg.database().await;
        assert_ne!(a, b);
        let mut conn = PgConnection::connect(&a).await.unwrap();
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
    }
}
