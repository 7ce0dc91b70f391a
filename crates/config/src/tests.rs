//! The demo district (`deploy/config`) and broken copies of it.
//!
//! - the demo calendar across a weekend, public holidays and make-up days;
//! - a table over the demo district: category × grid × urgency → route and deadlines;
//! - re-routing after a return, and `NoneLeft` when every lead has returned the case;
//! - every kind of configuration problem, named with file and entry;
//! - the configuration version.

use super::*;
use time::macros::datetime;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config")
}

fn demo() -> District {
    District::load(&demo_dir()).unwrap_or_else(|e| panic!("{e}"))
}

fn cat(s: &str) -> Category {
    Category::parse(s).unwrap()
}

fn grid(s: &str) -> GridCode {
    GridCode::parse(s).unwrap()
}

fn dept(s: &str) -> DepartmentId {
    DepartmentId::parse(s).unwrap()
}

#[test]
fn the_demo_calendar_counts_working_time() {
    let c = demo().calendar;
    let h = Duration::hours;
    // Weekend: Fri 20 Mar 16:00 + 3h = 1.5h Friday, Mon 23 Mar 09:00 + 1.5h.
    assert_eq!(
        c.add_working(datetime!(2026-03-20 16:00 +08:00), h(3)),
        datetime!(2026-03-23 10:30 +08:00)
    );
    // 清明 Sat 4 – Mon 6 Apr: Fri 3 Apr 17:00 + 1h = 0.5h Friday, Tue 7 Apr 09:30.
    assert_eq!(
        c.add_working(datetime!(2026-04-03 17:00 +08:00), h(1)),
        datetime!(2026-04-07 09:30 +08:00)
    );
    // 春节: the make-up Saturday 14 Feb is worked.
    assert_eq!(
        c.add_working(datetime!(2026-02-13 17:00 +08:00), h(1)),
        datetime!(2026-02-14 09:30 +08:00)
    );
    // ... and then nothing until Tue 24 Feb: Sat 14 Feb 17:00 + 1h.
    assert_eq!(
        c.add_working(datetime!(2026-02-14 17:00 +08:00), h(1)),
        datetime!(2026-02-24 09:30 +08:00)
    );
    // 元旦: Thu 1 – Sat 3 Jan off, Sunday 4 Jan worked.
    assert_eq!(
        c.add_working(datetime!(2025-12-31 17:00 +08:00), h(1)),
        datetime!(2026-01-04 09:30 +08:00)
    );
    // 国庆 with its make-up Saturday 10 Oct: Wed 30 Sep 16:00 + 5d (35h) = 1.5h on
    // 30 Sep, then 8, 9, 10 (Sat), 12 Oct (28h), then 13 Oct 09:00 + 5.5h = 16:00.
    assert_eq!(
        c.add_working(datetime!(2026-09-30 16:00 +08:00), h(35)),
        datetime!(2026-10-13 16:00 +08:00)
    );
    // A suspension's used time: Fri 13 Feb 09:00 to Tue 24 Feb 12:00 is 13 Feb (7h),
    // 14 Feb (7h) and 24 Feb morning (3h).
    assert_eq!(
        c.working_between(
            datetime!(2026-02-13 09:00 +08:00),
            datetime!(2026-02-24 12:00 +08:00)
        ),
        h(17)
    );
    assert!(c.is_working_day(time::macros::date!(2026 - 09 - 20)));
    assert!(!c.is_working_day(time::macros::date!(2026 - 10 - 01)));
}

/// category, grid, urgency → lead, assisting, rule, [sign_due, handle_due, report_due].
type Row = (
    &'static str,
    &'static str,
    Urgency,
    &'static str,
    &'static [&'static str],
    &'static str,
    [OffsetDateTime; 3],
);

/// Filed on Tue 17 Mar 2026 10:00, far from holidays: `Nd` in working time is N
/// working days later at 10:00, `4h` crosses lunch to 15:30.
#[test]
fn the_demo_district_routes_every_category() {
    let d = demo();
    let from = datetime!(2026-03-17 10:00 +08:00);
    let (n, u, c) = (Urgency::Normal, Urgency::Urgent, Urgency::Critical);
    #[rustfmt::skip]
    let table: &[Row] = &[
        // category, grid, urgency → lead, assisting, rule, [sign, handle, report_in]
        ("noise", "NH.HB.BJ.03", n, "dept.urban", &["dept.ecology"], "noise",
            [datetime!(2026-03-17 12:00 +08:00), datetime!(2026-03-24 10:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("noise", "NH.HB.BJ.03", u, "dept.urban", &["dept.ecology"], "noise",
            [datetime!(2026-03-17 11:00 +08:00), datetime!(2026-03-19 10:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("noise", "NH.HB.BJ.03", c, "dept.urban", &["dept.ecology"], "noise",
            [datetime!(2026-03-17 10:30 +08:00), datetime!(2026-03-18 10:00 +08:00), datetime!(2026-03-17 10:30 +08:00)]),
        ("property_management", "NH.CD.YL.02", n, "dept.housing", &[], "property_management",
            [datetime!(2026-03-17 15:30 +08:00), datetime!(2026-03-31 10:00 +08:00), datetime!(2026-03-17 15:30 +08:00)]),
        ("wage_arrears", "NH.CD.YL.02", u, "dept.hrss", &[], "wage_arrears",
            [datetime!(2026-03-17 11:00 +08:00), datetime!(2026-03-19 10:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("road_damage", "NH.HB.XH.01", n, "dept.transport", &[], "road_damage",
            [datetime!(2026-03-17 12:00 +08:00), datetime!(2026-03-20 10:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("road_damage", "NH.HB.XH.01", c, "dept.transport", &[], "road_damage",
            [datetime!(2026-03-17 10:30 +08:00), datetime!(2026-03-17 22:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("road_damage", "NH.NS.TX.01", n, "town.nanshan", &["dept.transport"], "road_damage_nanshan",
            [datetime!(2026-03-17 12:00 +08:00), datetime!(2026-03-24 10:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("road_damage", "NH.NS.TX.01", c, "town.nanshan", &["dept.transport"], "road_damage_nanshan",
            [datetime!(2026-03-17 10:30 +08:00), datetime!(2026-03-17 22:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("illegal_construction", "NH.HB.BJ.01", u, "dept.urban", &["dept.housing"], "illegal_construction",
            [datetime!(2026-03-17 11:00 +08:00), datetime!(2026-03-20 10:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("illegal_construction", "NH.NS.TX.01", n, "town.nanshan", &["dept.urban"], "illegal_construction_nanshan",
            [datetime!(2026-03-17 12:00 +08:00), datetime!(2026-03-31 10:00 +08:00), datetime!(2026-03-17 12:00 +08:00)]),
        ("neighbor_dispute", "NH.HB.BJ.03", n, "street.hubin", &["dept.justice"], "neighbor_dispute+territorial",
            [datetime!(2026-03-17 15:30 +08:00), datetime!(2026-03-31 10:00 +08:00), datetime!(2026-03-17 15:30 +08:00)]),
        ("neighbor_dispute", "NH.CD.YL.02", c, "dept.police", &["dept.justice"], "neighbor_dispute_critical",
            [datetime!(2026-03-17 10:30 +08:00), datetime!(2026-03-18 10:00 +08:00), datetime!(2026-03-17 10:30 +08:00)]),
        ("sanitation", "NH.NS.TX.01", n, "town.nanshan", &["dept.urban"], "sanitation+territorial",
            [datetime!(2026-03-17 15:30 +08:00), datetime!(2026-03-20 10:00 +08:00), datetime!(2026-03-17 15:30 +08:00)]),
        ("sanitation", "NH.CD.YL.02", u, "street.chengdong", &["dept.urban"], "sanitation+territorial",
            [datetime!(2026-03-17 12:00 +08:00), datetime!(2026-03-18 10:00 +08:00), datetime!(2026-03-17 15:30 +08:00)]),
        ("water_leak", "NH.CD.YL.02", n, "dept.water", &[], "water_leak",
            [datetime!(2026-03-17 11:00 +08:00), datetime!(2026-03-19 10:00 +08:00), datetime!(2026-03-17 11:00 +08:00)]),
        ("water_leak", "NH.CD.YL.02", c, "dept.water", &[], "water_leak",
            [datetime!(2026-03-17 10:15 +08:00), datetime!(2026-03-17 22:00 +08:00), datetime!(2026-03-17 10:30 +08:00)]),
        ("market_complaint", "NH.HB.XH.01", n, "dept.market", &[], "market_complaint",
            [datetime!(2026-03-17 15:30 +08:00), datetime!(2026-03-26 10:00 +08:00), datetime!(2026-03-17 15:30 +08:00)]),
        ("public_security", "NH.CD.YL.02", u, "dept.police", &[], "public_security",
            [datetime!(2026-03-17 10:30 +08:00), datetime!(2026-03-18 10:00 +08:00), datetime!(2026-03-17 11:00 +08:00)]),
        ("other", "NH.HB.XH.01", n, "street.hubin", &[], "other+territorial",
            [datetime!(2026-03-17 15:30 +08:00), datetime!(2026-03-31 10:00 +08:00), datetime!(2026-03-17 15:30 +08:00)]),
    ];
    for (category, g, urgency, lead, assisting, rule, [sign, handle, report]) in table {
        let case = format!("{category} in {g} at {urgency:?}");
        let route = d
            .route_for(&cat(category), Some(&grid(g)), *urgency, &[])
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(route.lead.as_str(), *lead, "{case}");
        let got: Vec<&str> = route.assisting.iter().map(|a| a.as_str()).collect();
        assert_eq!(got, *assisting, "{case}");
        assert_eq!(route.rule, format!("rules.toml#{rule}"), "{case}");
        let due = d.deadlines(&route, *urgency, from);
        assert_eq!(
            [due.sign_due, due.handle_due, due.report_due],
            [*sign, *handle, *report],
            "{case}"
        );
        assert_eq!(route.terms.deadlines(&d.calendar, from), due, "{case}");
    }
    // Every category of the demo routes somewhere from every grid at every urgency.
    for category in d.rules.keys() {
        for g in d.grids.keys().filter(|g| g.as_str().contains('.')) {
            for urgency in [n, u, c] {
                d.route_for(category, Some(g), urgency, &[])
                    .unwrap_or_else(|e| panic!("{category} in {g} at {urgency:?}: {e}"));
            }
        }
    }
    let expected = [
        "noise",
        "property_management",
        "wage_arrears",
        "road_damage",
        "illegal_construction",
        "neighbor_dispute",
        "sanitation",
        "water_leak",
        "market_complaint",
        "public_security",
        "other",
    ];
    for c in expected {
        assert!(d.has_category(c), "{c}");
    }
    assert_eq!(d.rules.len(), expected.len());
    assert_eq!(d.rule_count(), 14);
}

#[test]
fn deadlines_cross_holidays_and_make_up_days() {
    let d = demo();
    let g = grid("NH.HB.BJ.03");
    // Before 国庆: Wed 30 Sep 16:00. Sign 2h: 1.5h, then Thu 8 Oct 09:30.
    let noise = d.route(&cat("noise"), Some(&g), &[]).unwrap();
    let due = d.deadlines(&noise, Urgency::Normal, datetime!(2026-09-30 16:00 +08:00));
    assert_eq!(due.sign_due, datetime!(2026-10-08 09:30 +08:00));
    assert_eq!(due.handle_due, datetime!(2026-10-13 16:00 +08:00));
    // Critical runs around the clock, holiday or not.
    let due = d.deadlines(
        &noise,
        Urgency::Critical,
        datetime!(2026-09-30 16:00 +08:00),
    );
    assert_eq!(due.sign_due, datetime!(2026-09-30 16:30 +08:00));
    assert_eq!(due.handle_due, datetime!(2026-10-01 16:00 +08:00));
    // Before 春节: Fri 13 Feb 15:00, sign 4h = 2.5h Friday + Sat 14 Feb (make-up)
    // 09:00 + 1.5h. Handle 10d = 70h: 13 Feb 2.5, 14 Feb 7, 24–28 Feb 35 (28 Feb is a
    // make-up Saturday), 2–4 Mar 21, then 5 Mar 09:00 + 4.5h = 15:00.
    let housing = d.route(&cat("property_management"), Some(&g), &[]).unwrap();
    let due = d.deadlines(
        &housing,
        Urgency::Normal,
        datetime!(2026-02-13 15:00 +08:00),
    );
    assert_eq!(due.sign_due, datetime!(2026-02-14 10:30 +08:00));
    assert_eq!(due.handle_due, datetime!(2026-03-05 15:00 +08:00));
    // Older callers read whole hours: 4 working hours, 10 working days of 7 hours.
    assert_eq!((housing.sign_hours, housing.handle_hours), (4, 70));
}

#[test]
fn a_returned_case_goes_to_the_next_lead_and_then_to_a_dispatcher() {
    let d = demo();
    let hubin = grid("NH.HB.BJ.03");
    let nanshan = grid("NH.NS.TX.01");
    // Rule lead returned: the territorial office takes it, under the same rule.
    let r = d
        .route(&cat("noise"), Some(&hubin), &[dept("dept.urban")])
        .unwrap();
    assert_eq!(r.lead.as_str(), "street.hubin");
    assert_eq!(r.assisting, vec![dept("dept.ecology")]);
    assert_eq!(r.rule, "rules.toml#noise+territorial");
    // A grid-prefix rule's lead returned: the next matching rule's lead.
    let r = d
        .route(&cat("road_damage"), Some(&nanshan), &[dept("town.nanshan")])
        .unwrap();
    assert_eq!(r.lead.as_str(), "dept.transport");
    assert!(r.assisting.is_empty());
    assert_eq!(r.rule, "rules.toml#road_damage");
    // Everyone returned it.
    let all = [dept("town.nanshan"), dept("dept.transport")];
    let e = d
        .route(&cat("road_damage"), Some(&nanshan), &all)
        .unwrap_err();
    assert_eq!(
        e,
        NoRoute::NoneLeft {
            category: "road_damage".into(),
            excluded: all.to_vec()
        }
    );
    assert_eq!(
        e.to_string(),
        "no lead left for category road_damage: town.nanshan, dept.transport returned it"
    );
    let e = d
        .route(
            &cat("neighbor_dispute"),
            Some(&hubin),
            &[dept("street.hubin")],
        )
        .unwrap_err();
    assert!(matches!(e, NoRoute::NoneLeft { .. }), "{e}");
    // No grid and a territorial rule, or no rule at all.
    assert_eq!(
        d.route(&cat("other"), None, &[]).unwrap_err(),
        NoRoute::NoTerritorialOffice("(none)".into())
    );
    assert_eq!(
        d.route(&cat("ufo_sighting"), Some(&hubin), &[])
            .unwrap_err(),
        NoRoute::UnknownCategory("ufo_sighting".into())
    );
}

#[test]
fn the_demo_district_is_complete() {
    let d = demo();
    assert!(d.principal("demo-operator").is_some());
    let ladder: Vec<&str> = d.escalation.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(ladder, ["村居主战", "镇街会战", "部门助战", "领导征战"]);
    assert_eq!(d.next_escalation(None).unwrap().id, "village");
    assert_eq!(d.next_escalation(Some("street")).unwrap().id, "department");
    assert!(d.next_escalation(Some("leader")).is_none());
    assert!(d.escalation[0]
        .notify
        .contains(&Notify::Role(Role::GridWorker)));
    assert!(d
        .escalation
        .iter()
        .rev()
        .skip(1)
        .all(|l| l.respond.is_some()));
    assert_eq!(
        d.rule("road_damage_nanshan").unwrap().specificity(),
        (2, false, 0)
    );
}

/// A copy of the demo folder with `extra` appended to some files, in its own
/// temporary folder.
struct Copy(PathBuf);

impl Copy {
    fn new(name: &str, extra: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("cg-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(demo_dir().join("grids.geojson"), dir.join("grids.geojson")).unwrap();
        for f in FILES {
            let mut text = std::fs::read_to_string(demo_dir().join(f)).unwrap();
            for (_, more) in extra.iter().filter(|(file, _)| *file == f) {
                text.push('\n');
                text.push_str(more);
            }
            std::fs::write(dir.join(f), text).unwrap();
        }
        Self(dir)
    }

    fn problems(&self) -> Vec<String> {
        let err = District::load(&self.0).expect_err("the copy should not load");
        err.0
            .iter()
            .map(|p| {
                format!(
                    "{}: {}: {}",
                    p.file.file_name().unwrap().to_string_lossy(),
                    p.entry,
                    p.message
                )
            })
            .collect()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const RULES: &str = "rules.toml";
const CALENDAR: &str = "calendar.toml";

fn rule(id: &str, body: &str) -> String {
    format!("[[rule]]\nid = \"{id}\"\nname = \"broken\"\nsign = \"2h\"\nhandle = \"5d\"\nreport_in = \"1h\"\n{body}\n")
}

#[test]
fn every_problem_is_named_with_file_and_entry_and_all_come_at_once() {
    let bad_rules = [
        rule("x_dept", "category = \"noise\"\ngrid_prefix = \"NH.CD\"\nlead = \"dept.nowhere\""),
        rule("noise_again", "category = \"noise\""),
        rule("x_prefix", "category = \"noise\"\ngrid_prefix = \"NH.ZZ\""),
        rule("x_urgency", "category = \"noise\"\nurgency = \"asap\""),
        rule("x_table", "category = \"water_leak\"\ngrid_prefix = \"NH.CD\"\n[rule.super_urgent]\nsign = \"1m\""),
        rule("x_span", "category = \"other\"\ngrid_prefix = \"NH.CD\"\n[rule.urgent]\nhandle = \"2 days\""),
        rule("x_short", "category = \"other\"\ngrid_prefix = \"NH.HB\"\n[rule.critical]\nhandle = \"1h\""),
        rule("noise", "category = \"noise\"\ngrid_prefix = \"NH.HB\""),
        rule("x_alone", "category = \"ufo\"\nurgency = \"critical\""),
        rule("x_field", "category = \"other\"\ngrid_prefix = \"NH.NS\"\nsing = \"2h\""),
    ]
    .join("\n");
    let copy = Copy::new(
        "broken",
        &[
            (RULES, &bad_rules),
            (
                "grids.toml",
                "[[grid]]\ncode = \"NH.XX.YY\"\nname = \"x\"\nlevel = \"grid\"\n",
            ),
            (
                "departments.toml",
                "[[department]]\nid = \"dept.urban\"\nname = \"x\"\nkind = \"functional\"\n",
            ),
            (
                CALENDAR,
                "[[holiday]]\nname = \"坏日子\"\ndates = [\"2026-02-30\", \"2026-12-24\"]\nmakeup = [\"2026-03-18\", \"2026-01-04\"]\n",
            ),
            (
                "escalation.toml",
                "[[level]]\nid = \"leader\"\nname = \"再来\"\nnotify = [\"mayor\", \"dept.urban\"]\nrespond = \"soon\"\n",
            ),
        ],
    );
    let got = copy.problems();
    let expected = [
        "departments.toml: department dept.urban: defined twice",
        "grids.toml: grid NH.XX.YY: its parent NH.XX is not defined",
        "grids.toml: locate.boundaries (grids.geojson): grid NH.XX.YY: a leaf grid without a \
         boundary: points in it could not be found",
        "calendar.toml: holiday 坏日子: \"2026-02-30\" is not a date (YYYY-MM-DD)",
        "calendar.toml: holiday 坏日子: make-up day 2026-03-18 is a Wednesday, not a weekend day",
        "calendar.toml: holiday 坏日子: make-up day 2026-01-04 is listed twice",
        "rules.toml: rule x_dept: unknown department dept.nowhere",
        "rules.toml: rule noise_again: overlapping rules with equal priority: noise and noise_again both match category noise, priority 0",
        "rules.toml: rule x_prefix: grid_prefix NH.ZZ names no grid",
        "rules.toml: rule x_urgency: unknown urgency \"asap\" (expected normal, urgent or critical)",
        "rules.toml: rule x_table: unknown urgency \"super_urgent\" (expected normal, urgent or critical)",
        "rules.toml: rule x_span: [urgent] handle: \"2 days\" is not a duration like 30m, 2h, 5d or 1d4h",
        "rules.toml: rule x_short: critical: handle (1h) is shorter than sign (2h)",
        "rules.toml: rule noise: defined twice",
        "rules.toml: category ufo: no rule without grid_prefix and urgency, so some cases of it could not be routed",
        "rules.toml: rule x_field: unknown field \"sing\"",
        "escalation.toml: level leader: defined twice",
        "escalation.toml: level leader: unknown notify target \"mayor\" (a department id or one of grid_worker, community, territorial_office, lead, assisting, supervisor, district_leader)",
        "escalation.toml: level leader: respond: \"soon\" is not a duration like 30m, 2h, 5d or 1d4h",
    ];
    for e in expected {
        assert!(
            got.iter().any(|g| g == e),
            "missing {e:?} in\n{}",
            got.join("\n")
        );
    }
    assert_eq!(got.len(), expected.len(), "\n{}", got.join("\n"));
}

#[test]
fn equal_priority_overlaps_but_a_higher_priority_wins() {
    let overlap = rule(
        "nanshan_noise_b",
        "category = \"noise\"\ngrid_prefix = \"NH.NS\"\nurgency = \"urgent\"\npriority = 1\nlead = \"dept.ecology\"",
    );
    let first = rule(
        "nanshan_noise_a",
        "category = \"noise\"\ngrid_prefix = \"NH.NS\"\nurgency = \"urgent\"\npriority = 1\nlead = \"town.nanshan\"",
    );
    let copy = Copy::new("overlap", &[(RULES, &format!("{first}\n{overlap}"))]);
    assert_eq!(
        copy.problems(),
        [
            "rules.toml: rule nanshan_noise_b: overlapping rules with equal priority: \
          nanshan_noise_a and nanshan_noise_b both match category noise, grid prefix NH.NS, \
          urgency urgent, priority 1"
        ]
    );
    drop(copy);

    let lower = rule(
        "nanshan_noise_low",
        "category = \"noise\"\ngrid_prefix = \"NH.NS\"\nurgency = \"urgent\"\nlead = \"dept.ecology\"",
    );
    let copy = Copy::new("priority", &[(RULES, &format!("{lower}\n{first}"))]);
    let d = District::load(&copy.0).unwrap_or_else(|e| panic!("{e}"));
    let g = grid("NH.NS.TX.01");
    let urgent = d
        .route_for(&cat("noise"), Some(&g), Urgency::Urgent, &[])
        .unwrap();
    assert_eq!(urgent.rule, "rules.toml#nanshan_noise_a");
    let next = d
        .route_for(
            &cat("noise"),
            Some(&g),
            Urgency::Urgent,
            &[dept("town.nanshan")],
        )
        .unwrap();
    assert_eq!(next.rule, "rules.toml#nanshan_noise_low");
    // Normal urgency is not matched by either.
    assert_eq!(
        d.route(&cat("noise"), Some(&g), &[]).unwrap().rule,
        "rules.toml#noise"
    );
}

#[test]
fn a_file_that_is_not_toml_is_named_with_its_line() {
    let copy = Copy::new("syntax", &[(CALENDAR, "hours = oops\n")]);
    let got = copy.problems();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("calendar.toml: line "), "{got:?}");
}

#[test]
fn the_version_names_the_files_contents() {
    let d = demo();
    assert_eq!(d.version().len(), 16);
    assert!(d.version().bytes().all(|b| b.is_ascii_hexdigit()));
    let same = Copy::new("version-same", &[]);
    assert_eq!(District::load(&same.0).unwrap().version(), d.version());
    let changed = Copy::new("version-changed", &[(CALENDAR, "# a comment\n")]);
    assert_ne!(District::load(&changed.0).unwrap().version(), d.version());
    assert_eq!(fnv1a64(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn only_supervisors_and_grid_workers_have_a_scope_and_it_names_a_grid() {
    let copy = Copy::new(
        "scopes",
        &[(
            "principals.toml",
            "[[principal]]\ntoken = \"scoped-department\"\nkind = \"department\"\nid = \"dept.water\"\nname = \"x\"\nscope = \"NH.HB\"\n\n\
             [[principal]]\ntoken = \"scoped-nowhere\"\nkind = \"supervisor\"\nid = \"sup.x\"\nname = \"x\"\nscope = \"NH.ZZ\"\n\n\
             [[principal]]\ntoken = \"grid-nowhere\"\nkind = \"grid_worker\"\nid = \"grid.x\"\nname = \"x\"\nscope = \"NH.HB.BJ.99\"\n",
        )],
    );
    let problems = copy.problems();
    assert!(
        problems.contains(&"principals.toml: principal dept.water: only supervisors and grid workers have a scope, not a department".to_owned()),
        "{problems:#?}"
    );
    assert!(
        problems.contains(
            &"principals.toml: principal grid.x: scope NH.HB.BJ.99 is no grid code of this district"
                .to_owned()
        ),
        "{problems:#?}"
    );
    assert!(
        problems.contains(
            &"principals.toml: principal sup.x: scope NH.ZZ is no grid code of this district"
                .to_owned()
        ),
        "{problems:#?}"
    );
    let district = District::load(&demo_dir()).unwrap();
    assert_eq!(
        district
            .principal("demo-supervisor-hubin")
            .and_then(|p| p.scope.as_deref()),
        Some("NH.HB")
    );
}

#[test]
fn a_category_is_public_only_when_its_general_rule_says_so() {
    let d = demo();
    assert!(d.is_public("noise"));
    assert!(
        !d.is_public("neighbor_dispute"),
        "disputes are not published"
    );
    assert!(!d.is_public("wage_arrears"));
    assert!(!d.is_public("no_such_category"));
    assert!(d.public_categories().contains(&"road_damage".to_owned()));
    let specific = "[[rule]]\nid = \"noise_hubin\"\ncategory = \"noise\"\nname = \"x\"\n\
                    grid_prefix = \"NH.HB\"\npublic = true\nsign = \"2h\"\nhandle = \"5d\"\n\
                    report_in = \"2h\"\n";
    let problems = Copy::new("public-specific", &[(RULES, specific)]).problems();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("rules.toml: rule noise_hubin: public = true belongs")),
        "{problems:#?}"
    );
    let typo = "[[rule]]\nid = \"typo\"\ncategory = \"typo\"\nname = \"x\"\n\
                public = \"yes\"\nsign = \"2h\"\nhandle = \"5d\"\nreport_in = \"2h\"\n";
    assert!(!Copy::new("public-typo", &[(RULES, typo)])
        .problems()
        .is_empty());
}
