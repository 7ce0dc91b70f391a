//! A service's own `/metrics` (`[metrics] listen`): what this process did, in a
//! `prometheus-client` exposition, so a scrape of every replica of intake, routing and
//! projection sums without counting anything twice (the gateway's `/metrics` holds only
//! the gateway's own figures and the system-wide ones read from the stream).
//!
//! The figures are gathered per process: [`crate::service::serve`] (and projection's
//! query endpoints) count the requests and failed answers of every endpoint
//! ([`answered`]), and [`crate::service::register_with_stats`]
//! names the service and its counters (the case store's `appends`, `conflicts`,
//! `reloads`, read when scraped). One service runs per process; the listener starts in
//! [`crate::service_main`].

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// The content type of the exposition [`render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reads a service's counters when scraped.
type Data = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

#[derive(Default)]
struct Figures {
    /// (service, its counters), as registered.
    services: Vec<(String, Data)>,
    /// (service, subject) → (requests, failed answers).
    endpoints: BTreeMap<(String, String), (u64, u64)>,
}

static FIGURES: Mutex<Option<Figures>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Figures) -> T) -> T {
    let mut figures = FIGURES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(figures.get_or_insert_with(Figures::default))
}

/// Names service `name` and how its counters are read (a JSON object of numbers).
pub(crate) fn register(name: &str, data: Data) {
    with(|f| {
        f.services.retain(|(n, _)| n != name);
        f.services.push((name.to_owned(), data));
    });
}

/// An endpoint `service` serves on `subject`: reported from the start, at 0.
pub fn endpoint(service: &str, subject: &str) {
    with(|f| {
        f.endpoints
            .entry((service.to_owned(), subject.to_owned()))
            .or_default();
    });
}

/// One request answered on `subject` by `service` with `answer` (`{"ok": …}` or
/// `{"problem": …}`, `casegrid_contracts::Answer`: a problem counts as an error).
pub fn answered(service: &str, subject: &str, answer: &[u8]) {
    let failed = answer.starts_with(b"{\"problem\"");
    with(|f| {
        let entry = f
            .endpoints
            .entry((service.to_owned(), subject.to_owned()))
            .or_default();
        entry.0 += 1;
        entry.1 += u64::from(failed);
    });
}

/// The help text of a counter a service reports.
fn help(counter: &str) -> &'static str {
    match counter {
        "appends" => "Events this replica appended",
        "conflicts" => "Appends of this replica that met another writer and were decided again",
        "reloads" => "Loads of a case's events from the stream by this replica",
        _ => "A counter this replica reports",
    }
}

type Labels<const N: usize> = [(&'static str, String); N];

/// This process's figures, as OpenMetrics text.
pub fn render() -> String {
    let mut registry = Registry::with_prefix("casegrid");
    let (services, endpoints) = with(|f| (f.services.clone(), f.endpoints.clone()));
    let mut counters: BTreeMap<String, Family<Labels<1>, Counter>> = BTreeMap::new();
    for (service, data) in &services {
        if let serde_json::Value::Object(values) = data() {
            for (name, value) in values {
                if let Some(n) = value.as_u64() {
                    counters
                        .entry(name)
                        .or_default()
                        .get_or_create(&[("service", service.clone())])
                        .inc_by(n);
                }
            }
        }
    }
    for (name, family) in counters {
        let help = help(&name);
        registry.register(name, help, family);
    }
    let requests = Family::<Labels<2>, Counter>::default();
    let errors = Family::<Labels<2>, Counter>::default();
    for ((service, subject), (n, failed)) in endpoints {
        let labels = [("service", service), ("subject", subject)];
        requests.get_or_create(&labels).inc_by(n);
        errors.get_or_create(&labels).inc_by(failed);
    }
    registry.register(
        "service_requests",
        "Requests this replica answered, by endpoint",
        requests,
    );
    registry.register(
        "service_errors",
        "Requests this replica answered with a problem, by endpoint",
        errors,
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// Serves `GET /metrics` ([`render`]) on `listen` until `shutdown`; any other path is
/// 404. A plain HTTP/1.1 responder, one request a connection: a scraper needs no more.
pub async fn serve(listen: &str, shutdown: CancellationToken) -> anyhow::Result<()> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("metrics.listen: binding {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    loop {
        let (mut socket, _) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: accepting a connection");
                    continue;
                }
            },
        };
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut buf))
                    .await
                {
                    Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let line = String::from_utf8_lossy(&head);
            let mut words = line.split_whitespace();
            let (method, path) = (words.next(), words.next());
            let (status, kind, body) = match (method, path.map(|p| p.split('?').next())) {
                (Some("GET"), Some(Some("/metrics"))) => ("200 OK", CONTENT_TYPE, render()),
                _ => (
                    "404 Not Found",
                    "text/plain; charset=utf-8",
                    "only GET /metrics is served here\n".to_owned(),
                ),
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_reports_its_own_counters_and_endpoints() {
        register(
            "casegrid-test",
            Arc::new(|| serde_json::json!({"appends": 3, "conflicts": 1, "note": "x"})),
        );
        endpoint("casegrid-test", "casegrid.test.idle");
        answered("casegrid-test", "casegrid.test.act", br#"{"ok":{}}"#);
        answered("casegrid-test", "casegrid.test.act", br#"{"problem":{}}"#);
        let text = render();
        assert!(
            text.contains("casegrid_appends_total{service=\"casegrid-test\"} 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "casegrid_service_requests_total{service=\"casegrid-test\",subject=\"casegrid.test.act\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "casegrid_service_errors_total{service=\"casegrid-test\",subject=\"casegrid.test.act\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "casegrid_service_requests_total{service=\"casegrid-test\",subject=\"casegrid.test.idle\"} 0"
            ),
            "{text}"
        );
        assert!(!text.contains("note"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
