//! The system's figures for `/metrics`, read when scraped: events appended (the stream's
//! message count), each durable consumer's lag, requests and errors of every service
//! endpoint (from the NATS service API's `$SRV.STATS`), cases by status and quarantined
//! messages by reason (projection).

use async_nats::jetstream;
use casegrid_contracts::{services, subjects};
use futures_util::StreamExt;
use std::fmt::Write;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);

/// Prometheus text for the figures above; what cannot be read in time is left out.
pub(crate) async fn render(nats: &async_nats::Client) -> String {
    let mut out = String::new();
    let js = jetstream::new(nats.clone());
    if let Ok(Ok(mut stream)) = tokio::time::timeout(WAIT, js.get_stream("CASEGRID_EVENTS")).await {
        if let Ok(Ok(info)) = tokio::time::timeout(WAIT, stream.info()).await {
            out.push_str("# HELP casegrid_events_total Events appended to the log.\n");
            out.push_str("# TYPE casegrid_events_total counter\n");
            let _ = writeln!(out, "casegrid_events_total {}", info.state.messages);
        }
        out.push_str(
            "# HELP casegrid_consumer_lag Events not yet acknowledged by a durable consumer.\n",
        );
        out.push_str("# TYPE casegrid_consumer_lag gauge\n");
        let mut consumers = stream.consumers();
        while let Ok(Some(Ok(c))) = tokio::time::timeout(WAIT, consumers.next()).await {
            let _ = writeln!(
                out,
                "casegrid_consumer_lag{{consumer=\"{}\"}} {}",
                c.name,
                c.num_pending + c.num_ack_pending as u64
            );
        }
    }
    out.push_str("# HELP casegrid_service_requests_total Requests answered by a service endpoint (one replica's view).\n");
    out.push_str("# TYPE casegrid_service_requests_total counter\n");
    out.push_str("# HELP casegrid_service_errors_total Requests a service endpoint failed.\n");
    out.push_str("# TYPE casegrid_service_errors_total counter\n");
    for name in [services::INTAKE, services::ROUTING, services::PROJECTION] {
        let reply =
            tokio::time::timeout(WAIT, nats.request(format!("$SRV.STATS.{name}"), "".into())).await;
        let Ok(Ok(reply)) = reply else { continue };
        let Ok(stats) = serde_json::from_slice::<serde_json::Value>(&reply.payload) else {
            continue;
        };
        // The case store's counters, reported as every endpoint's data.
        let data = &stats["endpoints"][0]["data"];
        for (counter, help) in [
            ("appends", "Events a service appended"),
            (
                "conflicts",
                "Appends that met another writer and were decided again",
            ),
            ("reloads", "Loads of a case's events from the stream"),
        ] {
            if let Some(n) = data[counter].as_u64() {
                let _ = writeln!(out, "# HELP casegrid_{counter}_total {help}.");
                let _ = writeln!(out, "# TYPE casegrid_{counter}_total counter");
                let _ = writeln!(out, "casegrid_{counter}_total{{service=\"{name}\"}} {n}");
            }
        }
        for e in stats["endpoints"].as_array().into_iter().flatten() {
            let subject = e["subject"].as_str().unwrap_or_default();
            let labels = format!("service=\"{name}\",subject=\"{subject}\"");
            let _ = writeln!(
                out,
                "casegrid_service_requests_total{{{labels}}} {}",
                e["num_requests"].as_u64().unwrap_or(0)
            );
            let _ = writeln!(
                out,
                "casegrid_service_errors_total{{{labels}}} {}",
                e["num_errors"].as_u64().unwrap_or(0)
            );
        }
    }
    let counts =
        tokio::time::timeout(WAIT, nats.request(subjects::PROJECTION_COUNTS, "{}".into())).await;
    if let Ok(Ok(reply)) = counts {
        if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&reply.payload) {
            if let Some(by_status) = answer["ok"].as_object() {
                out.push_str(
                    "# HELP casegrid_cases Cases by status, as the read models hold them.\n",
                );
                out.push_str("# TYPE casegrid_cases gauge\n");
                for (status, n) in by_status {
                    let _ = writeln!(
                        out,
                        "casegrid_cases{{status=\"{status}\"}} {}",
                        n.as_u64().unwrap_or(0)
                    );
                }
            }
        }
    }
    let quarantine = tokio::time::timeout(
        WAIT,
        nats.request(subjects::PROJECTION_QUARANTINE, "{}".into()),
    )
    .await;
    if let Ok(Ok(reply)) = quarantine {
        if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&reply.payload) {
            if let Some(counts) = answer["ok"]["counts"].as_object() {
                out.push_str(
                    "# HELP casegrid_quarantined_events Stored messages not applied, by reason.\n",
                );
                out.push_str("# TYPE casegrid_quarantined_events gauge\n");
                for (reason, n) in counts {
                    let _ = writeln!(
                        out,
                        "casegrid_quarantined_events{{reason=\"{reason}\"}} {}",
                        n.as_u64().unwrap_or(0)
                    );
                }
            }
        }
    }
    out
}
