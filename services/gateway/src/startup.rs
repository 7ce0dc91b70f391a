//! Wiring: the shared state, the router built from the route table, and serving
//! until cancelled.

use crate::error::ApiError;
use crate::jwt::JwtConfig;
use crate::limit::{Limiter, RateLimit};
use crate::metrics::Metrics;
use crate::{openapi, routes};
use anyhow::Context;
use axum::extract::{DefaultBodyLimit, MatchedPath, OriginalUri, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use casegrid_config::District;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The default [`AppState::resend_after`].
pub const DEFAULT_RESEND_AFTER: Duration = Duration::from_secs(1);

/// What every handler needs, made by the caller (binary or test).
#[derive(Clone)]
pub struct AppState {
    pub nats: async_nats::Client,
    pub district: Arc<District>,
    /// Largest accepted request body, in bytes; larger ones get 413.
    pub body_limit: usize,
    /// How long to wait for a service's answer before answering 504.
    pub request_timeout: Duration,
    /// How long to wait for a service's answer before sending the same request again
    /// (then twice as long, up to [`Self::request_timeout`]): a replica killed with the
    /// request answers nothing. A command keeps its command id, so it runs once.
    pub resend_after: Duration,
    /// How long a whole request may take to its response head (504 after). An SSE
    /// stream is not cut by it: its head is sent at once.
    pub http_timeout: Duration,
    /// Verifies JWT bearer tokens; `None` accepts static tokens only.
    pub jwt: Option<Arc<JwtConfig>>,
    /// Whether the static tokens of `principals.toml` are accepted (development).
    pub static_tokens: bool,
    /// The event stream `/api/v1/events` follows.
    pub events_stream: String,
    /// `[duplicates]`: the window, distance and score of duplicate candidates.
    pub duplicates: casegrid_runtime::settings::DuplicatesSettings,
    /// The time the gateway asks about (expired knowledge-base entries): `[clock]`.
    pub clock: casegrid_runtime::clock::SharedClock,
    /// The attachment bucket; `None`: uploads and downloads answer 503.
    pub attachments: Option<casegrid_eventlog::AttachmentStore>,
    /// `[attachments]`: the largest file and the accepted types.
    pub attachment_settings: casegrid_runtime::settings::AttachmentSettings,
    pub(crate) shared: Arc<Shared>,
}

/// State that lives as long as the server: counters, buckets, the SSE stop signal.
pub(crate) struct Shared {
    pub(crate) limiter: Limiter,
    /// Per client address, for the routes without a token.
    pub(crate) address_limiter: Limiter,
    pub(crate) metrics: Arc<Metrics>,
    /// Cancelled when the server shuts down, ending every SSE stream.
    pub(crate) streams_stop: CancellationToken,
    /// The web console's sessions (`console`).
    pub(crate) sessions: crate::console::Sessions,
}

impl AppState {
    /// No way in yet (add [`Self::with_jwt`] or [`Self::with_static_tokens`]), the
    /// default rate limit, a 10 s request timeout and a 30 s whole-request timeout.
    pub fn new(nats: async_nats::Client, district: Arc<District>, body_limit: usize) -> Self {
        Self {
            nats,
            district,
            body_limit,
            request_timeout: Duration::from_secs(10),
            resend_after: DEFAULT_RESEND_AFTER,
            http_timeout: Duration::from_secs(30),
            jwt: None,
            static_tokens: false,
            events_stream: "CASEGRID_EVENTS".into(),
            duplicates: Default::default(),
            clock: Arc::new(casegrid_runtime::clock::SystemClock),
            attachments: None,
            attachment_settings: Default::default(),
            shared: Arc::new(Shared::new(
                Some(RateLimit::default()),
                Some(RateLimit::PUBLIC),
            )),
        }
    }

    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn with_resend_after(mut self, after: Duration) -> Self {
        self.resend_after = after;
        self
    }

    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Accepts JWTs verified with `config`; `static_tokens` keeps the development tokens.
    pub fn with_jwt(mut self, config: JwtConfig, static_tokens: bool) -> Self {
        self.jwt = Some(Arc::new(config));
        self.static_tokens = static_tokens;
        self
    }

    /// Accepts the static demo tokens of `principals.toml` (development only).
    pub fn with_static_tokens(mut self, allow: bool) -> Self {
        self.static_tokens = allow;
        self
    }

    /// The per-principal rate limit; `None` disables it. Resets the buckets (the
    /// per-address limit is kept).
    pub fn with_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        let public = self.shared.address_limiter.limit();
        self.shared = Arc::new(Shared::new(limit, public));
        self
    }

    /// The per-client-address limit of the routes without a token; `None` disables
    /// it. Resets the buckets (the per-principal limit is kept).
    pub fn with_address_rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        let principal = self.shared.limiter.limit();
        self.shared = Arc::new(Shared::new(principal, limit));
        self
    }
}

impl Shared {
    fn new(limit: Option<RateLimit>, public: Option<RateLimit>) -> Self {
        Self {
            limiter: Limiter::new(limit),
            address_limiter: Limiter::new(public),
            metrics: Arc::default(),
            streams_stop: CancellationToken::new(),
            sessions: Default::default(),
        }
    }
}

/// The whole HTTP API, from the route table (`routes::endpoints`), which also makes
/// the OpenAPI document.
pub fn router(state: AppState) -> Router {
    let endpoints = routes::endpoints();
    let document = Arc::new(openapi::with_district(
        openapi::document(&endpoints),
        &state.district,
    ));
    let mut router = Router::new();
    for endpoint in endpoints {
        // Routes without a token are limited per client address (probes excepted).
        let handler = if endpoint.is_authenticated() || PROBES.contains(&endpoint.path) {
            endpoint.handler
        } else {
            endpoint.handler.route_layer(middleware::from_fn_with_state(
                state.clone(),
                crate::limit::by_address,
            ))
        };
        // Files have their own limit, `[attachments] max_bytes`.
        let handler = if endpoint.method == Method::POST
            && (endpoint.path == crate::attachments::UPLOAD_PATH
                || endpoint.path.starts_with("/open311/v2/requests."))
        {
            handler.layer(crate::attachments::limit_layer(&state))
        } else {
            handler
        };
        router = router.route(endpoint.path, handler);
    }
    let router = router
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .merge(crate::console::routes())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(Extension(routes::OpenApi(document)))
        .layer(DefaultBodyLimit::max(state.body_limit))
        .with_state(state);
    crate::edge::layers(router)
}

/// Liveness and readiness probes: no token and no rate limit (the orchestrator asks
/// often, from one address).
const PROBES: &[&str] = &["/healthz", "/readyz"];

/// Counts and times each request by its matched route, and bounds it by `http_timeout`.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let start = Instant::now();
    let response = match tokio::time::timeout(state.http_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout(format!(
            "the request took longer than the gateway's limit of {:?}",
            state.http_timeout
        ))
        .into_response(),
    };
    state.shared.metrics.request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        start.elapsed(),
    );
    response
}

/// A problem, or under `/open311/` an Open311 error list.
async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    if uri.path().starts_with("/open311/") {
        return crate::open311::unknown(uri.path());
    }
    ApiError::not_found(format!("no route for {method} {}", uri.path())).into_response()
}

async fn wrong_method(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::Problem(casegrid_contracts::Problem::new(
        405,
        "method-not-allowed",
        "Method not allowed",
        format!("{} does not accept {method}", uri.path()),
    ))
}

/// Serves `router(state)` on `listener` until `shutdown` is cancelled, then stops
/// accepting, ends the SSE streams and finishes the requests in flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the listener address")?;
    tracing::info!(%addr, "gateway listening");
    let streams_stop = state.shared.streams_stop.clone();
    // With the peer address in each request: the routes without a token are limited
    // per client address.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.cancelled().await;
            streams_stop.cancel();
        })
        .await
        .context("serving HTTP")?;
    tracing::info!("gateway stopped");
    Ok(())
}

/// How callers get in, from `[auth]` of the settings: a JWT key, the static demo
/// tokens, or both. Neither is an error naming the settings: the gateway fails closed.
pub fn auth_from_settings(
    auth: &casegrid_runtime::settings::AuthSettings,
) -> anyhow::Result<(Option<JwtConfig>, bool)> {
    let jwt = JwtConfig::from_settings(auth).context("reading the JWT settings ([auth])")?;
    let static_tokens = auth.static_tokens;
    if jwt.is_none() && !static_tokens {
        anyhow::bail!(
            "the gateway has no way to authenticate callers: set [auth] jwt_hs256_secret, \
             [auth] jwt_rs256_public_key_file, [auth] jwt_es256_public_key_file or \
             [auth] jwt_jwks_url (CASEGRID__AUTH__JWT_HS256_SECRET, \
             CASEGRID__AUTH__JWT_JWKS_URL, …), or, for development only, \
             [auth] static_tokens = true (CASEGRID__AUTH__STATIC_TOKENS=true; `casegrid dev` does)"
        );
    }
    Ok((jwt, static_tokens))
}

/// Reads how callers get in ([`auth_from_settings`]: refusing to start with none),
/// connects and loads the district from `settings`, takes the rate limits from
/// `[http.rate_limit]` (per principal) and `[http.public_rate_limit]` (per client
/// address), then serves on `listener` until `shutdown`; the NATS connection is drained
/// before returning.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    settings: &casegrid_runtime::Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (jwt, static_tokens) = auth_from_settings(&settings.auth)?;
    let principal_limit = bucket(settings.http.rate_limit);
    let public_limit = bucket(settings.http.public_rate_limit);
    let client = casegrid_runtime::nats::connect_with(&settings.nats, "casegrid-gateway").await?;
    let district = District::load(&settings.district.config_dir).with_context(|| {
        format!(
            "loading the district from {}",
            settings.district.config_dir.display()
        )
    })?;
    let mut state = AppState::new(client.clone(), Arc::new(district), settings.http.body_limit)
        .with_rate_limit(principal_limit)
        .with_address_rate_limit(public_limit);
    state.duplicates = settings.duplicates.clone();
    state.clock = casegrid_runtime::clock::from_settings(&settings.clock);
    state.attachment_settings = settings.attachments.clone();
    match casegrid_eventlog::AttachmentStore::attach(client.clone()).await {
        Ok(store) => state.attachments = Some(store),
        Err(e @ casegrid_eventlog::attachments::AttachmentError::Missing) => {
            tracing::warn!(error = %e, "no attachment bucket: attachments answer 503")
        }
        // NATS did not answer: the process starts the gateway again.
        Err(e) => return Err(casegrid_runtime::restart::transient(e)),
    }
    if let Some(jwt) = jwt {
        tracing::info!(?jwt, "JWT bearer tokens enabled");
        state = state.with_jwt(jwt, static_tokens);
    }
    if static_tokens {
        tracing::warn!(
            "the static demo tokens of principals.toml are accepted ([auth] static_tokens): \
             development only"
        );
    }
    state = state.with_static_tokens(static_tokens);
    run(listener, state, shutdown).await?;
    client
        .drain()
        .await
        .context("draining the NATS connection")?;
    Ok(())
}

/// The limiter's shape from a `[http.…rate_limit]` section; `per_second = 0` disables it.
fn bucket(settings: casegrid_runtime::settings::RateLimitSettings) -> Option<RateLimit> {
    settings.enabled().map(|s| RateLimit {
        per_second: s.per_second,
        burst: s.burst,
    })
}

/// Binds `settings.http.addr` and serves until `shutdown`.
pub async fn serve(
    settings: &casegrid_runtime::Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&settings.http.addr)
        .await
        .with_context(|| format!("binding {}", settings.http.addr))?;
    serve_on(listener, settings, shutdown).await
}
