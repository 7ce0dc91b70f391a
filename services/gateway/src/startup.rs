//! Wiring: the shared state, the router, and serving until cancelled.

use crate::error::ApiError;
use crate::routes;
use anyhow::Context;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::Method;
use axum::routing::{get, post};
use axum::Router;
use casegrid_config::District;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What every handler needs, made by the caller (binary or test).
#[derive(Clone)]
pub struct AppState {
    pub nats: async_nats::Client,
    pub district: Arc<District>,
    /// Largest accepted request body, in bytes; larger ones get 413.
    pub body_limit: usize,
    /// How long to wait for a service's answer before answering 504.
    pub request_timeout: Duration,
}

impl AppState {
    /// The state with the default request timeout (10 s).
    pub fn new(nats: async_nats::Client, district: Arc<District>, body_limit: usize) -> Self {
        Self {
            nats,
            district,
            body_limit,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/cases", post(routes::file_case))
        .route("/cases/{id}", get(routes::get_case))
        .route("/cases/{id}/timeline", get(routes::get_timeline))
        .route("/cases/{id}/log", get(routes::get_log))
        .route("/cases/{id}/actions/{action}", post(routes::act))
        .route("/inbox", get(routes::inbox));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(state.body_limit))
        .with_state(state)
}

async fn unknown_route(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
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
/// accepting and finishes the requests in flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the listener address")?;
    tracing::info!(%addr, "gateway listening");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("serving HTTP")?;
    tracing::info!("gateway stopped");
    Ok(())
}

/// Connects and loads the district from `settings`, then serves on `listener`
/// until `shutdown`; the NATS connection is drained before returning.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    settings: &casegrid_runtime::Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let client = casegrid_runtime::nats::connect(&settings.nats.url, "casegrid-gateway").await?;
    let district = District::load(&settings.district.config_dir).with_context(|| {
        format!(
            "loading the district from {}",
            settings.district.config_dir.display()
        )
    })?;
    let state = AppState::new(client.clone(), Arc::new(district), settings.http.body_limit);
    run(listener, state, shutdown).await?;
    client
        .drain()
        .await
        .context("draining the NATS connection")?;
    Ok(())
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
