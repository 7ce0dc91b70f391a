//! The caller: `Authorization: Bearer <token>`, either a JWT verified with the
//! configured key or (in development) a static token from `principals.toml`; then the
//! principal's rate limit.
//!
//! What a caller may see is its [`Scope`]:
//! - operators and city-wide supervisors see every case;
//! - departments and street offices see the cases dispatched or whistled to them;
//! - a supervisor whose JWT (or `principals.toml` entry) carries `scope: "<grid code>"`
//!   sees the cases whose grid lies in that part of the tree, and figures over it only;
//! - a grid worker sees the cases it filed and those in its grid (its `scope`);
//! - a mediator sees the cases whose mediation is assigned to it, and may open a
//!   mediation on a case it names by id (the domain decides whether it may).
//!
//! Out of scope answers 404, exactly as a case that does not exist.

use crate::error::ApiError;
use crate::jwt;
use crate::startup::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use casegrid_contracts::views::CaseView;
use casegrid_domain::ids::grid_within;
use casegrid_domain::{Actor, ActorKind};

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
    /// A grid worker: the cases it filed, and those in its grid (when it has one).
    Patrol {
        me: String,
        grid: Option<String>,
    },
    /// A mediator: the cases whose mediation is assigned to it.
    Mediation(String),
}

impl Scope {
    /// Whether a case with these departments and grid is in scope. Who filed a case and
    /// who mediates it are not known here: a grid worker is admitted by its grid only,
    /// a mediator never ([`Self::admits_view`] knows both).
    pub(crate) fn admits<'a>(
        &self,
        mut departments: impl Iterator<Item = &'a str>,
        grid: Option<&str>,
    ) -> bool {
        match self {
            Self::City => true,
            Self::District(code) => grid.is_some_and(|g| grid_within(g, code)),
            Self::Department(me) => departments.any(|d| d == me),
            Self::Patrol { grid: mine, .. } => mine
                .as_deref()
                .is_some_and(|m| grid.is_some_and(|g| grid_within(g, m))),
            Self::Mediation(_) => false,
        }
    }

    pub(crate) fn admits_view(&self, view: &CaseView) -> bool {
        match self {
            Self::Patrol { me, .. } if view.filed_by.as_deref() == Some(me.as_str()) => true,
            Self::Mediation(me) => view.mediator.as_deref() == Some(me.as_str()),
            _ => self.admits(view.departments(), view.grid.as_deref()),
        }
    }

    /// Whether the caller may do `action` on a case it cannot see (yet): a mediator's
    /// mediation actions go to the domain, which refuses a mediator the mediation is not
    /// assigned to. So a mediator can open a mediation, and act on it at once, before
    /// the read models show it as assigned.
    pub(crate) fn acts_unseen(&self, action: &str) -> bool {
        matches!(self, Self::Mediation(_)) && MEDIATION_ACTIONS.contains(&action)
    }
}

/// The actions the domain allows only the assigned mediator (or, to open, a mediator).
const MEDIATION_ACTIONS: &[&str] = &[
    "open_mediation",
    "record_mediation_session",
    "record_agreement",
    "record_mediation_failure",
    "refer",
];

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
            ActorKind::Operator => Scope::City,
            ActorKind::GridWorker => Scope::Patrol {
                me: id.clone(),
                grid: scope_claim
                    .filter(|g| !g.is_empty() && *g != "city")
                    .map(str::to_owned),
            },
            ActorKind::Mediator => Scope::Mediation(id.clone()),
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
        let caller = authenticate(parts, state).await?;
        admit(state, &caller.actor)?;
        Ok(caller)
    }
}

/// Who a token names: the one principal authentication, of `/api/v1`'s bearer tokens
/// and Open311's `api_key` alike. A JWT verified with the configured key, or, where
/// static tokens are enabled, a token of `principals.toml` or the built-in Open311
/// public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principal {
    pub(crate) kind: ActorKind,
    pub(crate) id: String,
    /// The `scope` claim (a grid code, or `city`).
    pub(crate) scope: Option<String>,
}

pub(crate) async fn principal(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    if let Some(config) = &state.jwt {
        if jwt::looks_like_jwt(token) {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let claims = config.verify(token, now).await.map_err(|e| match e {
                jwt::JwtError::KeysUnavailable(_) => {
                    ApiError::Problem(casegrid_contracts::Problem::unavailable(e.to_string()))
                }
                _ => ApiError::Unauthenticated(e.to_string()),
            })?;
            return Ok(Principal {
                kind: claims.kind,
                id: claims.sub,
                scope: claims.scope,
            });
        }
    }
    if !state.static_tokens {
        return Err(ApiError::Unauthenticated(
            "static tokens are disabled here; send a JWT".into(),
        ));
    }
    if let Some(p) = state.district.principal(token) {
        return Ok(Principal {
            kind: p.kind,
            id: p.id.clone(),
            scope: p.scope.clone(),
        });
    }
    if token == crate::open311::PUBLIC_KEY {
        return Ok(Principal {
            kind: ActorKind::Public,
            id: crate::open311::PUBLIC_ID.to_owned(),
            scope: None,
        });
    }
    Err(ApiError::Unauthenticated("unknown token".into()))
}

/// The principal's rate limit: one bucket per principal, shared by `/api/v1` and
/// Open311 filings.
pub(crate) fn admit(state: &AppState, actor: &Actor) -> Result<(), ApiError> {
    let key = format!("{}:{}", actor.kind.as_str(), actor.id);
    state.shared.limiter.admit(&key)
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
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
    let p = principal(state, token).await?;
    Caller::new(p.kind, p.id, p.scope.as_deref())
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

    #[test]
    fn grid_workers_see_their_grid_and_filings_mediators_their_mediations() {
        let mut view: CaseView = serde_json::from_value(serde_json::json!({
            "id": "0192f0c4-3c1a-7d2e-8b4f-2a9c1e5d7f30", "number": "NH-1", "status": "received",
            "version": 1, "channel": "hotline", "kind": "dispute", "category": "noise",
            "urgency": "normal", "title": "t", "description": "d", "grid": "NH.CD.YL.02",
            "filed_at": "2026-11-23T00:00:00Z", "updated_at": "2026-11-23T00:00:00Z",
            "filed_by": "op.zhang", "mediator": "med.li"
        }))
        .unwrap();
        let patrol = |grid: &str| Scope::Patrol {
            me: "grid.wang".into(),
            grid: Some(grid.into()),
        };
        assert!(!patrol("NH.HB.BJ.03").admits_view(&view));
        assert!(patrol("NH.CD").admits_view(&view));
        view.filed_by = Some("grid.wang".into());
        assert!(patrol("NH.HB.BJ.03").admits_view(&view), "its own filing");
        assert!(Scope::Mediation("med.li".into()).admits_view(&view));
        assert!(!Scope::Mediation("med.chen".into()).admits_view(&view));
        assert!(Scope::Mediation("med.chen".into()).acts_unseen("open_mediation"));
        assert!(Scope::Mediation("med.chen".into()).acts_unseen("record_agreement"));
        assert!(!Scope::Mediation("med.chen".into()).acts_unseen("annotate"));
    }
}
