//! The gateway against a real `nats-server` and the demo district, over real HTTP.
//! Where a service must answer, a tiny responder task stands in for it: these tests
//! check the gateway's own mapping, the real services are tested end to end elsewhere.
//!
//! - `basics`: missing and unknown tokens, bad bodies/paths/headers, oversized bodies,
//!   health and readiness, 503/504 from missing and silent services, filing, forwarded
//!   problems, the raw log, finishing requests in flight on shutdown.
//! - `authz`: every endpoint × every principal kind → status, nothing out of scope in
//!   answers or errors, masking of personal data per principal, and every answer
//!   validated against `/openapi.json`.
//! - `jwt`: HS256 and RS256 tokens valid, expired, badly signed, for another audience;
//!   static tokens refused in production; a district-scoped supervisor.
//! - `sse`: a department's live events in order, resumed with `Last-Event-ID` without
//!   gaps or repeats, operators seeing all, streams ended by shutdown.
//! - `limits`: a flood from one token gets 429 with `Retry-After` while another token is
//!   served; request timeouts; `/metrics`.
//! - `open311`: the GeoReport v2 facade: services, filing form-encoded and reading back
//!   in JSON and XML, tokens, errors in Open311's format.
//! - `ijson`: floats, large integers, duplicate members and lone surrogates in any JSON
//!   body get 422 naming the member, and reach no service.
//! - `scope`: grid workers (their grid and filings), mediators (their mediations),
//!   district supervisors (figures over their district).
//! - `merge`: a merge's target must be in the caller's scope.
//! - `console`: the web console's pages, session cookie and CSRF token.
//! - `edge`: request ids (kept, replaced, echoed, sent to the service), compression.
//! - `helpers`: `spawn_app`, stand-in responders, problem checks, the OpenAPI validator.

mod authz;
mod basics;
mod console;
mod edge;
mod helpers;
mod ijson;
mod jwt;
mod limits;
mod merge;
mod open311;
mod scope;
mod similar;
mod sse;
