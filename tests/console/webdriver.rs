//! A thin W3C WebDriver client over reqwest, for Debian's `chromedriver` driving
//! headless `chromium`: sessions, navigation, elements, keys, scripts, screenshots.
//! Every wait is bounded; a failure names what was waited for and what the page showed.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C key codes the tests press.
pub(crate) mod key {
    pub(crate) const TAB: &str = "\u{E004}";
    pub(crate) const ENTER: &str = "\u{E007}";
    pub(crate) const HOME: &str = "\u{E011}";
    pub(crate) const END: &str = "\u{E010}";
}

/// The element id member of a W3C element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `chromedriver` on a free loopback port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub(crate) async fn start() -> Self {
        let port = casegrid_runtime::natsserver::free_port().unwrap();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver does not start ({e}): install Debian's chromium and \
                     chromium-driver (scripts/install-chromium; scripts/test runs it)"
                )
            });
        let driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .await
                .ok()
                .map(|r| r.json::<Value>());
            if let Some(body) = ready {
                if body.await.is_ok_and(|b| b["value"]["ready"] == true) {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver not ready in 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    /// A new headless browser (its own profile, so its own cookies) with a window of
    /// `width`×`height`.
    pub(crate) async fn browser(&self, width: u32, height: u32) -> Browser {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", "--lang=zh-CN", "--force-device-scale-factor=1",
                         format!("--window-size={width},{height}")]
            }
        }}});
        let r: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .await
            .expect("POST /session")
            .json()
            .await
            .expect("session answer");
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        let browser = Browser {
            http: self.http.clone(),
            base: format!("{}/session/{id}", self.base),
        };
        browser.resize(width, height).await;
        browser
    }
}

/// One browser session.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"));
        let ok = r.status().is_success();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if ok {
            Ok(body["value"].clone())
        } else {
            Err(body["value"].clone())
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("WebDriver POST {path}: {e}"))
    }

    /// Makes the viewport (what a screenshot shows) `width`×`height`.
    pub(crate) async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({ "width": width, "height": height }))
            .await;
        let inner = self
            .exec("return [window.innerWidth, window.innerHeight]", json!([]))
            .await;
        let (w, h) = (
            inner[0].as_u64().unwrap_or(0) as u32,
            inner[1].as_u64().unwrap_or(0) as u32,
        );
        if (w, h) != (width, height) && w > 0 && h > 0 {
            self.post(
                "/window/rect",
                json!({ "width": 2 * width - w, "height": 2 * height - h }),
            )
            .await;
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` are `args`) and answers its value.
    pub(crate) async fn exec(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs an async script: its last argument is the callback to call with the value.
    pub(crate) async fn exec_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    async fn try_find(&self, css: &str) -> Option<String> {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
            .ok()?;
        v[ELEMENT].as_str().map(str::to_owned)
    }

    /// Waits (10 s) until `css` matches a displayed element; answers its id.
    pub(crate) async fn find(&self, css: &str) -> String {
        self.wait_for(css, Duration::from_secs(10)).await
    }

    pub(crate) async fn wait_for(&self, css: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(id) = self.try_find(css).await {
                return id;
            }
            if Instant::now() > deadline {
                panic!(
                    "no element {css} within {within:?}; the page shows:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether `css` matches anything now.
    pub(crate) async fn exists(&self, css: &str) -> bool {
        self.exec(
            "return document.querySelector(arguments[0]) !== null",
            json!([css]),
        )
        .await
            == true
    }

    pub(crate) async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Types `text` into the element `css` (focusing it).
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    /// Presses keys on whatever has the focus (the keyboard alone: no click, no focus
    /// moved by the driver): each character, or a `key::…` code, down then up.
    pub(crate) async fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            let k = c.to_string();
            actions.push(json!({ "type": "keyDown", "value": k }));
            actions.push(json!({ "type": "keyUp", "value": k }));
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
    }

    /// The id of the focused element.
    pub(crate) async fn focused(&self) -> String {
        self.exec(
            "return document.activeElement ? document.activeElement.id : ''",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// The visible text of `css` (waiting for it to exist).
    pub(crate) async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits (`within`) until the text of `css` contains `wanted`; answers the text.
    pub(crate) async fn wait_text(&self, css: &str, wanted: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self
                .exec(
                    "const e = document.querySelector(arguments[0]); return e ? e.innerText : null",
                    json!([css]),
                )
                .await;
            if let Some(t) = text.as_str() {
                if t.contains(wanted) {
                    return t.to_owned();
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{css} did not show {wanted:?} within {within:?} (it shows {text}); the page:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    pub(crate) async fn page_text(&self) -> String {
        self.exec(
            "return document.body ? document.body.innerText : ''",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Saves a PNG of the viewport, scrolled to the top, to `path`.
    pub(crate) async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        self.exec("window.scrollTo(0, 0)", json!([])).await;
        let v = self
            .call(reqwest::Method::GET, "/screenshot", None)
            .await
            .expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64 PNG"))
            .expect("base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    pub(crate) async fn quit(self) {
        let _ = self.call(reqwest::Method::DELETE, "", None).await;
    }
}
