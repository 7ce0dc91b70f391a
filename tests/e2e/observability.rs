//! What operators watch: the `/metrics` of all four services (the gateway's, and intake's,
//! routing's and projection's own `[metrics] listen`) read by a real Prometheus text
//! parser, one `# HELP` and one `# TYPE` per family, each replica reporting only its own
//! work; logs as JSON lines with `[log] format = "json"`.

use crate::kit::System;
use crate::lifecycle::noise_complaint;
use casegrid_testkit::eventually;
use std::collections::BTreeMap;
use std::time::Duration;

const OPERATOR: &str = "demo-operator";
const SUPERVISOR: &str = "demo-supervisor";

/// The family a sample line belongs to, given the families declared by `# TYPE`:
/// a counter `x` has samples `x_total` (OpenMetrics), a histogram `x` has `x_bucket`,
/// `x_sum` and `x_count`.
fn family_of<'a>(sample: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(sample) {
        return Some(sample);
    }
    ["_total", "_bucket", "_sum", "_count", "_created"]
        .iter()
        .find_map(|suffix| sample.strip_suffix(suffix))
        .filter(|base| types.contains_key(*base))
}

/// One exposition read by a real parser: one HELP and one TYPE per family, every
/// sample parsed and of a declared family. Answers the families' types and the samples.
fn parsed(text: &str) -> (BTreeMap<String, String>, prometheus_parse::Scrape) {
    // One HELP and one TYPE line per family (promtool refuses a second one).
    let mut helps: BTreeMap<String, usize> = BTreeMap::new();
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut twice = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["#", "HELP", name, ..] => *helps.entry(name.to_owned()).or_default() += 1,
            ["#", "TYPE", name, kind] => twice.extend(
                types
                    .insert(name.to_owned(), kind.to_owned())
                    .map(|_| format!("TYPE {name}")),
            ),
            _ => {}
        }
    }
    twice.extend(
        helps
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(name, n)| format!("HELP {name} ×{n}")),
    );
    assert!(twice.is_empty(), "repeated: {twice:?}\n{text}");
    assert_eq!(
        helps.keys().collect::<Vec<_>>(),
        types.keys().collect::<Vec<_>>(),
        "every family has both HELP and TYPE\n{text}"
    );
    assert!(
        text.ends_with("# EOF\n"),
        "an OpenMetrics exposition ends so\n{text}"
    );

    // The parser reads every sample, and each belongs to a declared family.
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let sample_lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count();
    let mut bucket_lines = 0;
    for sample in &scrape.samples {
        assert!(
            family_of(&sample.metric, &types).is_some(),
            "{} has no HELP/TYPE\n{text}",
            sample.metric
        );
        if let prometheus_parse::Value::Histogram(buckets) = &sample.value {
            bucket_lines += buckets.len() - 1;
        }
    }
    assert_eq!(
        scrape.samples.len() + bucket_lines,
        sample_lines,
        "every sample line parses\n{text}"
    );
    (types, scrape)
}

/// Whether `family` is declared as `kind` (OpenMetrics names a counter's family
/// without `_total`, the older text with it).
fn declared(types: &BTreeMap<String, String>, family: &str, kind: &str) -> bool {
    types
        .get(family)
        .or_else(|| types.get(&format!("{family}_total")))
        .is_some_and(|k| k == kind)
}

/// The value of the first sample `name` with `label`, as a number.
fn number(scrape: &prometheus_parse::Scrape, name: &str, label: (&str, &str)) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
        .and_then(|s| match s.value {
            prometheus_parse::Value::Counter(n)
            | prometheus_parse::Value::Gauge(n)
            | prometheus_parse::Value::Untyped(n) => Some(n),
            _ => None,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrapes_of_four_services_are_valid_and_sum_without_double_counting() {
    let mut system = System::start().await;
    // intake, routing and projection again, each with its own /metrics listener.
    let mut listeners = BTreeMap::new();
    for service in ["intake", "routing", "projection"] {
        let port = casegrid_runtime::natsserver::free_port().unwrap();
        system.kill(service);
        system.spawn(
            service,
            service,
            &[("CASEGRID__METRICS__LISTEN", format!("127.0.0.1:{port}"))],
        );
        listeners.insert(service, format!("http://127.0.0.1:{port}/metrics"));
    }
    system.wait_ready().await;
    let filed = system
        .api
        .post(
            "/api/v1/cases",
            OPERATOR,
            &noise_complaint(),
            &[("Idempotency-Key", "metrics-1")],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    // Routing dispatches the filing: two events, one appended by each service.
    eventually(Duration::from_secs(30), "the dispatch", || async {
        (system.stream_messages().await >= 2).then_some(())
    })
    .await;
    system.wait_projection().await;

    let (code, body) = system.api.get("/metrics", Some(SUPERVISOR)).await;
    assert_eq!(code, 200, "{body}");
    let gateway = body.as_str().expect("a text body").to_owned();
    let (types, scrape) = parsed(&gateway);
    // The gateway's own traffic and the system-wide figures (the same on every gateway).
    for (family, kind) in [
        ("casegrid_gateway_requests", "counter"),
        ("casegrid_gateway_request_duration_seconds", "histogram"),
        ("casegrid_gateway_sse_clients", "gauge"),
        ("casegrid_events", "counter"),
        ("casegrid_consumer_lag", "gauge"),
        ("casegrid_cases", "gauge"),
        ("casegrid_quarantined_events", "gauge"),
    ] {
        assert!(declared(&types, family, kind), "{family}\n{gateway}");
    }
    // What a replica of a service did is that replica's figure, never the gateway's.
    for family in ["casegrid_appends", "casegrid_service_requests"] {
        assert!(!declared(&types, family, "counter"), "{family}\n{gateway}");
    }
    let events = scrape
        .samples
        .iter()
        .find(|s| s.metric == "casegrid_events_total")
        .and_then(|s| match s.value {
            prometheus_parse::Value::Counter(n) | prometheus_parse::Value::Untyped(n) => Some(n),
            _ => None,
        })
        .expect("casegrid_events_total");

    let http = reqwest::Client::new();
    let mut appends = 0.0;
    for (service, url) in &listeners {
        let answer = http.get(url).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{url}");
        let kind = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
        let text = answer.text().await.unwrap();
        let (types, scrape) = parsed(&text);
        let name = format!("casegrid-{service}");
        for family in ["casegrid_service_requests", "casegrid_service_errors"] {
            assert!(declared(&types, family, "counter"), "{family}\n{text}");
        }
        assert!(
            scrape
                .samples
                .iter()
                .all(|s| s.labels.get("service") == Some(&name)),
            "{service} reports only itself\n{text}"
        );
        if *service != "projection" {
            for counter in ["appends", "conflicts", "reloads"] {
                let family = format!("casegrid_{counter}");
                assert!(declared(&types, &family, "counter"), "{family}\n{text}");
            }
            let mine = number(&scrape, "casegrid_appends_total", ("service", &name))
                .unwrap_or_else(|| panic!("appends of {service}\n{text}"));
            assert_eq!(mine, 1.0, "{service} appended one event\n{text}");
            appends += mine;
        }
        if *service == "intake" {
            assert_eq!(
                number(
                    &scrape,
                    "casegrid_service_requests_total",
                    ("subject", "casegrid.intake.file")
                ),
                Some(1.0),
                "one filing answered\n{text}"
            );
        }
    }
    assert_eq!(
        appends, events,
        "the appends of every replica sum to the events in the stream"
    );
    let missing = http
        .get(listeners["intake"].replace("/metrics", "/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_logs_json_lines_when_the_settings_say_so() {
    let mut system = System::start().await;
    system.spawn(
        "intake-json",
        "intake",
        &[("CASEGRID__LOG__FORMAT", "json".to_owned())],
    );
    let log = system.nats.dir().join("intake-json.log");
    let text = eventually(Duration::from_secs(30), "the second intake to log", || {
        let log = log.clone();
        async move {
            let text = std::fs::read_to_string(&log).ok()?;
            text.contains("intake serving").then_some(text)
        }
    })
    .await;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{text}"));
        assert!(entry["timestamp"].is_string(), "{line}");
        assert!(entry["level"].is_string(), "{line}");
    }
    assert!(
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["message"] == "intake serving" && e["level"] == "INFO"),
        "{text}"
    );
}
