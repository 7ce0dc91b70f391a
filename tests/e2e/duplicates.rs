//! Duplicate candidates through the separate processes: of five filings about one
//! leak in one grid and two unrelated ones, the four later leak filings list the first
//! as their top candidate and the unrelated ones do not; a department sees only
//! candidates in its scope.

use crate::kit::System;
use serde_json::json;

const GRID: &str = "NH.CD.YL.02";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_leak_filings_list_the_first_as_their_top_candidate() {
    let system = System::start().await;
    let api = &system.api;
    let filings = [
        (
            "leak-1",
            "water_leak",
            "滨江路12号小区水管漏水",
            "3栋楼下水管漏水，水流到路面上",
        ),
        (
            "leak-2",
            "water_leak",
            "滨江路12号水管破裂漏水",
            "3栋楼下的水管破了，漏水很严重",
        ),
        (
            "other-water",
            "water_leak",
            "滨江路8号今天停水",
            "早上起一直没有自来水，也没有停水通知",
        ),
        (
            "leak-3",
            "water_leak",
            "小区水管漏水没人管",
            "滨江路12号3栋楼下水管漏水两天了",
        ),
        (
            "other-noise",
            "noise",
            "滨江路12号夜间施工噪音",
            "每晚十一点后仍在施工，吵得睡不着",
        ),
        (
            "leak-4",
            "water_leak",
            "滨江路12号3栋水管漏水",
            "楼下水管一直漏水，路面都是水",
        ),
        (
            "leak-5",
            "water_leak",
            "滨江路12号楼下漏水",
            "3栋楼下水管漏水，请尽快派人维修",
        ),
    ];
    let mut ids = Vec::new();
    for (key, category, title, description) in filings {
        let r = api
            .post(
                "/api/v1/cases",
                "demo-operator",
                &json!({"channel": "hotline", "kind": "report", "category": category,
                        "title": title, "description": description, "location": {"grid": GRID},
                        "reporter": {"phone": "13900001111"}}),
                &[("Idempotency-Key", key)],
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    system.wait_projection().await;
    let first = ids[0].as_str();
    for ((key, ..), id) in filings.iter().zip(&ids) {
        let (status, view) = api
            .get(
                &format!("/api/v1/cases/{id}/similar"),
                Some("demo-operator"),
            )
            .await;
        assert_eq!(status, 200, "{view}");
        let listed: Vec<&str> = view["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["case"]["id"].as_str().unwrap())
            .collect();
        match *key {
            "leak-1" => assert_eq!(listed.len(), 4, "{key}: {view}"),
            k if k.starts_with("leak-") => {
                assert_eq!(listed.first().copied(), Some(first), "{key}: {view}")
            }
            _ => assert!(!listed.contains(&first), "{key}: {view}"),
        }
    }
    // While typing at intake, the first leak is the top candidate too.
    let draft = format!(
        "/api/v1/cases/similar?category=water_leak&grid={GRID}&title={}",
        "%E6%BB%A8%E6%B1%9F%E8%B7%AF12%E5%8F%B7%E6%B0%B4%E7%AE%A1%E6%BC%8F%E6%B0%B4"
    );
    let (status, view) = api.get(&draft, Some("demo-operator")).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["items"][0]["case"]["id"], first, "{view}");
    // A department not dispatched the case reads it as missing.
    let (status, _) = api
        .get(
            &format!("/api/v1/cases/{first}/similar"),
            Some("demo-mediator"),
        )
        .await;
    assert_eq!(status, 404);
}
