//! The layers every request passes (`tower-http`), outermost first: sensitive headers
//! (`Authorization`, `Cookie`) marked so no log shows them; a malformed `X-Request-Id`
//! dropped ([`casegrid_runtime::correlation::well_formed`]); a request id set where there
//! is none (a UUIDv7); a tracing span per request naming it; the id echoed in the
//! answer; compression (gzip, when asked; never for server-sent events); a panic in a
//! handler answered 500 `application/problem+json`. The 504 timeout stays in
//! `startup::track`.

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Router;
use casegrid_runtime::correlation;
use std::any::Any;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `router` inside the edge layers.
pub(crate) fn layers(router: Router) -> Router {
    router
        .layer(CatchPanicLayer::custom(panicked))
        .layer(CompressionLayer::new())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        uri = %request.uri(),
                        request_id = request
                            .headers()
                            .get(REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default(),
                    )
                })
                .on_request(|request: &Request<Body>, _: &Span| {
                    tracing::debug!(headers = %logged(request.headers()), "request");
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
        .layer(axum::middleware::map_request(drop_malformed_request_id))
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            COOKIE,
        ]))
}

/// The headers as the log shows them: values marked sensitive print as `Sensitive`.
fn logged(headers: &HeaderMap) -> String {
    format!("{headers:?}")
}

/// The request's id (set by [`layers`]; a new one outside them).
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| correlation::well_formed(id))
        .map_or_else(new_id, str::to_owned)
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&new_id()).ok().map(RequestId::new)
    }
}

/// A client's id that is too long or holds anything but letters, digits and `-_.:` is
/// dropped, so a new one is made: it never reaches a log line or an event.
async fn drop_malformed_request_id(mut request: Request) -> Request {
    let malformed = request
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .enumerate()
        .any(|(n, v)| n > 0 || !v.to_str().is_ok_and(correlation::well_formed));
    if malformed {
        tracing::debug!("a malformed X-Request-Id is replaced");
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

fn panicked(_: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::internal(
        "a handler panicked",
        anyhow::anyhow!("panic (message in the log above)"),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, layers(router)).await });
        base
    }

    #[tokio::test]
    async fn a_panic_is_a_problem_with_the_request_id() {
        let base = serve(Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("boom");
                }
                "never"
            }),
        ))
        .await;
        let answer = reqwest::Client::new()
            .get(format!("{base}/boom"))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 500);
        assert_eq!(answer.headers()["content-type"], "application/problem+json");
        assert_eq!(answer.headers()["x-request-id"], "abc-123");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["status"], 500);
        assert!(!body.to_string().contains("boom"), "{body}");
    }
}

#[cfg(test)]
mod masking {
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn authorization_and_cookies_are_masked_in_what_is_logged() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // The handler answers what the request log would show of its headers.
        let router = Router::new().route(
            "/h",
            get(|request: Request| async move { logged(request.headers()) }),
        );
        tokio::spawn(async move { axum::serve(listener, layers(router)).await });
        let shown = reqwest::Client::new()
            .get(format!("{base}/h"))
            .bearer_auth("token-secret-4711")
            .header("cookie", "session=cookie-secret-4711")
            .header("x-request-id", "masking-test")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(shown.contains("masking-test"), "{shown}");
        assert!(shown.contains("\"authorization\": Sensitive"), "{shown}");
        assert!(shown.contains("\"cookie\": Sensitive"), "{shown}");
        assert!(!shown.contains("secret-4711"), "{shown}");
    }
}
