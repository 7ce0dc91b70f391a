//! Bad input gets a problem+json that names the problem, and appends nothing.

use crate::kit::System;
use crate::lifecycle::{noise_complaint, wait_status};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_answer_problems_and_append_nothing() {
    let system = System::start().await;
    let api = &system.api;
    let filed = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &noise_complaint(),
            &[("Idempotency-Key", "bad-1")],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    wait_status(api, &id, "demo-operator", "dispatched").await;
    let before = system.stream_messages().await;

    let mut no_title = noise_complaint();
    no_title.as_object_mut().unwrap().remove("title");
    let mut bad_category = noise_complaint();
    bad_category["category"] = json!("ufo_sighting");
    let action = |a: &str| format!("/api/v1/cases/{id}/actions/{a}");
    // Not I-JSON: a float (issue 17: it answered 500 after a data key was made).
    let mut float = noise_complaint();
    float["source"] = json!({"lat": 30.25});

    let cases: Vec<(&str, crate::kit::Response, u16, &str)> = vec![
        (
            "malformed JSON",
            api.post_raw(
                "/api/v1/cases",
                Some("demo-operator"),
                "{\"channel\": ".into(),
            )
            .await,
            400,
            "",
        ),
        (
            "missing required field",
            api.post("/api/v1/cases", "demo-operator", &no_title, &[])
                .await,
            422,
            "title",
        ),
        (
            "unknown category",
            api.post("/api/v1/cases", "demo-operator", &bad_category, &[])
                .await,
            422,
            "ufo_sighting",
        ),
        (
            "a float in a filing",
            api.post("/api/v1/cases", "demo-operator", &float, &[])
                .await,
            422,
            "/source/lat",
        ),
        (
            "a duplicate member in an action",
            api.post_raw(
                &action("annotate"),
                Some("demo-operator"),
                r#"{"text": "a", "text": "b"}"#.into(),
            )
            .await,
            422,
            "/text",
        ),
        (
            "unknown action",
            api.post(&action("teleport"), "demo-urban", &json!({}), &[])
                .await,
            404,
            "teleport",
        ),
        (
            "missing token",
            api.post_raw("/api/v1/cases", None, noise_complaint().to_string())
                .await,
            401,
            "",
        ),
        (
            "wrong token",
            api.post("/api/v1/cases", "not-a-token", &noise_complaint(), &[])
                .await,
            401,
            "",
        ),
        (
            "a department acting on a case not dispatched to it (existence does not leak)",
            api.post(&action("sign"), "demo-housing", &json!({}), &[])
                .await,
            404,
            "",
        ),
        (
            "an assisting department replying in the lead's place",
            api.post(
                &action("reply"),
                "demo-ecology",
                &json!({"result": "resolved", "text": "x"}),
                &[],
            )
            .await,
            403,
            "only the lead department dept.urban",
        ),
        (
            "replying before signing",
            api.post(
                &action("reply"),
                "demo-urban",
                &json!({"result": "resolved", "text": "x"}),
                &[],
            )
            .await,
            409,
            "has not signed",
        ),
        (
            "an unknown field in an action",
            api.post(&action("sign"), "demo-urban", &json!({"when": "now"}), &[])
                .await,
            422,
            "when",
        ),
    ];
    for (what, response, status, mention) in cases {
        assert_eq!(response.status, status, "{what}: {}", response.body);
        let content_type = response.headers["content-type"].to_str().unwrap();
        assert_eq!(content_type, "application/problem+json", "{what}");
        assert_eq!(response.body["status"], status, "{what}");
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{what}: a detail a person can read");
        assert!(
            detail.contains(mention),
            "{what}: {detail:?} should mention {mention:?}"
        );
        assert!(
            response.body["type"].as_str().unwrap().contains("/errors/"),
            "{what}"
        );
    }
    let refusal = api
        .post(&action("sign"), "demo-housing", &json!({}), &[])
        .await;
    let unknown = api
        .post(
            "/api/v1/cases/00000000-0000-4000-8000-000000000000/actions/sign",
            "demo-housing",
            &json!({}),
            &[],
        )
        .await;
    assert_eq!(
        refusal.body["detail"].as_str().unwrap().replace(&id, "ID"),
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .replace("00000000-0000-4000-8000-000000000000", "ID"),
        "out of scope reads exactly like a case that does not exist"
    );
    let refusal = api
        .post(
            &action("reply"),
            "demo-ecology",
            &json!({"result": "resolved", "text": "x"}),
            &[],
        )
        .await;
    let number = filed.body["number"].as_str().unwrap();
    assert_eq!(
        refusal.body["detail"],
        format!("dept.ecology cannot reply case {number}: only the lead department dept.urban may")
    );
    assert_eq!(
        system.stream_messages().await,
        before,
        "no bad request appended an event"
    );

    // A supervisor scoped to 湖滨街道 reads its street's cases, not another street's.
    let (code, _) = api
        .get(
            &format!("/api/v1/cases/{id}"),
            Some("demo-supervisor-hubin"),
        )
        .await;
    assert_eq!(code, 200, "NH.HB.BJ.03 lies under NH.HB");
    let elsewhere = api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &json!({"channel": "hotline", "kind": "complaint", "category": "wage_arrears",
                    "title": "拖欠工资", "location": {"grid": "NH.CD.YL.02"},
                    "reporter": {"phone": "13900004444"}}),
            &[],
        )
        .await;
    let other = elsewhere.body["id"].as_str().unwrap();
    wait_status(api, other, "demo-supervisor", "dispatched").await;
    let (code, _) = api
        .get(
            &format!("/api/v1/cases/{other}"),
            Some("demo-supervisor-hubin"),
        )
        .await;
    assert_eq!(code, 404, "城东街道 is outside the supervisor's scope");
    // Nor is it the demo grid worker's (it patrols NH.HB.BJ.03 and did not file it).
    let (code, _) = api
        .get(&format!("/api/v1/cases/{other}"), Some("demo-grid"))
        .await;
    assert_eq!(code, 404, "outside the grid worker's grid");
    let (code, _) = api
        .get(&format!("/api/v1/cases/{id}"), Some("demo-grid"))
        .await;
    assert_eq!(code, 200, "in the grid worker's grid");
    // The district supervisor's figures by department count its district's cases only:
    // 区人社局 led the case in 城东街道 and is no row of 湖滨街道's figures.
    for (token, hrss) in [("demo-supervisor", true), ("demo-supervisor-hubin", false)] {
        let (code, stats) = api
            .get("/api/v1/stats?group_by=department", Some(token))
            .await;
        assert_eq!(code, 200, "{stats}");
        let keys: Vec<&str> = stats["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["key"].as_str())
            .collect();
        assert!(keys.contains(&"dept.urban"), "{token}: {stats}");
        assert_eq!(keys.contains(&"dept.hrss"), hrss, "{token}: {stats}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_filings_that_are_not_i_json_leave_no_key_and_no_event() {
    let system = System::start().await;
    let api = &system.api;
    let before = system.stream_messages().await;
    let kv = async_nats::jetstream::new(system.nats.client().await)
        .get_key_value("CASEGRID_KEYS")
        .await
        .unwrap();
    let keys = || async {
        use futures_util::TryStreamExt;
        kv.keys()
            .await
            .unwrap()
            .try_collect::<Vec<String>>()
            .await
            .unwrap()
    };
    let keys_before = keys().await;
    for i in 0..1000 {
        let mut float = noise_complaint();
        // Never whole: `31.0` is the integer 31 (ijson) and would be filed.
        float["source"] = json!({"lat": 30.2505 + f64::from(i) / 1000.0});
        let r = api
            .post(
                "/api/v1/cases",
                "demo-operator",
                &float,
                &[("Idempotency-Key", &format!("float-{i}"))],
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
    }
    assert_eq!(
        keys().await,
        keys_before,
        "no data key for a refused filing"
    );
    assert_eq!(system.stream_messages().await, before, "nothing appended");
}
