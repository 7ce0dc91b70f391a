//! Stream identity: the stream deleted and re-created empty under running services,
//! or a service restarted against it: routing and projection refuse to continue,
//! naming the stream they read and the one they found.

use crate::kit::System;
use crate::lifecycle::{noise_complaint, wait_status};
use casegrid_testkit::eventually;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_re_created_empty_is_refused_by_name() {
    let mut system = System::start().await;
    let filed = system
        .api
        .post(
            "/api/v1/cases",
            "demo-operator",
            &noise_complaint(),
            &[("Idempotency-Key", "identity-1")],
        )
        .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_owned();
    wait_status(&system.api, &id, "demo-operator", "dispatched").await;
    system.wait_projection().await;

    let client = system.nats.client().await;
    let js = async_nats::jetstream::new(client.clone());
    let before = js
        .get_stream("CASEGRID_EVENTS")
        .await
        .unwrap()
        .cached_info()
        .created;
    js.delete_stream("CASEGRID_EVENTS").await.unwrap();
    casegrid_eventlog::EventLog::create(client, casegrid_eventlog::LogConfig::default())
        .await
        .unwrap();

    for service in ["routing", "projection"] {
        let status = eventually(
            Duration::from_secs(20),
            &format!("{service} to stop"),
            || {
                let exited = system
                    .procs
                    .0
                    .iter_mut()
                    .find(|(n, _)| n == service)
                    .and_then(|(_, child)| child.try_wait().unwrap());
                async move { exited }
            },
        )
        .await;
        assert!(!status.success(), "{service} fails");
    }
    let logs = system.logs();
    assert!(logs.contains("refusing to continue"), "{logs}");
    assert!(logs.contains("deleted and re-created"), "{logs}");

    // Started again against the empty stream, the projection refuses at once, naming
    // the stream its read model was built from and the one it found.
    system.spawn("projection-2", "projection", &[]);
    let status = eventually(Duration::from_secs(20), "projection-2 to stop", || {
        let exited = system
            .procs
            .0
            .iter_mut()
            .find(|(n, _)| n == "projection-2")
            .and_then(|(_, child)| child.try_wait().unwrap());
        async move { exited }
    })
    .await;
    assert!(!status.success());
    let said =
        std::fs::read_to_string(system.nats.dir().join("projection-2.log")).unwrap_or_default();
    let created = before
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(said.contains("the stream is empty"), "{said}");
    assert!(
        said.contains(&format!("created {created}")),
        "{created} in {said}"
    );
}
