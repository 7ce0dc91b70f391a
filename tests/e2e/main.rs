//! End-to-end tests: the built binaries as separate OS processes against a real
//! `nats-server`, driven over HTTP as hotline operators and departments would.
//! `scripts/test` builds the binaries before running these.
//!
//! - `attachments`: files added to cases (issue 14): upload, the hash on the timeline, download
//!   only within scope and hash-checked, type and size refused, personal files erased; Open311
//!   `media` from staff and from citizens' apps (a public key: recorded as personal).
//! - `assessment`: appeals (申诉/甄别) ruled over HTTP; the figures and the 红黑榜 honour them.
//! - `kit`: starting the system (separate processes, or `casegrid dev`), an HTTP client.
//! - `cluster`: a 3-node NATS cluster at R3: the stream leader and a follower killed under
//!   filing load, and the soak (every process killed in cycles); nothing lost or doubled.
//! - `config`: `casegrid config check`, refusal at startup, reload without restart.
//! - `correlation`: `X-Request-Id` becomes the events' `correlation_id`; hostile ids are replaced.
//! - `geo`: field data (issue 14): a point finds its grid, free-text personal data (descriptions,
//!   notes, replies, progress reports) is sealed,
//!   lists and figures export as CSV and XLSX.
//! - `import`: `casegrid import` of a history: whole cases or none, a second run appends nothing,
//!   the same figures as the history filed live, numbers in imported free texts sealed.
//! - `jcs`: this test's own RFC 8785 canonicalization, to re-check the hash chain.
//! - `lifecycle`: a hotline case from filing to closed, over separate processes and `casegrid dev`.
//! - `manifests`: compose, Kubernetes and the image set only known settings, mount only existing files.
//! - `nats_permissions`: the shipped NATS permissions, user by user, as an attacker would try them.
//! - `notifications`: signed webhooks once per id across kill -9 and two replicas, retries
//!   and dead letters, the citizen's text with the phone nowhere else; the shipped rules'
//!   sign reminders, summons and escalations, each once (issue 14).
//! - `observability`: `/metrics` of four services read by a Prometheus parser.
//! - `bad_input`: every kind of bad request answers problem+json and appends nothing.
//! - `idempotency`: keys are the caller's own; routing's command ids cannot be taken over HTTP.
//! - `privacy`: sealed personal data, masking, audited reveals, erasure that survives a rebuild.
//! - `routing`: working-time deadlines, durable timers across kill -9, two replicas, returns.
//! - `scenarios`: realistic cases of the demo district through the whole lifecycle.
//! - `quarantine`: poison in the stream is quarantined; nothing stops, a forged case answers 409.
//! - `stream`: a stream deleted and re-created empty is refused by name, running or at start.
//! - `restore`: restored key and attachment backups are erased again by `casegrid privacy reconcile`.
//! - `rebuild`: `casegrid rebuild` reproduces the live read models; `audit verify` passes.

mod assessment;
mod attachments;
mod bad_input;
mod cluster;
mod config;
mod correlation;
mod duplicates;
mod geo;
mod idempotency;
mod import;
mod jcs;
mod kb;
mod kit;
mod lifecycle;
mod manifests;
mod nats_permissions;
mod notifications;
mod observability;
mod privacy;
mod quarantine;
mod rebuild;
mod restore;
mod routing;
mod scenarios;
mod stream;
