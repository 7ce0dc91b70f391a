//! One case through the console, by the three roles that handle it, asserting at
//! every step on what the page shows.

use crate::kit::System;
use crate::webdriver::{key, Browser, Driver};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `target/console-screenshots/`, beside the test binaries.
fn screenshots() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/console-… → target
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens the console and signs in as the demo principal with `token`.
async fn sign_in(b: &Browser, base: &str, token: &str) {
    b.goto(&format!("{base}/")).await;
    b.click(&format!("#demo button[data-token=\"{token}\"]"))
        .await;
    b.wait_for("#signout:not([hidden])", Duration::from_secs(10))
        .await;
}

/// Every input, select and textarea on the page has a label (or an aria-label).
async fn assert_labelled(b: &Browser, page: &str) {
    let unlabelled = b
        .exec(
            "return Array.from(document.querySelectorAll('input, select, textarea'))
               .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
               .map(e => e.id || e.name || e.outerHTML.slice(0, 60))",
            json!([]),
        )
        .await;
    assert_eq!(
        unlabelled,
        json!([]),
        "unlabelled controls on the {page} page"
    );
}

/// Files a case over the API as the operator (bearer token, as before the console).
async fn file_by_api(system: &System, key: &str, body: Value) -> String {
    let r = system
        .api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &body,
            &[("Idempotency-Key", key)],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn three_roles_walk_one_case_through_the_console() {
    let system = System::start().await;
    let base = system.api.base().to_owned();
    let driver = Driver::start().await;
    let shots = screenshots();
    let (op, dept, sup) = (
        driver.browser(1280, 800).await,
        driver.browser(1280, 800).await,
        driver.browser(1280, 800).await,
    );

    // The sign-in page lists the demo principals (development) and takes a token.
    op.goto(&format!("{base}/")).await;
    op.find("#demo button[data-token=\"demo-operator\"]").await;
    op.find("#jwt").await;
    assert_labelled(&op, "sign-in").await;
    op.screenshot(&shots.join("signin.png")).await;
    sign_in(&op, &base, "demo-operator").await;
    sign_in(&dept, &base, "demo-urban").await;
    sign_in(&sup, &base, "demo-supervisor").await;

    // Before: no callback counted for 区城管执法局.
    sup.wait_for("#figures-table", Duration::from_secs(10))
        .await;
    assert!(
        !sup.exists("#figures-table tr[data-key=\"dept.urban\"]")
            .await
            || sup
                .text("#figures-table tr[data-key=\"dept.urban\"] .rate-satisfaction")
                .await
                .starts_with("0/0"),
        "no satisfaction counted yet"
    );

    // The department's inbox is open and live before the case exists.
    dept.wait_for("#inbox", Duration::from_secs(10)).await;
    dept.wait_for("#live.on", Duration::from_secs(10)).await;
    dept.exec("window.__notReloaded = true", json!([])).await;

    // An earlier call about the same thing: the desk shows it while the operator types.
    let earlier = file_by_api(
        &system,
        "console-earlier",
        json!({"channel": "hotline", "kind": "complaint", "category": "noise",
               "title": "工地夜间施工", "location": {"grid": "NH.HB.BJ.03"},
               "reporter": {"phone": "13900002222"}}),
    )
    .await;

    // The operator files the call by keys alone, in the order the form reads.
    op.wait_for("#file-form", Duration::from_secs(10)).await;
    assert_labelled(&op, "desk").await;
    assert_eq!(
        op.focused().await,
        "f-channel",
        "the desk starts at the channel"
    );
    let started = Instant::now();
    let mut order = vec![op.focused().await];
    let steps: [&str; 10] = [
        "",                   // channel: 12345 hotline (the default)
        "",                   // kind: complaint (the default)
        "噪音",               // category, searched by part of its name
        "滨江社区第三网格",   // grid, by name
        "湖滨街道滨江路12号", // address
        "夜间施工噪音扰民",   // title
        "凌晨两点仍在施工",   // description
        "王女士",             // reporter
        "13800001234",        // phone
        "",                   // urgency: normal (the default)
    ];
    for text in steps {
        if !text.is_empty() {
            op.keys(text).await;
        }
        if order.last().map(String::as_str) == Some("f-category") {
            op.wait_text("#f-category-match", "noise", Duration::from_secs(5))
                .await;
        }
        op.keys(key::TAB).await;
        order.push(op.focused().await);
    }
    assert_eq!(
        order,
        [
            "f-channel",
            "f-kind",
            "f-category",
            "f-grid",
            "f-address",
            "f-title",
            "f-description",
            "f-reporter-name",
            "f-reporter-phone",
            "f-urgency",
            "f-submit"
        ],
        "focus follows the form"
    );
    // The same category and grid, filed recently: offered as a possible duplicate.
    op.wait_for(
        &format!("#similar-list li[data-case=\"{earlier}\"]"),
        Duration::from_secs(10),
    )
    .await;
    op.keys(key::ENTER).await;
    let number = op
        .wait_text("#filed-number", "NH-", Duration::from_secs(20))
        .await;
    let filing_took = started.elapsed();
    println!("filing by keys took {filing_took:?} (the case is {number})");
    assert!(filing_took < Duration::from_secs(30), "{filing_took:?}");
    // Saved, the reporter is shown masked.
    let reporter = op.text("#filed-reporter").await;
    assert!(reporter.contains("138****1234"), "{reporter}");
    assert!(
        !reporter.contains("13800001234") && !reporter.contains("王女士"),
        "{reporter}"
    );
    let id = op
        .exec(
            "return document.querySelector('#filed-number').getAttribute('href').split('/').pop()",
            json!([]),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    op.screenshot(&shots.join("desk.png")).await;

    // The department sees it arrive, without reloading, with its countdowns.
    let row = format!("#inbox-table tr[data-case=\"{id}\"]");
    dept.wait_text(&row, "夜间施工噪音扰民", Duration::from_secs(20))
        .await;
    assert_eq!(
        dept.exec("return window.__notReloaded === true", json!([]))
            .await,
        true,
        "the inbox was updated in place"
    );
    dept.wait_for(
        &format!("{row} .sign-due .countdown"),
        Duration::from_secs(5),
    )
    .await;
    let due = dept.text(&format!("{row} .handle-due")).await;
    assert!(due.contains(':'), "a countdown: {due}");
    dept.screenshot(&shots.join("inbox.png")).await;

    // It opens the case, signs and replies.
    dept.click(&format!("{row} a")).await;
    dept.wait_text("#case-number", &number, Duration::from_secs(10))
        .await;
    dept.find("#action-sign").await;
    assert_labelled(&dept, "case").await;
    let reporter = dept.text("#case-reporter").await;
    assert!(
        !reporter.contains("13800001234"),
        "masked for a department: {reporter}"
    );
    dept.screenshot(&shots.join("case.png")).await;
    dept.click("#action-sign button.do-sign").await;
    dept.wait_text(
        "#case-signed",
        "区城市管理综合行政执法局",
        Duration::from_secs(10),
    )
    .await;
    dept.wait_for("#action-reply", Duration::from_secs(10))
        .await;
    dept.type_into("#a-reply-text", "已责令工地停止夜间施工")
        .await;
    dept.click("#action-reply button.do-reply").await;
    dept.wait_for(
        "h1 .badge[data-status=\"replied\"]",
        Duration::from_secs(10),
    )
    .await;

    // The operator calls back: the replied case joins the desk's callback queue live.
    let callback_row = format!("#callback-table tr[data-case=\"{id}\"]");
    op.wait_for(&callback_row, Duration::from_secs(10)).await;
    op.click(&format!("{callback_row} button.cb-satisfied"))
        .await;
    op.wait_text("#flash", &number, Duration::from_secs(10))
        .await;

    // Personal data is masked everywhere; the operator reveals it with a reason, and
    // the reveal is itself in the case's history.
    op.goto(&format!("{base}/#/case/{id}")).await;
    op.wait_text("#case-reporter", "138****1234", Duration::from_secs(10))
        .await;
    op.type_into("#reveal-reason", "回访核实来电人").await;
    op.click("#action-reveal button[type=submit]").await;
    op.wait_text("#revealed", "13800001234", Duration::from_secs(10))
        .await;
    op.goto(&format!("{base}/#/cases")).await;
    op.goto(&format!("{base}/#/case/{id}")).await;
    op.wait_for(
        "#timeline li[data-type=\"PersonalDataRevealed\"]",
        Duration::from_secs(10),
    )
    .await;

    // The supervisor's figures change: one satisfied callback for 区城管执法局.
    let deadline = Instant::now() + Duration::from_secs(20);
    let cell = "#figures-table tr[data-key=\"dept.urban\"] .rate-satisfaction";
    loop {
        sup.goto(&format!("{base}/#/cases")).await;
        sup.goto(&format!("{base}/#/board")).await;
        sup.wait_for("#figures-table", Duration::from_secs(10))
            .await;
        if sup.exists(cell).await && sup.text(cell).await.starts_with("1/1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the figures did not change:\n{}",
            sup.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(sup.text(cell).await.contains("100.0%"));
    let response = sup
        .text("#figures-table tr[data-key=\"dept.urban\"] .rate-response")
        .await;
    assert!(
        !response.starts_with("0/0"),
        "two dispatches to count: {response}"
    );
    assert!(
        sup.exists("svg.chart rect[data-rate=\"satisfaction\"]")
            .await
    );
    assert_labelled(&sup, "board").await;
    sup.screenshot(&shots.join("board.png")).await;

    // The case's timeline: the server's chain check, and the case as of its filing.
    sup.goto(&format!("{base}/#/timeline/{id}")).await;
    let audit = sup
        .wait_text(
            "#audit[data-verified=\"true\"]",
            "哈希链校验通过",
            Duration::from_secs(10),
        )
        .await;
    assert!(audit.contains("个事件"), "{audit}");
    sup.wait_for("#asof-out[data-status]", Duration::from_secs(10))
        .await;
    sup.click("#asof").await;
    sup.keys(key::HOME).await;
    sup.wait_for(
        "#asof-out[data-version=\"1\"][data-status=\"received\"]",
        Duration::from_secs(10),
    )
    .await;
    assert_labelled(&sup, "timeline").await;
    sup.screenshot(&shots.join("timeline.png")).await;
    let events = sup
        .exec(
            "return document.querySelectorAll('#chain tbody tr').length",
            json!([]),
        )
        .await;
    assert!(
        events.as_u64().unwrap() >= 4,
        "filed, dispatched, signed, replied, called back: {events}"
    );
    sup.keys(key::END).await;
    sup.wait_for(
        &format!("#asof-out[data-version=\"{events}\"]"),
        Duration::from_secs(10),
    )
    .await;

    // English on request.
    sup.click("#lang").await;
    sup.wait_text("#audit", "Hash chain verified", Duration::from_secs(10))
        .await;
    assert_eq!(sup.text("#nav-board").await, "Board");
    sup.click("#lang").await;
    sup.wait_text("#audit", "哈希链校验通过", Duration::from_secs(10))
        .await;

    // Out of scope: a wage case goes to 区人社局; 区城管执法局 never lists or opens it.
    let other = file_by_api(
        &system,
        "console-other",
        json!({"channel": "hotline", "kind": "complaint", "category": "wage_arrears",
               "title": "工资拖欠三个月", "location": {"grid": "NH.HB.BJ.03"},
               "reporter": {"name": "赵先生"}}),
    )
    .await;
    system.wait_projection().await;
    let (status, seen) = system
        .api
        .get(&format!("/api/v1/cases/{other}"), Some("demo-hrss"))
        .await;
    assert_eq!(status, 200, "{seen}");
    dept.goto(&format!("{base}/#/inbox")).await;
    dept.wait_for(
        &format!("#inbox-table tr[data-case=\"{earlier}\"]"),
        Duration::from_secs(10),
    )
    .await;
    assert!(!dept.exists(&format!("tr[data-case=\"{other}\"]")).await);
    assert!(!dept.page_text().await.contains("工资拖欠三个月"));
    dept.goto(&format!("{base}/#/case/{other}")).await;
    dept.wait_for("#not-found", Duration::from_secs(10)).await;
    assert!(!dept.page_text().await.contains("工资拖欠三个月"));

    // The operator answers that call at intake after all (nobody has signed it yet).
    op.goto(&format!("{base}/#/case/{other}")).await;
    op.type_into("#a-reply_at_intake-text", "已告知可向劳动监察大队投诉")
        .await;
    op.click("#action-reply_at_intake button.do-reply_at_intake")
        .await;
    op.wait_for(
        "#timeline li[data-type=\"RepliedAtIntake\"]",
        Duration::from_secs(10),
    )
    .await;

    // CSRF: the session's own page, posting without the token, is refused.
    let answer = dept
        .exec_async(
            "const done = arguments[arguments.length - 1];
             fetch('/api/v1/cases/' + arguments[0] + '/actions/annotate', {method: 'POST',
               headers: {'Content-Type': 'application/json'}, body: JSON.stringify({text: 'x'})})
             .then(r => r.json().then(b => done({status: r.status, type: b.type})))
             .catch(e => done({error: String(e)}));",
            json!([id]),
        )
        .await;
    assert_eq!(answer["status"], 403, "{answer}");
    assert!(
        answer["type"]
            .as_str()
            .unwrap()
            .ends_with("csrf-token-missing"),
        "{answer}"
    );
    // …and so is a plain HTML form posted with the session cookie but no token.
    dept.exec(
        "const f = document.createElement('form'); f.method = 'post';
         f.action = '/api/v1/cases/' + arguments[0] + '/actions/annotate';
         const i = document.createElement('input'); i.name = 'text'; i.value = 'x'; f.append(i);
         document.body.append(f); f.submit();",
        json!([id]),
    )
    .await;
    dept.wait_text("body", "csrf-token-missing", Duration::from_secs(10))
        .await;
    let notes = system
        .events()
        .await
        .into_iter()
        .filter(|e| e["type"] == "NoteAdded")
        .count();
    assert_eq!(notes, 0, "nothing posted without the token was appended");

    // The patrol form on a phone: 390×844, filed by a grid worker.
    let phone = driver.browser(390, 844).await;
    sign_in(&phone, &base, "demo-grid").await;
    phone.wait_for("#file-form", Duration::from_secs(10)).await;
    assert_labelled(&phone, "patrol").await;
    let grid = phone
        .exec("return document.querySelector('#f-grid').value", json!([]))
        .await;
    assert_eq!(
        grid, "滨江社区第三网格 (NH.HB.BJ.03)",
        "its own grid to start with"
    );
    let overflow = phone
        .exec("return document.documentElement.scrollWidth", json!([]))
        .await;
    assert!(
        overflow.as_u64().unwrap() <= 390,
        "no sideways scrolling: {overflow}"
    );
    phone.type_into("#f-category", "sanitation").await;
    phone.type_into("#f-title", "垃圾桶满溢").await;
    phone
        .type_into("#f-attachments", "photo://patrol/0001.jpg")
        .await;
    phone.screenshot(&shots.join("patrol.png")).await;
    phone.click("#f-submit").await;
    phone
        .wait_text("#filed-number", "NH-", Duration::from_secs(20))
        .await;

    for b in [op, dept, sup, phone] {
        b.quit().await;
    }
    println!("screenshots in {}", shots.display());
}

/// Waits until the case page of `b` lists an event of `event_type` in its timeline,
/// re-opening the page (as a person would) while the read model catches up.
async fn wait_event(b: &Browser, base: &str, id: &str, event_type: &str) {
    let css = format!("#timeline li[data-type=\"{event_type}\"]");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        b.goto(&format!("{base}/#/cases")).await;
        b.goto(&format!("{base}/#/case/{id}")).await;
        b.wait_for("#timeline", Duration::from_secs(10)).await;
        if b.exists(&css).await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {event_type} on the case page:\n{}",
            b.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn streets_whistle_departments_report_in_and_supervisors_decide_extensions() {
    // The services' clock stands two weeks back, so every deadline they set has passed
    // by the browser's clock: the countdowns show overdue, in red.
    let past = time::OffsetDateTime::now_utc() - time::Duration::days(14);
    let system = System::start_with_clock(Some(past)).await;
    let base = system.api.base().to_owned();
    let driver = Driver::start().await;
    let (street, water, sup) = (
        driver.browser(1280, 800).await,
        driver.browser(1280, 800).await,
        driver.browser(1280, 800).await,
    );
    sign_in(&street, &base, "demo-hubin").await;
    sign_in(&water, &base, "demo-water").await;
    sign_in(&sup, &base, "demo-supervisor").await;

    // Sanitation is territorial: 湖滨街道 leads it.
    let id = file_by_api(
        &system,
        "console-sanitation",
        json!({"channel": "hotline", "kind": "complaint", "category": "sanitation",
               "title": "小区垃圾无人清运", "location": {"grid": "NH.HB.BJ.03"},
               "reporter": {"name": "钱女士"}}),
    )
    .await;
    let row = format!("#inbox-table tr[data-case=\"{id}\"]");
    street
        .wait_text(&row, "小区垃圾无人清运", Duration::from_secs(20))
        .await;
    let overdue = street
        .wait_text(
            &format!("{row} .handle-due .countdown.overdue"),
            "超期",
            Duration::from_secs(5),
        )
        .await;
    let colour = street
        .exec(
            "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor",
            json!([format!("{row} .handle-due .countdown")]),
        )
        .await;
    assert_eq!(colour, "rgb(192, 38, 45)", "overdue in red: {overdue}");
    street.click(&format!("{row} a")).await;
    street.click("#action-sign button.do-sign").await;
    street
        .wait_text("#case-signed", "湖滨街道", Duration::from_secs(10))
        .await;

    // The street blows the whistle on 区水务局, which reports in.
    street
        .wait_for("#action-whistle", Duration::from_secs(10))
        .await;
    assert_labelled(&street, "street's case").await;
    street
        .exec(
            "document.querySelector('#a-whistle-departments option[value=\"dept.water\"]').selected = true",
            json!([]),
        )
        .await;
    street.type_into("#a-whistle-reason", "联合整治").await;
    street.click("#action-whistle button.do-whistle").await;
    wait_event(&street, &base, &id, "WhistleBlown").await;

    water
        .wait_text(&row, "小区垃圾无人清运", Duration::from_secs(20))
        .await;
    assert!(water.text(&row).await.contains("报到"), "summoned");
    water.click(&format!("{row} a")).await;
    water.click("#action-report_in button.do-report_in").await;
    wait_event(&water, &base, &id, "ReportedIn").await;
    assert!(!water.exists("#action-report_in").await, "reported in once");

    // The street rates the report-in, then asks for more time.
    wait_event(&street, &base, &id, "ReportedIn").await;
    street
        .click("#action-rate_report_in button.do-rate_report_in")
        .await;
    wait_event(&street, &base, &id, "ReportInRated").await;
    street
        .exec(
            "const d = new Date(Date.now() + 20 * 86400000);
             const p = (n) => String(n).padStart(2, '0');
             document.querySelector('#a-request_extension-until').value =
               `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T18:00`;",
            json!([]),
        )
        .await;
    street
        .type_into("#a-request_extension-reason", "需协调物业公司")
        .await;
    street
        .click("#action-request_extension button.do-request_extension")
        .await;
    wait_event(&street, &base, &id, "ExtensionRequested").await;

    // The supervisor grants it and urges the case on (督办).
    wait_event(&sup, &base, &id, "ExtensionRequested").await;
    sup.click("#action-decide_extension button.do-grant").await;
    wait_event(&sup, &base, &id, "ExtensionDecided").await;
    assert!(!sup.exists("#action-decide_extension").await, "decided");
    sup.type_into("#a-supervise-text", "请本周内清运完毕").await;
    sup.click("#action-supervise button.do-supervise").await;
    wait_event(&sup, &base, &id, "SupervisionIssued").await;

    // Another call about the same rubbish: the desk offers the open case, and the new
    // filing is merged into it as a duplicate.
    let op = driver.browser(1280, 800).await;
    sign_in(&op, &base, "demo-operator").await;
    op.wait_for("#file-form", Duration::from_secs(10)).await;
    op.type_into("#f-category", "环境卫生").await;
    op.type_into("#f-grid", "NH.HB.BJ.03").await;
    op.type_into("#f-title", "垃圾又堆满了").await;
    op.type_into("#f-reporter-phone", "13700003333").await;
    let offered = format!("#similar-list li[data-case=\"{id}\"]");
    op.wait_for(&offered, Duration::from_secs(10)).await;
    op.click("#f-submit").await;
    op.wait_text("#filed-number", "NH-", Duration::from_secs(20))
        .await;
    op.click(&format!("{offered} button.merge:not([disabled])"))
        .await;
    op.wait_text("#flash", "已完成", Duration::from_secs(10))
        .await;
    op.click("#filed-number").await;
    op.wait_for("h1 .badge[data-status=\"merged\"]", Duration::from_secs(10))
        .await;
    for b in [street, water, sup, op] {
        b.quit().await;
    }
}
