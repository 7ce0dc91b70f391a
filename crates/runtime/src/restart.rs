//! Starting a service again after a passing failure.
//!
//! A NATS node killed while a service starts or runs makes requests time out until its
//! peers elect new leaders; a process that exits then stays down until something
//! restarts it. So the places that meet such a failure mark the error [`Transient`]
//! (for example a bucket lookup that timed out, not one that found no bucket), and
//! [`supervise`] runs the service again after a pause that doubles up to
//! [`MAX_PAUSE`]. Every other error still ends the process at once: a broken district
//! folder, a missing stream, a stream that is not the one the state was built from.

use std::fmt;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The first pause before a service starts again.
pub const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between two starts.
pub const MAX_PAUSE: Duration = Duration::from_secs(8);
/// A service that ran this long before failing starts again after [`FIRST_PAUSE`].
const SETTLED: Duration = Duration::from_secs(60);

/// The mark of an error that passes (NATS or the database did not answer in time):
/// the context that [`transient`] adds, found again by [`is_transient`].
#[derive(Debug, Clone, Copy)]
pub struct Transient;

impl fmt::Display for Transient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a passing failure")
    }
}

impl std::error::Error for Transient {}

/// `e` marked as passing: [`supervise`] starts the service again.
pub fn transient(e: impl Into<anyhow::Error>) -> anyhow::Error {
    e.into().context(Transient)
}

/// Whether `e` (or an error it wraps) was marked by [`transient`].
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Transient>().is_some()
}

/// Runs `serve` until it returns `Ok` or fails with an error not marked [`Transient`];
/// after a transient failure it runs it again, logging why, unless `shutdown` is
/// cancelled (then it answers `Ok`).
pub async fn supervise<F, Fut>(
    name: &str,
    shutdown: &CancellationToken,
    serve: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    supervise_from(name, shutdown, FIRST_PAUSE, serve).await
}

/// The pause after `pause`: twice as long, at most [`MAX_PAUSE`].
fn next_pause(pause: Duration) -> Duration {
    (pause * 2).min(MAX_PAUSE)
}

async fn supervise_from<F, Fut>(
    name: &str,
    shutdown: &CancellationToken,
    first: Duration,
    mut serve: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut pause = first;
    loop {
        let started = tokio::time::Instant::now();
        let error = match serve().await {
            Err(e) if is_transient(&e) => e,
            done => return done,
        };
        if shutdown.is_cancelled() {
            // Asked to stop: what failed on the way out is told, not a failure to exit with.
            tracing::warn!(service = name, error = format!("{error:#}"), "stopped");
            return Ok(());
        }
        if started.elapsed() >= SETTLED {
            pause = first;
        }
        tracing::warn!(
            service = name,
            error = format!("{error:#}"),
            pause_ms = pause.as_millis() as u64,
            "the service starts again"
        );
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
        pause = next_pause(pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_transient_failure_starts_the_service_again_and_another_ends_it() {
        let runs = AtomicU32::new(0);
        let token = CancellationToken::new();
        let result = supervise_from("test", &token, Duration::from_millis(1), || {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            async move {
                match run {
                    0 | 1 => Err(transient(anyhow::anyhow!("timed out")).context("opening")),
                    _ => Err(anyhow::anyhow!("the district folder is broken")),
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let e = result.unwrap_err();
        assert!(!is_transient(&e));
        assert_eq!(e.to_string(), "the district folder is broken");
    }

    #[test]
    fn pauses_double_up_to_the_longest() {
        let pauses: Vec<u128> = std::iter::successors(Some(FIRST_PAUSE), |p| Some(next_pause(*p)))
            .take(8)
            .map(|p| p.as_millis())
            .collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[tokio::test]
    async fn a_failure_once_asked_to_stop_is_a_clean_stop() {
        let token = CancellationToken::new();
        let runs = AtomicU32::new(0);
        let stop = token.clone();
        let result = supervise_from("test", &token, Duration::from_millis(1), || {
            if runs.fetch_add(1, Ordering::SeqCst) == 2 {
                stop.cancel();
            }
            async { Err(transient(anyhow::anyhow!("no responders"))) }
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_ok_or_an_unmarked_error_is_answered_once() {
        let token = CancellationToken::new();
        let runs = AtomicU32::new(0);
        let ok = supervise("test", &token, || {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        })
        .await;
        assert!(ok.is_ok());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let marked = transient(std::io::Error::other("timed out"));
        assert!(is_transient(&marked.context("opening the key vault")));
        assert!(!is_transient(&anyhow::anyhow!("stream mismatch")));
    }
}
