//! The web console at `/`: the operator's desk, the department's inbox, the
//! supervisor's board and the grid worker's patrol form, in Chinese with English
//! switchable. Its pages are one HTML shell, one script and one style sheet, all built
//! into the binary (`assets/`, `include_str!`); nothing is fetched from elsewhere.
//!
//! The console has no back door: its script calls the public `/api/v1` and its SSE
//! feed like any client. What this module adds is the way in for a browser:
//! - `POST /console/session` takes a token (a JWT, or in development a demo token of
//!   `principals.toml`), checks it exactly as a bearer token is checked, and answers a
//!   session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind TLS) naming a
//!   server-side [`Sessions`] entry that holds the token and a CSRF token;
//! - `/api/v1` accepts that cookie in place of `Authorization` ([`session_token`]);
//!   every unsafe method (anything but GET, HEAD, OPTIONS) then needs the session's CSRF
//!   token in `X-CSRF-Token`, else 403 `csrf-token-missing` / `csrf-token-mismatch`;
//! - `GET /console/session` says who is signed in (and the CSRF token, to the page
//!   holding the cookie); `DELETE /console/session` signs out.
//!
//! Bearer tokens keep working unchanged: a request with `Authorization` ignores the
//! cookie.

use crate::error::ApiError;
use crate::startup::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use casegrid_contracts::Problem;
use casegrid_domain::ActorKind;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie naming a console session.
pub(crate) const COOKIE: &str = "casegrid_session";
/// The header carrying the session's CSRF token on unsafe methods.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// A session unused this long is forgotten (the next request signs in again).
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// At most this many sessions are kept; the least recently used goes first.
const MAX_SESSIONS: usize = 10_000;

const INDEX: &str = include_str!("../../assets/index.html");
const SCRIPT: &str = include_str!("../../assets/app.js");
const STYLE: &str = include_str!("../../assets/app.css");

/// The console's server-side sessions: cookie value → the token it stands for.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

#[derive(Clone)]
struct Session {
    token: String,
    csrf: String,
    principal: Value,
    used: Instant,
}

impl Sessions {
    fn insert(&self, session: Session) -> String {
        let id = random_token();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.used) < IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), session);
        id
    }

    /// The live session `id`, marked as used now.
    fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match map.get_mut(id) {
            Some(s) if now.duration_since(s.used) < IDLE => {
                s.used = now;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}

/// Two version-4 UUIDs (244 bits from the operating system's random source, which
/// `uuid` reads through `getrandom`), URL-safe base64.
fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The console's routes: the pages, the assets and the session.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/console/app.js", get(script))
        .route("/console/app.css", get(style))
        .route(
            "/console/session",
            get(whoami).post(sign_in).delete(sign_out),
        )
}

/// The shell: the district's configuration (grid tree, categories, departments) and,
/// where demo tokens are enabled, the demo principals, for the script to render.
async fn index(State(state): State<AppState>) -> Response {
    let d = &state.district;
    let grids: Vec<Value> = d
        .grids
        .values()
        .map(|g| json!({ "code": g.code.as_str(), "name": g.name, "level": g.level }))
        .collect();
    let departments: Vec<Value> = d
        .departments
        .values()
        .map(|x| {
            let kind = match x.kind {
                casegrid_config::DepartmentKind::Territorial => "territorial",
                casegrid_config::DepartmentKind::Functional => "functional",
            };
            json!({ "id": x.id.as_str(), "name": x.name, "kind": kind })
        })
        .collect();
    let mut categories: Vec<Value> = Vec::new();
    for (category, rules) in &d.rules {
        // The general rule (no grid prefix, no urgency) names the category best.
        let rule = rules
            .iter()
            .find(|r| r.grid_prefix.is_none() && r.urgency.is_none())
            .or(rules.first());
        if let Some(rule) = rule {
            categories.push(json!({ "id": category.as_str(), "name": rule.name }));
        }
    }
    let mut demo: Vec<Value> = Vec::new();
    if state.static_tokens {
        let mut principals: Vec<_> = d.principals.values().collect();
        principals.sort_by(|a, b| (a.kind.as_str(), &a.id).cmp(&(b.kind.as_str(), &b.id)));
        demo = principals
            .into_iter()
            .map(|p| json!({ "token": p.token, "kind": p.kind, "id": p.id, "name": p.name }))
            .collect();
    }
    let config = json!({
        "grids": grids,
        "departments": departments,
        "categories": categories,
        "demo": demo,
        "jwt": state.jwt.is_some(),
    });
    // `</` cannot end the script element early: JSON allows `<\/`.
    let config = config.to_string().replace("</", "<\\/");
    let page = INDEX.replace("{{CONFIG}}", &config);
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(page),
    )
        .into_response()
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// `POST /console/session` with `{"token": …}` (JSON only, so no cross-site form can
/// sign a browser in): the token is checked as a bearer token would be.
async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    match try_sign_in(&state, &headers, &body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn try_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json_body {
        return Err(Problem::new(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            "sign in with a JSON body {\"token\": …} (Content-Type: application/json)",
        )
        .into());
    }
    let SignIn { token } =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("token: {e}")))?;
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(ApiError::bad_request("token: empty; paste your token"));
    }
    let p = crate::auth::principal(state, &token).await?;
    if matches!(p.kind, ActorKind::Public | ActorKind::System) {
        return Err(ApiError::Unauthenticated(format!(
            "a {} principal cannot use the console",
            p.kind.as_str()
        )));
    }
    let name = state
        .district
        .principals
        .values()
        .find(|x| x.kind == p.kind && x.id == p.id)
        .map_or_else(|| p.id.clone(), |x| x.name.clone());
    let principal = json!({ "kind": p.kind, "id": p.id, "name": name, "scope": p.scope });
    let csrf = random_token();
    let id = state.shared.sessions.insert(Session {
        token,
        csrf: csrf.clone(),
        principal: principal.clone(),
        used: Instant::now(),
    });
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{}",
        if behind_tls(headers) { "; Secure" } else { "" }
    );
    let mut response = (
        StatusCode::OK,
        axum::Json(json!({ "principal": principal, "csrf": csrf })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /console/session`: the principal and CSRF token of the cookie's session.
async fn whoami(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match cookie(&headers).and_then(|id| state.shared.sessions.get(&id)) {
        Some(s) => (
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(json!({ "principal": s.principal, "csrf": s.csrf })),
        )
            .into_response(),
        None => ApiError::Unauthenticated("not signed in to the console".into()).into_response(),
    }
}

/// `DELETE /console/session` (with its CSRF token): signs out.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(id) = cookie(&headers) else {
        return ApiError::Unauthenticated("not signed in to the console".into()).into_response();
    };
    if let Some(session) = state.shared.sessions.get(&id) {
        if let Err(e) = check_csrf(&headers, &session) {
            return e.into_response();
        }
        state.shared.sessions.remove(&id);
    }
    let expired = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// TLS ended in front of the gateway says so in `X-Forwarded-Proto`.
fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// The value of the session cookie, if sent.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn check_csrf(headers: &HeaderMap, session: &Session) -> Result<(), ApiError> {
    let Some(sent) = headers.get(CSRF_HEADER) else {
        return Err(Problem::new(
            403,
            "csrf-token-missing",
            "CSRF token missing",
            "a request signed in by the console's session cookie must carry the session's \
             CSRF token in X-CSRF-Token on every POST, PUT, PATCH and DELETE",
        )
        .into());
    };
    if !same_secret(sent.as_bytes(), session.csrf.as_bytes()) {
        return Err(Problem::new(
            403,
            "csrf-token-mismatch",
            "CSRF token mismatch",
            "the X-CSRF-Token header is not this session's CSRF token; reload the console",
        )
        .into());
    }
    Ok(())
}

/// Equal, in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of the request's console session, when it has no `Authorization` header
/// but a session cookie: `None` without a cookie; 401 for an unknown or expired session;
/// 403 for an unsafe method without the session's CSRF token.
pub(crate) fn session_token(parts: &Parts, state: &AppState) -> Result<Option<String>, ApiError> {
    let Some(id) = cookie(&parts.headers) else {
        return Ok(None);
    };
    let Some(session) = state.shared.sessions.get(&id) else {
        return Err(ApiError::Unauthenticated(
            "the console session has ended; sign in again".into(),
        ));
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        check_csrf(&parts.headers, &session)?;
    }
    Ok(Some(session.token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; casegrid_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers).as_deref(), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("casegrid_session="),
        );
        assert_eq!(cookie(&headers), None);
    }

    #[test]
    fn sessions_are_random_and_forgotten_on_sign_out() {
        let sessions = Sessions::default();
        let s = Session {
            token: "demo-operator".into(),
            csrf: "c".into(),
            principal: Value::Null,
            used: Instant::now(),
        };
        let a = sessions.insert(s.clone());
        let b = sessions.insert(s);
        assert_ne!(a, b);
        assert!(a.len() >= 43, "32 bytes");
        assert_eq!(sessions.get(&a).unwrap().token, "demo-operator");
        sessions.remove(&a);
        assert!(sessions.get(&a).is_none());
        assert!(sessions.get(&b).is_some());
    }
}
