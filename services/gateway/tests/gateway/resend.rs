//! A command in flight is answered or sent again with the same bytes (so the same
//! command id, which the services run once), never dropped: when the replica that took
//! it died without answering, and when the gateway's own NATS connection dropped
//! (an answer published meanwhile is lost).

use crate::helpers::{spawn_app_on, spawn_app_with};
use casegrid_contracts::subjects::INTAKE_FILE;
use casegrid_contracts::{Answer, CommandReply, FileRequest};
use casegrid_domain::{CaseId, Status};
use casegrid_testkit::TestNats;
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy to a NATS server; [`Proxy::cut`] drops every connection through it at
/// once, as a network failure between the gateway and its server would.
struct Proxy {
    url: String,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn to(nats_url: &str) -> Self {
        let target = nats_url.trim_start_matches("nats://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("nats://{}", listener.local_addr().unwrap());
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let connections = connections.clone();
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let target = target.clone();
                    let piping = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(piping);
                }
            }
        });
        Self {
            url,
            connections,
            accept,
        }
    }

    fn cut(&self) {
        for piping in self.connections.lock().unwrap().drain(..) {
            piping.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Stands in for intake on the test's client: the first request is taken and never
/// answered (`first` runs then), every later one is answered as filed. Answers the
/// payloads received, in order.
async fn intake_losing_the_first(
    nats: &async_nats::Client,
    first: impl FnOnce() + Send + 'static,
) -> Arc<Mutex<Vec<bytes::Bytes>>> {
    let mut sub = nats.subscribe(INTAKE_FILE).await.unwrap();
    nats.flush().await.unwrap();
    let seen: Arc<Mutex<Vec<bytes::Bytes>>> = Arc::default();
    let nats = nats.clone();
    let received = seen.clone();
    tokio::spawn(async move {
        let mut first = Some(first);
        while let Some(msg) = sub.next().await {
            received.lock().unwrap().push(msg.payload.clone());
            if let Some(lose) = first.take() {
                lose();
                continue;
            }
            let answer = filed(&msg.payload);
            if let Some(to) = msg.reply {
                nats.publish(to, answer.into()).await.unwrap();
            }
        }
    });
    seen
}

/// Intake's answer to filing request `payload`: the case filed, as new.
fn filed(payload: &[u8]) -> Vec<u8> {
    let request: FileRequest = serde_json::from_slice(payload).unwrap();
    let reply = CommandReply {
        id: CaseId::for_filing(&request.actor.id, &request.idempotency_key),
        number: Some("NH-20261123-000001".into()),
        version: 1,
        status: Status::Received,
        created: true,
        revealed: None,
    };
    serde_json::to_vec(&Answer::Ok(reply)).unwrap()
}

async fn file(app: &crate::helpers::App, key: &str) -> reqwest::Response {
    app.post("/api/v1/cases", "demo-operator")
        .header("Idempotency-Key", key)
        .json(&json!({"kind": "complaint", "category": "noise", "title": "噪音"}))
        .send()
        .await
        .unwrap()
}

/// Every copy is the first one's bytes: one command id, one request fingerprint.
fn assert_same_request(seen: &[bytes::Bytes], key: &str) {
    assert!(seen.len() >= 2, "the request was not sent again: {seen:?}");
    assert!(
        seen.iter().all(|p| *p == seen[0]),
        "copies differ: {seen:?}"
    );
    let request: FileRequest = serde_json::from_slice(&seen[0]).unwrap();
    assert_eq!(request.idempotency_key, key);
}

#[tokio::test]
async fn a_command_taken_by_a_replica_that_died_is_sent_again_with_the_same_command_id() {
    // Without resending, the gateway waits the whole 5 s and answers 504.
    let app = spawn_app_with(|s| {
        s.with_request_timeout(Duration::from_secs(5))
            .with_resend_after(Duration::from_millis(200))
    })
    .await;
    let seen = intake_losing_the_first(&app.nats, || {}).await;

    let r = file(&app, "call-resend-1").await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    assert_same_request(&seen.lock().unwrap(), "call-resend-1");
    app.stop().await;
}

#[tokio::test]
async fn a_command_in_flight_when_the_gateways_connection_drops_is_sent_again_on_reconnect() {
    let nats_server = TestNats::start();
    let proxy = Arc::new(Proxy::to(&nats_server.url()).await);
    let gateway_nats = casegrid_runtime::nats::connect(&proxy.url, "casegrid-gateway")
        .await
        .unwrap();
    let nats = nats_server.client().await;
    // Only the reconnect may cause a resend here: the timer waits longer than the
    // request may take.
    let app = spawn_app_on(nats_server, gateway_nats, nats, |s| {
        s.with_request_timeout(Duration::from_secs(10))
            .with_resend_after(Duration::from_secs(60))
    })
    .await;
    let cut = proxy.clone();
    let seen = intake_losing_the_first(&app.nats, move || cut.cut()).await;

    let r = file(&app, "call-resend-2").await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    assert_same_request(&seen.lock().unwrap(), "call-resend-2");
    app.stop().await;
}

#[tokio::test]
async fn a_copys_503_waits_for_the_copy_still_in_flight() {
    let app = spawn_app_with(|s| {
        s.with_request_timeout(Duration::from_secs(5))
            .with_resend_after(Duration::from_millis(200))
    })
    .await;
    // The first copy is slow; the second meets its append in process (503). Once a
    // third is sent, the first succeeds: that is the answer, not the second's 503.
    let mut sub = app.nats.subscribe(INTAKE_FILE).await.unwrap();
    app.nats.flush().await.unwrap();
    let nats = app.nats.clone();
    tokio::spawn(async move {
        let first = sub.next().await.unwrap();
        let second = sub.next().await.unwrap();
        let busy = Answer::<CommandReply>::Problem(casegrid_contracts::Problem::unavailable(
            "the event log is unavailable; retry with the same Idempotency-Key",
        ));
        let busy = serde_json::to_vec(&busy).unwrap();
        nats.publish(second.reply.unwrap(), busy.into())
            .await
            .unwrap();
        nats.flush().await.unwrap();
        // A third copy shows the gateway kept waiting after the 503.
        let _third = sub.next().await.unwrap();
        let answer = filed(&first.payload);
        nats.publish(first.reply.unwrap(), answer.into())
            .await
            .unwrap();
    });

    let r = file(&app, "call-resend-3").await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    app.stop().await;
}
