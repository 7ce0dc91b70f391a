//! [`Problem`]: an RFC 9457 problem as it travels between services; the gateway
//! writes it out as `application/problem+json`.

use casegrid_domain::{Rejection, RejectionKind};
use serde::{Deserialize, Serialize};

/// Base of the `type` URIs of casegrid's problems.
pub const TYPE_BASE: &str = "https://casegrid.example/errors/";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{status} {title}: {detail}")]
pub struct Problem {
    pub status: u16,
    /// Last segment of the `type` URI, e.g. `not-assigned`.
    pub slug: String,
    pub title: String,
    pub detail: String,
}

impl Problem {
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            slug: slug.to_owned(),
            title: title.to_owned(),
            detail: detail.into(),
        }
    }

    pub fn type_uri(&self) -> String {
        format!("{TYPE_BASE}{}", self.slug)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(400, "bad-request", "Bad request", detail)
    }
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(422, "invalid", "Invalid content", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, "not-found", "Not found", detail)
    }
    /// The one answer for a case that does not exist or is out of the caller's scope,
    /// so the two cannot be told apart.
    pub fn case_not_found(case_id: impl std::fmt::Display) -> Self {
        Self::not_found(format!("case {case_id} not found"))
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, "unavailable", "Service unavailable", detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, "internal", "Internal error", detail)
    }
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, "version-mismatch", "Version mismatch", detail)
    }
}

impl From<Rejection> for Problem {
    fn from(r: Rejection) -> Self {
        let (status, slug, title) = match r.kind {
            RejectionKind::Forbidden => (403, "forbidden", "Forbidden"),
            RejectionKind::NotAssigned => (403, "not-assigned", "Not assigned"),
            RejectionKind::InvalidState => (409, "invalid-state", "Not possible in this state"),
            RejectionKind::Invalid => (422, "invalid", "Invalid content"),
            RejectionKind::NotFound => (404, "not-found", "Not found"),
            RejectionKind::AlreadyExists => (409, "already-exists", "Already exists"),
        };
        Self::new(status, slug, title, r.detail)
    }
}
