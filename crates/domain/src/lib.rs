//! The case domain of casegrid, without I/O.
//!
//! - [`ids`]: identifiers and values parsed at the edge (`CaseId`, `DepartmentId`, `GridCode`, …).
//! - [`actor`]: who acts (operator, department, routing, …).
//! - [`command`]: what an actor asks for; one command decides into one event.
//! - [`event`]: the facts, past tense, as they are stored in the log's `data` member.
//! - [`case`]: the aggregate — [`Case::decide`] holds every business rule and
//!   [`Case::apply`] folds events into state.
//! - [`kb`]: knowledge-base entries (知识库), aggregates of their own beside cases.
//! - [`personal`]: personal data as it may enter the log (masked + sealed, never clear).
//! - [`point`]: a filed point, GCJ-02 / BD-09 → WGS 84, and how a case's grid was found.
//! - [`status`]: the classes of statuses (open, in handling, final, overdue-able, Open311).
//!   Which deadlines run is [`Case::open_deadlines`].

pub mod actor;
pub mod case;
pub mod command;
pub mod event;
pub mod history;
pub mod ids;
pub mod kb;
pub mod object;
pub mod personal;
pub mod point;
#[cfg(feature = "schema")]
pub mod schema;
pub mod status;

/// The `time` crate the domain's instants come from, so that callers (API bodies
/// parsing deadlines) use the very same version and serde helpers.
pub use time;

pub use actor::{Actor, ActorKind};
pub use case::{Case, Mediation, OpenDeadline, Rejection, RejectionKind, Status, Summons};
pub use command::Command;
pub use event::{schema_of, Event};
pub use ids::{CaseId, Category, DepartmentId, GridCode, ParseError, PhoneNumber};
