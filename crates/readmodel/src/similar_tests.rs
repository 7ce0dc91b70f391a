//! Duplicate candidates on both backends: five callers about one leak, two unrelated.

use crate::tests::{operator, Chain, Db};
use casegrid_contracts::similar::SimilarQuery;
use casegrid_domain::CaseId;
use serde_json::json;
use time::macros::datetime;

const GRID: &str = "NH.HB.BJ.03";

/// (key, category, grid, title, description)
const FILINGS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "leak-1",
        "water_supply",
        GRID,
        "滨江路12号小区水管漏水",
        "3栋楼下水管漏水，水流到路面上",
    ),
    (
        "leak-2",
        "water_supply",
        GRID,
        "滨江路12号水管破裂漏水",
        "3栋楼下的水管破了，漏水很严重",
    ),
    (
        "other-water",
        "water_supply",
        GRID,
        "滨江路8号今天停水",
        "早上起一直没有自来水，也没有停水通知",
    ),
    (
        "leak-3",
        "water_supply",
        GRID,
        "小区水管漏水没人管",
        "滨江路12号3栋楼下水管漏水两天了",
    ),
    (
        "other-noise",
        "noise",
        GRID,
        "滨江路12号夜间施工噪音",
        "每晚十一点后仍在施工，吵得睡不着",
    ),
    (
        "leak-4",
        "water_supply",
        GRID,
        "滨江路12号3栋水管漏水",
        "楼下水管一直漏水，路面都是水",
    ),
    (
        "leak-5",
        "water_supply",
        GRID,
        "滨江路12号楼下漏水",
        "3栋楼下水管漏水，请尽快派人维修",
    ),
];

fn filing(category: &str, grid: &str, title: &str, description: &str) -> serde_json::Value {
    json!({
        "channel": "hotline", "kind": "complaint", "category": category, "urgency": "normal",
        "title": title, "description": description,
        "location": {"address": "湖滨街道滨江路", "grid": grid},
    })
}

async fn filed(db: Db) -> (crate::ReadModel, Vec<CaseId>) {
    let model = db.model().await;
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for (i, (key, category, grid, title, description)) in FILINGS.iter().enumerate() {
        let mut chain = Chain::new(key);
        ids.push(chain.case_id);
        events.push(chain.event(
            i as u64 + 1,
            "CaseFiled",
            filing(category, grid, title, description),
            operator(),
        ));
    }
    model.apply(&events).await.unwrap();
    (model, ids)
}

fn of_case(id: CaseId) -> SimilarQuery {
    SimilarQuery {
        case_id: Some(id),
        ..SimilarQuery::default()
    }
}

async fn later_leak_filings_list_the_first_as_their_top_candidate(db: Db) {
    let (model, ids) = filed(db).await;
    let now = datetime!(2026-11-23 03:00 UTC);
    let key_of = |id: CaseId| FILINGS[ids.iter().position(|i| *i == id).unwrap()].0;
    for (i, (key, ..)) in FILINGS.iter().enumerate() {
        let view = model.similar(&of_case(ids[i]), now).await.unwrap().unwrap();
        let listed: Vec<(&str, u32)> = view
            .items
            .iter()
            .map(|c| (key_of(c.case.id), c.score))
            .collect();
        println!("{key}: {listed:?}");
        assert!(listed.iter().all(|(k, _)| *k != *key), "never itself");
        match *key {
            "leak-1" => assert_eq!(
                listed.iter().map(|(k, _)| *k).collect::<Vec<_>>().len(),
                4,
                "the first lists the four later leaks: {listed:?}"
            ),
            k if k.starts_with("leak-") => {
                assert_eq!(
                    listed.first().map(|(k, _)| *k),
                    Some("leak-1"),
                    "{key}: {listed:?}"
                );
                assert!(
                    listed.iter().all(|(k, _)| k.starts_with("leak-")),
                    "{key}: {listed:?}"
                );
            }
            _ => assert!(
                listed.iter().all(|(k, _)| !k.starts_with("leak-")),
                "an unrelated filing lists no leak: {key}: {listed:?}"
            ),
        }
    }
    // A draft typed at intake finds the first leak on top too; another grid finds none.
    let draft = SimilarQuery {
        category: Some("water_supply".into()),
        grid: Some(GRID.into()),
        title: "滨江路12号水管漏水".into(),
        ..SimilarQuery::default()
    };
    let view = model.similar(&draft, now).await.unwrap().unwrap();
    assert_eq!(view.items.first().map(|c| c.case.id), Some(ids[0]));
    let elsewhere = SimilarQuery {
        grid: Some("NH.HB.BJ.04".into()),
        ..draft.clone()
    };
    assert!(model
        .similar(&elsewhere, now)
        .await
        .unwrap()
        .unwrap()
        .items
        .is_empty());
    // Past the window nothing is a candidate.
    let later = datetime!(2027-01-23 03:00 UTC);
    assert!(model
        .similar(&draft, later)
        .await
        .unwrap()
        .unwrap()
        .items
        .is_empty());
    // A draft without a category is refused, naming it; an unknown case is none.
    let bad = SimilarQuery {
        category: None,
        ..draft
    };
    let err = model.similar(&bad, now).await.unwrap_err().to_string();
    assert!(err.contains("category"), "{err}");
    let unknown = of_case(CaseId::for_filing("op.wang", "nobody"));
    assert!(model.similar(&unknown, now).await.unwrap().is_none());
}

async fn coordinates_admit_a_case_of_another_grid_nearby(db: Db) {
    let model = db.model().await;
    let mut a = Chain::new("geo-a");
    let mut b = Chain::new("geo-b");
    let mut far = Chain::new("geo-far");
    let with = |grid: &str, lat: &str| {
        let mut f = filing("water_supply", grid, "滨江路12号水管漏水", "");
        f["source"] = json!({"open311": {"lat": lat, "long": "120.16"}});
        f
    };
    let events = vec![
        a.event(1, "CaseFiled", with(GRID, "30.2500"), operator()),
        b.event(2, "CaseFiled", with("NH.HB.BJ.04", "30.2010"), operator()),
        far.event(3, "CaseFiled", with("NH.HB.BJ.05", "30.2600"), operator()),
    ];
    model.apply(&events).await.unwrap();
    let now = datetime!(2026-11-23 03:00 UTC);
    let near = model
        .similar(&of_case(b.case_id), now)
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<CaseId> = near.items.iter().map(|c| c.case.id).collect();
    assert!(ids.is_empty(), "5 km apart in other grids: {ids:?}");
    let draft = SimilarQuery {
        category: Some("water_supply".into()),
        grid: Some("NH.HB.BJ.09".into()),
        title: "滨江路12号水管漏水".into(),
        lat: Some("30.2505".into()),
        long: Some("120.16".into()),
        ..SimilarQuery::default()
    };
    let near = model.similar(&draft, now).await.unwrap().unwrap();
    let ids: Vec<(CaseId, Option<u32>)> = near
        .items
        .iter()
        .map(|c| (c.case.id, c.distance_m))
        .collect();
    assert_eq!(ids, [(a.case_id, Some(56))]);
}

mod sqlite {
    #[tokio::test]
    async fn later_leak_filings_list_the_first_as_their_top_candidate() {
        super::later_leak_filings_list_the_first_as_their_top_candidate(super::Db::Sqlite).await
    }
    #[tokio::test]
    async fn coordinates_admit_a_case_of_another_grid_nearby() {
        super::coordinates_admit_a_case_of_another_grid_nearby(super::Db::Sqlite).await
    }
}

mod postgres {
    #[tokio::test]
    async fn later_leak_filings_list_the_first_as_their_top_candidate() {
        super::later_leak_filings_list_the_first_as_their_top_candidate(super::Db::Postgres).await
    }
    #[tokio::test]
    async fn coordinates_admit_a_case_of_another_grid_nearby() {
        super::coordinates_admit_a_case_of_another_grid_nearby(super::Db::Postgres).await
    }
}
