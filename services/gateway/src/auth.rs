//! The caller: `Authorization: Bearer <token>` looked up among the district's principals.

use crate::error::ApiError;
use crate::startup::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use casegrid_domain::{Actor, ActorKind};

/// An authenticated caller; extracting it refuses the request with 401 otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) Actor);

impl Caller {
    /// Departments and street offices see only the cases dispatched to them.
    pub(crate) fn department(&self) -> Option<&str> {
        matches!(self.0.kind, ActorKind::Department | ActorKind::Street).then_some(&*self.0.id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Err(ApiError::Unauthenticated(
                "missing Authorization header; send `Authorization: Bearer <token>`".into(),
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| {
                ApiError::Unauthenticated(
                    "the Authorization header must read `Bearer <token>`".into(),
                )
            })?;
        let principal = state
            .district
            .principal(token)
            .ok_or_else(|| ApiError::Unauthenticated("unknown bearer token".into()))?;
        Ok(Caller(Actor::new(principal.kind, principal.id.clone())))
    }
}
