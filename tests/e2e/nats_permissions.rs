//! Least privilege on NATS, tried against a real `nats-server` running the shipped
//! accounts and permissions (`casegrid_runtime::natsauth`, the text of
//! `deploy/nats/accounts.conf`, the same `casegrid dev` runs): each user, the admin
//! and an anonymous client try every operation an attacker would, and each answer is
//! judged by what happened (an ack, a reply, a delivered message, a key gone), never
//! by what the client library says.

use async_nats::jetstream;
use casegrid_runtime::natsauth::User;
use casegrid_testkit::TestNats;
use futures_util::StreamExt;
use std::time::Duration;

/// How long a refused operation may take to show it is refused.
const REFUSED_WITHIN: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// A forged `CaseFiled` published to `casegrid.events.<uuid>`: acked by JetStream?
    Append,
    /// Reading the stream by direct get.
    ReadEvents,
    /// Reading a subject's last message through the stream leader (a non-direct get).
    ReadEventsOnLeader,
    /// Publishing to the gateway's inbox unasked: a service's answer after it moved to
    /// another node (where `allow_responses` no longer covers the request).
    PublishToGatewayInbox,
    /// Publishing to intake's inbox unasked: forging an answer to intake's requests.
    PublishToIntakeInbox,
    RequestIntake,
    RequestRouting,
    RequestProjection,
    /// Joining intake's queue group on `casegrid.intake.>` and receiving a request.
    HijackIntake,
    KeysGet,
    KeysPurge,
    /// Claiming a notification id in `CASEGRID_NOTIFICATIONS` (a create-only put).
    NotificationClaim,
    UpdateStream,
    DeleteStream,
    /// Storing a file in the attachment bucket.
    ObjectPut,
    /// Reading a file of the attachment bucket (bytes equal).
    ObjectGet,
    /// Deleting a file of the attachment bucket (erasure): its chunks purged.
    ObjectDelete,
}

const OPS: [Op; 17] = [
    Op::Append,
    Op::ReadEvents,
    Op::ReadEventsOnLeader,
    Op::PublishToGatewayInbox,
    Op::PublishToIntakeInbox,
    Op::RequestIntake,
    Op::RequestRouting,
    Op::RequestProjection,
    Op::HijackIntake,
    Op::KeysGet,
    Op::KeysPurge,
    Op::NotificationClaim,
    Op::UpdateStream,
    Op::DeleteStream,
    Op::ObjectPut,
    Op::ObjectGet,
    Op::ObjectDelete,
];

/// Who tries: a casegrid user, or a client without credentials.
type Who = Option<User>;

const WHO: [Who; 6] = [
    Some(User::Admin),
    Some(User::Gateway),
    Some(User::Intake),
    Some(User::Routing),
    Some(User::Projection),
    None,
];

/// The table of the design: what each may do. Columns as in [`WHO`].
fn allowed(op: Op) -> [bool; 6] {
    //                         admin gateway intake routing projection anonymous
    match op {
        Op::Append => [true, false, true, true, false, false],
        Op::ReadEvents => [true, true, true, true, true, false],
        Op::ReadEventsOnLeader => [true, true, true, true, true, false],
        Op::PublishToGatewayInbox => [true, false, true, true, true, false],
        Op::PublishToIntakeInbox => [true, false, false, false, false, false],
        Op::RequestIntake => [true, true, false, false, false, false],
        Op::RequestRouting => [true, true, false, false, false, false],
        Op::RequestProjection => [true, true, false, false, false, false],
        Op::HijackIntake => [true, false, true, false, false, false],
        Op::KeysGet => [true, false, true, true, false, false],
        Op::KeysPurge => [true, false, true, true, false, false],
        Op::NotificationClaim => [true, false, false, true, false, false],
        Op::UpdateStream => [true, false, false, false, false, false],
        Op::DeleteStream => [true, false, false, false, false, false],
        Op::ObjectPut => [true, true, false, false, false, false],
        Op::ObjectGet => [true, true, true, false, false, false],
        Op::ObjectDelete => [true, false, true, false, false, false],
    }
}

fn name(who: Who) -> &'static str {
    who.map_or("anonymous", User::name)
}

fn forged_case_filed(case: &str) -> Vec<u8> {
    serde_json::json!({
        "event_id": "0190f0f0-0000-7000-8000-000000000000", "case_id": case, "version": 1,
        "type": "CaseFiled", "schema": 1, "occurred_at": "2026-12-01T00:00:00Z",
        "actor": {"kind": "operator", "id": "op.forged"}, "command_id": "forged",
        "correlation_id": "forged", "causation_id": null, "data": {},
        "prev_hash": "0".repeat(64), "hash": "0".repeat(64)
    })
    .to_string()
    .into_bytes()
}

async fn within<T>(f: impl std::future::Future<Output = Option<T>>) -> Option<T> {
    tokio::time::timeout(REFUSED_WITHIN, f).await.ok().flatten()
}

/// A client as `who`, or `None` when the server refuses the connection.
async fn connect(nats: &TestNats, who: Who) -> Option<async_nats::Client> {
    let settings = match who {
        Some(user) => nats.settings(user),
        None => casegrid_runtime::settings::NatsSettings::open(nats.url()),
    };
    casegrid_runtime::nats::options(&settings)
        .await
        .unwrap()
        .connect(nats.url())
        .await
        .ok()
}

fn js(client: &async_nats::Client) -> jetstream::Context {
    let mut js = jetstream::new(client.clone());
    js.set_timeout(REFUSED_WITHIN);
    js
}

/// Tries `op` as `client` (of `who`); `admin` checks effects. Answers whether it happened.
async fn attempt(
    op: Op,
    who: Who,
    client: &async_nats::Client,
    admin: &async_nats::Client,
) -> bool {
    let me = name(who);
    match op {
        Op::Append => {
            let case = uuid_for(me);
            let subject = format!("casegrid.events.{case}");
            within(async {
                js(client)
                    .publish(subject, forged_case_filed(&case).into())
                    .await
                    .ok()?
                    .await
                    .ok()
            })
            .await
            .is_some()
        }
        Op::ReadEvents => within(async {
            let stream = js(client).get_stream("CASEGRID_EVENTS").await.ok()?;
            stream
                .direct_get_last_for_subject("casegrid.events.seed")
                .await
                .ok()
        })
        .await
        .is_some(),
        Op::ReadEventsOnLeader => within(async {
            let stream = js(client).get_stream("CASEGRID_EVENTS").await.ok()?;
            stream
                .get_last_raw_message_by_subject("casegrid.events.seed")
                .await
                .ok()
        })
        .await
        .is_some(),
        Op::PublishToGatewayInbox | Op::PublishToIntakeInbox => {
            let owner = if op == Op::PublishToGatewayInbox {
                "gateway"
            } else {
                "intake"
            };
            let subject = format!("_INBOX.{owner}.from-{me}");
            let mut sub = admin.subscribe(subject.clone()).await.unwrap();
            admin.flush().await.unwrap();
            // Published again until received (a busy machine may hold the first up).
            within(async {
                loop {
                    let _ = client
                        .publish(subject.clone(), "forged answer".into())
                        .await;
                    let _ = client.flush().await;
                    if let Ok(got) =
                        tokio::time::timeout(Duration::from_millis(200), sub.next()).await
                    {
                        return got.map(|_| ());
                    }
                }
            })
            .await
            .is_some()
        }
        Op::RequestIntake | Op::RequestRouting | Op::RequestProjection => {
            let subject = match op {
                Op::RequestIntake => "casegrid.intake.act",
                Op::RequestRouting => "casegrid.routing.act",
                _ => "casegrid.projection.case",
            };
            within(async {
                let reply = client.request(subject, me.to_owned().into()).await.ok()?;
                (reply.payload.as_ref() == format!("answered {me}").as_bytes()).then_some(())
            })
            .await
            .is_some()
        }
        Op::HijackIntake => {
            let subject = format!("casegrid.intake.hijack.{me}");
            let Ok(mut sub) = client
                .queue_subscribe("casegrid.intake.>", "q".to_owned())
                .await
            else {
                return false;
            };
            // A refused subscription is answered by an -ERR; give it time to arrive.
            let _ = client.flush().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            admin
                .publish(subject.clone(), "stolen".into())
                .await
                .unwrap();
            admin.flush().await.unwrap();
            within(async {
                loop {
                    let m = sub.next().await?;
                    if m.subject.as_str() == subject {
                        return Some(());
                    }
                }
            })
            .await
            .is_some()
        }
        Op::KeysGet => within(async {
            let kv = js(client).get_key_value("CASEGRID_KEYS").await.ok()?;
            kv.get(format!("case.{me}")).await.ok()?
        })
        .await
        .is_some_and(|v| v.as_ref() == me.as_bytes()),
        Op::KeysPurge => {
            let key = format!("case.purge-{me}");
            let _ = within(async {
                let kv = js(client).get_key_value("CASEGRID_KEYS").await.ok()?;
                kv.purge(&key).await.ok()
            })
            .await;
            let kv = jetstream::new(admin.clone())
                .get_key_value("CASEGRID_KEYS")
                .await
                .unwrap();
            kv.get(&key).await.unwrap().is_none()
        }
        Op::NotificationClaim => {
            let key = format!("n.claim-{me}");
            let _ = within(async {
                let kv = js(client)
                    .get_key_value("CASEGRID_NOTIFICATIONS")
                    .await
                    .ok()?;
                kv.create(&key, me.as_bytes().to_vec().into()).await.ok()
            })
            .await;
            let kv = jetstream::new(admin.clone())
                .get_key_value("CASEGRID_NOTIFICATIONS")
                .await
                .unwrap();
            kv.get(&key)
                .await
                .unwrap()
                .is_some_and(|v| v.as_ref() == me.as_bytes())
        }
        Op::UpdateStream => {
            let done = within(async {
                let mut stream = js(client).get_stream("CASEGRID_EVENTS").await.ok()?;
                let mut config = stream.info().await.ok()?.config.clone();
                config.description = Some(format!("changed by {me}"));
                js(client).update_stream(config).await.ok()
            })
            .await
            .is_some();
            let mut stream = jetstream::new(admin.clone())
                .get_stream("CASEGRID_EVENTS")
                .await
                .unwrap();
            let now = stream.info().await.unwrap().config.description.clone();
            done && now == Some(format!("changed by {me}"))
        }
        Op::ObjectPut => {
            let key = format!("put-{me}");
            let _ = within(async {
                let store = casegrid_eventlog::AttachmentStore::attach(client.clone())
                    .await
                    .ok()?;
                store.put(&key, me.as_bytes()).await.ok()
            })
            .await;
            attachments(admin).await.get(&key).await.unwrap().as_deref() == Some(me.as_bytes())
        }
        Op::ObjectGet => within(async {
            let store = casegrid_eventlog::AttachmentStore::attach(client.clone())
                .await
                .ok()?;
            store.get("seed").await.ok()?
        })
        .await
        .is_some_and(|bytes| bytes == b"seed bytes"),
        Op::ObjectDelete => {
            let key = format!("delete-{me}");
            let nuid = jetstream::new(admin.clone())
                .get_object_store(casegrid_eventlog::attachments::BUCKET)
                .await
                .unwrap()
                .info(&key)
                .await
                .unwrap()
                .nuid;
            let _ = within(async {
                let store = casegrid_eventlog::AttachmentStore::attach(client.clone())
                    .await
                    .ok()?;
                store.delete(&key).await.ok()
            })
            .await;
            // Judged by the bytes: the gateway writes metadata (every put does), so it
            // could write a tombstone, but only a purge destroys the chunks.
            let chunks = format!("$O.{}.C.{nuid}", casegrid_eventlog::attachments::BUCKET);
            let stream = jetstream::new(admin.clone())
                .get_stream(format!("OBJ_{}", casegrid_eventlog::attachments::BUCKET))
                .await
                .unwrap();
            stream.direct_get_last_for_subject(&chunks).await.is_err()
        }
        Op::DeleteStream => {
            let _ = within(async { js(client).delete_stream("CASEGRID_EVENTS").await.ok() }).await;
            jetstream::new(admin.clone())
                .get_stream("CASEGRID_EVENTS")
                .await
                .is_err()
        }
    }
}

async fn attachments(admin: &async_nats::Client) -> casegrid_eventlog::AttachmentStore {
    casegrid_eventlog::AttachmentStore::attach(admin.clone())
        .await
        .unwrap()
}

fn uuid_for(who: &str) -> String {
    let n: u128 = who
        .bytes()
        .fold(7, |a, b| a.wrapping_mul(31).wrapping_add(b.into()));
    let hex = format!("{:032x}", n);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Starts the secured server, creates the stream and the bucket as the admin, seeds a
/// key per user and answers the services' subjects as the admin.
async fn secured() -> (TestNats, async_nats::Client) {
    let nats = TestNats::start_secured();
    let admin = nats.client().await;
    casegrid_eventlog::EventLog::bootstrap(admin.clone(), 1)
        .await
        .unwrap();
    let js = jetstream::new(admin.clone());
    js.publish("casegrid.events.seed", "{}".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let kv = js.get_key_value("CASEGRID_KEYS").await.unwrap();
    for who in WHO {
        let me = name(who);
        kv.put(format!("case.{me}"), me.to_owned().into())
            .await
            .unwrap();
        kv.put(format!("case.purge-{me}"), "key".into())
            .await
            .unwrap();
    }
    let store = attachments(&admin).await;
    store.put("seed", b"seed bytes").await.unwrap();
    for who in WHO {
        store
            .put(&format!("delete-{}", name(who)), b"to be erased")
            .await
            .unwrap();
    }
    for subject in [
        "casegrid.intake.act",
        "casegrid.routing.act",
        "casegrid.projection.case",
    ] {
        let mut sub = admin.subscribe(subject).await.unwrap();
        let responder = admin.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if let Some(reply) = m.reply {
                    let who = String::from_utf8_lossy(&m.payload).into_owned();
                    let _ = responder
                        .publish(reply, format!("answered {who}").into())
                        .await;
                }
            }
        });
    }
    admin.flush().await.unwrap();
    (nats, admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_append_by_the_gateway_or_an_anonymous_client_is_refused() {
    let (nats, admin) = secured().await;
    for who in [Some(User::Gateway), Some(User::Projection), None] {
        let appended = match connect(&nats, who).await {
            Some(client) => attempt(Op::Append, who, &client, &admin).await,
            None => false,
        };
        assert!(!appended, "{} appended a forged CaseFiled", name(who));
    }
    let mut stream = jetstream::new(admin)
        .get_stream("CASEGRID_EVENTS")
        .await
        .unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        1,
        "only the seed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_user_may_do_exactly_what_the_permission_table_says() {
    let (nats, admin) = secured().await;
    let anonymous = connect(&nats, None).await;
    assert!(
        anonymous.is_none(),
        "a client without credentials is refused at connect"
    );

    // Every row but the admin's at once (each takes up to REFUSED_WITHIN per refusal);
    // the admin last, since it deletes the stream.
    let rows = futures_util::future::join_all(WHO.iter().enumerate().skip(1).map(|(i, who)| {
        let (nats, admin) = (&nats, &admin);
        async move {
            let client = connect(nats, *who).await;
            let mut row = Vec::new();
            for op in OPS {
                let done = match &client {
                    Some(c) => attempt(op, *who, c, admin).await,
                    None => false,
                };
                row.push(done);
            }
            (i, row)
        }
    }))
    .await;
    let admin_client = connect(&nats, Some(User::Admin)).await.unwrap();
    let mut admin_row = Vec::new();
    for op in OPS {
        admin_row.push(attempt(op, Some(User::Admin), &admin_client, &admin).await);
    }
    let mut seen = vec![vec![false; WHO.len()]; OPS.len()];
    for (i, row) in rows.into_iter().chain([(0, admin_row)]) {
        for (o, done) in row.into_iter().enumerate() {
            seen[o][i] = done;
        }
    }

    let mut table = format!("{:<20}", "operation");
    for who in WHO {
        table.push_str(&format!("{:>11}", name(who)));
    }
    table.push('\n');
    let mut wrong = Vec::new();
    for (o, op) in OPS.iter().enumerate() {
        table.push_str(&format!("{:<20}", format!("{op:?}")));
        for (i, who) in WHO.iter().enumerate() {
            let (done, expected) = (seen[o][i], allowed(*op)[i]);
            let cell = match (done, expected) {
                (true, true) => "allowed",
                (false, false) => "refused",
                (true, false) => "ALLOWED!",
                (false, true) => "REFUSED!",
            };
            if done != expected {
                wrong.push(format!("{} {op:?}: {cell}", name(*who)));
            }
            table.push_str(&format!("{cell:>11}"));
        }
        table.push('\n');
    }
    println!("{table}");
    assert!(
        wrong.is_empty(),
        "not as the table says: {wrong:?}\n{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_cannot_create_the_stream_and_say_who_does() {
    let nats = TestNats::start_secured();
    for user in [User::Intake, User::Routing, User::Projection, User::Gateway] {
        let mut settings = casegrid_runtime::Settings::load_from(None, &[]).unwrap();
        settings.nats = nats.settings(user);
        let err = match casegrid_eventlog::EventLog::connect(&settings, "casegrid-test").await {
            Ok(_) => panic!("{} opened a stream nobody created", user.name()),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains("does not exist") && err.contains("admin"),
            "{}: {err}",
            user.name()
        );
        // Nor may it create the stream itself.
        let client = nats.client_as(user).await;
        let mut js = jetstream::new(client);
        js.set_timeout(REFUSED_WITHIN);
        let created = js
            .create_stream(jetstream::stream::Config {
                name: "CASEGRID_EVENTS".into(),
                subjects: vec!["casegrid.events.>".into()],
                ..Default::default()
            })
            .await;
        assert!(created.is_err(), "{} created the stream", user.name());
    }
    let keys = casegrid_privacy::KeyVault::attach(nats.client_as(User::Intake).await).await;
    assert!(keys.is_err_and(|e| e.to_string().contains("admin")));
    // The admin's bootstrap makes both; then a service attaches.
    casegrid_eventlog::EventLog::bootstrap(nats.client().await, 1)
        .await
        .unwrap();
    let mut settings = casegrid_runtime::Settings::load_from(None, &[]).unwrap();
    settings.nats = nats.settings(User::Intake);
    casegrid_eventlog::EventLog::connect(&settings, "casegrid-test")
        .await
        .unwrap();
    casegrid_privacy::KeyVault::attach(nats.client_as(User::Intake).await)
        .await
        .unwrap();
}

/// A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, made
/// with the `openssl` command line.
fn make_certificates(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is needed to make test certificates");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=casegrid-test-ca",
    ]);
    for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "1",
            "-extfile",
            ext,
        ]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_connects_over_tls_with_the_ca_and_client_certificate_of_its_settings() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let file = |name: &str| certs.path().join(name);
    let nats = TestNats::start_secured_with_tls(casegrid_testkit::ServerTls {
        cert_file: file("server.pem"),
        key_file: file("server.key"),
        ca_file: Some(file("ca.pem")),
        verify: true,
    });
    let mut settings = nats.settings(User::Intake);
    settings.tls.required = true;
    settings.tls.ca_file = Some(file("ca.pem"));
    settings.tls.cert_file = Some(file("client.pem"));
    settings.tls.key_file = Some(file("client.key"));
    let client = casegrid_runtime::nats::connect_with(&settings, "casegrid-tls-test")
        .await
        .expect("TLS with the CA and the client certificate");
    client.flush().await.unwrap();

    let refused = |s: casegrid_runtime::settings::NatsSettings| async move {
        let options = casegrid_runtime::nats::options(&s).await.unwrap();
        options.connect(s.url.clone()).await.is_err()
    };
    let mut no_client_cert = settings.clone();
    (no_client_cert.tls.cert_file, no_client_cert.tls.key_file) = (None, None);
    assert!(refused(no_client_cert).await, "the server verifies clients");
    let mut unknown_ca = settings.clone();
    unknown_ca.tls.ca_file = None;
    assert!(
        refused(unknown_ca).await,
        "the server's CA comes from the settings"
    );
    let mut no_key = settings.clone();
    no_key.nkey_seed_file = None;
    assert!(refused(no_key).await, "TLS does not replace the user's key");
}

/// A service that moved to another node of a cluster still answers the requests it
/// received before: `allow_responses` holds only on the server that delivered a
/// request, so the service's own right to publish to the gateway's inbox must carry the
/// answer (before it did, the gateway waited out its timeout after every such move).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_answers_a_request_it_received_before_it_moved_to_another_node() {
    use casegrid_runtime::nats::connect_with;
    let mut cluster =
        casegrid_testkit::TestCluster::start(|c| casegrid_eventlog::EventLog::bootstrap(c, 3))
            .await;
    // The gateway on node 1; intake on node 0 or 2, failing over to the other.
    let gateway = connect_with(&cluster.node_settings(User::Gateway, 1), "gateway")
        .await
        .unwrap();
    let mut settings = cluster.node_settings(User::Intake, 0);
    settings.url = format!("{},{}", cluster.nodes.url(0), cluster.nodes.url(2));
    let intake = connect_with(&settings, "intake").await.unwrap();
    let names: Vec<String> = (0..3)
        .map(|i| cluster.nodes.url(i).rsplit(':').next().unwrap().to_owned())
        .collect();
    // A node by its client port (the server's INFO names the port it serves).
    let on = move |c: &async_nats::Client| {
        let port = c.server_info().port.to_string();
        names.iter().position(|p| *p == port)
    };
    let first = on(&intake).expect("intake on a node of the cluster");
    let mut requests = intake
        .queue_subscribe("casegrid.intake.act", "q".to_owned())
        .await
        .unwrap();
    intake.flush().await.unwrap();

    // Sent until the subscription's interest has reached node 1.
    let asked = tokio::spawn({
        let gateway = gateway.clone();
        async move {
            loop {
                let sent = gateway
                    .send_request(
                        "casegrid.intake.act",
                        async_nats::Request::new()
                            .payload("before the move".into())
                            .timeout(Some(Duration::from_secs(10))),
                    )
                    .await;
                match sent {
                    Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    other => return other.map(|m| m.payload),
                }
            }
        }
    });
    let request = tokio::time::timeout(Duration::from_secs(10), requests.next())
        .await
        .expect("the request reached intake")
        .unwrap();

    cluster.kill(first);
    casegrid_testkit::eventually(Duration::from_secs(20), "intake on another node", || {
        let now = (intake.connection_state() == async_nats::connection::State::Connected)
            .then(|| on(&intake))
            .flatten();
        async move { now.filter(|n| *n != first) }
    })
    .await;
    let moved = std::time::Instant::now();
    intake
        .publish(request.reply.expect("a request"), "answered".into())
        .await
        .unwrap();
    intake.flush().await.unwrap();
    let answer = asked.await.unwrap();
    println!(
        "answer to a request received before intake moved from node {first}: {:?} after {} ms",
        answer
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        moved.elapsed().as_millis()
    );
    assert_eq!(
        answer.expect("the gateway got its answer").as_ref(),
        b"answered"
    );
}
