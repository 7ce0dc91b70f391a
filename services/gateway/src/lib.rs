//! casegrid's HTTP gateway: `/api/v1` over NATS request/reply. It authenticates the
//! caller (JWT or, in development, static tokens), limits each principal's rate,
//! scopes what departments and district supervisors may see, forwards commands and
//! queries to the services that own them, follows the event log for live events, and
//! writes every refusal as `application/problem+json`. It holds no state of its own
//! beyond counters and rate buckets.
//!
//! - [`startup`]: [`AppState`], [`router`] and [`run`] (serve until cancelled, finishing
//!   in-flight requests and ending SSE streams).
//! - [`error`]: [`ApiError`], the one error type every handler and extractor returns.
//! - [`jwt`]: [`JwtConfig`], verifying HS256/RS256/ES256 bearer tokens (`jsonwebtoken`),
//!   keys fixed or from the issuer's JWKS by `kid`.
//! - [`limit`]: [`RateLimit`], token buckets per principal and, on the routes without a
//!   token, per client address.
//! - `auth`: the caller extractor and its scope.
//! - `routes`: the route table and the handlers; `openapi`: the document made from it.
//! - `queries`: case lists, the overdue list and the figures, scoped per principal.
//! - `export`: `GET /cases/export` and `/stats/export`, the same lists and figures as CSV
//!   or XLSX.
//! - `open311`: the Open311 GeoReport v2 facade under `/open311/v2/` (JSON and XML).
//! - `events`: `GET /api/v1/events`, server-sent events from the stream.
//! - `notifications`: `GET /api/v1/notifications`, delivery records for supervisors.
//! - `quarantine`: `GET /api/v1/audit/quarantine`, the messages no consumer applies.
//! - `metrics`, `system_metrics`: `/metrics` in OpenMetrics text (`prometheus-client`).
//! - `mask`: personal data at the edge: every `sealed` member is dropped from events,
//!   timelines and past states (`casegrid_domain::personal::strip_sealed`), phones masked
//!   by the domain's masker.
//! - `ijson`: the I-JSON check of every JSON body (no floats, no integers beyond
//!   ±(2^53 − 1), no duplicate members, no lone surrogates).
//! - `console`: the web console at `/` (pages built into the binary) and its session
//!   cookie with CSRF protection, accepted by `/api/v1` in place of a bearer token.
//! - `bus`: one NATS request with its failures classified (no responders, timeout);
//!   a command carries the request id in its `X-Request-Id` NATS header.
//! - `edge`: the `tower-http` layers: request ids, tracing, sensitive headers,
//!   compression, panics answered as problems.
//!
//! Settings (read by [`serve_on`]): `[auth]` — `static_tokens` (default false),
//! one of `jwt_hs256_secret`, `jwt_rs256_public_key_file`, `jwt_es256_public_key_file`
//! and `jwt_jwks_url` (with `jwt_jwks_refetch_floor_secs`, `jwt_jwks_max_age_secs`),
//! `jwt_audience`, `jwt_issuer`, `jwt_algorithms`; with neither a
//! JWT key nor static tokens the gateway refuses to start; `[http.rate_limit]` (per
//! principal) and `[http.public_rate_limit]` (per client address, routes without a
//! token), each `per_second` and `burst`.

mod attachments;
mod auth;
mod bus;
mod console;
mod edge;
pub mod error;
mod events;
mod export;
mod ijson;
pub mod jwt;
mod kb;
pub mod limit;
mod metrics;
mod notifications;
mod open311;
mod openapi;
mod quarantine;
mod queries;
mod ranking;
mod routes;
mod similar;
pub mod startup;
mod system_metrics;

pub use error::ApiError;
pub use jwt::JwtConfig;
pub use limit::RateLimit;
pub use startup::{router, run, serve, serve_on, AppState};
