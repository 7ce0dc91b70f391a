//! What operators watch: `/metrics` of a system with all four services read by a real
//! Prometheus text parser, one `# HELP` and one `# TYPE` per family; logs as JSON lines
//! with `[log] format = "json"`.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_of_four_services_is_valid_prometheus_text() {
    let system = System::start().await;
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
    system.wait_projection().await;

    let (code, body) = system.api.get("/metrics", Some(SUPERVISOR)).await;
    assert_eq!(code, 200, "{body}");
    let text = body.as_str().expect("a text body").to_owned();

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

    // The families the documentation promises, each service under one family (a
    // family with no sample yet, such as failed NATS requests, is left out).
    for (family, kind) in [
        ("casegrid_gateway_requests", "counter"),
        ("casegrid_gateway_request_duration_seconds", "histogram"),
        ("casegrid_gateway_sse_clients", "gauge"),
        ("casegrid_events", "counter"),
        ("casegrid_consumer_lag", "gauge"),
        ("casegrid_appends", "counter"),
        ("casegrid_conflicts", "counter"),
        ("casegrid_reloads", "counter"),
        ("casegrid_service_requests", "counter"),
        ("casegrid_service_errors", "counter"),
        ("casegrid_cases", "gauge"),
        ("casegrid_quarantined_events", "gauge"),
    ] {
        // OpenMetrics names a counter's family without `_total`, the older text with it.
        let declared = types
            .get(family)
            .or_else(|| types.get(&format!("{family}_total")));
        assert_eq!(declared.map(String::as_str), Some(kind), "{family}\n{text}");
    }
    let value = |name: &str, label: (&str, &str)| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
            .map(|s| s.value.clone())
    };
    for service in ["casegrid-intake", "casegrid-routing"] {
        for counter in ["appends", "conflicts", "reloads"] {
            let name = format!("casegrid_{counter}_total");
            assert!(
                value(&name, ("service", service)).is_some(),
                "{name} of {service}\n{text}"
            );
        }
    }
    assert!(
        matches!(
            value("casegrid_appends_total", ("service", "casegrid-intake")),
            Some(prometheus_parse::Value::Counter(n) | prometheus_parse::Value::Untyped(n)) if n >= 1.0
        ),
        "intake appended the filing\n{text}"
    );
    assert!(
        value(
            "casegrid_service_requests_total",
            ("service", "casegrid-projection")
        )
        .is_some(),
        "{text}"
    );
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
