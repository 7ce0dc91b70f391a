//! Serving NATS request endpoints registered with the service API
//! (`$SRV.PING/INFO/STATS`); replicas share the load through the queue group.

use async_nats::service::{self, ServiceExt};
use bytes::Bytes;
use futures_util::StreamExt;
use std::future::Future;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Registers service `name` and returns it, to add endpoints with [`serve`].
pub async fn register(
    client: &async_nats::Client,
    name: &str,
    version: &str,
    description: &str,
) -> anyhow::Result<service::Service> {
    register_with_stats(client, name, version, description, || {
        serde_json::Value::Null
    })
    .await
}

/// Like [`register`], with `data()` reported as every endpoint's `data` in `$SRV.STATS`
/// (the service's own counters), and in this process's `/metrics` ([`crate::metrics`]).
pub async fn register_with_stats(
    client: &async_nats::Client,
    name: &str,
    version: &str,
    description: &str,
    data: impl Fn() -> serde_json::Value + Send + Sync + 'static,
) -> anyhow::Result<service::Service> {
    let data = std::sync::Arc::new(data);
    crate::metrics::register(name, data.clone());
    client
        .service_builder()
        .description(description)
        .stats_handler(move |_endpoint, _stats| data())
        .start(name, version)
        .await
        .map_err(|e| crate::restart::transient(anyhow::anyhow!("registering service {name}: {e}")))
}

/// Answers every request on `subject` with `handler(payload)` until `shutdown`;
/// each request runs in its own task, and all are awaited before returning. A
/// well-formed `X-Request-Id` NATS header becomes the request's correlation id
/// ([`crate::correlation::current`]).
pub async fn serve<H, Fut>(
    service: &service::Service,
    subject: &str,
    handler: H,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    H: Fn(Bytes) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Vec<u8>> + Send + 'static,
{
    let mut endpoint = service
        .endpoint(subject)
        .await
        .map_err(|e| anyhow::anyhow!("adding endpoint {subject}: {e}"))?;
    let tracker = TaskTracker::new();
    let name = service.info().await.name;
    crate::metrics::endpoint(&name, subject);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            request = endpoint.next() => {
                let Some(request) = request else { break };
                let handler = handler.clone();
                // The gateway's request id, the correlation id of what this appends.
                let correlation = request
                    .message
                    .headers
                    .as_ref()
                    .and_then(|h| h.get(crate::correlation::HEADER))
                    .map(|v| v.as_str().to_owned())
                    .filter(|id| crate::correlation::well_formed(id));
                let span = tracing::info_span!(
                    "request",
                    subject = %request.message.subject,
                    correlation_id = correlation.as_deref().unwrap_or("")
                );
                let (name, subject) = (name.clone(), subject.to_owned());
                tracker.spawn(async move {
                    let work = handler(request.message.payload.clone());
                    let answer = crate::correlation::scope(correlation, work)
                        .instrument(span)
                        .await;
                    crate::metrics::answered(&name, &subject, &answer);
                    if let Err(e) = request.respond(Ok(answer.into())).await {
                        tracing::warn!(error = %e, "could not answer a request");
                    }
                });
            }
        }
    }
    let _ = endpoint.stop().await;
    tracker.close();
    tracker.wait().await;
    Ok(())
}
