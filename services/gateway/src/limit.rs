//! Rate limiting by token buckets (`governor`'s GCRA, keyed): one per authenticated principal (`kind:id`), and
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
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

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

/// When to prune: beyond this many keys, the buckets that are full again are forgotten.
const PRUNE_ABOVE: usize = 10_000;

type Buckets<C> =
    RateLimiter<String, DashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One GCRA bucket per key (`governor`), on `C`'s clock.
pub(crate) struct Limiter<C: Clock + Clone = DefaultClock> {
    limit: Option<RateLimit>,
    buckets: Option<Buckets<C>>,
    clock: C,
}

impl<C: Clock + Clone> std::fmt::Debug for Limiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("limit", &self.limit)
            .field("keys", &self.buckets.as_ref().map_or(0, RateLimiter::len))
            .finish()
    }
}

impl Limiter {
    /// `None` disables limiting.
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Self::with_clock(limit, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Limiter<C> {
    pub(crate) fn with_clock(limit: Option<RateLimit>, clock: C) -> Self {
        let buckets = limit.map(|limit| {
            // One token every 1/per_second; a limit that never refills waits an hour.
            let period = if limit.per_second > 0.0 {
                Duration::from_secs_f64(1.0 / limit.per_second)
            } else {
                Duration::from_secs(3600)
            };
            let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
                .expect("a period above zero")
                .allow_burst(NonZeroU32::new(limit.burst.max(1)).expect("at least 1"));
            RateLimiter::dashmap_with_clock(quota, clock.clone())
        });
        Self {
            limit,
            buckets,
            clock,
        }
    }

    /// The bucket shape; `None` when limiting is off.
    pub(crate) fn limit(&self) -> Option<RateLimit> {
        self.limit
    }

    /// Takes one token from `key`'s bucket, or says how long until one is there.
    pub(crate) fn take(&self, key: &str) -> Result<(), Duration> {
        let Some(buckets) = &self.buckets else {
            return Ok(());
        };
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain_recent();
        }
        buckets
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// [`Self::take`], refused as 429 with the seconds until a token is back.
    pub(crate) fn admit(&self, key: &str) -> Result<(), ApiError> {
        self.take(key).map_err(|wait| ApiError::RateLimited {
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
    use governor::clock::FakeRelativeClock;

    #[test]
    fn a_bucket_empties_refills_and_is_per_key() {
        let clock = FakeRelativeClock::default();
        let limiter = Limiter::with_clock(
            Some(RateLimit {
                per_second: 2.0,
                burst: 3,
            }),
            clock.clone(),
        );
        for _ in 0..3 {
            assert_eq!(limiter.take("a"), Ok(()));
        }
        let wait = limiter.take("a").unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert_eq!(limiter.take("b"), Ok(()), "another key has its own bucket");
        clock.advance(Duration::from_millis(500));
        assert_eq!(limiter.take("a"), Ok(()));
        clock.advance(Duration::from_millis(100));
        assert_eq!(limiter.take("a"), Err(Duration::from_millis(400)));
        assert!(matches!(
            limiter.admit("a"),
            Err(ApiError::RateLimited {
                retry_after_secs: 1
            })
        ));
        assert_eq!(Limiter::new(None).take("a"), Ok(()), "no limit configured");
    }
}
