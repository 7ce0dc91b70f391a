//! `/metrics`: what the gateway itself sees (requests by matched route and status with
//! latency histograms, failed NATS requests by service and kind, open SSE streams) in a
//! `prometheus-client` registry of its own, one per [`crate::AppState`], so every test
//! and every gateway counts alone. The system's figures are read when scraped
//! ([`crate::system_metrics`]) and encoded after these, in one OpenMetrics exposition.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// The content type of the exposition [`render`] writes.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    service: String,
    kind: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    nats_failures: Family<FailureLabels, Counter>,
    sse_clients: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = HistogramFamily::new_with_constructor(|| Histogram::new(BUCKETS));
        let nats_failures = Family::<FailureLabels, Counter>::default();
        let sse_clients = Gauge::default();
        let mut registry = Registry::with_prefix("casegrid_gateway");
        registry.register(
            "requests",
            "HTTP requests by matched route and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response head, by matched route",
            latency.clone(),
        );
        registry.register(
            "nats_request_failures",
            "NATS requests to services that failed, by service and kind",
            nats_failures.clone(),
        );
        registry.register(
            "sse_clients",
            "Open server-sent event streams",
            sse_clients.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            nats_failures,
            sse_clients,
        }
    }
}

impl Metrics {
    pub(crate) fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A NATS request that got no usable answer; `kind` is `no_responders`, `timeout`,
    /// `unreadable` or `other`.
    pub(crate) fn nats_failure(&self, service: &str, kind: &'static str) {
        self.nats_failures
            .get_or_create(&FailureLabels {
                service: service.to_owned(),
                kind,
            })
            .inc();
    }

    /// Counts an SSE client until the returned guard is dropped.
    pub(crate) fn sse_client(self: &Arc<Self>) -> SseClient {
        self.sse_clients.inc();
        SseClient(self.clone())
    }

    /// The whole exposition: the gateway's families, then `system`'s, then `# EOF`.
    pub(crate) fn render(&self, system: &Registry) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry)
            .and_then(|()| encode_registry(&mut out, system))
            .and_then(|()| encode_eof(&mut out));
        out
    }
}

/// One open SSE stream, counted while it lives.
#[derive(Debug)]
pub(crate) struct SseClient(Arc<Metrics>);

impl Drop for SseClient {
    fn drop(&mut self) {
        self.0.sse_clients.dec();
    }
}
