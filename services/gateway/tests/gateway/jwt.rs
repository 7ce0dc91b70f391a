//! JWT bearer tokens over HTTP: HS256 and RS256, valid, expired, badly signed, for
//! another audience; static tokens refused once JWTs are on; a district supervisor.

use crate::helpers::*;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use casegrid_gateway::JwtConfig;
use serde_json::{json, Value};

const SECRET: &[u8] = b"a test secret of at least 32 bytes!!";
const AUDIENCE: &str = "casegrid-test";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn encode(alg: &str, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    let input = encode("HS256", claims);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/gateway/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rs256(claims: &Value) -> String {
    let pem = fixture("rs256-private.pem");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).expect("PEM base64");
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key");
    let input = encode("RS256", claims);
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims(sub: &str, kind: &str) -> Value {
    json!({"sub": sub, "kind": kind, "aud": AUDIENCE, "exp": now() + 600})
}

async fn status(app: &App, path: &str, token: &str) -> (u16, Value) {
    let answer = answered(app.get(path, token).send().await.unwrap()).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn hs256_tokens_valid_expired_forged_and_for_others() {
    let app = spawn_app_with(|s| s.with_jwt(JwtConfig::hs256(SECRET, AUDIENCE), false)).await;
    stand_in_services(&app).await;
    let inbox = "/api/v1/inbox";

    let (s, body) = status(
        &app,
        inbox,
        &hs256(&claims("dept.urban", "department"), SECRET),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["items"][0]["id"], CASE);

    let mut expired = claims("dept.urban", "department");
    expired["exp"] = json!(now() - 3600);
    let (s, body) = status(&app, inbox, &hs256(&expired, SECRET)).await;
    assert_eq!(
        (s, body["detail"].as_str().unwrap()),
        (401, "the token has expired")
    );

    let forged = hs256(
        &claims("dept.urban", "department"),
        b"not the secret, but just as long..",
    );
    let (s, body) = status(&app, inbox, &forged).await;
    assert_eq!(s, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("signature"),
        "{body}"
    );

    let mut elsewhere = claims("dept.urban", "department");
    elsewhere["aud"] = json!("another-app");
    let (s, body) = status(&app, inbox, &hs256(&elsewhere, SECRET)).await;
    assert_eq!(s, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("audience"),
        "{body}"
    );

    let (s, body) = status(&app, inbox, &rs256(&claims("dept.urban", "department"))).await;
    assert_eq!(s, 401, "an RS256 token on an HS256 gateway: {body}");

    let (s, body) = status(&app, inbox, DEPT_IN).await;
    assert_eq!(s, 401, "static tokens are off in production: {body}");

    // The claims make the principal: an operator has no inbox.
    let (s, _) = status(&app, inbox, &hs256(&claims("op.zhang", "operator"), SECRET)).await;
    assert_eq!(s, 403);
    app.stop().await;
}

#[tokio::test]
async fn rs256_tokens_and_supervisor_scopes() {
    let config = JwtConfig::rs256_pem(&fixture("rs256-public.pem"), AUDIENCE).expect("public key");
    let app = spawn_app_with(|s| s.with_jwt(config, true)).await;
    stand_in_services(&app).await;
    let case = format!("/api/v1/cases/{CASE}");

    let (s, body) = status(&app, &case, &rs256(&claims("sup.li", "supervisor"))).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = status(&app, &case, &hs256(&claims("sup.li", "supervisor"), SECRET)).await;
    assert_eq!(s, 401, "HS256 on an RS256 gateway");
    let mut expired = claims("sup.li", "supervisor");
    expired["exp"] = json!(now() - 3600);
    let (s, _) = status(&app, &case, &rs256(&expired)).await;
    assert_eq!(s, 401);

    // A supervisor of district NH sees the case (grid NH.HB.BJ.03); of another, not.
    let mut nh = claims("sup.nh", "supervisor");
    nh["scope"] = json!("NH");
    assert_eq!(status(&app, &case, &rs256(&nh)).await.0, 200);
    let mut xy = claims("sup.xy", "supervisor");
    xy["scope"] = json!("XY");
    assert_eq!(status(&app, &case, &rs256(&xy)).await.0, 404);
    assert_eq!(
        status(&app, &format!("{case}/log"), &rs256(&xy)).await.0,
        404
    );

    // Static tokens stay when allowed (development next to JWTs).
    assert_eq!(status(&app, &case, SUPERVISOR).await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn without_jwt_settings_or_static_tokens_the_gateway_refuses_to_start() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let settings = casegrid_runtime::Settings::load_from(None, &[]).expect("defaults");
    assert!(!settings.auth.static_tokens, "fail closed by default");
    let started = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        casegrid_gateway::serve_on(listener, &settings, Default::default()),
    )
    .await
    .expect("refuses at once");
    let err = format!("{:#}", started.expect_err("no way in: no start"));
    assert!(err.contains("[auth] jwt_hs256_secret"), "{err}");
    assert!(err.contains("static_tokens"), "{err}");

    // With static tokens on, the same settings get past authentication (and then
    // fail on the unreachable NATS server instead).
    let env = [
        (
            "CASEGRID__AUTH__STATIC_TOKENS".to_owned(),
            "true".to_owned(),
        ),
        (
            "CASEGRID__NATS__URL".to_owned(),
            "nats://127.0.0.1:1".to_owned(),
        ),
    ];
    let settings = casegrid_runtime::Settings::load_from(None, &env).expect("settings");
    let (jwt, static_tokens) =
        casegrid_gateway::startup::auth_from_settings(&settings.auth).expect("a way in");
    assert!(jwt.is_none() && static_tokens);
}

fn es256(claims: &Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_ec_pem(fixture("es256-private.pem").as_bytes())
        .expect("a PKCS#8 P-256 key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        claims,
        &key,
    )
    .expect("sign")
}

#[tokio::test]
async fn es256_tokens_from_the_trusted_issuer_only() {
    let config = JwtConfig::es256_pem(&fixture("es256-public.pem"), AUDIENCE)
        .expect("public key")
        .with_issuer("https://idp.city.example");
    let app = spawn_app_with(|s| s.with_jwt(config, false)).await;
    stand_in_services(&app).await;
    let case = format!("/api/v1/cases/{CASE}");
    let mut good = claims("sup.li", "supervisor");
    good["iss"] = json!("https://idp.city.example");
    let (s, body) = status(&app, &case, &es256(&good)).await;
    assert_eq!(s, 200, "{body}");

    let mut foreign = good.clone();
    foreign["iss"] = json!("https://idp.elsewhere.example");
    let answer = answered(app.get(&case, &es256(&foreign)).send().await.unwrap()).await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(
        answer.body["detail"],
        "the token was not issued by the issuer this gateway trusts (issuer)"
    );
    let (s, body) = status(&app, &case, &rs256(&good)).await;
    assert_eq!(s, 401, "an RS256 token on an ES256 gateway: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("accepts ES256"),
        "{body}"
    );
    app.stop().await;
}
