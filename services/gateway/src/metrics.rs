//! Prometheus text exposition (`/metrics`) of what the gateway itself sees: requests
//! by matched route and status with latency histograms, failed NATS requests by
//! service and kind, and open SSE streams. Append, conflict and consumer-lag figures
//! live in the services that own them and are not exposed here.
//!
//! A mutex around a few small maps is plenty at the gateway's request rates and keeps
//! the dependency tree free of a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
    sse_clients: AtomicI64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (method, route, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (method, route) → latency histogram.
    latency: BTreeMap<(String, String), Histogram>,
    /// (service, kind) → count.
    nats_failures: BTreeMap<(String, &'static str), u64>,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Metrics {
    pub(crate) fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let h = inner
            .latency
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// A NATS request that got no usable answer; `kind` is `no_responders`, `timeout`,
    /// `unreadable` or `other`.
    pub(crate) fn nats_failure(&self, service: &str, kind: &'static str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *inner
            .nats_failures
            .entry((service.to_owned(), kind))
            .or_default() += 1;
    }

    /// Counts an SSE client until the returned guard is dropped.
    pub(crate) fn sse_client(self: &Arc<Self>) -> SseClient {
        self.sse_clients.fetch_add(1, Ordering::Relaxed);
        SseClient(self.clone())
    }

    pub(crate) fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str(
            "# HELP casegrid_gateway_requests_total HTTP requests by matched route and status.\n",
        );
        out.push_str("# TYPE casegrid_gateway_requests_total counter\n");
        for ((method, route, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "casegrid_gateway_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP casegrid_gateway_request_duration_seconds Time to the response head, by matched route.\n");
        out.push_str("# TYPE casegrid_gateway_request_duration_seconds histogram\n");
        for ((method, route), h) in &inner.latency {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "casegrid_gateway_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "casegrid_gateway_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "casegrid_gateway_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "casegrid_gateway_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out.push_str("# HELP casegrid_gateway_nats_request_failures_total NATS requests to services that failed, by service and kind.\n");
        out.push_str("# TYPE casegrid_gateway_nats_request_failures_total counter\n");
        for ((service, kind), n) in &inner.nats_failures {
            let _ = writeln!(
                out,
                "casegrid_gateway_nats_request_failures_total{{service=\"{}\",kind=\"{kind}\"}} {n}",
                escape(service)
            );
        }
        out.push_str("# HELP casegrid_gateway_sse_clients Open server-sent event streams.\n");
        out.push_str("# TYPE casegrid_gateway_sse_clients gauge\n");
        let _ = writeln!(
            out,
            "casegrid_gateway_sse_clients {}",
            self.sse_clients.load(Ordering::Relaxed)
        );
        out
    }
}

/// One open SSE stream, counted while it lives.
#[derive(Debug)]
pub(crate) struct SseClient(Arc<Metrics>);

impl Drop for SseClient {
    fn drop(&mut self) {
        self.0.sse_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
