//! The system's figures for `/metrics`, read when scraped: events appended (the stream's
//! message count), each durable consumer's lag, each service's case-store counters and
//! the requests and errors of every service endpoint (from the NATS service API's
//! `$SRV.STATS`), cases by status and quarantined messages by reason (projection).
//!
//! Each scrape builds a fresh registry of what it could read; a figure shared by the
//! services (appends, conflicts, reloads) is one family with a `service` label.

use async_nats::jetstream;
use casegrid_contracts::{services, subjects};
use futures_util::StreamExt;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(2);

type Labels<const N: usize> = [(&'static str, String); N];

/// The figures above in a registry; what cannot be read in time is left out.
pub(crate) async fn read(nats: &async_nats::Client) -> Registry {
    let mut registry = Registry::with_prefix("casegrid");
    let js = jetstream::new(nats.clone());
    if let Ok(Ok(mut stream)) = tokio::time::timeout(WAIT, js.get_stream("CASEGRID_EVENTS")).await {
        if let Ok(Ok(info)) = tokio::time::timeout(WAIT, stream.info()).await {
            let events = Counter::<u64>::default();
            events.inc_by(info.state.messages);
            registry.register("events", "Events appended to the log", events);
        }
        let lag = Family::<Labels<1>, Gauge>::default();
        let mut consumers = stream.consumers();
        while let Ok(Some(Ok(c))) = tokio::time::timeout(WAIT, consumers.next()).await {
            let pending = c.num_pending + c.num_ack_pending as u64;
            lag.get_or_create(&[("consumer", c.name)])
                .set(i64::try_from(pending).unwrap_or(i64::MAX));
        }
        registry.register(
            "consumer_lag",
            "Events not yet acknowledged by a durable consumer",
            lag,
        );
    }

    let store = [
        ("appends", "Events a service appended"),
        (
            "conflicts",
            "Appends that met another writer and were decided again",
        ),
        ("reloads", "Loads of a case's events from the stream"),
    ]
    .map(|(name, help)| (name, help, Family::<Labels<1>, Counter>::default()));
    let requests = Family::<Labels<2>, Counter>::default();
    let errors = Family::<Labels<2>, Counter>::default();
    for name in [services::INTAKE, services::ROUTING, services::PROJECTION] {
        let reply =
            tokio::time::timeout(WAIT, nats.request(format!("$SRV.STATS.{name}"), "".into())).await;
        let Ok(Ok(reply)) = reply else { continue };
        let Ok(stats) = serde_json::from_slice::<serde_json::Value>(&reply.payload) else {
            continue;
        };
        // The case store's counters, reported as every endpoint's data.
        let data = &stats["endpoints"][0]["data"];
        for (counter, _, family) in &store {
            if let Some(n) = data[*counter].as_u64() {
                family
                    .get_or_create(&[("service", name.to_owned())])
                    .inc_by(n);
            }
        }
        for e in stats["endpoints"].as_array().into_iter().flatten() {
            let labels = [
                ("service", name.to_owned()),
                (
                    "subject",
                    e["subject"].as_str().unwrap_or_default().to_owned(),
                ),
            ];
            requests
                .get_or_create(&labels)
                .inc_by(e["num_requests"].as_u64().unwrap_or(0));
            errors
                .get_or_create(&labels)
                .inc_by(e["num_errors"].as_u64().unwrap_or(0));
        }
    }
    for (name, help, family) in store {
        registry.register(name, help, family);
    }
    registry.register(
        "service_requests",
        "Requests answered by a service endpoint (one replica's view)",
        requests,
    );
    registry.register(
        "service_errors",
        "Requests a service endpoint failed",
        errors,
    );

    if let Some(answer) = ask(nats, subjects::PROJECTION_COUNTS).await {
        if let Some(by_status) = answer["ok"].as_object() {
            let cases = Family::<Labels<1>, Gauge>::default();
            for (status, n) in by_status {
                cases
                    .get_or_create(&[("status", status.clone())])
                    .set(n.as_i64().unwrap_or(0));
            }
            registry.register(
                "cases",
                "Cases by status, as the read models hold them",
                cases,
            );
        }
    }
    if let Some(answer) = ask(nats, subjects::PROJECTION_QUARANTINE).await {
        if let Some(counts) = answer["ok"]["counts"].as_object() {
            let quarantined = Family::<Labels<1>, Gauge>::default();
            for (reason, n) in counts {
                quarantined
                    .get_or_create(&[("reason", reason.clone())])
                    .set(n.as_i64().unwrap_or(0));
            }
            registry.register(
                "quarantined_events",
                "Stored messages not applied, by reason",
                quarantined,
            );
        }
    }
    registry
}

/// Projection's JSON answer to an empty request on `subject`, if one comes in time.
async fn ask(nats: &async_nats::Client, subject: &'static str) -> Option<serde_json::Value> {
    let reply = tokio::time::timeout(WAIT, nats.request(subject, "{}".into()))
        .await
        .ok()?
        .ok()?;
    serde_json::from_slice(&reply.payload).ok()
}
