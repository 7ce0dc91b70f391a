//! A 3-node NATS cluster for tests: [`TestCluster`].

use crate::eventually;
use casegrid_runtime::natsauth::{self, Credentials, User};
use casegrid_runtime::natsserver::NatsCluster;
use casegrid_runtime::settings::NatsSettings;
use std::time::Duration;

/// Three `nats-server` processes on loopback ports, each with a temporary store,
/// `sync_interval: always` and the shipped accounts and permissions (the same users as
/// [`crate::TestNats::start_secured`]), routed to each other on 127.0.0.1. [`Self::start`]
/// creates the event stream and the key bucket at replicas 3 as the admin
/// (`EventLog::bootstrap`'s work, done here without depending on the event log) and
/// answers once both have a leader and every replica is current. Killed on drop.
pub struct TestCluster {
    pub nodes: NatsCluster,
    credentials: Credentials,
    dir: tempfile::TempDir,
}

/// The streams a casegrid cluster holds: the log and the key bucket.
const STREAMS: [&str; 2] = [natsauth::EVENTS_STREAM, "KV_CASEGRID_KEYS"];

impl TestCluster {
    /// Starts the three nodes and waits until JetStream answers on each; `bootstrap`
    /// (given the admin's client) creates what the services open, e.g.
    /// `|c| EventLog::bootstrap(c, 3)`. Answers when every stream is current.
    pub async fn start<F, Fut, T>(bootstrap: F) -> Self
    where
        F: Fn(async_nats::Client) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        crate::init_tracing();
        let dir = tempfile::Builder::new()
            .prefix("casegrid-cluster-")
            .tempdir()
            .expect("temp dir");
        let credentials = Credentials::generate(&dir.path().join("nats-credentials"))
            .unwrap_or_else(|e| panic!("test kit: {e:#}"));
        let nodes = NatsCluster::start(dir.path(), 3, credentials.clone())
            .unwrap_or_else(|e| panic!("test kit: starting a 3-node cluster: {e:#}"));
        let cluster = Self {
            nodes,
            credentials,
            dir,
        };
        let admin = cluster.client().await;
        // The meta leader is elected a moment after the nodes answer: until then
        // stream creation is refused ("JetStream system temporarily unavailable").
        eventually(Duration::from_secs(30), "the stream created at R3", || {
            let admin = admin.clone();
            let made = bootstrap(admin);
            async move { made.await.ok().map(|_| ()) }
        })
        .await;
        cluster.wait_current().await;
        cluster
    }

    /// How `user` connects: its credentials, every node's URL, and the stream's 3 replicas
    /// (services refuse a stream whose replicas differ from their settings).
    pub fn settings(&self, user: User) -> NatsSettings {
        NatsSettings {
            replicas: 3,
            ..self.credentials.settings(user, &self.nodes.urls())
        }
    }

    /// How `user` connects to node `i` only.
    pub fn node_settings(&self, user: User, i: usize) -> NatsSettings {
        self.credentials.settings(user, &self.nodes.url(i))
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A client connected as `user` to the cluster (any node; fails over).
    pub async fn client_as(&self, user: User) -> async_nats::Client {
        casegrid_runtime::nats::connect_with(
            &self.settings(user),
            &format!("casegrid-test-{}", user.name()),
        )
        .await
        .unwrap_or_else(|e| panic!("connect to the test cluster as {}: {e:#}", user.name()))
    }

    /// The admin's client.
    pub async fn client(&self) -> async_nats::Client {
        self.client_as(User::Admin).await
    }

    /// Kills node `i` at once (SIGKILL).
    pub fn kill(&mut self, i: usize) {
        self.nodes.kill(i);
    }

    /// Starts node `i` again on its ports and store; answers once it serves clients
    /// (its replicas catch up after: see [`Self::wait_current`]).
    pub fn restart(&mut self, i: usize) {
        self.nodes
            .restart(i)
            .unwrap_or_else(|e| panic!("test kit: restarting node {i}: {e:#}"));
    }

    /// The stream's cluster view as a running node answers it: leader and replicas.
    async fn cluster_info(
        client: &async_nats::Client,
        stream: &str,
    ) -> Option<async_nats::jetstream::stream::ClusterInfo> {
        let js = async_nats::jetstream::new(client.clone());
        let mut s = tokio::time::timeout(Duration::from_secs(2), js.get_stream(stream))
            .await
            .ok()?
            .ok()?;
        let info = tokio::time::timeout(Duration::from_secs(2), s.info())
            .await
            .ok()?
            .ok()?;
        info.cluster.clone()
    }

    /// The index of the event stream's leader, waiting (up to 30 s) until one is elected.
    pub async fn leader(&self) -> usize {
        let client = self.client().await;
        eventually(Duration::from_secs(30), "a stream leader", || {
            let client = client.clone();
            async move {
                let info = Self::cluster_info(&client, natsauth::EVENTS_STREAM).await?;
                let i = self.nodes.index_of(info.leader.as_deref()?)?;
                self.nodes.is_running(i).then_some(i)
            }
        })
        .await
    }

    /// Waits (up to 60 s) until every stream has a leader among the running nodes and
    /// every other node is a current replica; a killed node must be restarted first.
    pub async fn wait_current(&self) {
        let client = self.client().await;
        for stream in STREAMS {
            eventually(
                Duration::from_secs(60),
                &format!("{stream} with a leader and every replica current"),
                || {
                    let client = client.clone();
                    async move {
                        let info = Self::cluster_info(&client, stream).await?;
                        let leader = self.nodes.index_of(info.leader.as_deref()?)?;
                        let current = info
                            .replicas
                            .iter()
                            .filter(|p| p.current && !p.offline)
                            .count();
                        (self.nodes.is_running(leader) && current + 1 == self.nodes.len())
                            .then_some(())
                    }
                },
            )
            .await;
        }
    }
}
