//! [`ApiError`]: every way a request fails, written as `application/problem+json`
//! (RFC 9457). Bad JSON, bad paths and unknown routes go through it too, so a client
//! never sees a bare framework message. Internal detail is logged, never returned.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use casegrid_contracts::Problem;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or an unknown bearer token: 401 with a `WWW-Authenticate: Bearer` challenge.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// The principal sent more requests than its rate limit allows: 429 with
    /// `Retry-After` (whole seconds, at least 1).
    #[error("rate limited for {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A refusal to pass on as is: built here or answered by a service.
    #[error(transparent)]
    Problem(#[from] Problem),
    /// Something broke inside casegrid. The caller gets a generic 500 (or the given
    /// status); the cause is logged.
    #[error("{context}: {source:#}")]
    Internal {
        status: u16,
        context: String,
        source: anyhow::Error,
    },
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::Problem(Problem::bad_request(detail))
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::Problem(Problem::not_found(detail))
    }

    /// The request took longer than the gateway's request timeout.
    pub fn timeout(detail: impl Into<String>) -> Self {
        Self::Problem(Problem::new(504, "timeout", "Gateway timeout", detail))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Problem(Problem::new(403, "forbidden", "Forbidden", detail))
    }

    /// A 500 whose cause is logged but not shown.
    pub fn internal(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        Self::Internal {
            status: 500,
            context: context.into(),
            source: source.into(),
        }
    }

    /// A 502: a service answered something the gateway cannot read.
    pub fn bad_gateway(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        Self::Internal {
            status: 502,
            context: context.into(),
            source: source.into(),
        }
    }

    /// The problem as the client sees it.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Unauthenticated(detail) => {
                Problem::new(401, "unauthenticated", "Unauthenticated", detail.clone())
            }
            Self::RateLimited { retry_after_secs } => Problem::new(
                429,
                "rate-limited",
                "Too many requests",
                format!(
                    "this principal sent more requests than its rate limit allows; retry in {retry_after_secs} s"
                ),
            ),
            Self::Problem(p) => p.clone(),
            Self::Internal { status: 502, .. } => Problem::new(
                502,
                "bad-gateway",
                "Bad gateway",
                "a casegrid service gave an answer the gateway could not read; see the gateway log",
            ),
            Self::Internal { status: 503, .. } => Problem::unavailable(
                "the gateway cannot reach casegrid's services right now; try again shortly",
            ),
            Self::Internal { .. } => {
                Problem::internal("something went wrong inside casegrid; see the gateway log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal { .. } => tracing::error!(error = %self, "request failed"),
            Self::Problem(p) if p.status >= 500 => tracing::warn!(problem = %p, "request failed"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "type": problem.type_uri(),
            "title": problem.title,
            "status": status.as_u16(),
            "detail": problem.detail,
        });
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            Self::Unauthenticated(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            _ => {}
        }
        response
    }
}
