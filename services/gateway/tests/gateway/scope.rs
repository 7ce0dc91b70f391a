//! Scope beyond departments: a grid worker sees the cases it filed and those in its
//! grid, a mediator the mediations assigned to it, a district supervisor figures over
//! its part of the grid tree only (issue 16).

use crate::helpers::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// In another street (NH.CD), filed by the operator, mediated by med.li.
const ELSEWHERE: &str = "0192f0c4-3c1a-7d2e-8b4f-2a9c1e5d7f40";
/// Also in NH.CD, but filed by the demo grid worker on a patrol.
const FILED_BY_GRID: &str = "0192f0c4-3c1a-7d2e-8b4f-2a9c1e5d7f41";

/// Projection stand-ins for the two cases; the list and stats queries asked are kept.
async fn stand_ins(app: &App) -> Arc<Mutex<Vec<Value>>> {
    use casegrid_contracts::subjects::*;
    respond(&app.nats, PROJECTION_CASE, |p| {
        let q: Value = serde_json::from_slice(p).unwrap();
        let mut view = case_view("town.chengdong");
        view["grid"] = json!("NH.CD.YL.02");
        match q["case_id"].as_str() {
            Some(ELSEWHERE) => {
                view["id"] = json!(ELSEWHERE);
                view["filed_by"] = json!("op.zhang");
                view["mediator"] = json!("med.li");
                view["status"] = json!("in_mediation");
            }
            Some(FILED_BY_GRID) => {
                view["id"] = json!(FILED_BY_GRID);
                view["filed_by"] = json!("grid.wang");
            }
            other => {
                return json!({"problem": {"status": 404, "slug": "not-found",
                    "title": "Not found", "detail": format!("case {} not found", other.unwrap_or("?"))}})
            }
        }
        json!({ "ok": view })
    })
    .await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    for subject in [PROJECTION_LIST, PROJECTION_OVERDUE, PROJECTION_STATS] {
        let asked = asked.clone();
        respond(&app.nats, subject, move |p| {
            let q: Value = serde_json::from_slice(p).unwrap();
            asked.lock().unwrap().push(q.clone());
            if q.get("group_by").is_some() {
                json!({"ok": {"group_by": q["group_by"], "period": q["period"], "rows": []}})
            } else {
                json!({"ok": {"items": [], "next_cursor": null}})
            }
        })
        .await;
    }
    for subject in [ROUTING_ACT, INTAKE_ACT] {
        respond(&app.nats, subject, |p| {
            let r: Value = serde_json::from_slice(p).unwrap();
            json!({"ok": {"id": r["case_id"], "version": 3, "status": "in_mediation"}})
        })
        .await;
    }
    asked
}

async fn status(app: &App, path: &str, token: &str) -> u16 {
    app.get(path, token).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn grid_workers_see_their_grid_and_their_filings_only() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let asked = stand_ins(&app).await;
    // demo-grid patrols NH.HB.BJ.03 (principals.toml): a case in NH.CD it did not file
    // is "not found", in every route that reads or acts on a case.
    let elsewhere = format!("/api/v1/cases/{ELSEWHERE}");
    for path in [elsewhere.clone(), format!("{elsewhere}/timeline")] {
        let r = app.get(&path, GRID_WORKER).send().await.unwrap();
        let body = problem(r, reqwest::StatusCode::NOT_FOUND).await;
        assert_eq!(detail(&body), format!("case {ELSEWHERE} not found"));
    }
    let r = app
        .post(&format!("{elsewhere}/actions/annotate"), GRID_WORKER)
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // The one it filed on patrol it sees, wherever it is.
    let own = format!("/api/v1/cases/{FILED_BY_GRID}");
    assert_eq!(status(&app, &own, GRID_WORKER).await, 200);
    // The operator sees both.
    assert_eq!(status(&app, &elsewhere, OPERATOR).await, 200);
    // Its list is asked for its filings and its grid.
    assert_eq!(status(&app, "/api/v1/cases", GRID_WORKER).await, 200);
    let q = asked.lock().unwrap().pop().unwrap();
    assert_eq!(
        (q["filed_by"].as_str(), q["or_grid"].as_str()),
        (Some("grid.wang"), Some("NH.HB.BJ.03")),
        "{q}"
    );
    // And so is its overdue list.
    assert_eq!(status(&app, "/api/v1/overdue", GRID_WORKER).await, 200);
    let q = asked.lock().unwrap().pop().unwrap();
    assert_eq!(
        (q["filed_by"].as_str(), q["or_grid"].as_str()),
        (Some("grid.wang"), Some("NH.HB.BJ.03")),
        "{q}"
    );
    app.stop().await;
}

#[tokio::test]
async fn mediators_see_the_mediations_assigned_to_them() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let asked = stand_ins(&app).await;
    let elsewhere = format!("/api/v1/cases/{ELSEWHERE}");
    // Assigned to med.li (demo-mediator-li), not to med.chen (demo-mediator).
    assert_eq!(status(&app, &elsewhere, "demo-mediator-li").await, 200);
    assert_eq!(status(&app, &elsewhere, MEDIATOR).await, 404);
    // Other actions on a case it does not mediate are "not found"; its mediation
    // actions go to the domain, which refuses a mediator the mediation is not assigned
    // to (domain tests), so a mediator may act before the read models show it assigned.
    let r = app
        .post(&format!("{elsewhere}/actions/annotate"), MEDIATOR)
        .json(&json!({"text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let session = format!("{elsewhere}/actions/record_mediation_session");
    let r = app
        .post(&session, "demo-mediator-li")
        .json(&json!({"summary": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Not assigned anything: the case a grid worker filed is not a mediator's.
    let own = format!("/api/v1/cases/{FILED_BY_GRID}");
    assert_eq!(status(&app, &own, MEDIATOR).await, 404);
    // Opening a mediation is how a mediator comes to a case: the domain decides.
    let r = app
        .post(&format!("{own}/actions/open_mediation"), MEDIATOR)
        .json(&json!({"parties": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Its list is asked for its mediations.
    assert_eq!(status(&app, "/api/v1/cases", "demo-mediator-li").await, 200);
    let q = asked.lock().unwrap().pop().unwrap();
    assert_eq!(q["mediator"], "med.li", "{q}");
    app.stop().await;
}

#[tokio::test]
async fn a_district_supervisor_asks_figures_over_its_district_only() {
    let app = spawn_app(std::time::Duration::from_secs(5)).await;
    let asked = stand_ins(&app).await;
    for group_by in ["department", "street", "category"] {
        let path = format!("/api/v1/stats?group_by={group_by}");
        assert_eq!(status(&app, &path, "demo-supervisor-hubin").await, 200);
        let q = asked.lock().unwrap().pop().unwrap();
        assert_eq!(q["grid_prefix"], "NH.HB", "{group_by}: {q}");
        assert_eq!(status(&app, &path, SUPERVISOR).await, 200);
        let q = asked.lock().unwrap().pop().unwrap();
        assert!(q.get("grid_prefix").is_none(), "city-wide: {q}");
    }
    assert_eq!(
        status(&app, "/api/v1/overdue", "demo-supervisor-hubin").await,
        200
    );
    let q = asked.lock().unwrap().pop().unwrap();
    assert_eq!(q["grid_prefix"], "NH.HB", "overdue: {q}");
    app.stop().await;
}
