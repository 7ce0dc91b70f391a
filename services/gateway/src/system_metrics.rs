//! The system's figures for `/metrics`, read when scraped: events appended (the stream's
//! message count), each durable consumer's lag, cases by status and quarantined messages
//! by reason (projection). They are the system's, not this gateway's: every gateway
//! replica reports the same values (aggregate them with `max`, not `sum`).
//!
//! What each replica of intake, routing and projection did (appends, conflicts, reloads,
//! requests and errors by endpoint) is on that replica's own `/metrics`
//! (`[metrics] listen`, [`casegrid_runtime::metrics`]): asking `$SRV.STATS` here would
//! hear one replica at random, and a scrape of every gateway would count it again.
//!
//! Each scrape builds a fresh registry of what it could read.

use async_nats::jetstream;
use casegrid_contracts::subjects;
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
