//! Starting casegrid's real binaries and talking to them. The NATS server runs the
//! shipped accounts and permissions, and every process connects as its own user.

use casegrid_runtime::natsauth::User;
use casegrid_runtime::settings::NatsSettings;
use casegrid_testkit::{eventually, TestNats};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A binary built by `cargo build --workspace --bins` next to this test binary.
pub(crate) fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first (scripts/test runs `cargo build --workspace --bins`)",
        path.display()
    );
    path
}

pub(crate) fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/config")
        .canonicalize()
        .unwrap()
}

/// The admin's connection settings of each NATS server these tests started, by URL,
/// so a helper given only a URL can read the stream.
static ADMINS: std::sync::Mutex<Vec<NatsSettings>> = std::sync::Mutex::new(Vec::new());

fn remember_admin(settings: NatsSettings) {
    ADMINS.lock().unwrap().push(settings);
}

/// A client connected as the NATS admin of the server at `nats_url`.
pub(crate) async fn admin_client(nats_url: &str) -> async_nats::Client {
    let settings = ADMINS
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s.url == nats_url)
        .cloned()
        .unwrap_or_else(|| panic!("no admin credentials for {nats_url}"));
    casegrid_runtime::nats::connect_with(&settings, "casegrid-e2e-admin")
        .await
        .unwrap_or_else(|e| panic!("connecting as the admin to {nats_url}: {e:#}"))
}

/// Which NATS user runs `casegrid serve <service>`.
fn user_of(service: &str) -> User {
    match service {
        "intake" => User::Intake,
        "routing" => User::Routing,
        "projection" => User::Projection,
        "gateway" => User::Gateway,
        other => panic!("no NATS user for service {other}"),
    }
}

/// Child processes killed on drop.
pub(crate) struct Procs(pub(crate) Vec<(String, Child)>);

impl Procs {
    /// The processes that have exited, with how (a service stops only on failure).
    pub(crate) fn exited(&mut self) -> Vec<String> {
        self.0
            .iter_mut()
            .filter_map(|(name, child)| {
                let status = child.try_wait().ok()??;
                Some(format!("{name} ({status})"))
            })
            .collect()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `nats-server` plus the four services, each its own OS process.
pub(crate) struct System {
    pub(crate) nats: TestNats,
    pub(crate) api: Api,
    pub(crate) live_db: String,
    pub(crate) procs: Procs,
    http_port: u16,
    clock_file: Option<PathBuf>,
}

impl System {
    pub(crate) async fn start() -> Self {
        Self::start_with_clock(None).await
    }

    /// With `clock`, every service reads its time from this file (`[clock] file`).
    pub(crate) async fn start_with_clock(clock: Option<time::OffsetDateTime>) -> Self {
        Self::start_with_env(clock, &[]).await
    }

    /// Like [`Self::start_with_clock`], every service started with `env` set too.
    pub(crate) async fn start_with_env(
        clock: Option<time::OffsetDateTime>,
        env: &[(&str, String)],
    ) -> Self {
        let nats = TestNats::start_secured();
        remember_admin(nats.settings(User::Admin));
        // What the init tool does on a deployment: only the admin creates the stream
        // and the key bucket; the services may only open them.
        casegrid_eventlog::EventLog::bootstrap(nats.client().await, 1)
            .await
            .expect("creating the stream and the key bucket as the admin");
        let http_port = casegrid_runtime::natsserver::free_port().unwrap();
        let live_db = format!("sqlite://{}/live.db?mode=rwc", nats.dir().display());
        let clock_file = clock.map(|at| {
            let path = nats.dir().join("clock");
            casegrid_runtime::clock::FileClock::new(&path)
                .set(at)
                .unwrap();
            path
        });
        let api = Api::new(format!("http://127.0.0.1:{http_port}"));
        let mut system = Self {
            nats,
            api,
            live_db,
            procs: Procs(Vec::new()),
            http_port,
            clock_file,
        };
        for service in ["intake", "routing", "projection", "gateway"] {
            system.spawn(service, service, env);
        }
        system.wait_ready().await;
        system
    }

    /// `http://127.0.0.1:<port>` of the gateway, for requests the JSON client cannot make.
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Moves the time of every service (only with `start_with_clock`).
    pub(crate) fn set_clock(&self, at: time::OffsetDateTime) {
        let path = self.clock_file.as_ref().expect("started with a clock");
        casegrid_runtime::clock::FileClock::new(path)
            .set(at)
            .unwrap();
    }

    /// The admin's nkey seed file, for the tools' `--credentials`.
    pub(crate) fn admin_seed(&self) -> std::path::PathBuf {
        self.nats
            .settings(User::Admin)
            .nkey_seed_file
            .expect("a secured server")
    }

    /// Starts `casegrid serve <service>` as the process named `name`, connecting to
    /// NATS as the service's own user.
    pub(crate) fn spawn(&mut self, name: &str, service: &str, env: &[(&str, String)]) {
        let nats = self.nats.settings(user_of(service));
        let mut command = serve_command(
            name,
            service,
            &nats,
            self.nats.dir(),
            &self.live_db,
            self.http_port,
        );
        if let Some(clock) = &self.clock_file {
            command.env("CASEGRID__CLOCK__FILE", clock);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().unwrap();
        self.procs.0.push((name.to_owned(), child));
    }

    /// Kills the process named `name` at once (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self, name: &str) {
        let at = self
            .procs
            .0
            .iter()
            .position(|(n, _)| n == name)
            .expect("known process");
        let (_, mut child) = self.procs.0.remove(at);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub(crate) async fn wait_ready(&self) {
        wait_services(&self.nats.client().await, &self.api).await;
    }

    /// Messages in the event stream.
    pub(crate) async fn stream_messages(&self) -> u64 {
        stream_messages(&self.nats.url()).await
    }

    /// Every event in the stream, as stored.
    pub(crate) async fn events(&self) -> Vec<Value> {
        events_at(&self.nats.client().await).await
    }

    /// Waits until the projection has applied everything in the stream.
    pub(crate) async fn wait_projection(&self) {
        let last = self.stream_messages().await;
        wait_projection_at(&self.nats.client().await, last).await;
    }

    /// Waits until routing (the consumer `routing-1`) has applied and acknowledged
    /// everything in the stream: its deadline table then holds every signature so far,
    /// so moving the clock after this races nothing.
    pub(crate) async fn wait_routing(&self) {
        use async_nats::jetstream::consumer::PullConsumer;
        let last = self.stream_messages().await;
        let js = async_nats::jetstream::new(self.nats.client().await);
        eventually(
            Duration::from_secs(20),
            &format!("routing to apply the stream up to {last}"),
            || {
                let js = js.clone();
                async move {
                    let stream = js.get_stream("CASEGRID_EVENTS").await.ok()?;
                    let mut consumer: PullConsumer = stream.get_consumer("routing-1").await.ok()?;
                    let info = consumer.info().await.ok()?;
                    (info.ack_floor.stream_sequence >= last).then_some(())
                }
            },
        )
        .await;
    }

    /// `casegrid rebuild` into a fresh SQLite file `<name>.db`, compared with the live
    /// read models: asserts they are identical; answers the URL and what it printed.
    pub(crate) async fn rebuild_and_compare(&self, name: &str) -> (String, String) {
        rebuild_and_compare_at(
            &self.nats.url(),
            1,
            &self.admin_seed(),
            self.nats.dir(),
            &self.live_db,
            name,
        )
    }

    /// `casegrid audit verify` on this system's log: asserts it passes; answers its output.
    pub(crate) fn audit_verify(&self) -> String {
        let out = Command::new(bin("casegrid"))
            .args(["audit", "verify", "--nats", &self.nats.url()])
            .arg("--credentials")
            .arg(self.admin_seed())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Every service's log, for failure messages.
    pub(crate) fn logs(&self) -> String {
        let mut out = String::new();
        for (name, _) in &self.procs.0 {
            let text = std::fs::read_to_string(self.nats.dir().join(format!("{name}.log")))
                .unwrap_or_default();
            out.push_str(&format!("--- {name}\n{text}\n"));
        }
        out
    }
}

/// Files `body` as `token`: asserts 201, answers the case id.
pub(crate) async fn file(api: &Api, token: &str, body: Value) -> String {
    let r = api.post("/api/v1/cases", token, &body, &[]).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// `POST /api/v1/cases/{id}/actions/{action}` as `token`: asserts 200, answers the body.
pub(crate) async fn act(api: &Api, id: &str, action: &str, token: &str, body: Value) -> Value {
    let r = api
        .post(
            &format!("/api/v1/cases/{id}/actions/{action}"),
            token,
            &body,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{action} by {token}: {}", r.body);
    r.body
}

/// The grid worker's report of a factory built on farmland in 桃溪村 (led by 南山镇).
pub(crate) async fn file_illegal_construction(api: &Api) -> String {
    let body = json!({"channel": "grid_patrol", "kind": "report",
        "category": "illegal_construction", "title": "桃溪村农田内违法搭建厂房",
        "location": {"grid": "NH.NS.TX.01"}});
    file(api, "demo-grid", body).await
}

/// 南山镇 signs case `id` and whistles `departments` (吹哨) to report in.
pub(crate) async fn sign_and_whistle(api: &Api, id: &str, departments: &[&str]) {
    act(api, id, "sign", "demo-nanshan", json!({})).await;
    let body = json!({"departments": departments,
        "reason": "违建涉及规划、环保和河道管理，需多部门联合执法"});
    act(api, id, "whistle", "demo-nanshan", body).await;
}

/// The supervisor's audited reveal of case `id`: its `personal_data`, by field name.
pub(crate) async fn reveal(api: &Api, id: &str) -> Value {
    let body = json!({"reason": "核实联系人"});
    act(api, id, "reveal", "demo-supervisor", body).await["personal_data"].clone()
}

/// Waits until the gateway is ready and every service answers its `$SRV.PING`.
pub(crate) async fn wait_services(client: &async_nats::Client, api: &Api) {
    eventually(
        Duration::from_secs(60),
        "services to register and the gateway to be ready",
        || {
            let client = client.clone();
            let api = api.clone();
            async move {
                // Not listening yet is "not ready", not a failure.
                let ready = api
                    .http
                    .get(format!("{}/readyz", api.base))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200);
                let mut all = ready;
                for name in ["casegrid-intake", "casegrid-routing", "casegrid-projection"] {
                    all = all
                        && client
                            .request(format!("$SRV.PING.{name}"), "".into())
                            .await
                            .is_ok();
                }
                all.then_some(())
            }
        },
    )
    .await;
}

/// Waits until the projection has applied the stream up to sequence `last`.
pub(crate) async fn wait_projection_at(client: &async_nats::Client, last: u64) {
    eventually(
        Duration::from_secs(20),
        "the projection to catch up",
        || async move { (projection_checkpoint(client).await? >= last).then_some(()) },
    )
    .await;
}

/// The projection's checkpoint as it answers it, `None` when it does not answer.
pub(crate) async fn projection_checkpoint(client: &async_nats::Client) -> Option<u64> {
    let reply = client
        .request("casegrid.projection.checkpoint", "{}".into())
        .await
        .ok()?;
    let answer: Value = serde_json::from_slice(&reply.payload).ok()?;
    answer["ok"].as_u64()
}

/// `casegrid rebuild` into a fresh SQLite file `<name>.db`, compared with the live
/// read models: asserts they are identical; answers the URL and what it printed.
pub(crate) fn rebuild_and_compare_at(
    nats_url: &str,
    replicas: usize,
    admin_seed: &Path,
    dir: &Path,
    live_db: &str,
    name: &str,
) -> (String, String) {
    let into = format!("sqlite://{}/{name}.db?mode=rwc", dir.display());
    let out = Command::new(bin("casegrid"))
        .args(["rebuild", "--nats", nats_url, "--into", &into])
        .args(["--compare", live_db])
        .arg("--credentials")
        .arg(admin_seed)
        .env("CASEGRID__NATS__REPLICAS", replicas.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rebuild failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("identical"), "{stdout}");
    (into, stdout)
}

/// `casegrid serve <service>` as the process `name`, connecting to NATS (`nats.url` may
/// list several servers) as the service's own user, logging to `<dir>/<name>.log`.
pub(crate) fn serve_command(
    name: &str,
    service: &str,
    nats: &NatsSettings,
    dir: &Path,
    live_db: &str,
    http_port: u16,
) -> Command {
    assert_eq!(
        nats.user,
        user_of(service).name(),
        "{service}'s own NATS user"
    );
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap();
    let mut command = Command::new(bin("casegrid"));
    command
        .args(["serve", service])
        .env("CASEGRID__NATS__URL", &nats.url)
        .env("CASEGRID__NATS__REPLICAS", nats.replicas.to_string())
        .env("CASEGRID__NATS__USER", &nats.user)
        .env(
            "CASEGRID__NATS__NKEY_SEED_FILE",
            nats.nkey_seed_file.as_ref().expect("a secured server"),
        )
        .env("CASEGRID__DATABASE__URL", live_db)
        .env(
            "CASEGRID__ROUTING__DATABASE_URL",
            format!("sqlite://{}/routing.db?mode=rwc", dir.display()),
        )
        .env("CASEGRID__ROUTING__TICK_MS", "100")
        .env("CASEGRID__HTTP__ADDR", format!("127.0.0.1:{http_port}"))
        .env("CASEGRID__DISTRICT__CONFIG_DIR", config_dir())
        .env("CASEGRID__HTTP__RATE_LIMIT__PER_SECOND", "0")
        .env("CASEGRID__AUTH__STATIC_TOKENS", "true")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    command
}

/// Every event in the stream, as stored, read by `client` (an admin).
pub(crate) async fn events_at(client: &async_nats::Client) -> Vec<Value> {
    try_events_at(client)
        .await
        .unwrap_or_else(|e| panic!("reading the stream: {e}"))
}

/// [`events_at`], failing instead of panicking (a cluster electing a leader times out).
pub(crate) async fn try_events_at(client: &async_nats::Client) -> Result<Vec<Value>, String> {
    use futures_util::StreamExt;
    let js = async_nats::jetstream::new(client.clone());
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let mut stream = js
        .get_stream("CASEGRID_EVENTS")
        .await
        .map_err(|e| text(&e))?;
    let last = stream.info().await.map_err(|e| text(&e))?.state.messages;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .map_err(|e| text(&e))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| text(&e))?
        .take(last as usize);
    let mut out = Vec::new();
    while let Some(m) = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .map_err(|e| text(&e))?
    {
        let m = m.map_err(|e| text(&e))?;
        out.push(serde_json::from_slice(&m.payload).map_err(|e| text(&e))?);
    }
    Ok(out)
}

pub(crate) async fn stream_messages(nats_url: &str) -> u64 {
    let client = admin_client(nats_url).await;
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("CASEGRID_EVENTS").await.unwrap();
    stream.info().await.unwrap().state.messages
}

/// `casegrid dev` as a child process, with what it printed.
pub(crate) struct Dev {
    pub(crate) child: Child,
    pub(crate) api: Api,
    pub(crate) nats_url: String,
    /// The folder of this run's NATS keys, as printed.
    pub(crate) credentials: PathBuf,
    pub(crate) printed: String,
}

impl Dev {
    pub(crate) fn start(data_dir: &Path) -> Self {
        let mut child = Command::new(bin("casegrid"))
            .args([
                "dev",
                "--http",
                "127.0.0.1:0",
                "--nats-port",
                "0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(["--config"])
            .arg(config_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut http, mut nats, mut auth, mut printed) = (None, None, None, String::new());
        while http.is_none() || nats.is_none() || !printed.contains("Ctrl-C stops") {
            let Some(Ok(line)) = lines.next() else {
                panic!("casegrid dev stopped printing before its URLs:\n{printed}");
            };
            printed.push_str(&line);
            printed.push('\n');
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [label, url, ..] = words[..] {
                match label {
                    "HTTP" => http = Some(url.to_owned()),
                    "NATS" => nats = Some(url.to_owned()),
                    "AUTH" => auth = Some(PathBuf::from(url)),
                    _ => {}
                }
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (nats_url, credentials) = (nats.unwrap(), auth.expect("an AUTH line"));
        remember_admin(casegrid_runtime::natsauth::settings_for(
            &credentials,
            User::Admin,
            &nats_url,
        ));
        Self {
            child,
            api: Api::new(http.unwrap()),
            nats_url,
            credentials,
            printed,
        }
    }
}

/// A small HTTP client for the API: answers (status, headers, JSON body). Every JSON
/// answer is checked against the gateway's own `/openapi.json`.
#[derive(Clone)]
pub(crate) struct Api {
    base: String,
    http: reqwest::Client,
    doc: std::sync::Arc<tokio::sync::OnceCell<Value>>,
}

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Api {
    pub(crate) fn new(base: String) -> Self {
        Self {
            doc: Default::default(),
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    /// `http://127.0.0.1:<port>`, the gateway's base URL (the console's browser tests
    /// open it; `tests/console` shares this kit).
    #[allow(dead_code)]
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let r = self
            .send(reqwest::Method::GET, path, token, None, &[])
            .await;
        (r.status, r.body)
    }

    pub(crate) async fn post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Response {
        self.send(
            reqwest::Method::POST,
            path,
            Some(token),
            Some(body.to_string()),
            headers,
        )
        .await
    }

    /// Posts raw bytes (for malformed JSON).
    pub(crate) async fn post_raw(&self, path: &str, token: Option<&str>, body: String) -> Response {
        self.send(reqwest::Method::POST, path, token, Some(body), &[])
            .await
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let method = req
            .try_clone()
            .and_then(|r| r.build().ok())
            .map(|r| r.method().to_string())
            .unwrap_or_default();
        let resp = req.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if content_type.ends_with("json") && path.starts_with("/api/") {
            self.check_documented(&method, path, status, &content_type, &body)
                .await;
        }
        Response {
            status,
            headers,
            body,
        }
    }

    /// Every answer of the end-to-end tests must be what the OpenAPI document says.
    async fn check_documented(
        &self,
        method: &str,
        path: &str,
        status: u16,
        content_type: &str,
        body: &Value,
    ) {
        let doc = self
            .doc
            .get_or_init(|| async {
                let r = self
                    .http
                    .get(format!("{}/openapi.json", self.base))
                    .send()
                    .await
                    .expect("GET /openapi.json");
                r.json().await.expect("the OpenAPI document is JSON")
            })
            .await;
        let Some(template) = casegrid_testkit::openapi::template_for(doc, path) else {
            // A path the document does not have (an unknown action) answers the 404
            // problem, as the document's Problem describes it.
            assert!(
                status == 404 && content_type.starts_with("application/problem+json"),
                "{method} {path} is not in /openapi.json (answered {status})"
            );
            let problem = json!({"$ref": "#/components/schemas/Problem"});
            casegrid_testkit::openapi::validate(doc, &problem, body, path)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            return;
        };
        casegrid_testkit::openapi::assert_documented(
            doc,
            method,
            &template,
            status,
            content_type,
            body,
        );
    }
}
