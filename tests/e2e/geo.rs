//! Field data (issue 14): a point finds its grid (API, Open311, patrols), free-text
//! personal data is sealed, and lists and figures export as CSV and XLSX.

use crate::kit::{reveal, System};
use crate::lifecycle::wait_status;
use casegrid_domain::point::{gcj02_to_bd09, wgs84_to_gcj02, Wgs84};
use serde_json::{json, Value};

/// Inside 滨江社区第三网格 (NH.HB.BJ.03) of the demo boundaries, WGS 84.
const IN_BJ03: Wgs84 = Wgs84 {
    lat: 30.7553,
    long: 120.7655,
};
/// Inside 杨柳社区第二网格 (NH.CD.YL.02).
const IN_YL02: Wgs84 = Wgs84 {
    lat: 30.7561,
    long: 120.7790,
};

fn deg(v: f64) -> String {
    format!("{v:.7}")
}

fn sanitation(key_location: Value) -> Value {
    json!({
        "channel": "hotline", "kind": "complaint", "category": "sanitation",
        "title": "垃圾堆放多日无人清运", "description": "路口垃圾桶满溢。",
        "location": key_location,
        "reporter": {"name": "李先生", "phone": "13900002222"}
    })
}

async fn file(system: &System, token: &str, key: &str, body: &Value) -> crate::kit::Response {
    system
        .api
        .post("/api/v1/cases", token, body, &[("Idempotency-Key", key)])
        .await
}

/// The data of the case's `CaseFiled`, once the read model has it.
async fn filed_data(system: &System, id: &str) -> Value {
    let path = format!("/api/v1/cases/{id}/timeline");
    let tl = eventually_json(&system.api, &path, "demo-supervisor", |tl| {
        tl["events"][0]["type"] == "CaseFiled"
    })
    .await;
    tl["events"][0]["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_finds_its_grid_through_the_api_open311_and_patrols() {
    let system = System::start().await;
    let api = &system.api;

    // Inside a polygon: that grid, routed to its territorial street (属地).
    let point = |p: Wgs84, system: Option<&str>| {
        let mut l = json!({"lat": deg(p.lat), "long": deg(p.long)});
        if let Some(s) = system {
            l["coordinate_system"] = s.into();
        }
        l
    };
    let inside = file(
        &system,
        "demo-operator",
        "geo-1",
        &sanitation(point(IN_BJ03, None)),
    )
    .await;
    assert_eq!(inside.status, 201, "{}", inside.body);
    let id = inside.body["id"].as_str().unwrap().to_owned();
    let case = wait_status(api, &id, "demo-operator", "dispatched").await;
    assert_eq!(case["grid"], "NH.HB.BJ.03", "{case}");
    assert_eq!(case["lead"], "street.hubin", "{case}");
    let data = filed_data(&system, &id).await;
    assert_eq!(
        data["grid_found"],
        json!({"method": "coordinates"}),
        "{data}"
    );
    assert_eq!(data["location"]["lat"], deg(IN_BJ03.lat));

    // The same point as an AMap SDK (GCJ-02) and a Baidu SDK (BD-09) send it.
    let gcj = wgs84_to_gcj02(IN_BJ03);
    let as_gcj = file(
        &system,
        "demo-operator",
        "geo-2",
        &sanitation(point(gcj, Some("gcj02"))),
    )
    .await;
    assert_eq!(as_gcj.status, 201, "{}", as_gcj.body);
    let gcj_id = as_gcj.body["id"].as_str().unwrap().to_owned();
    let case = wait_status(api, &gcj_id, "demo-operator", "dispatched").await;
    assert_eq!(case["grid"], "NH.HB.BJ.03", "{case}");
    let data = filed_data(&system, &gcj_id).await;
    assert_eq!(data["location"]["coordinate_system"], "gcj02");
    let bd = gcj02_to_bd09(wgs84_to_gcj02(IN_YL02));
    let as_bd = file(
        &system,
        "demo-operator",
        "geo-3",
        &sanitation(point(bd, Some("bd09"))),
    )
    .await;
    assert_eq!(as_bd.status, 201, "{}", as_bd.body);
    let bd_id = as_bd.body["id"].as_str().unwrap().to_owned();
    let case = wait_status(api, &bd_id, "demo-operator", "dispatched").await;
    assert_eq!(case["grid"], "NH.CD.YL.02", "{case}");
    assert_eq!(case["lead"], "street.chengdong", "{case}");

    // Between polygons, within the configured 300 m: the nearest grid, and how far.
    let gap = Wgs84 {
        lat: 30.755,
        long: 120.7705,
    };
    let near = file(
        &system,
        "demo-operator",
        "geo-4",
        &sanitation(point(gap, None)),
    )
    .await;
    assert_eq!(near.status, 201, "{}", near.body);
    let near_id = near.body["id"].as_str().unwrap().to_owned();
    let data = filed_data(&system, &near_id).await;
    assert_eq!(data["location"]["grid"], "NH.HB.BJ.03", "{data}");
    assert_eq!(
        data["grid_found"],
        json!({"method": "nearest", "metres": 48})
    );

    // Beyond it, and no default grid in the demo: 422 naming the fields, nothing appended.
    let before = system.stream_messages().await;
    let far = Wgs84 {
        lat: 30.80,
        long: 120.90,
    };
    let refused = file(
        &system,
        "demo-operator",
        "geo-5",
        &sanitation(point(far, None)),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("location.lat, location.long"), "{detail}");
    assert!(detail.contains("NH.CD.YL.02"), "{detail}");
    let half = file(
        &system,
        "demo-operator",
        "geo-6",
        &sanitation(json!({"lat": "30.75"})),
    )
    .await;
    assert_eq!(half.status, 422, "{}", half.body);
    let unknown = file(
        &system,
        "demo-operator",
        "geo-7",
        &sanitation(json!({"lat": "30.75", "long": "120.76", "coordinate_system": "mars"})),
    )
    .await;
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert_eq!(
        system.stream_messages().await,
        before,
        "refusals append nothing"
    );

    // A grid patrol with only its phone's point.
    let patrol = file(
        &system,
        "demo-grid",
        "geo-8",
        &json!({"channel": "grid_patrol", "kind": "report", "category": "sanitation",
                "title": "巡查发现垃圾堆放", "location": point(IN_BJ03, None)}),
    )
    .await;
    assert_eq!(patrol.status, 201, "{}", patrol.body);
    let patrol_id = patrol.body["id"].as_str().unwrap().to_owned();
    let data = filed_data(&system, &patrol_id).await;
    assert_eq!(data["location"]["grid"], "NH.HB.BJ.03", "{data}");

    // Open311 POST with only lat/long: routed by grid.
    let form = [
        ("api_key", "open311-public".to_owned()),
        ("service_code", "sanitation".to_owned()),
        ("description", "小区门口垃圾满地".to_owned()),
        ("lat", deg(IN_YL02.lat)),
        ("long", deg(IN_YL02.long)),
    ];
    let answer = reqwest::Client::new()
        .post(format!("{}/open311/v2/requests.json", system.base_url()))
        .header("Idempotency-Key", "app-geo-1")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let answer: Value = answer.json().await.unwrap();
    let open311_id = answer[0]["service_request_id"].as_str().unwrap().to_owned();
    let case = wait_status(api, &open311_id, "demo-operator", "dispatched").await;
    assert_eq!(case["grid"], "NH.CD.YL.02", "{case}");
    assert_eq!(case["lead"], "street.chengdong", "{case}");
}

/// RFC 4180 rows of `text` (after its byte-order mark).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark");
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// A JSON member as one cell: what the export promises.
fn as_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            items.iter().map(as_cell).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

/// Every row of `table` (header first) equals `items`, member by member.
fn assert_table_is(table: &[Vec<String>], items: &[Value]) {
    let (header, rows) = table.split_first().expect("a header row");
    assert_eq!(rows.len(), items.len(), "{table:?}");
    for (row, item) in rows.iter().zip(items) {
        let mut flat = Vec::new();
        for (k, v) in item.as_object().unwrap() {
            match v {
                Value::Object(inner) => {
                    flat.extend(inner.iter().map(|(i, v)| (format!("{k}.{i}"), as_cell(v))))
                }
                v => flat.push((k.clone(), as_cell(v))),
            }
        }
        assert_eq!(header.len(), flat.len(), "{header:?} {item}");
        for (name, want) in flat {
            let at = header.iter().position(|h| *h == name).unwrap_or_else(|| {
                panic!("column {name} missing from {header:?}");
            });
            assert_eq!(row[at], want, "{name} of {item}");
        }
    }
}

/// `path` as `token` reads it, once `ready` holds (the read models follow the log).
async fn eventually_json(
    api: &crate::kit::Api,
    path: &str,
    token: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    casegrid_testkit::eventually(std::time::Duration::from_secs(15), path, || async {
        let (code, body) = api.get(path, Some(token)).await;
        (code == 200 && ready(&body)).then_some(body)
    })
    .await
}

async fn download(system: &System, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", system.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let media = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, media, r.bytes().await.unwrap().to_vec())
}

fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("an XLSX file");
    let sheet = book
        .worksheet_range_at(0)
        .expect("one sheet")
        .expect("readable");
    sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_of_a_filtered_list_and_of_the_figures_equal_the_api_answers() {
    let system = System::start().await;
    let api = &system.api;
    let mut ids = Vec::new();
    for (key, category, grid, title) in [
        (
            "ex-1",
            "sanitation",
            "NH.HB.BJ.03",
            "垃圾清运不及时, \"急\"",
        ),
        ("ex-2", "noise", "NH.HB.BJ.01", "夜间施工噪音"),
        ("ex-3", "sanitation", "NH.CD.YL.02", "道路两侧\n垃圾堆积"),
    ] {
        let mut body = sanitation(json!({"grid": grid}));
        body["category"] = category.into();
        body["title"] = title.into();
        let r = file(&system, "demo-operator", key, &body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        wait_status(api, id, "demo-operator", "dispatched").await;
    }

    let filter = "category=sanitation&status=dispatched";
    let (code, page) = api
        .get(&format!("/api/v1/cases?{filter}"), Some("demo-operator"))
        .await;
    assert_eq!(code, 200, "{page}");
    let items = page["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{page}");
    let (code, media, csv) = download(
        &system,
        &format!("/api/v1/cases/export?{filter}&format=csv"),
        "demo-operator",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(media, "text/csv; charset=utf-8");
    let csv = String::from_utf8(csv).unwrap();
    assert!(!csv.contains("13900002222"), "masked: {csv}");
    let table = parse_csv(&csv);
    assert_table_is(&table, &items);
    assert_eq!(table[0][0], "number");

    // The same list as XLSX, read back by a spreadsheet reader.
    let (code, media, xlsx) = download(
        &system,
        &format!("/api/v1/cases/export?{filter}&format=xlsx"),
        "demo-operator",
    )
    .await;
    assert_eq!(code, 200);
    assert!(media.contains("spreadsheetml"), "{media}");
    assert_eq!(xlsx_rows(xlsx), table);

    // Scope: 湖滨街道 sees its own case only, as in its list.
    let (_, own) = api
        .get("/api/v1/cases?category=sanitation", Some("demo-hubin"))
        .await;
    let own = own["items"].as_array().unwrap().clone();
    assert_eq!(own.len(), 1, "{own:?}");
    let (_, _, csv) = download(
        &system,
        "/api/v1/cases/export?category=sanitation",
        "demo-hubin",
    )
    .await;
    assert_table_is(&parse_csv(&String::from_utf8(csv).unwrap()), &own);
    let (code, _, bad) =
        download(&system, "/api/v1/cases/export?format=pdf", "demo-operator").await;
    assert_eq!(code, 400, "{}", String::from_utf8_lossy(&bad));

    // The figures by category.
    let (code, stats) = api
        .get("/api/v1/stats?group_by=category", Some("demo-supervisor"))
        .await;
    assert_eq!(code, 200, "{stats}");
    let rows = stats["rows"].as_array().unwrap().clone();
    assert!(!rows.is_empty(), "{stats}");
    let (code, _, csv) = download(
        &system,
        "/api/v1/stats/export?group_by=category",
        "demo-supervisor",
    )
    .await;
    assert_eq!(code, 200);
    let table = parse_csv(&String::from_utf8(csv).unwrap());
    assert_table_is(&table, &rows);
    let (code, _, xlsx) = download(
        &system,
        "/api/v1/stats/export?group_by=category&format=xlsx",
        "demo-supervisor",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(xlsx_rows(xlsx), table);
    let (code, _, _) = download(&system, "/api/v1/stats/export", "demo-grid").await;
    assert_eq!(code, 403, "grid workers read no figures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_in_a_description_or_a_note_is_sealed_masked_revealed_and_erased() {
    const PHONE: &str = "13712345678";
    const ID: &str = "11010119900307125X";
    const CARD: &str = "6222 0212 3456 7891 233";
    let system = System::start().await;
    let api = &system.api;
    let mut body = sanitation(json!({"grid": "NH.HB.BJ.03"}));
    body["description"] = format!("楼下垃圾没人管，联系邻居{PHONE}，他说物业卡号{CARD}。").into();
    // A title is a free text too.
    const TITLE_PHONE: &str = "13698765432";
    body["title"] = format!("垃圾堆放 邻居{TITLE_PHONE}").into();
    let filed = file(&system, "demo-operator", "pii-1", &body).await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    wait_status(api, &id, "demo-operator", "dispatched").await;
    let note = api
        .post(
            &format!("/api/v1/cases/{id}/actions/annotate"),
            "demo-operator",
            &json!({"text": format!("来电人补充身份证号{ID}")}),
            &[],
        )
        .await;
    assert_eq!(note.status, 200, "{}", note.body);
    let smuggled = api
        .post(
            &format!("/api/v1/cases/{id}/actions/annotate"),
            "demo-operator",
            &json!({"text": "x", "personal": []}),
            &[],
        )
        .await;
    assert_eq!(smuggled.status, 422, "{}", smuggled.body);

    // Not in the raw stream in clear: every stored byte of every message.
    let clear = [PHONE, ID, "6222021234567891233", CARD, TITLE_PHONE];
    let raw_stream = || async {
        let events = system.events().await;
        serde_json::to_string(&events).unwrap()
    };
    let raw = raw_stream().await;
    for c in clear {
        assert!(!raw.contains(c), "{c} in the stream: {raw}");
    }
    assert!(raw.contains("137****5678"), "masked in the event: {raw}");

    // Masked in every view.
    let views = [
        format!("/api/v1/cases/{id}"),
        format!("/api/v1/cases/{id}/timeline"),
        format!("/api/v1/cases/{id}/log"),
        "/api/v1/cases?q=垃圾".to_owned(),
    ];
    let note_masked = eventually_json(
        api,
        &format!("/api/v1/cases/{id}/timeline"),
        "demo-supervisor",
        |tl| tl.to_string().contains("110***********125X"),
    )
    .await;
    assert!(!note_masked.to_string().contains("\"sealed\""));
    for path in &views {
        for token in ["demo-operator", "demo-supervisor"] {
            let (code, view) = api.get(path, Some(token)).await;
            assert_eq!(code, 200, "{path}: {view}");
            for c in clear {
                assert!(!view.to_string().contains(c), "{c} in {path}: {view}");
            }
        }
    }
    let (_, case) = api
        .get(&format!("/api/v1/cases/{id}"), Some("demo-operator"))
        .await;
    assert_eq!(
        case["description"],
        "楼下垃圾没人管，联系邻居137****5678，他说物业卡号622************1233。"
    );
    assert_eq!(case["title"], "垃圾堆放 邻居136****5432");

    // Revealed only by the audited reveal.
    let revealed = &reveal(api, &id).await;
    assert_eq!(revealed["description#0"], PHONE, "{revealed}");
    assert_eq!(revealed["description#1"], CARD, "{revealed}");
    assert_eq!(revealed["title#0"], TITLE_PHONE, "{revealed}");
    let note_field = revealed
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("note.v"))
        .map(|(_, v)| v.clone());
    assert_eq!(note_field, Some(json!(ID)), "{revealed}");
    let audit = raw_stream().await;
    assert!(
        audit.contains("PersonalDataRevealed"),
        "the reveal is an event"
    );

    // Gone after erasure: the key deleted, the masked forms too.
    let asked = api
        .post(
            &format!("/api/v1/cases/{id}/actions/request_erasure"),
            "demo-operator",
            &json!({"reason": "申请删除"}),
            &[],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let erased = api
        .post(
            &format!("/api/v1/cases/{id}/actions/erase"),
            "demo-supervisor",
            &json!({"reason": "申请删除"}),
            &[],
        )
        .await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    let case = eventually_json(api, &format!("/api/v1/cases/{id}"), "demo-operator", |c| {
        c["reporter_phone"] == "[erased]"
    })
    .await;
    assert_eq!(
        case["description"],
        "楼下垃圾没人管，联系邻居[erased]，他说物业卡号[erased]。"
    );
    assert_eq!(case["title"], "垃圾堆放 邻居[erased]");
    let (_, tl) = api
        .get(
            &format!("/api/v1/cases/{id}/timeline"),
            Some("demo-supervisor"),
        )
        .await;
    let tl = tl.to_string();
    assert!(!tl.contains("137****5678") && !tl.contains("125X"), "{tl}");
    let again = api
        .post(
            &format!("/api/v1/cases/{id}/actions/reveal"),
            "demo-supervisor",
            &json!({"reason": "再看"}),
            &[],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_in_a_reply_or_a_progress_report_is_sealed_masked_revealed_and_erased() {
    const PHONE: &str = "13712345678";
    const ID: &str = "11010119900307125X";
    let system = System::start().await;
    let api = &system.api;
    let filed = file(
        &system,
        "demo-operator",
        "pii-reply",
        &sanitation(json!({"grid": "NH.HB.BJ.03"})),
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    wait_status(api, &id, "demo-operator", "dispatched").await;
    let act = |action: &str, token: &'static str, body: Value| {
        let path = format!("/api/v1/cases/{id}/actions/{action}");
        async move { api.post(&path, token, &body, &[]).await }
    };
    // The territorial street leads (属地): it signs, reports progress, replies.
    let r = act("sign", "demo-hubin", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = format!("已约谈物业负责人，身份证{ID}");
    let r = act("record_progress", "demo-hubin", json!({ "text": text })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = format!("垃圾已清运，物业联系人电话{PHONE}");
    let reply = json!({"result": "resolved", "text": text});
    let r = act("reply", "demo-hubin", reply).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let smuggled = act(
        "record_progress",
        "demo-hubin",
        json!({"text": "x", "personal": []}),
    )
    .await;
    assert_eq!(smuggled.status, 422, "{}", smuggled.body);

    // Not in the raw stream in clear.
    let raw = serde_json::to_string(&system.events().await).unwrap();
    for c in [PHONE, ID] {
        assert!(!raw.contains(c), "{c} in the stream: {raw}");
    }
    assert!(raw.contains("137****5678"), "masked in the reply: {raw}");

    // Masked in the case view and the timeline.
    let tl_path = format!("/api/v1/cases/{id}/timeline");
    let tl = eventually_json(api, &tl_path, "demo-supervisor", |tl| {
        tl.to_string().contains("137****5678")
    })
    .await;
    let tl = tl.to_string();
    assert!(tl.contains("110***********125X"), "{tl}");
    assert!(!tl.contains("\"sealed\""), "{tl}");
    for path in [format!("/api/v1/cases/{id}"), tl_path.clone()] {
        let (code, view) = api.get(&path, Some("demo-supervisor")).await;
        assert_eq!(code, 200, "{path}: {view}");
        for c in [PHONE, ID] {
            assert!(!view.to_string().contains(c), "{c} in {path}: {view}");
        }
    }

    // Revealed by the audited reveal.
    let shown = act("reveal", "demo-supervisor", json!({"reason": "核实联系人"})).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let revealed = shown.body["personal_data"].as_object().unwrap().clone();
    let find = |prefix: &str| {
        revealed
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(find("reply.v"), Some(json!(PHONE)), "{revealed:?}");
    assert_eq!(find("progress.v"), Some(json!(ID)), "{revealed:?}");
    let audit = serde_json::to_string(&system.events().await).unwrap();
    assert!(
        audit.contains("PersonalDataRevealed"),
        "the reveal is an event"
    );

    // Gone after erasure: the masked forms leave the timeline too.
    let asked = act(
        "request_erasure",
        "demo-operator",
        json!({"reason": "申请删除"}),
    )
    .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let erased = act("erase", "demo-supervisor", json!({"reason": "申请删除"})).await;
    assert_eq!(erased.status, 200, "{}", erased.body);
    let tl = eventually_json(api, &tl_path, "demo-supervisor", |tl| {
        !tl.to_string().contains("137****5678")
    })
    .await
    .to_string();
    assert!(!tl.contains("125X"), "{tl}");
    assert!(tl.contains("物业联系人电话[erased]"), "{tl}");
    let (_, case) = api
        .get(&format!("/api/v1/cases/{id}"), Some("demo-supervisor"))
        .await;
    for masked in ["137****5678", "125X"] {
        assert!(!case.to_string().contains(masked), "{case}");
    }
}
