//! Realistic cases of the demo district 南湖区, end to end through the HTTP API:
//! mediation to a court-confirmed agreement, a grid patrol's pothole, a reopened
//! complaint, a whistle with report-ins and ratings, merged duplicates, an inquiry
//! answered at intake, a case declined for litigation, a suspension and resumption.
//! (The construction-noise complaint and the returned, re-dispatched case are in
//! `lifecycle` and `routing`.)

use crate::kit::{act, file, file_illegal_construction, sign_and_whistle, Api, System};
use crate::lifecycle::wait_status;
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::time::Duration;
use time::macros::datetime;

/// The timeline as a supervisor reads it, once it holds `n` events.
async fn timeline(api: &Api, id: &str, n: usize) -> Vec<Value> {
    eventually(
        Duration::from_secs(20),
        &format!("{n} events on the timeline"),
        || async {
            let (code, body) = api
                .get(
                    &format!("/api/v1/cases/{id}/timeline"),
                    Some("demo-supervisor"),
                )
                .await;
            let events = body["events"].as_array().cloned().unwrap_or_default();
            (code == 200 && events.len() >= n).then_some(events)
        },
    )
    .await
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn assert_readable(events: &[Value]) {
    for e in events {
        let summary = e["summary"].as_str().unwrap();
        assert!(
            !summary.is_empty() && !summary.ends_with(" recorded"),
            "{e}"
        );
        assert!(
            e["actor"]["id"].is_string() && e["occurred_at"].is_string(),
            "{e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wage_arrears_dispute_is_mediated_to_a_court_confirmed_agreement() {
    let system = System::start().await;
    let api = &system.api;
    let id = file(
        api,
        "demo-operator",
        json!({"channel": "hotline", "kind": "dispute", "category": "wage_arrears",
               "title": "装修公司拖欠三名工人工资共计两万四千元",
               "description": "工人称工程已于10月完工，老板以业主未付款为由拒付。",
               "location": {"grid": "NH.CD.YL.02"},
               "reporter": {"name": "李师傅", "phone": "13600002222"}}),
    )
    .await;
    let case = wait_status(api, &id, "demo-operator", "dispatched").await;
    assert_eq!(case["lead"], "dept.hrss");
    act(api, &id, "sign", "demo-hrss", json!({})).await;
    act(
        api,
        &id,
        "open_mediation",
        "demo-mediator",
        json!({"parties": [
            {"role": "applicant", "name": "李建军", "phone": "13600002222", "consent": true},
            {"role": "respondent", "name": "周海涛", "phone": "13911112222", "consent": true}]}),
    )
    .await;
    act(
        api,
        &id,
        "record_mediation_session",
        "demo-mediator",
        json!({"summary": "双方核对工程量与欠薪金额"}),
    )
    .await;
    let agreed = act(
        api,
        &id,
        "record_agreement",
        "demo-mediator",
        json!({"terms": "公司于12月10日前分两期支付全部欠薪", "court_confirmation": true}),
    )
    .await;
    assert_eq!(agreed["status"], "replied");
    act(
        api,
        &id,
        "callback",
        "demo-operator",
        json!({"satisfaction": "satisfied", "resolved": true}),
    )
    .await;
    wait_status(api, &id, "demo-operator", "closed").await;
    let events = timeline(api, &id, 7).await;
    assert_eq!(
        types(&events),
        [
            "CaseFiled",
            "CaseDispatched",
            "DispatchSigned",
            "MediationOpened",
            "MediationSessionHeld",
            "AgreementReached",
            "CallbackRecorded"
        ]
    );
    assert_readable(&events);
    let agreement = &events[5]["data"];
    assert_eq!(agreement["court_confirmation"], true);
    assert!(
        agreement["court_confirmation_due"].is_string(),
        "the 30-day window: {agreement}"
    );
    crate::lifecycle::assert_no_personal_data_in_stream(
        &system.nats.url(),
        &["李建军", "周海涛", "13911112222", "13600002222"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pothole_found_on_patrol_is_fixed_by_the_township() {
    let system = System::start().await;
    let api = &system.api;
    let id = file(
        api,
        "demo-grid",
        json!({"channel": "grid_patrol", "kind": "report", "category": "road_damage",
               "title": "桃溪村村道出现深坑", "description": "村委会门前路面塌陷约半米",
               "location": {"address": "桃溪村村委会门前", "grid": "NH.NS.TX.01"},
               "source": {"patroller": "grid.wang", "attachments": ["photo://patrol/20261124/001.jpg"]}}),
    )
    .await;
    let case = wait_status(api, &id, "demo-grid", "dispatched").await;
    assert_eq!(
        case["lead"], "town.nanshan",
        "the 南山镇 rule by grid prefix"
    );
    assert_eq!(case["channel"], "grid_patrol");
    act(api, &id, "sign", "demo-nanshan", json!({})).await;
    act(
        api,
        &id,
        "record_progress",
        "demo-nanshan",
        json!({"text": "已设置警示标志，联系施工队"}),
    )
    .await;
    act(
        api,
        &id,
        "reply",
        "demo-nanshan",
        json!({"result": "resolved", "text": "路面已修复"}),
    )
    .await;
    act(
        api,
        &id,
        "close",
        "demo-operator",
        json!({"reason": "网格员复核已修复"}),
    )
    .await;
    wait_status(api, &id, "demo-operator", "closed").await;
    let events = timeline(api, &id, 6).await;
    assert_readable(&events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsatisfied_callback_is_reopened_and_resolved_the_second_time() {
    let system = System::start().await;
    let api = &system.api;
    let id = file(api, "demo-operator", crate::lifecycle::noise_complaint()).await;
    for round in 0..2 {
        wait_status(api, &id, "demo-operator", "dispatched").await;
        act(api, &id, "sign", "demo-urban", json!({})).await;
        act(
            api,
            &id,
            "reply",
            "demo-urban",
            json!({"result": "resolved", "text": format!("第{}次处理：已责令停工", round + 1)}),
        )
        .await;
        let satisfaction = if round == 0 {
            "unsatisfied"
        } else {
            "satisfied"
        };
        let called = act(
            api,
            &id,
            "callback",
            "demo-operator",
            json!({"satisfaction": satisfaction, "resolved": round == 1}),
        )
        .await;
        if round == 0 {
            assert_eq!(called["status"], "replied", "unsatisfied: awaits reopening");
            act(
                api,
                &id,
                "reopen",
                "demo-operator",
                json!({"reason": "市民反映夜间仍在施工"}),
            )
            .await;
        } else {
            assert_eq!(called["status"], "closed");
        }
    }
    let events = timeline(api, &id, 10).await;
    assert_eq!(
        types(&events),
        [
            "CaseFiled",
            "CaseDispatched",
            "DispatchSigned",
            "CaseReplied",
            "CallbackRecorded",
            "CaseReopened",
            "CaseDispatched",
            "DispatchSigned",
            "CaseReplied",
            "CallbackRecorded"
        ]
    );
    assert_readable(&events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_township_whistles_three_departments_and_rates_their_report_ins() {
    let system = System::start_with_clock(Some(datetime!(2026-11-24 09:30 +08:00))).await;
    let api = &system.api;
    let id = file_illegal_construction(api).await;
    let case = wait_status(api, &id, "demo-nanshan", "dispatched").await;
    assert_eq!(case["lead"], "town.nanshan");
    sign_and_whistle(api, &id, &["dept.housing", "dept.ecology", "dept.water"]).await;
    // The summoned departments see the case once the whistle reaches the read models.
    for token in ["demo-housing", "demo-ecology", "demo-water"] {
        eventually(
            Duration::from_secs(20),
            "the whistle in the read model",
            || async {
                let (code, _) = api.get(&format!("/api/v1/cases/{id}"), Some(token)).await;
                (code == 200).then_some(())
            },
        )
        .await;
    }
    let (_, inbox) = api.get("/api/v1/inbox", Some("demo-water")).await;
    assert!(
        inbox.to_string().contains(&id),
        "in the summoned department's inbox: {inbox}"
    );
    // Report-in due two working hours later (11:30); two report on time, one late.
    act(api, &id, "report_in", "demo-housing", json!({})).await;
    act(api, &id, "report_in", "demo-ecology", json!({})).await;
    system.set_clock(datetime!(2026-11-24 14:00 +08:00));
    act(api, &id, "report_in", "demo-water", json!({})).await;
    act(
        api,
        &id,
        "rate_report_in",
        "demo-nanshan",
        json!({"ratings": [
            {"department": "dept.housing", "score": 5, "comment": "到场及时"},
            {"department": "dept.ecology", "score": 4},
            {"department": "dept.water", "score": 2, "comment": "超时报到"}]}),
    )
    .await;
    let refused = api
        .post(
            &format!("/api/v1/cases/{id}/actions/rate_report_in"),
            "demo-hubin",
            &json!({"ratings": [{"department": "dept.water", "score": 5}]}),
            &[],
        )
        .await;
    assert!(
        matches!(refused.status, 403 | 404),
        "only the whistling street rates: {}",
        refused.body
    );
    let events = timeline(api, &id, 8).await;
    let report_ins: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "ReportedIn")
        .collect();
    let on_time: Vec<(String, bool)> = report_ins
        .iter()
        .map(|e| {
            (
                e["data"]["department"].as_str().unwrap().to_owned(),
                e["data"]["on_time"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        on_time,
        [
            ("dept.housing".to_owned(), true),
            ("dept.ecology".to_owned(), true),
            ("dept.water".to_owned(), false)
        ]
    );
    assert_readable(&events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_calls_about_one_leak_are_merged() {
    let system = System::start().await;
    let api = &system.api;
    let leak = |n: &str| {
        json!({"channel": "hotline", "kind": "report", "category": "water_leak",
               "title": "杨柳社区5号楼水管爆裂", "location": {"grid": "NH.CD.YL.02"},
               "reporter": {"phone": n}})
    };
    let first = file(api, "demo-operator", leak("13500001111")).await;
    let second = file(api, "demo-operator", leak("13500002222")).await;
    wait_status(api, &second, "demo-operator", "dispatched").await;
    let merged = act(
        api,
        &second,
        "merge",
        "demo-operator",
        json!({"into": first}),
    )
    .await;
    assert_eq!(merged["status"], "merged");
    let refused = api
        .post(
            &format!("/api/v1/cases/{second}/actions/sign"),
            "demo-water",
            &json!({}),
            &[],
        )
        .await;
    assert_eq!(
        refused.status, 409,
        "a merged case accepts no work: {}",
        refused.body
    );
    let events = timeline(api, &second, 3).await;
    assert_eq!(events.last().unwrap()["type"], "CaseMerged");
    assert!(events.last().unwrap()["summary"]
        .as_str()
        .unwrap()
        .contains(&first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inquiry_is_answered_at_intake_and_a_litigated_dispute_declined() {
    let system = System::start().await;
    let api = &system.api;
    let inquiry = file(
        api,
        "demo-operator",
        json!({"channel": "hotline", "kind": "inquiry", "category": "other",
               "title": "咨询社保卡补办地点", "location": {"grid": "NH.HB.BJ.01"},
               "reporter": {"phone": "13800005555"}}),
    )
    .await;
    let answered = act(
        api,
        &inquiry,
        "reply_at_intake",
        "demo-operator",
        json!({"text": "可到区政务服务中心2楼社保窗口办理"}),
    )
    .await;
    assert_eq!(answered["status"], "replied");
    let dispute = file(
        api,
        "demo-operator",
        json!({"channel": "hotline", "kind": "dispute", "category": "neighbor_dispute",
               "title": "邻居侵占公共通道纠纷", "location": {"grid": "NH.HB.XH.01"},
               "reporter": {"name": "陈先生"}}),
    )
    .await;
    let declined = act(
        api,
        &dispute,
        "decline",
        "demo-operator",
        json!({"reason": "in_litigation", "text": "来电人称已向区人民法院起诉"}),
    )
    .await;
    assert_eq!(declined["status"], "declined");
    let refused = api
        .post(
            &format!("/api/v1/cases/{dispute}/actions/reopen"),
            "demo-operator",
            &json!({"reason": "x"}),
            &[],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    wait_status(api, &dispute, "demo-operator", "declined").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_waiting_for_the_citizen_is_suspended_and_resumed_with_its_time_left() {
    let system = System::start_with_clock(Some(datetime!(2026-11-24 10:00 +08:00))).await;
    let api = &system.api;
    let id = file(
        api,
        "demo-operator",
        json!({"channel": "hotline", "kind": "complaint", "category": "property_management",
               "title": "物业拒绝维修漏水天花板", "location": {"grid": "NH.HB.BJ.01"},
               "reporter": {"phone": "13800006666"}}),
    )
    .await;
    let case = wait_status(api, &id, "demo-housing", "dispatched").await;
    let handle_due = case["handle_due"].as_str().unwrap().to_owned();
    act(api, &id, "sign", "demo-housing", json!({})).await;
    // A department cannot name its approver, nor suspend by itself.
    let named = api
        .post(
            &format!("/api/v1/cases/{id}/actions/suspend"),
            "demo-housing",
            &json!({"reason": "等待市民提供维修合同", "approved_by": "sup.li"}),
            &[],
        )
        .await;
    assert_eq!(named.status, 422, "{}", named.body);
    let alone = api
        .post(
            &format!("/api/v1/cases/{id}/actions/suspend"),
            "demo-housing",
            &json!({"reason": "等待市民提供维修合同"}),
            &[],
        )
        .await;
    assert_eq!(alone.status, 403, "{}", alone.body);
    let asked = act(
        api,
        &id,
        "request_suspension",
        "demo-housing",
        json!({"reason": "等待市民提供维修合同"}),
    )
    .await;
    assert_eq!(
        asked["status"], "in_progress",
        "the clock runs until approval"
    );
    let suspended = act(api, &id, "suspend", "demo-supervisor", json!({})).await;
    assert_eq!(suspended["status"], "suspended");
    // Two working days later the citizen sends the contract.
    system.set_clock(datetime!(2026-11-26 10:00 +08:00));
    let resumed = act(api, &id, "resume", "demo-housing", json!({})).await;
    assert_eq!(resumed["status"], "in_progress");
    let case = eventually(
        Duration::from_secs(20),
        "the new handling deadline",
        || async {
            let (_, c) = api
                .get(&format!("/api/v1/cases/{id}"), Some("demo-housing"))
                .await;
            (c["status"] == "in_progress" && c["handle_due"] != handle_due.as_str()).then_some(c)
        },
    )
    .await;
    let before =
        time::OffsetDateTime::parse(&handle_due, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let after = time::OffsetDateTime::parse(
        case["handle_due"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        after - before >= time::Duration::days(2),
        "the two suspended working days are given back: {before} → {after}"
    );
    let events = timeline(api, &id, 6).await;
    assert_readable(&events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_assigns_a_mediation_and_only_that_mediator_runs_and_sees_it() {
    let system = System::start().await;
    let api = &system.api;
    let id = file(
        api,
        "demo-operator",
        json!({"channel": "hotline", "kind": "dispute", "category": "neighbor_dispute",
               "title": "楼上漏水引发邻里纠纷", "location": {"grid": "NH.HB.BJ.03"},
               "reporter": {"name": "赵先生", "phone": "13700005555"}}),
    )
    .await;
    wait_status(api, &id, "demo-operator", "dispatched").await;
    let open = |mediator: &str| {
        json!({"mediator": mediator, "parties": [
            {"role": "applicant", "name": "赵先生", "consent": true},
            {"role": "respondent", "name": "钱女士", "consent": true}]})
    };
    let path = format!("/api/v1/cases/{id}/actions/open_mediation");
    let r = api
        .post(&path, "demo-operator", &open("med.nobody"), &[])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("mediator"));
    let opened = act(api, &id, "open_mediation", "demo-operator", open("med.li")).await;
    assert_eq!(opened["status"], "in_mediation");
    // med.chen is not assigned: the domain refuses it, and it does not see the case.
    let session = json!({"summary": "双方陈述"});
    let r = api
        .post(
            &format!("/api/v1/cases/{id}/actions/record_mediation_session"),
            "demo-mediator",
            &session,
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    act(
        api,
        &id,
        "record_mediation_session",
        "demo-mediator-li",
        session,
    )
    .await;
    let case = wait_status(api, &id, "demo-mediator-li", "in_mediation").await;
    assert_eq!(case["mediator"], "med.li");
    let (code, _) = api
        .get(&format!("/api/v1/cases/{id}"), Some("demo-mediator"))
        .await;
    assert_eq!(code, 404);
    let (code, list) = api.get("/api/v1/cases", Some("demo-mediator-li")).await;
    assert_eq!(code, 200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);
}
