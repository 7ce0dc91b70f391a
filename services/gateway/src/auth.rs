//! The caller: `Authorization: Bearer <token>`, either a JWT verified with the
//! configured key or (in development) a static token from `principals.toml`; then the
//! principal's rate limit.
//!
//! What a caller may see is its [`Scope`]:
//! - operators, grid workers, mediators and city-wide supervisors see every case;
//! - departments and street offices see the cases dispatched or whistled to them;
//! - a supervisor whose JWT carries `scope: "<district code>"` sees the cases whose grid
//!   lies in that district. `principals.toml` has no scope field yet (`casegrid_config::
//!   Principal` lacks one), so static-token supervisors are city-wide.
//!
//! Out of scope answers 404, exactly as a case that does not exist.

use crate::error::ApiError;
use crate::jwt;
use crate::startup::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use casegrid_contracts::views::CaseView;
use casegrid_domain::{Actor, ActorKind};
use std::time::Instant;

/// An authenticated caller within its rate limit; extracting it refuses the request
/// with 401 or 429 otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) actor: Actor,
    pub(crate) scope: Scope,
}

/// Which cases a caller may list, read, act on and follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    City,
    /// Grid codes starting with this district code (`NH` matches `NH.HB.BJ.03`).
    District(String),
    /// Cases dispatched (lead or assisting) or whistled to this department.
    Department(String),
}

impl Scope {
    /// Whether a case with these departments and grid is in scope.
    pub(crate) fn admits<'a>(
        &self,
        mut departments: impl Iterator<Item = &'a str>,
        grid: Option<&str>,
    ) -> bool {
        match self {
            Self::City => true,
            Self::District(code) => grid.is_some_and(|g| in_district(g, code)),
            Self::Department(me) => departments.any(|d| d == me),
        }
    }

    pub(crate) fn admits_view(&self, view: &CaseView) -> bool {
        self.admits(view.departments(), view.grid.as_deref())
    }
}

/// Whether `grid` is the district `code` or lies below it.
pub(crate) fn in_district(grid: &str, code: &str) -> bool {
    grid == code
        || grid
            .strip_prefix(code)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl Caller {
    /// The department of a department or street office.
    pub(crate) fn department(&self) -> Option<&str> {
        match &self.scope {
            Scope::Department(d) => Some(d),
            _ => None,
        }
    }

    /// Operators and supervisors may see clear personal data and the raw log.
    pub(crate) fn sees_personal_data(&self) -> bool {
        matches!(self.actor.kind, ActorKind::Operator | ActorKind::Supervisor)
    }

    fn new(kind: ActorKind, id: String, scope_claim: Option<&str>) -> Result<Self, ApiError> {
        let scope = match kind {
            ActorKind::Department | ActorKind::Street => Scope::Department(id.clone()),
            ActorKind::Supervisor => match scope_claim {
                None | Some("city") => Scope::City,
                Some(code) if !code.is_empty() => Scope::District(code.to_owned()),
                Some(_) => {
                    return Err(ApiError::Unauthenticated(
                        "the token's scope claim is empty".into(),
                    ))
                }
            },
            ActorKind::Operator | ActorKind::GridWorker | ActorKind::Mediator => Scope::City,
            ActorKind::Public | ActorKind::System => {
                return Err(ApiError::Unauthenticated(format!(
                    "a {} principal cannot use this API",
                    kind.as_str()
                )))
            }
        };
        Ok(Self {
            actor: Actor::new(kind, id),
            scope,
        })
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state)?;
        let key = format!("{}:{}", caller.actor.kind.as_str(), caller.actor.id);
        state
            .shared
            .limiter
            .take(&key, Instant::now())
            .map_err(|wait| ApiError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            })?;
        Ok(caller)
    }
}

fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
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
            ApiError::Unauthenticated("the Authorization header must read `Bearer <token>`".into())
        })?;
    if let Some(config) = &state.jwt {
        if jwt::looks_like_jwt(token) {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let claims = config
                .verify(token, now)
                .map_err(|e| ApiError::Unauthenticated(e.to_string()))?;
            return Caller::new(claims.kind, claims.sub, claims.scope.as_deref());
        }
    }
    if !state.static_tokens {
        return Err(ApiError::Unauthenticated(
            "static tokens are disabled here; send a JWT".into(),
        ));
    }
    let principal = state
        .district
        .principal(token)
        .ok_or_else(|| ApiError::Unauthenticated("unknown bearer token".into()))?;
    Caller::new(
        principal.kind,
        principal.id.clone(),
        principal.scope.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_admit_their_cases_only() {
        let dept = Scope::Department("dept.urban".into());
        assert!(dept.admits(["dept.water", "dept.urban"].into_iter(), None));
        assert!(!dept.admits(["dept.water"].into_iter(), Some("NH.HB")));
        let district = Scope::District("NH".into());
        assert!(district.admits(std::iter::empty(), Some("NH.HB.BJ.03")));
        assert!(!district.admits(std::iter::empty(), Some("NHX.1")));
        assert!(!district.admits(std::iter::empty(), None));
        assert!(Scope::City.admits(std::iter::empty(), None));
    }
}
