//! The web console's way in: its pages are served from the binary, a sign-in makes a
//! server-side session with an HttpOnly SameSite=Strict cookie, `/api/v1` accepts that
//! cookie in place of a bearer token, and every unsafe method signed in that way needs
//! the session's CSRF token. Bearer tokens work unchanged.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// Signs in with `token`; answers the cookie pair (`casegrid_session=…`) and the CSRF token.
async fn sign_in(app: &App, token: &str, headers: &[(&str, &str)]) -> (String, String, String) {
    let mut request = app
        .http
        .post(app.url("/console/session"))
        .json(&json!({ "token": token }));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let r = request.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    let pair = set_cookie.split(';').next().unwrap().trim().to_owned();
    (pair, body["csrf"].as_str().unwrap().to_owned(), set_cookie)
}

#[tokio::test]
async fn the_pages_are_served_from_the_binary_with_the_district_and_demo_principals() {
    let app = spawn_app(Duration::from_secs(5)).await;
    let r = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("/console/app.js") && page.contains("滨江社区第三网格"),
        "{page}"
    );
    assert!(
        page.contains("\"demo-operator\""),
        "demo principals listed in development"
    );
    for (path, kind) in [
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        // The SVG namespace is a name, not an address.
        let text = r
            .text()
            .await
            .unwrap()
            .replace("http://www.w3.org/2000/svg", "");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path} fetches nothing elsewhere"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_session_cookie_authenticates_and_unsafe_methods_need_its_csrf_token() {
    let app = spawn_app(Duration::from_secs(5)).await;
    stand_in_services(&app).await;
    let (cookie, csrf, set_cookie) = sign_in(&app, "demo-urban", &[]).await;
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain HTTP: {set_cookie}");
    let (_, _, behind_tls) = sign_in(&app, "demo-urban", &[("x-forwarded-proto", "https")]).await;
    assert!(behind_tls.contains("; Secure"), "{behind_tls}");

    // Who is signed in, and the CSRF token for the page holding the cookie.
    let r = app
        .http
        .get(app.url("/console/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["principal"]["id"], "dept.urban");
    assert_eq!(me["principal"]["name"], "区城管执法局");
    assert_eq!(me["csrf"], csrf.as_str());

    // Reading needs no CSRF token; the session's scope is the department's.
    let r = app
        .http
        .get(app.url(&format!("/api/v1/cases/{CASE}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .http
        .get(app.url(&format!("/api/v1/cases/{OTHER_CASE}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::NOT_FOUND).await;

    let sign = format!("/api/v1/cases/{CASE}/actions/sign");
    // Without the CSRF token: refused before anything is asked of a service.
    let r = app
        .http
        .post(app.url(&sign))
        .header("cookie", &cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::FORBIDDEN).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("csrf-token-missing"),
        "{body}"
    );
    // With another session's token, or a made-up one: refused too.
    let r = app
        .http
        .post(app.url(&sign))
        .header("cookie", &cookie)
        .header("x-csrf-token", "forged")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body = problem(r, StatusCode::FORBIDDEN).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("csrf-token-mismatch"),
        "{body}"
    );
    // With it: done.
    let r = app
        .http
        .post(app.url(&sign))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A bearer token works unchanged, and a request with one ignores any cookie.
    let r = app
        .post(&sign, "demo-urban")
        .header("cookie", "casegrid_session=unknown")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // Signing out needs the token too; afterwards the cookie is worth nothing.
    let out = app.url("/console/session");
    let r = app
        .http
        .delete(&out)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::FORBIDDEN).await;
    let r = app
        .http
        .delete(&out)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .http
        .get(app.url(&format!("/api/v1/cases/{CASE}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn sign_in_takes_a_json_token_checked_as_a_bearer_token() {
    let app = spawn_app(Duration::from_secs(5)).await;
    let url = app.url("/console/session");
    let r = app
        .http
        .post(&url)
        .json(&json!({ "token": "nobody" }))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    // A cross-site form cannot sign a browser in: form bodies are refused.
    let r = app
        .http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=demo-operator")
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let r = app
        .http
        .post(&url)
        .json(&json!({ "token": "open311-public" }))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    let r = app.http.get(&url).send().await.unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}

#[tokio::test]
async fn without_demo_tokens_the_page_names_none() {
    let app = spawn_app_with(|s| s.with_static_tokens(false)).await;
    let page = app
        .http
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("\"demo\":[]"), "no demo principals listed");
    assert!(
        !page.contains("demo-operator"),
        "no demo token in production"
    );
    let r = app
        .http
        .post(app.url("/console/session"))
        .json(&json!({ "token": "demo-operator" }))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    app.stop().await;
}
