//! The notifier's channels: a webhook (a POST of JSON signed with HMAC-SHA256 in
//! `X-Casegrid-Signature`) and an SMS gateway ([`SmsGateway`]), with a development
//! adapter that appends one JSON line per text to a file ([`FileSms`]).

use ring::hmac;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The header carrying the lowercase hex HMAC-SHA256 of the body: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Casegrid-Signature";
/// The header carrying the notification id, so a receiver can drop a repeat.
pub const ID_HEADER: &str = "X-Casegrid-Notification";

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    format!("sha256={}", hex(hmac::sign(&key, body).as_ref()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Posts signed JSON.
#[derive(Clone)]
pub struct Webhook {
    http: reqwest::Client,
    secret: Option<Vec<u8>>,
}

impl Webhook {
    pub fn new(secret: Option<Vec<u8>>, timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, secret })
    }

    /// Posts `body` to `url`; any answer but 2xx is a failure naming the status.
    pub async fn post(&self, url: &str, id: &str, body: Vec<u8>) -> Result<(), String> {
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header(ID_HEADER, id);
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        match request.body(body).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("the webhook answered {}", r.status())),
            // No URL in the message: reqwest's errors carry it, and it is in the record.
            Err(e) => Err(format!(
                "the webhook did not answer ({})",
                if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connection refused or unreachable"
                } else {
                    "request failed"
                }
            )),
        }
    }
}

/// Sends a text to a phone. The phone is the clear number: implementations must not
/// log it or keep it anywhere but where the text goes.
pub trait SmsGateway: Send + Sync {
    fn send(&self, id: &str, phone: &str, text: &str) -> Result<(), String>;
}

/// The development adapter: appends `{"id":…,"to":…,"text":…}` lines to a file.
pub struct FileSms {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileSms {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }
}

impl SmsGateway for FileSms {
    fn send(&self, id: &str, phone: &str, text: &str) -> Result<(), String> {
        let _guard = self.lock.lock().expect("sms file lock");
        let line = serde_json::json!({ "id": id, "to": phone, "text": text }).to_string();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("the SMS file cannot be opened: {}", e.kind()))?;
        writeln!(file, "{line}")
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("the SMS file cannot be written: {}", e.kind()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_file_adapter_appends_one_line_per_text() {
        let dir = tempfile::tempdir().unwrap();
        let sms = FileSms::new(dir.path().join("sms.jsonl"));
        sms.send("a", "13800001234", "你好").unwrap();
        sms.send("b", "13800005678", "再见").unwrap();
        let text = std::fs::read_to_string(dir.path().join("sms.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["to"], "13800001234");
        assert_eq!(lines[1]["text"], "再见");
    }
}
