//! The district configuration as operators meet it: `casegrid config check`, a broken
//! folder refused at startup, and a reload without restart that changes routing.

use crate::kit::{bin, config_dir, System};
use casegrid_testkit::eventually;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

fn copy_config(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

#[test]
fn config_check_lists_every_problem_and_services_refuse_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new(bin("casegrid"))
        .args(["config", "check"])
        .arg(config_dir())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains(": ok ("));

    copy_config(dir.path());
    let rules = dir.path().join("rules.toml");
    let text = std::fs::read_to_string(&rules)
        .unwrap()
        .replace("lead = \"dept.water\"", "lead = \"dept.plumbing\"");
    std::fs::write(&rules, text).unwrap();
    let calendar = dir.path().join("calendar.toml");
    let mut text = std::fs::read_to_string(&calendar).unwrap();
    text.push_str("\n[[holiday]]\nname = \"bad\"\ndates = [\"2026-02-30\"]\n");
    std::fs::write(&calendar, text).unwrap();

    let out = std::process::Command::new(bin("casegrid"))
        .args(["config", "check"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rules.toml") && stderr.contains("unknown department dept.plumbing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("calendar.toml") && stderr.contains("2026-02-30"),
        "{stderr}"
    );

    // The routing service refuses the same folder at startup, naming the problem.
    let out = std::process::Command::new(bin("casegrid"))
        .args(["serve", "routing"])
        .env("CASEGRID__NATS__URL", "nats://127.0.0.1:1")
        .env("CASEGRID__DISTRICT__CONFIG_DIR", dir.path())
        .env(
            "CASEGRID__ROUTING__DATABASE_URL",
            format!("sqlite://{}/r.db?mode=rwc", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let _ = String::from_utf8_lossy(&out.stderr);
    let out = std::process::Command::new(bin("casegrid"))
        .args([
            "dev",
            "--nats-port",
            "0",
            "--http",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown department dept.plumbing"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_reloads_its_rules_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    copy_config(dir.path());
    let mut system = System::start().await;
    // A routing replica reading the copied folder (the default one is stopped).
    system.kill("routing");
    let db = format!(
        "sqlite://{}/routing-reload.db?mode=rwc",
        system.nats.dir().display()
    );
    system.spawn(
        "routing",
        "routing",
        &[
            (
                "CASEGRID__DISTRICT__CONFIG_DIR",
                dir.path().display().to_string(),
            ),
            ("CASEGRID__ROUTING__DATABASE_URL", db),
        ],
    );
    let leak = json!({"channel": "hotline", "kind": "report", "category": "water_leak",
                      "title": "水管漏水", "location": {"grid": "NH.CD.YL.02"},
                      "reporter": {"phone": "13900003333"}});
    let api = system.api.clone();
    let first = api.post("/api/v1/cases", "demo-operator", &leak, &[]).await;
    let id = first.body["id"].as_str().unwrap().to_owned();
    let case = crate::lifecycle::wait_status(&api, &id, "demo-operator", "dispatched").await;
    assert_eq!(case["lead"], "dept.water");

    // The water bureau hands leaks to the housing bureau: edit, reload, file again.
    let rules = dir.path().join("rules.toml");
    let text = std::fs::read_to_string(&rules)
        .unwrap()
        .replace("lead = \"dept.water\"", "lead = \"dept.housing\"");
    std::fs::write(&rules, text).unwrap();
    let client = system.nats.client().await;
    let reply = client
        .request("casegrid.routing.reload", "{}".into())
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&reply.payload).unwrap();
    let version = answer["ok"]
        .as_str()
        .expect("the new configuration version")
        .to_owned();
    let second = api.post("/api/v1/cases", "demo-operator", &leak, &[]).await;
    let id2 = second.body["id"].as_str().unwrap().to_owned();
    let case = crate::lifecycle::wait_status(&api, &id2, "demo-operator", "dispatched").await;
    assert_eq!(case["lead"], "dept.housing");
    assert!(case["rule"].as_str().unwrap().contains(&version), "{case}");

    // A broken edit is refused and the running rules stay.
    std::fs::write(&rules, "not toml [").unwrap();
    let reply = client
        .request("casegrid.routing.reload", "{}".into())
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert!(
        answer["problem"]["detail"]
            .as_str()
            .unwrap()
            .contains("rules.toml"),
        "{answer}"
    );
    let third = api.post("/api/v1/cases", "demo-operator", &leak, &[]).await;
    let id3 = third.body["id"].as_str().unwrap().to_owned();
    let case = eventually(
        Duration::from_secs(20),
        "dispatch under the kept rules",
        || async {
            let (_, c) = api
                .get(&format!("/api/v1/cases/{id3}"), Some("demo-operator"))
                .await;
            (c["status"] == "dispatched").then_some(c)
        },
    )
    .await;
    assert_eq!(case["lead"], "dept.housing");
}
