//! casegrid's HTTP gateway: `/api/v1` over NATS request/reply. It authenticates the
//! caller, scopes what a department may read, forwards commands and queries to the
//! services that own them, and writes every refusal as `application/problem+json`.
//! It holds no state of its own.
//!
//! - [`startup`]: [`AppState`], [`router`] and [`run`] (serve until cancelled, finishing
//!   in-flight requests).
//! - [`error`]: [`ApiError`], the one error type every handler and extractor returns.
//! - `auth`: the bearer-token extractor.
//! - `bus`: one NATS request with its failures classified (no responders, timeout).
//! - `routes`: the handlers.

mod auth;
mod bus;
pub mod error;
mod routes;
pub mod startup;

pub use error::ApiError;
pub use startup::{router, run, serve, serve_on, AppState};
