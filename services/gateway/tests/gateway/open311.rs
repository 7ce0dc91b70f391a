//! The Open311 GeoReport v2 facade against the spec and the clients cities use
//! (FixMyStreet, `three`, Mark-a-Spot): discovery, the service list, filing
//! form-encoded and reading the request back in JSON and XML, lists with comma lists,
//! ignored extras and the 90-day window, updates, tokens, and errors in Open311's
//! format.

use crate::helpers::*;
use casegrid_contracts::subjects::*;
use casegrid_contracts::FileRequest;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Stand-ins answering for [`CASE`]: intake records what it was asked to file.
async fn stand_ins(app: &App) -> Arc<Mutex<Vec<FileRequest>>> {
    stand_ins_asked(app).await.0
}

/// A case of a category the district does not publish (wage arrears).
const SECRET_TITLE: &str = "拖欠工资三个月";
const SECRET_TEXT: &str = "张三在某工地被拖欠工资";

/// [`stand_ins`], and the public-list queries the gateway asked.
async fn stand_ins_asked(app: &App) -> (Arc<Mutex<Vec<FileRequest>>>, Arc<Mutex<Vec<Value>>>) {
    let queries = Arc::new(Mutex::new(Vec::new()));
    let filed = Arc::new(Mutex::new(Vec::new()));
    let seen = filed.clone();
    respond(&app.nats, INTAKE_FILE, move |p| {
        let request: FileRequest = serde_json::from_slice(p).expect("a FileRequest");
        seen.lock().unwrap().push(request);
        json!({"ok": {"id": CASE, "number": "NH-20261123-000001", "version": 1,
            "status": "received", "created": true}})
    })
    .await;
    let view = || {
        let mut v = case_view("dept.urban");
        v["reporter_name"] = json!("王**");
        v["reporter_phone"] = json!("138****1234");
        v["address"] = json!("湖滨街道滨江路12号");
        v["handle_due"] = json!("2026-11-30T18:00:00+08:00");
        v
    };
    // Projection's public list: it applies the filter it is given, as the read model
    // does; `asked` keeps each query. Besides the public noise case it holds a case of
    // a category the district does not publish.
    let asked = queries.clone();
    respond(&app.nats, PROJECTION_PUBLIC, move |p| {
        let q: Value = serde_json::from_slice(p).unwrap();
        asked.lock().unwrap().push(q.clone());
        let note = |t: &str, summary: &str| {
            json!({"datetime": "2026-11-23T22:10:00Z", "type": t, "summary": summary, "version": 1})
        };
        let mut secret = view();
        secret["id"] = json!(OTHER_CASE);
        secret["category"] = json!("wage_arrears");
        secret["title"] = json!(SECRET_TITLE);
        secret["description"] = json!(SECRET_TEXT);
        let all = [
            json!({"case": view(), "notes": [
                note("CaseFiled", "受理 received"),
                {"datetime": "2026-11-24T09:00:00Z", "type": "CaseDispatched",
                 "summary": "派单 dispatched to dept.urban", "version": 2},
                {"datetime": "2026-11-26T10:00:00Z", "type": "CaseClosed",
                 "summary": "结案 closed", "version": 5},
            ], "lat": "30.25", "long": "120.16", "media_url": "https://photos.example/1.jpg"}),
            json!({"case": secret, "notes": [note("CaseReplied", SECRET_TEXT)]}),
        ];
        let categories: Vec<&str> = q["filter"]["categories"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let ids: Vec<&str> = q["ids"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let items: Vec<&Value> = all
            .iter()
            .filter(|r| {
                let c = &r["case"];
                (categories.is_empty() || categories.contains(&c["category"].as_str().unwrap()))
                    && (ids.is_empty() || ids.contains(&c["id"].as_str().unwrap()))
            })
            .collect();
        json!({"ok": {"items": items}})
    })
    .await;
    (filed, queries)
}

#[tokio::test]
async fn services_list_the_district_categories() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let doc = openapi(&app).await;
    let answer = answered(
        app.http
            .get(app.url("/open311/v2/services.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_documented(&doc, "GET", "/open311/v2/services.json", &answer);
    let services = answer.body.as_array().expect("a list");
    let noise = services
        .iter()
        .find(|s| s["service_code"] == "noise")
        .expect("noise is a service");
    assert_eq!(noise["service_name"], "夜间施工噪音", "{noise}");

    let xml = app
        .http
        .get(app.url("/open311/v2/services.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(xml.headers()["content-type"], "text/xml; charset=utf-8");
    let xml = xml.text().await.unwrap();
    assert!(xml.contains("<services><service><"), "{xml}");
    assert!(xml.contains("<service_code>noise</service_code>"), "{xml}");

    let definition = answered(
        app.http
            .get(app.url("/open311/v2/services/noise.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_documented(&doc, "GET", "/open311/v2/services/{code}", &definition);
    assert_eq!(definition.body["attributes"][1]["code"], "urgency");
    let missing = answered(
        app.http
            .get(app.url("/open311/v2/services/potholes.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_documented(&doc, "GET", "/open311/v2/services/{code}", &missing);
    app.stop().await;
}

#[tokio::test]
async fn a_request_filed_form_encoded_reads_back_in_json_and_xml() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let filed = stand_ins(&app).await;
    let doc = openapi(&app).await;
    let form = [
        ("api_key", "open311-public"),
        ("service_code", "noise"),
        ("description", "工地每晚十一点后还在施工\n请尽快处理"),
        ("address_string", "湖滨街道滨江路12号"),
        ("lat", "30.25"),
        ("long", "120.16"),
        ("first_name", "丽"),
        ("last_name", "王"),
        ("phone", "13800001234"),
        ("email", "wang@example.com"),
        ("attribute[urgency]", "urgent"),
    ];
    let answer = answered(
        app.http
            .post(app.url("/open311/v2/requests.json"))
            .header("Idempotency-Key", "app-4711")
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_documented(&doc, "POST", "/open311/v2/requests.json", &answer);
    assert_eq!(answer.body[0]["service_request_id"], CASE);
    // The spec answers the id or a token, not both.
    assert!(answer.body[0].get("token").is_none(), "{}", answer.body);

    let request = filed
        .lock()
        .unwrap()
        .pop()
        .expect("intake was asked to file");
    assert_eq!(request.actor.kind.as_str(), "public");
    assert_eq!(request.idempotency_key, "app-4711");
    let body = &request.body;
    assert_eq!(body["channel"], "suggestion_box", "{body}");
    assert_eq!(body["category"], "noise");
    assert_eq!(body["urgency"], "urgent");
    assert_eq!(body["title"], "工地每晚十一点后还在施工");
    assert_eq!(body["location"]["address"], "湖滨街道滨江路12号");
    assert_eq!(
        body["reporter"],
        json!({"name": "王丽", "phone": "13800001234"})
    );
    assert_eq!(body["source"]["open311"]["lat"], "30.25");
    assert!(!body.to_string().contains("wang@example.com"), "{body}");

    // An operator's token files through the hotline.
    let r = app
        .http
        .post(app.url("/open311/v2/requests.xml"))
        .form(&[
            ("api_key", OPERATOR),
            ("service_code", "noise"),
            ("address_id", "NH-addr-0042"),
            ("phone", "13800001234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains(&format!("<service_request_id>{CASE}</service_request_id>")),
        "{xml}"
    );
    let request = filed.lock().unwrap().pop().expect("filed");
    assert_eq!(request.body["channel"], "hotline");
    assert_eq!(request.body["title"], "夜间施工噪音");

    // Read back: public fields and the public timeline, never the reporter.
    let answer = answered(
        app.http
            .get(app.url(&format!("/open311/v2/requests/{CASE}.json")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_documented(&doc, "GET", "/open311/v2/requests/{id}", &answer);
    let got = &answer.body[0];
    assert_eq!(got["service_request_id"], CASE);
    assert_eq!(got["status"], "open");
    assert_eq!(got["service_code"], "noise");
    assert_eq!(got["agency_responsible"], "区城市管理综合行政执法局");
    assert_eq!(got["expected_datetime"], "2026-11-30T18:00:00+08:00");
    assert_eq!(got["requested_datetime"], "2026-11-23T22:10:00Z");
    assert_eq!(got["address"], "湖滨街道滨江路12号");
    assert_eq!(got["lat"], "30.25");
    assert_eq!(got["long"], "120.16");
    assert_eq!(got["media_url"], "https://photos.example/1.jpg");
    let notes: Vec<&str> = got["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        ["CaseFiled", "CaseDispatched", "CaseClosed"],
        "{got}"
    );
    let text = answer.body.to_string();
    assert!(
        !text.contains("138") && !text.contains("王**"),
        "personal data: {text}"
    );

    let r = app
        .http
        .get(app.url(&format!("/open311/v2/requests/{CASE}.xml")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let xml = r.text().await.unwrap();
    for part in [
        "<service_requests><request>",
        &format!("<service_request_id>{CASE}</service_request_id>"),
        "<status>open</status>",
        "<agency_responsible>区城市管理综合行政执法局</agency_responsible>",
        "<notes><note><datetime>2026-11-23T22:10:00Z</datetime>",
        "<lat>30.25</lat>",
    ] {
        assert!(xml.contains(part), "{part} missing: {xml}");
    }

    // The list and the token find it too.
    let answer = answered(
        app.http
            .get(app.url("/open311/v2/requests.json?status=open&service_code=noise"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_documented(&doc, "GET", "/open311/v2/requests.json", &answer);
    assert_eq!(answer.body[0]["service_request_id"], CASE);
    let token = format!("/open311/v2/tokens/{CASE}.json");
    let answer = answered(app.http.get(app.url(&token)).send().await.unwrap()).await;
    assert_documented(&doc, "GET", "/open311/v2/tokens/{token}", &answer);
    assert_eq!(
        answer.body,
        json!([{"service_request_id": CASE, "token": CASE}])
    );
    app.stop().await;
}

#[tokio::test]
async fn errors_come_in_open311_format() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    stand_ins(&app).await;
    let doc = openapi(&app).await;
    // A bad api_key, and one of a principal that may not file.
    for key in ["not-a-key", DEPT_IN] {
        let answer = answered(
            app.http
                .post(app.url("/open311/v2/requests.json"))
                .form(&[("api_key", key), ("service_code", "noise")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 403, "{}", answer.body);
        assert_documented(&doc, "POST", "/open311/v2/requests.json", &answer);
        assert_eq!(answer.body[0]["code"], 403, "{}", answer.body);
        assert!(answer.body[0]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("api_key")));
    }
    let r = app
        .http
        .post(app.url("/open311/v2/requests.xml"))
        .form(&[("api_key", "not-a-key"), ("service_code", "noise")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let xml = r.text().await.unwrap();
    assert!(
        xml.contains("<errors><error><code>403</code><description>api_key"),
        "{xml}"
    );
    // Unknown requests, routes and formats.
    for (path, status) in [
        (
            "/open311/v2/requests/0192f0c4-3c1a-7d2e-8b4f-000000000000.json",
            404,
        ),
        ("/open311/v2/requests/nope.json", 404),
        ("/open311/v2/requests.json?status=pending", 400),
        ("/open311/v2/nothing.json", 404),
    ] {
        let answer = answered(app.http.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        assert_eq!(answer.body[0]["code"], status, "{path}: {}", answer.body);
    }
    app.stop().await;
}

#[tokio::test]
async fn only_public_categories_and_public_notes_are_published() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let (_, asked) = stand_ins_asked(&app).await;
    for path in [
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        "/open311/v2/requests.json?status=open",
    ] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains(CASE),
            "{path}: the public case is listed: {text}"
        );
        for secret in [SECRET_TITLE, SECRET_TEXT, OTHER_CASE] {
            assert!(!text.contains(secret), "{path}: {secret} published: {text}");
        }
        // One projection query per list, asking for the public categories only and
        // never for disputes.
        let q = asked.lock().unwrap().pop().expect("one query");
        assert!(asked.lock().unwrap().is_empty(), "one query per list");
        let categories = q["filter"]["categories"].as_array().unwrap();
        assert!(categories.contains(&json!("noise")), "{q}");
        assert!(!categories.contains(&json!("wage_arrears")), "{q}");
        assert!(!categories.contains(&json!("neighbor_dispute")), "{q}");
        assert_eq!(q["filter"]["not_kinds"], json!(["dispute"]), "{q}");
    }
    // Asked for by id or by its category, a case that is not public does not exist.
    let r = app
        .http
        .get(app.url(&format!("/open311/v2/requests/{OTHER_CASE}.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = app
        .http
        .get(app.url(&format!(
            "/open311/v2/requests.json?service_request_id={OTHER_CASE}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "[]");
    let r = app
        .http
        .get(app.url("/open311/v2/requests.json?service_code=wage_arrears"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "[]");
    app.stop().await;
}

/// Sends `n` Open311 list requests at once from `client`; the statuses answered.
async fn burst(app: &App, client: &reqwest::Client, n: usize) -> Vec<u16> {
    let url = app.url("/open311/v2/requests.json");
    let sends = (0..n).map(|_| {
        let request = client.get(&url);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    futures_util::future::join_all(sends).await
}

#[tokio::test]
async fn a_flood_from_one_address_gets_429_while_another_address_is_served() {
    let app = spawn_app_with(|s| {
        s.with_request_timeout(std::time::Duration::from_secs(5))
            .with_address_rate_limit(Some(casegrid_gateway::RateLimit::PUBLIC))
    })
    .await;
    stand_ins(&app).await;
    // Loopback answers on every 127.x address: two clients, two addresses.
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let (flooder, other) = (from([127, 0, 0, 2]), from([127, 0, 0, 1]));
    let statuses = burst(&app, &flooder, 50).await;
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 25, "50 at once from one address: {statuses:?}");
    assert!(
        statuses.contains(&200),
        "the burst is served first: {statuses:?}"
    );
    // The 429 is an Open311 error with Retry-After.
    let r = flooder
        .get(app.url("/open311/v2/requests.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["code"], 429, "{body}");
    // /openapi.json shares the address's bucket; the other address is served.
    let r = flooder.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(burst(&app, &other, 10).await.iter().all(|s| *s == 200));
    let r = other.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Probes are never limited.
    let r = flooder.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    app.stop().await;
}

/// POSTs `form` to `requests.json` with the public key.
async fn file(app: &App, form: &[(&str, &str)]) -> Answered {
    let mut all = vec![("api_key", "open311-public"), ("service_code", "noise")];
    all.extend_from_slice(form);
    answered(
        app.http
            .post(app.url("/open311/v2/requests.json"))
            .form(&all)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn discovery_names_the_endpoint_and_its_formats() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let doc = openapi(&app).await;
    let answer = answered(
        app.http
            .get(app.url("/open311/v2/discovery.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_documented(&doc, "GET", "/open311/v2/discovery.json", &answer);
    let endpoint = &answer.body["endpoints"][0];
    assert_eq!(
        endpoint["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert_eq!(endpoint["url"], app.url("/open311/v2"));
    assert_eq!(endpoint["formats"], json!(["text/xml", "application/json"]));
    assert!(answer.body["changeset"]
        .as_str()
        .is_some_and(|c| c.ends_with('Z')));
    let r = app
        .http
        .get(app.url("/open311/v2/discovery.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
    let xml = r.text().await.unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<discovery>"),
        "{xml}"
    );
    assert!(
        xml.contains(
            "<formats><format>text/xml</format><format>application/json</format></formats>"
        ),
        "{xml}"
    );
    app.stop().await;
}

#[tokio::test]
async fn lists_ignore_extras_take_comma_lists_and_keep_to_a_90_day_window() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let (_, asked) = stand_ins_asked(&app).await;
    let get = |path: &str| {
        let url = app.url(path);
        let http = app.http.clone();
        async move { answered(http.get(url).send().await.unwrap()).await }
    };
    // What clients send besides the spec's parameters is ignored.
    let answer = get(
        "/open311/v2/requests.json?jurisdiction_id=nh.gov&page_size=10&page=2&limit=5\
         &extensions=true&api_key=x&whatever=1",
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body[0]["service_request_id"], CASE);
    // Default: the last 90 days, at most 1,000 requests.
    let q = asked.lock().unwrap().pop().unwrap();
    assert_eq!(q["limit"], 1000, "{q}");
    let instant = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let span = instant(&q["filter"]["filed_to"]) - instant(&q["filter"]["filed_from"]);
    assert!(span == time::Duration::days(90), "{q}");
    // Comma lists: both status classes; of two codes only the public one is asked for.
    let answer =
        get("/open311/v2/requests.json?status=open,closed&service_code=noise,wage_arrears").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let q = asked.lock().unwrap().pop().unwrap();
    let statuses = q["filter"]["status"].as_array().unwrap();
    assert!(
        statuses.contains(&json!("received")) && statuses.contains(&json!("closed")),
        "{q}"
    );
    assert_eq!(q["filter"]["categories"], json!(["noise"]), "{q}");
    // One date: the 90 days after it; a range longer than 90 days is refused.
    get("/open311/v2/requests.json?start_date=2026-09-01T00:00:00Z").await;
    let q = asked.lock().unwrap().pop().unwrap();
    assert_eq!(q["filter"]["filed_from"], "2026-09-01T00:00:00Z", "{q}");
    assert_eq!(q["filter"]["filed_to"], "2026-11-30T00:00:00Z", "{q}");
    let answer = get(
        "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body[0]["description"]
        .as_str()
        .unwrap()
        .contains("90 days"));
    // Ids override the rest: no window.
    get(&format!(
        "/open311/v2/requests.json?service_request_id={CASE}&start_date=2020-01-01T00:00:00Z"
    ))
    .await;
    let q = asked.lock().unwrap().pop().unwrap();
    assert!(q["filter"].get("filed_from").is_none(), "{q}");
    assert_eq!(q["ids"], json!([CASE]));
    app.stop().await;
}

#[tokio::test]
async fn updates_are_the_public_notes_within_the_dates() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    stand_ins(&app).await;
    let doc = openapi(&app).await;
    let answer = answered(
        app.http
            .get(app.url(
                "/open311/v2/servicerequestupdates.json?start_date=2026-11-24T00:00:00Z\
                 &end_date=2026-11-27T00:00:00Z&jurisdiction_id=nh",
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_documented(
        &doc,
        "GET",
        "/open311/v2/servicerequestupdates.json",
        &answer,
    );
    assert_eq!(
        answer.body,
        json!([
            {"update_id": format!("{CASE}.2"), "service_request_id": CASE, "status": "open",
             "updated_datetime": "2026-11-24T09:00:00Z",
             "description": "派单 dispatched to dept.urban", "media_url": null},
            {"update_id": format!("{CASE}.5"), "service_request_id": CASE, "status": "closed",
             "updated_datetime": "2026-11-26T10:00:00Z", "description": "结案 closed",
             "media_url": null},
        ]),
        "the filing (before start_date) is not an update in the window"
    );
    let text = answer.body.to_string();
    assert!(
        !text.contains(SECRET_TEXT) && !text.contains(OTHER_CASE),
        "{text}"
    );
    let xml = app
        .http
        .get(app.url("/open311/v2/servicerequestupdates.xml?start_date=2026-11-26T00:00:00Z"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<service_request_updates><request_update>")
            && xml.contains(&format!("<update_id>{CASE}.5</update_id>"))
            && !xml.contains(&format!("<update_id>{CASE}.2</update_id>")),
        "{xml}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_filing_needs_a_location_and_keeps_coordinates_media_and_extra_attributes() {
    let app = spawn_app_with(|mut s| {
        // Room for a description past 4,000 characters.
        s.body_limit = 64 * 1024;
        s.with_request_timeout(std::time::Duration::from_secs(5))
    })
    .await;
    let filed = stand_ins(&app).await;
    let doc = openapi(&app).await;
    for (form, names) in [
        (vec![("description", "路灯坏了")], "location"),
        (vec![("lat", "30.25")], "lat, long"),
        (vec![("lat", "91"), ("long", "120")], "lat"),
        (vec![("lat", "30.2.5"), ("long", "120")], "lat"),
        (vec![("lat", "30.25"), ("long", "1e2")], "long"),
        (
            vec![
                ("address_string", "滨江路"),
                ("media_url", "file:///etc/passwd"),
            ],
            "media_url",
        ),
    ] {
        let answer = file(&app, &form).await;
        assert_eq!(answer.status, 400, "{form:?}: {}", answer.body);
        assert_documented(&doc, "POST", "/open311/v2/requests.json", &answer);
        let d = answer.body[0]["description"].as_str().unwrap();
        assert!(d.starts_with(names), "{form:?}: {d}");
    }
    let long = "很".repeat(4001);
    let answer = file(
        &app,
        &[("address_string", "滨江路"), ("description", &long)],
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body[0]["description"]
        .as_str()
        .unwrap()
        .starts_with("description: at most 4000"));
    assert!(
        filed.lock().unwrap().is_empty(),
        "nothing refused reached intake"
    );

    let answer = file(
        &app,
        &[
            ("lat", "-33.8688"),
            ("long", "151.2093"),
            ("media_url", "https://photos.example/1.jpg"),
            ("description", &"很".repeat(4000)),
            (
                "attribute[report_url]",
                "https://fixmystreet.example/report/7",
            ),
            ("attribute[fixmystreet_id]", "7"),
            ("attribute[email]", "wang@example.com"),
            ("attribute[urgency]", "urgent"),
        ],
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let request = filed.lock().unwrap().pop().expect("filed");
    let source = &request.body["source"];
    assert_eq!(
        source["open311"],
        json!({"service_code": "noise", "lat": "-33.8688", "long": "151.2093",
            "attributes": {"report_url": "https://fixmystreet.example/report/7",
                "fixmystreet_id": "7"}}),
        "{source}"
    );
    assert_eq!(
        source["attachments"],
        json!(["https://photos.example/1.jpg"])
    );
    assert_eq!(request.body["urgency"], "urgent");
    assert!(!request.body.to_string().contains("wang@example.com"));
    app.stop().await;
}

#[tokio::test]
async fn a_multipart_upload_is_judged_before_anything_is_filed() {
    let app = spawn_app_with(|s| {
        s.with_request_timeout(std::time::Duration::from_secs(5))
            .with_address_rate_limit(Some(casegrid_gateway::RateLimit::PUBLIC))
    })
    .await;
    let filed = stand_ins(&app).await;
    let part = |name: &str, value: &str| {
        format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    let fields = |key: &str| {
        [
            part("api_key", key),
            part("service_code", "noise"),
            part("lat", "30.2741"),
            part("long", "120.1551"),
            part("description", "夜间施工"),
        ]
        .concat()
    };
    let file = |bytes: &str| {
        format!(
            "--b\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n{bytes}\r\n"
        )
    };
    let media = |bytes: &str| format!("{}--b--\r\n", file(bytes));
    // Public and staff keys alike: bytes of another type answer 415; a filing carries
    // one file.
    let cases = [
        (
            format!("{}{}", fields("open311-public"), media("<html>")),
            415,
            "not an accepted type",
        ),
        (
            format!("{}{}", fields("demo-operator"), media("<html>")),
            415,
            "not an accepted type",
        ),
        (
            format!(
                "{}{}{}",
                fields("open311-public"),
                file("\u{FF}JPEG"),
                media("\u{FF}JPEG")
            ),
            400,
            "one file",
        ),
    ];
    let send = |body: String, path: &'static str| {
        app.http
            .post(app.url(path))
            .header("content-type", "multipart/form-data; boundary=b")
            .body(body)
            .send()
    };
    for (body, status, says) in cases {
        for (path, xml) in [
            ("/open311/v2/requests.json", false),
            ("/open311/v2/requests.xml", true),
        ] {
            let r = send(body.clone(), path).await.unwrap();
            assert_eq!(r.status().as_u16(), status, "{path}");
            let text = r.text().await.unwrap();
            assert!(text.contains(says), "{text}");
            assert_eq!(
                text.contains(&format!("<errors><error><code>{status}</code>")),
                xml,
                "{text}"
            );
        }
    }
    // Public uploads are rate limited like any public request: a flood from one
    // address is answered 429.
    let body = format!("{}{}", fields("open311-public"), media("<html>"));
    let flood = (0..30).map(|_| send(body.clone(), "/open311/v2/requests.json"));
    let statuses: Vec<u16> = futures_util::future::join_all(flood)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [415, 429].contains(s)),
        "{statuses:?}"
    );
    assert!(filed.lock().unwrap().is_empty());
    app.stop().await;
}
