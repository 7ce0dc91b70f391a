//! What every casegrid process needs around its service: telemetry, settings,
//! a checked NATS connection, a shutdown signal, and a local `nats-server` child.
//!
//! - [`telemetry`]: tracing set up once, per-crate default filters.
//! - [`settings`]: one typed settings tree: defaults → TOML file → `CASEGRID__…` env.
//! - [`nats`]: connecting, refusing servers older than 2.12.
//! - [`natsserver`]: finding, version-checking and running `nats-server` as a child.
//! - [`shutdown`]: one future for Ctrl-C and SIGTERM.

pub mod nats;
pub mod natsserver;
pub mod settings;
pub mod shutdown;
pub mod telemetry;

pub use settings::{Secret, Settings};
