//! Rate limiting by token buckets: one per authenticated principal (`kind:id`), and
//! one per client address for the routes that need no token (Open311, `/openapi.json`),
//! so one client flooding the gateway gets 429 while everyone else is served.
//!
//! The address is the TCP peer's ([`by_address`]; `run` serves with connect info). Behind
//! a reverse proxy every client shares the proxy's address: limit there, or give the
//! proxy its own, larger bucket. `X-Forwarded-For` is not read: any client could write it.

use crate::error::ApiError;
use crate::startup::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket's shape: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    /// 20 requests per second sustained, bursts of 40: far above what a person at a
    /// desk does, low enough that a runaway script cannot starve the rest.
    fn default() -> Self {
        Self {
            per_second: 20.0,
            burst: 40,
        }
    }
}

impl RateLimit {
    /// Per client address on the routes without a token: 5 requests per second, bursts
    /// of 20 — a civic app's user browsing, not a scraper.
    pub const PUBLIC: Self = Self {
        per_second: 5.0,
        burst: 20,
    };
}

/// When to prune: buckets beyond this count that are full again are forgotten.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Limiter {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    /// `None` disables limiting.
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            buckets: Mutex::default(),
        }
    }

    /// The bucket shape; `None` when limiting is off.
    pub(crate) fn limit(&self) -> Option<RateLimit> {
        self.limit
    }

    /// Takes one token from `key`'s bucket at `now`, or says how long until one is there.
    pub(crate) fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let burst = f64::from(limit.burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * limit.per_second
                    < burst
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else if limit.per_second > 0.0 {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / limit.per_second,
            ))
        } else {
            Err(Duration::from_secs(3600))
        }
    }
}

impl Limiter {
    /// [`Self::take`] now, refused as 429 with the seconds until a token is back.
    pub(crate) fn admit(&self, key: &str) -> Result<(), ApiError> {
        self.take(key, Instant::now())
            .map_err(|wait| ApiError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            })
    }
}

/// Middleware of the routes without a token: one bucket per client address. A request
/// without a peer address (served in-process, not by `run`) shares the bucket `local`.
pub(crate) async fn by_address(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let key = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "local".to_owned(), |ConnectInfo(a)| a.ip().to_string());
    match state.shared.address_limiter.admit(&key) {
        Ok(()) => next.run(request).await,
        Err(e) if request.uri().path().starts_with("/open311/") => {
            crate::open311::refusal(request.uri().path(), e)
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_refills_and_is_per_key() {
        let limiter = Limiter::new(Some(RateLimit {
            per_second: 2.0,
            burst: 3,
        }));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("a", t0), Ok(()));
        }
        let wait = limiter.take("a", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(
            limiter.take("b", t0),
            Ok(()),
            "another key has its own bucket"
        );
        assert_eq!(limiter.take("a", t0 + Duration::from_millis(500)), Ok(()));
        assert!(limiter.take("a", t0 + Duration::from_millis(600)).is_err());
        assert_eq!(
            Limiter::new(None).take("a", t0),
            Ok(()),
            "no limit configured"
        );
    }
}
